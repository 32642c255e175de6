# sitecheck as a container: `sitecheck serve` runs every site's nightly crawl and availability
# probes and serves the Prometheus metrics on :9787.
#
#   podman build -t sitecheck .                  (or: docker build -t sitecheck .)
#   mkdir -p config/sites && sitecheck init --config-dir config --site gxt --url https://gxt.gansu.gov.cn/
#   podman run -d --name sitecheck -v sitecheck-data:/data -v ./config:/config:ro \
#       -p 127.0.0.1:9787:9787 sitecheck
#
# The store lives in the /data volume; site files are read from /config/sites/*.yaml.  Any other
# command runs the same way: `podman run --rm -v sitecheck-data:/data sitecheck runs`.
# deploy/docker-compose.yml runs this image next to Prometheus and Grafana.
ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SITECHECK_DB=/data/sitecheck.sqlite3 \
    SITECHECK_CONFIG_DIR=/config

# Installed from a copy of the source that is removed again: the image carries the package
# (with its bundled rule set, word lists and dashboards), not the checkout; with the PostgreSQL
# driver, so the same image serves as a worker of a distributed deployment (docs/distributed.md).
COPY . /tmp/sitecheck-src
RUN python -m pip install --root-user-action=ignore "/tmp/sitecheck-src[postgresql]" \
    && rm -rf /tmp/sitecheck-src \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin sitecheck \
    && mkdir -p /data /config/sites \
    && chown sitecheck:sitecheck /data

USER sitecheck
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9787

HEALTHCHECK --interval=60s --timeout=15s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9787/metrics', timeout=10)"]

ENTRYPOINT ["sitecheck"]
# Inside the container the metrics listen on every interface; publish the port on the host's
# loopback (-p 127.0.0.1:9787:9787) and put a proxy with authentication in front to go further.
CMD ["serve", "--all", "--listen", "0.0.0.0:9787"]
