"""Real message brokers for the distributed tests: RabbitMQ and Redis on loopback, in a temporary folder.

Each broker listens on 127.0.0.1 only, on free ports, keeps its data under the folder it is
given, and is stopped (with every process it started) by `stop()`.  RabbitMQ's Erlang parts
are pinned too: the port mapper (epmd) is started here, bound to loopback on a port of its
own, and the node's distribution port is fixed and bound to loopback, so no port of this
test is reachable from another machine.  `restart()` stops and starts a broker on the same
ports and data: durable queues and persistent messages survive it, as they would a real
broker's restart.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.conftest import free_port

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # the Debian wrapper in /usr/sbin insists on su
EPMD = shutil.which("epmd")
REDIS_SERVER = shutil.which("redis-server")

# A crawl keeps its task unacknowledged until it ends (late acknowledgement): RabbitMQ's default
# consumer_timeout (30 minutes) would close the worker's channel under a long crawl.
# docs/distributed.md sets the same value for production brokers.
RABBITMQ_CONF = """\
listeners.tcp.default = 127.0.0.1:{port}
consumer_timeout = 86400000
loopback_users = none
log.console = false
log.file.level = warning
"""


def rabbitmq_missing() -> str | None:
    """Why RabbitMQ cannot be started here, or None."""
    if not os.path.exists(RABBITMQ_SERVER) or EPMD is None:
        return "RabbitMQ is not installed (Debian: apt-get install rabbitmq-server; scripts/install-system-deps.sh)"
    return None


def redis_missing() -> str | None:
    if REDIS_SERVER is None:
        return "Redis is not installed (Debian: apt-get install redis-server; scripts/install-system-deps.sh)"
    return None


def _wait_port(port: int, proc: subprocess.Popen, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            detail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited with code {proc.returncode} while starting\n{detail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s")


def _stop(proc: subprocess.Popen | None, timeout: float = 30) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class _Server:
    def start(self):
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def restart(self) -> None:
        """Stop and start again on the same ports and data."""
        self.stop()
        self.start()


class RabbitMQ(_Server):
    """One RabbitMQ node on 127.0.0.1 with its own epmd, data and logs under `folder`."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = f"sitecheck{self.port}@localhost"
        self.epmd: subprocess.Popen | None = None
        self.proc: subprocess.Popen | None = None
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "rabbitmq.conf").write_text(RABBITMQ_CONF.format(port=self.port))
        (self.folder / "enabled_plugins").write_text("[].\n")
        (self.folder / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq/rabbitmq-env.conf

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def env(self) -> dict[str, str]:
        f = self.folder
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(f),  # the Erlang cookie goes here
            "LANG": "C.UTF-8",
            "RABBITMQ_CONF_ENV_FILE": str(f / "rabbitmq-env.conf"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_MNESIA_BASE": str(f / "mnesia"),
            "RABBITMQ_LOG_BASE": str(f / "log"),
            "RABBITMQ_CONFIG_FILE": str(f / "rabbitmq"),  # rabbitmq.conf
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(f / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(f / "rabbitmq.pid"),
        }

    def start(self, timeout: float = 90) -> "RabbitMQ":
        env = self.env()
        if self.epmd is None or self.epmd.poll() is not None:
            # Our own port mapper, in the foreground: the node finds it and starts no daemon of its own.
            self.epmd = subprocess.Popen([EPMD, "-port", str(self.epmd_port), "-address", "127.0.0.1"], env=env,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)
            _wait_port(self.epmd_port, self.epmd, 10, "epmd")
        out = open(self.folder / "server.out", "ab")
        self.proc = subprocess.Popen([RABBITMQ_SERVER], env=env, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        _wait_port(self.port, self.proc, timeout, "rabbitmq-server", self.folder / "server.out")
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        """The port opens before the broker accepts logins: wait for a whole AMQP handshake."""
        from kombu import Connection

        deadline = time.monotonic() + timeout
        while True:
            try:
                with Connection(self.url, connect_timeout=2) as conn:
                    conn.connect()
                    return
            except Exception:  # noqa: BLE001 - still booting
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def stop(self) -> None:
        """Stop the node (SIGTERM: RabbitMQ shuts down cleanly), keeping epmd for a restart."""
        _stop(self.proc, timeout=60)
        self.proc = None

    def close(self) -> None:
        self.stop()
        _stop(self.epmd)
        self.epmd = None


class Redis(_Server):
    """One redis-server on 127.0.0.1 with its data under `folder` (append-only, so a restart keeps the queue)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30) -> "Redis":
        out = open(self.folder / "server.out", "ab")
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder),
             "--appendonly", "yes", "--save", "", "--protected-mode", "yes", "--daemonize", "no"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        _wait_port(self.port, self.proc, timeout, "redis-server", self.folder / "server.out")
        return self

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None

    close = stop
