"""Where the store lives and how it is opened: a SQLite file or a PostgreSQL database.

`--db` / `$SITECHECK_DB` takes a path (or `sqlite:///path`) or a `postgresql://` URL.  The store's
queries are written once in the SQL both databases speak (ON CONFLICT upserts, RETURNING,
row-value updates, window functions) and run on the driver's own connection: sqlite3 for SQLite,
as before, so the crawl's write path pays nothing for the second backend; `PgConnection` gives
psycopg the same small interface.  The schema is created and changed by Alembic
(sitecheck/migrations), loaded only when an existing database is behind the newest revision or a
PostgreSQL one is new; a new SQLite store runs the SQL Alembic rendered for it (SQLITE_SCRIPT).
"""

from __future__ import annotations

import functools
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# The revisions in sitecheck/migrations/versions, oldest first (a test keeps them equal): a store
# at HEAD opens without loading SQLAlchemy or Alembic, whose ~35 MB a crawl need not carry.
REVISIONS = ("0001", "0002")
HEAD = REVISIONS[-1]
# A new SQLite store is built by this script: the SQL Alembic renders for those revisions
# (`python -m sitecheck.storedb --sqlite-script` writes it; a test keeps it current), so that
# creating one costs no Alembic either.  Existing stores and PostgreSQL migrate with Alembic.
SQLITE_SCRIPT = Path(__file__).with_name("migrations") / "sqlite-head.sql"
_PG_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
_LOCK_KEY = 0x53434B31  # the advisory lock migrations hold on PostgreSQL ("SCK1")


class StoreError(Exception):
    """A store problem a user can act on; the message names the file or database."""


def writes(method):
    """Report write failures (disk full, read-only file, lock timeout, lost server) as StoreError
    naming the store (a method of Store)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except self.errors as exc:
            raise StoreError(f"{self.location}: write failed: {exc}") from None
    return wrapper


@dataclass(frozen=True)
class Location:
    """A store's address: `path` for SQLite; `url` (with any password) for PostgreSQL."""

    path: Path | None = None
    url: str | None = None

    @property
    def is_postgresql(self) -> bool:
        return self.url is not None

    @property
    def shown(self) -> str:
        """For messages and logs: the path, or the URL without its password."""
        if self.url is None:
            return str(self.path)
        parts = urlsplit(self.url)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))

    def __str__(self) -> str:
        return self.shown

    def exists(self) -> bool:
        """Whether the store may be opened read-only (a server is asked only when opened)."""
        return self.url is not None or self.path.exists()

    @property
    def argument(self) -> str:
        """What to pass as --db to a child process."""
        return self.url if self.url is not None else str(self.path.resolve())


def location(value: str | Path | Location) -> Location:
    if isinstance(value, Location):
        return value
    if isinstance(value, Path):
        return Location(path=value)
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme in _PG_SCHEMES:
        return Location(url="postgresql://" + value.split("://", 1)[1])
    if scheme == "sqlite":
        rest = value.split("://", 1)[1]
        if not rest.startswith("/") or rest == "/":
            raise ValueError(f"{value}: a SQLite URL is sqlite:///relative/path or sqlite:////absolute/path")
        return Location(path=Path(rest[1:]))
    if scheme:
        raise ValueError(f"{value}: unknown store URL scheme {scheme!r} (a file path, sqlite:///path "
                         "or postgresql://user@host/database)")
    return Location(path=Path(value))


def local_base(loc: Location, data_dir: Path) -> Path:
    """The local file name a PostgreSQL store's per-run scratch files and queues are named after
    (a crawl's temporary working space stays on the machine that crawls)."""
    parts = urlsplit(loc.url)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{parts.hostname or 'local'}-{parts.port or 5432}-"
                                              f"{parts.path.strip('/') or 'postgres'}")
    return data_dir / f"postgresql-{name}"


