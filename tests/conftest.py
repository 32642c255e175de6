"""Shared test helpers: the real sample pages from ../shared/samples, free loopback ports."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples"


@pytest.fixture
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"the shared sample pages are not beside this checkout ({SAMPLES})")
    return SAMPLES


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL cluster of the tests' own on 127.0.0.1 (tests/servers/postgres.py)."""
    from tests.servers.postgres import PostgresServer, binaries

    bin_dir = binaries()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql; "
                    "scripts/install-system-deps.sh does it)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install -e '.[postgresql]')")
    server = PostgresServer(bin_dir)
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def pg_url(postgres_server, tmp_path, monkeypatch) -> str:
    """The URL of a new, empty PostgreSQL database for one test. Its crawls' scratch files and
    queues (kept under $XDG_DATA_HOME/sitecheck) go to the test's temporary folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    return postgres_server.database()
