# The two commands of the quick start, and the lowest-Scrapy run CI adds.
PYTHON ?= python3
# The lowest Scrapy pyproject.toml declares (scrapy>=X): CI runs the suite on it as well.
SCRAPY_LOWEST := $(shell sed -n 's/.*"scrapy>=\([0-9.]*\),.*/\1/p' pyproject.toml)
LOWEST_VENV ?= $(CURDIR)/.venv-scrapy-$(SCRAPY_LOWEST)

.PHONY: demo test install install-test test-lowest

install:
	$(PYTHON) -m pip install -q -e .

install-test:
	bash scripts/install-system-deps.sh
	$(PYTHON) -m pip install -q -e '.[test]'

## make demo: install, serve the bundled demo portal, crawl it, print the findings
## (sitecheck exits 1 when it finds faults, as it must on the demo; 2 or more is a real error)
demo: install
	sitecheck demo run || [ $$? -eq 1 ]

## make test: install (system packages too, when root) and run the whole test suite
test: install-test
	$(PYTHON) -m pytest

## make test-lowest: the whole suite again on the lowest supported Scrapy, in a virtualenv that
## sees everything else `make test` installed
test-lowest: install-test
	$(PYTHON) -m venv --system-site-packages $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/python -m pip install -q "scrapy==$(SCRAPY_LOWEST)"
	$(LOWEST_VENV)/bin/python -c "import scrapy, sys; v = scrapy.__version__; print('Scrapy', v); sys.exit(v != '$(SCRAPY_LOWEST)')"
	$(LOWEST_VENV)/bin/python -m pytest