class PgConnection:
    """A psycopg connection with sqlite3's small interface: `?` placeholders, execute and
    executemany returning cursors, explicit BEGIN/COMMIT, `in_transaction`.

    Outside a transaction a statement that meets a lost connection (PostgreSQL restarted)
    reconnects and runs again once; inside one the error goes up, as the work is lost."""

    def __init__(self, url: str, *, readonly: bool = False):
        import psycopg

        self.url, self.readonly, self._psycopg = url, readonly, psycopg
        self.in_transaction = False
        self._sql: dict[str, str] = {}
        self._conn = self._connect()

    def _connect(self):
        conn = self._psycopg.connect(self.url, autocommit=True, connect_timeout=30,
                                     application_name=f"sitecheck@{socket.gethostname()}")
        if self.readonly:
            conn.execute("SET default_transaction_read_only = on")
        return conn

    def _translate(self, sql: str) -> str:
        out = self._sql.get(sql)
        if out is None:
            out = sql.replace("%", "%%").replace("?", "%s")
            if out.strip().upper() == "BEGIN IMMEDIATE":
                out = "BEGIN"
            self._sql[sql] = out
        return out

    def execute(self, sql: str, params: Any = ()):
        query = self._translate(sql)
        word = query.lstrip()[:8].upper()
        starts = word.startswith("BEGIN")
        if word.startswith("ROLLBACK") and self._conn.broken:
            self.in_transaction = False  # the server dropped the transaction with the connection
            return None
        for attempt in (0, 1):
            try:
                cur = self._conn.cursor()
                cur.execute(query, _params(params))
                break
            except self._psycopg.OperationalError as exc:
                if attempt or (self.in_transaction and not starts) or not self.lost(exc):
                    raise
                self._conn = self._connect()
                self.in_transaction = False
        if starts:
            self.in_transaction = True
        elif word.startswith(("COMMIT", "ROLLBACK", "END")):
            self.in_transaction = False
        return cur

    def executemany(self, sql: str, rows):
        cur = self._conn.cursor()
        cur.executemany(self._translate(sql), [_params(r) for r in rows])
        return cur

    def lost(self, exc: BaseException) -> bool:
        """Whether `exc` is a connection the server closed (a restart): the transaction is gone
        with it, and may be run again on a new connection."""
        return isinstance(exc, self._psycopg.OperationalError) and self._conn.broken

    def close(self) -> None:
        self._conn.close()


def _params(params: Any) -> tuple:
    # psycopg sends a Python bool as a boolean, which PostgreSQL will not put in an integer
    # column; SQLite stores it as 1 or 0, and so does this.
    return tuple(int(p) if isinstance(p, bool) else p for p in params)


def operational_errors() -> tuple[type[Exception], ...]:
    """The exceptions of a database that failed to work (locked, unreachable, disk full, read-only).

    psycopg's are included once it is loaded, which a PostgreSQL store does: a process on SQLite
    never loads it (its libraries would take ~20 MB of a crawl's memory)."""
    import sqlite3

    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return (sqlite3.OperationalError,)
    return (sqlite3.OperationalError, psycopg.OperationalError, psycopg.errors.ReadOnlySqlTransaction)


# --- migrations -----------------------------------------------------------------------------

def needs_migration(loc: Location) -> bool:
    """Whether opening the store for writing would create or migrate its schema (False when it
    cannot tell: opening the store then says what is wrong)."""
    try:
        if loc.is_postgresql:
            db = PgConnection(loc.url)
        else:
            import sqlite3

            if not loc.path.exists():
                return False  # a new SQLite store runs SQLITE_SCRIPT, without Alembic
            db = sqlite3.connect(f"file:{loc.path}?mode=ro", uri=True, timeout=30)
            if not db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                db.close()
                return False
        try:
            revision = current_revision(db, loc.is_postgresql)
        finally:
            db.close()
    except Exception:
        return False
    return revision != HEAD and (revision is None or revision in REVISIONS)


def migrate_in_child(loc: Location) -> None:
    """Migrate the store in a short child process (`python -m sitecheck.storedb DB`), so
    that SQLAlchemy and Alembic (~35 MB) do not stay in the memory of a long-lived command such
    as a crawl.  Raises ValueError with the child's message when it fails."""
    proc = subprocess.run([sys.executable, "-P", "-m", "sitecheck.storedb", loc.argument],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise ValueError(lines[-1] if lines else f"creating the store failed (exit {proc.returncode})")


def current_revision(db, postgresql: bool) -> str | None:
    """The Alembic revision the database is at; None before Alembic (or an empty database)."""
    if postgresql:
        if db.execute("SELECT to_regclass('alembic_version')").fetchone()[0] is None:
            return None
    elif not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone():
        return None
    row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def _alembic_config(connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection, stamp_baseline: bool) -> None:
    from alembic import command

    cfg = _alembic_config(connection)
    if stamp_baseline:
        command.stamp(cfg, REVISIONS[0])
    command.upgrade(cfg, "head")


def render_sqlite_script() -> str:
    """Alembic's SQL for a new SQLite store, every revision up to HEAD (offline mode)."""
    import io

    from alembic import command

    buf = io.StringIO()
    cfg = _alembic_config(None)
    cfg.output_buffer = buf
    cfg.attributes["dialect"] = "sqlite"
    command.upgrade(cfg, "head", sql=True)
    return "".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines())


def create_sqlite(db, after) -> bool:
    """Build a new SQLite store from SQLITE_SCRIPT under the write lock; False when another
    process built it first.  `after(db)` runs in the same transaction."""
    import sqlite3

    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            db.execute("COMMIT")
            return False
        statement = ""
        for line in SQLITE_SCRIPT.read_text(encoding="utf-8").splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                db.execute(statement)
                statement = ""
        after(db)
        db.execute("COMMIT")
        return True
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def migrate_sqlite(path: Path, legacy_schema: bool, after=None) -> None:
    """Bring a SQLite store to the newest revision, under SQLite's write lock (another process
    may be doing the same: the revision is read again inside the lock).  `legacy_schema`: the
    file has the tables of an earlier sitecheck (stamped with the baseline); `after(conn)` runs
    inside the same transaction."""
    import sqlite3

    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine("sqlite://", poolclass=NullPool, creator=lambda: sqlite3.connect(
        path, isolation_level=None, timeout=30, check_same_thread=False))
    try:
        with engine.connect() as conn:
            conn.begin()  # so that Alembic runs in this transaction instead of beginning its own
            raw = conn.connection.dbapi_connection
            raw.execute("BEGIN IMMEDIATE")
            try:
                revision = current_revision(raw, postgresql=False)
                if revision != HEAD:
                    _upgrade(conn, stamp_baseline=legacy_schema and revision is None)
                if after is not None:
                    after(raw)
                raw.execute("COMMIT")
            except BaseException:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise
    finally:
        engine.dispose()


def migrate_postgresql(url: str) -> None:
    """Bring a PostgreSQL store to the newest revision, in one transaction (PostgreSQL's DDL is
    transactional) under an advisory lock, so concurrent workers migrate once."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine("postgresql+psycopg://" + url.split("://", 1)[1], poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            if current_revision(conn.connection.dbapi_connection, postgresql=True) != HEAD:
                _upgrade(conn, stamp_baseline=False)
    finally:
        engine.dispose()


def columns(db, postgresql: bool, table: str) -> set[str]:
    """The column names of `table` (empty when it does not exist): an old store opened
    read-only may predate a column."""
    if postgresql:
        return {r[0] for r in db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ?", (table,))}
    return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}


def _main(argv: list[str]) -> int:
    from .store import Store

    if argv == ["--sqlite-script"]:
        SQLITE_SCRIPT.write_text(render_sqlite_script(), encoding="utf-8")
        print(f"wrote {SQLITE_SCRIPT}")
        return 0
    try:
        Store(argv[0]).close()
    except StoreError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
