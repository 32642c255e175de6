"""The store: runs, pages (every fetched URL), links, findings, facts, verdicts, probes, night claims.

A SQLite file by default, or a PostgreSQL database shared by many workers (sitecheck.storedb:
one schema, one set of Alembic migrations, the same SQL).

Crash safety: WAL journal, every batch in one transaction, a run row that stays
`running` until the crawl finishes.  A run whose process died (SIGKILL, power
loss) is found by its dead pid at the next open and marked `incomplete`; earlier
runs are never touched.

Link occurrences are numerous (20,000 pages x 45 links = 900,000 per run), so
during a crawl they go to a local scratch database beside the store (no journal, no
fsync), one row per page with its target URLs as a JSON array (and their texts
and elements as another).  When the run finishes, only the referrers of targets
that failed are copied into `links` (at most `MAX_REFERRERS` per target, plus a
count), and the scratch file is deleted.  History therefore grows with problems,
not with size.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from . import storedb
from .nightclaims import NightClaims
from .storedb import Location, StoreError, writes as _writes
from .model import Fact, Finding, Reason, Referrer, Severity, Target, TargetKind

APPLICATION_ID = 0x53434B31  # "SCK1": tells our files from foreign SQLite databases
MAX_REFERRERS = 20


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds") if dt else None


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# The SQLite migrations from before Alembic: each moves a store made by an earlier sitecheck
# from version i to i+1, up to the schema Alembic's baseline revision (sitecheck/migrations)
# starts from.  Frozen: schema changes are Alembic revisions now.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'incomplete', 'failed')),
        pages INTEGER NOT NULL DEFAULT 0,
        targets INTEGER NOT NULL DEFAULT 0,
        findings INTEGER NOT NULL DEFAULT 0,
        config_digest TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        pid INTEGER,
        hostname TEXT,
        stats TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX runs_site ON runs (site, id);
    CREATE TABLE pages (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        status INTEGER,
        final_url TEXT,
        redirects TEXT NOT NULL DEFAULT '[]',
        latency_s REAL,
        size INTEGER,
        content_type TEXT NOT NULL DEFAULT '',
        encoding TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        depth INTEGER,
        host_key TEXT,
        is_homepage INTEGER NOT NULL DEFAULT 0,
        method TEXT NOT NULL DEFAULT 'GET',
        error TEXT NOT NULL DEFAULT '',
        fetched_at TEXT,
        PRIMARY KEY (run_id, url)
    ) WITHOUT ROWID;
    CREATE TABLE links (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        to_url TEXT NOT NULL,
        from_url TEXT NOT NULL,
        text TEXT NOT NULL DEFAULT '',
        element TEXT NOT NULL DEFAULT 'a',
        on_homepage INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX links_target ON links (run_id, to_url);
    CREATE TABLE link_counts (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        to_url TEXT NOT NULL,
        referrers INTEGER NOT NULL,
        on_homepage INTEGER NOT NULL,
        PRIMARY KEY (run_id, to_url)
    ) WITHOUT ROWID;
    CREATE TABLE findings (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        code TEXT NOT NULL,
        severity INTEGER NOT NULL,
        check_name TEXT NOT NULL DEFAULT '',
        url TEXT NOT NULL,
        host_key TEXT,
        page_url TEXT,
        message TEXT NOT NULL DEFAULT '',
        details TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX findings_run ON findings (run_id, code);
    CREATE TABLE facts (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        host_key TEXT NOT NULL DEFAULT '',
        key TEXT NOT NULL DEFAULT '',
        check_name TEXT NOT NULL DEFAULT '',
        value TEXT NOT NULL,
        PRIMARY KEY (run_id, name, host_key, key)
    ) WITHOUT ROWID;
    CREATE TABLE verdicts (
        run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        result TEXT NOT NULL,
        score REAL,
        body TEXT NOT NULL
    );
    CREATE TABLE probes (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL,
        host_key TEXT NOT NULL,
        url TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ok INTEGER NOT NULL,
        status INTEGER,
        reason TEXT NOT NULL DEFAULT '',
        ttfb_s REAL,
        total_s REAL,
        cert_expiry TEXT,
        error TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX probes_site_time ON probes (site, started_at);
    """,
    # 2: availability probes say what they probed (the portal homepage is what the
    # unreachable rule judges) and keep every timing phase (sitecheck.probe).
    """
    ALTER TABLE probes ADD COLUMN kind TEXT NOT NULL DEFAULT 'portal';
    ALTER TABLE probes ADD COLUMN name TEXT NOT NULL DEFAULT '';
    ALTER TABLE probes ADD COLUMN final_url TEXT;
    ALTER TABLE probes ADD COLUMN dns_s REAL;
    ALTER TABLE probes ADD COLUMN connect_s REAL;
    ALTER TABLE probes ADD COLUMN tls_s REAL;
    CREATE INDEX probes_site_url_time ON probes (site, url, started_at);
    """,
    # 3: `pages` becomes a rowid table with a unique index on (run_id, url). Its rows (~300
    # bytes) are too large for WITHOUT ROWID, where SQLite advises under 1/20 of a page: a
    # crawl inserts them in the order it meets URLs, which is no order of the key, so every
    # batch rewrote leaf pages all over the table. Appended to a rowid table, only the narrow index is written out of order
    # (bench/README.md: 1.4-1.8 -> 0.8-1.0 CPU s of SQLite per 58,723 rows). The column list
    # repeats migration 1's on purpose: a released migration is never edited to share it.
    """
    CREATE TABLE pages_by_rowid (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        status INTEGER,
        final_url TEXT,
        redirects TEXT NOT NULL DEFAULT '[]',
        latency_s REAL,
        size INTEGER,
        content_type TEXT NOT NULL DEFAULT '',
        encoding TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        depth INTEGER,
        host_key TEXT,
        is_homepage INTEGER NOT NULL DEFAULT 0,
        method TEXT NOT NULL DEFAULT 'GET',
        error TEXT NOT NULL DEFAULT '',
        fetched_at TEXT
    );
    INSERT INTO pages_by_rowid SELECT * FROM pages ORDER BY run_id, url;
    DROP TABLE pages;
    ALTER TABLE pages_by_rowid RENAME TO pages;
    CREATE UNIQUE INDEX pages_run_url ON pages (run_id, url);
    """,
]


_PAGE_COLUMNS = ("run_id", "url", "kind", "reason", "status", "final_url", "redirects", "latency_s", "size",
                 "content_type", "encoding", "title", "depth", "host_key", "is_homepage", "method", "error",
                 "fetched_at")
# A URL recorded again in one run (a retry) replaces its row.
_PAGES_UPSERT = (f"INSERT INTO pages VALUES ({','.join('?' * len(_PAGE_COLUMNS))}) ON CONFLICT (run_id, url) "
                 "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _PAGE_COLUMNS[2:]))


def _mark_sqlite(db: sqlite3.Connection) -> None:
    """Mark a SQLite file as a sitecheck store: the application id, and the last pre-Alembic
    version (an earlier sitecheck refuses a newer number; Alembic's table holds the revision)."""
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")


@dataclass
class Run:
    id: int
    site: str
    started_at: datetime
    ended_at: datetime | None
    status: str
    pages: int
    targets: int
    findings: int
    config_digest: str
    error: str
    stats: dict[str, Any]
    night: date | None = None  # set on the runs of a night claim (sitecheck.nightclaims)

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


def data_dir(environ: dict[str, str] | None = None) -> Path:
    """$XDG_DATA_HOME/sitecheck (~/.local/share/sitecheck): the default store, and the scratch
    files and request queues of crawls recorded into PostgreSQL."""
    env = os.environ if environ is None else environ
    base = Path(env.get("XDG_DATA_HOME") or Path(env.get("HOME", "~")).expanduser() / ".local" / "share")
    return base / "sitecheck"


def default_db_path(environ: dict[str, str] | None = None) -> Path | str:
    """$SITECHECK_DB (a path or a postgresql:// URL), else $XDG_DATA_HOME/sitecheck/sitecheck.sqlite3."""
    env = os.environ if environ is None else environ
    if env.get("SITECHECK_DB"):
        value = env["SITECHECK_DB"]
        return value if "://" in value else Path(value)
    return data_dir(env) / "sitecheck.sqlite3"


def store_location(value: str | Path | Location | None = None,
                   environ: dict[str, str] | None = None) -> Location:
    """The store named by --db's `value`, else by $SITECHECK_DB, else the default SQLite file."""
    try:
        return storedb.location(value or default_db_path(environ))
    except ValueError as exc:
        raise StoreError(str(exc)) from None


class Store(NightClaims):
    def __init__(self, path: str | Path | Location, *, readonly: bool = False,
                 clock: Callable[[], datetime] = utcnow):
        self.location = store_location(path)
        self.postgresql = self.location.is_postgresql
        # SQLite: the file. PostgreSQL: the local name of the per-run scratch files and queues.
        self.path = (storedb.local_base(self.location, data_dir()) if self.postgresql
                     else self.location.path)
        self.readonly = readonly
        self.clock = clock
        # SQLite locks the whole file (claims take BEGIN IMMEDIATE); PostgreSQL locks the row.
        self._for_update = " FOR UPDATE" if self.postgresql else ""
        self.db = self._connect_postgresql() if self.postgresql else self._connect()
        self._scratch: sqlite3.Connection | None = None
        self._scratch_path: Path | None = None

    # --- opening ------------------------------------------------------------------

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        """The exceptions of a store that failed to work (reported as StoreError)."""
        return storedb.operational_errors()

    def _connect(self) -> sqlite3.Connection:
        path = self.path
        if not self.readonly:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{path}: cannot create the data directory: {exc.strerror}") from None
            if path.exists() and not os.access(path, os.W_OK):
                raise StoreError(f"{path}: the database file is read-only")
            if not os.access(path.parent, os.W_OK):
                raise StoreError(f"{path}: the data directory {path.parent} is read-only "
                                 "(use --db or SITECHECK_DB to choose another place)")
        elif not path.exists():
            raise StoreError(f"{path}: no such database (run a crawl first, or pass --db)")
        try:
            uri = f"file:{path}?mode=ro" if self.readonly else f"file:{path}"
            db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA busy_timeout = 30000")
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: not a usable SQLite database ({exc}); "
                             "move it aside or pass --db to use another file") from None
        if tables and app_id != APPLICATION_ID:
            raise StoreError(f"{path}: this SQLite file is not a sitecheck store "
                             "(another program's database?); pass --db to use another file")
        if version > len(MIGRATIONS):
            raise StoreError(f"{path}: the store has schema version {version}, newer than this "
                             f"sitecheck understands ({len(MIGRATIONS)}); upgrade sitecheck")
        revision = self._known_revision(db)
        if not self.readonly:
            try:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
                db.execute("PRAGMA foreign_keys = ON")
                if revision != storedb.HEAD:
                    if not tables and storedb.create_sqlite(db, after=_mark_sqlite):
                        return db
                    self._migrate(db, version)
                    storedb.migrate_sqlite(path, legacy_schema=True, after=_mark_sqlite)
            except sqlite3.OperationalError as exc:
                raise StoreError(f"{path}: cannot write to the store: {exc}") from None
        return db

    def _connect_postgresql(self) -> storedb.PgConnection:
        if not self.readonly:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{self.path.parent}: cannot create the directory for the crawls' "
                                 f"scratch files: {exc.strerror}") from None
        try:
            db = storedb.PgConnection(self.location.url, readonly=self.readonly)
        except ImportError:
            raise StoreError(f"{self.location}: a PostgreSQL store needs psycopg: "
                             "pip install 'sitecheck[postgresql]'") from None
        except self.errors as exc:
            raise StoreError(f"{self.location}: cannot connect to PostgreSQL: {exc}".strip()) from None
        revision = self._known_revision(db)
        if revision is None and self.readonly:
            db.close()
            raise StoreError(f"{self.location}: this database holds no sitecheck store "
                             "(run a crawl first, or pass --db)")
        if revision != storedb.HEAD and not self.readonly:
            try:
                storedb.migrate_postgresql(self.location.url)
            except Exception as exc:
                db.close()
                raise StoreError(f"{self.location}: cannot create or migrate the store: {exc}") from None
        return db

    def _known_revision(self, db) -> str | None:
        revision = storedb.current_revision(db, self.postgresql)
        if revision is not None and revision not in storedb.REVISIONS:
            db.close()
            raise StoreError(f"{self.location}: the store's schema revision {revision} is newer than this "
                             "sitecheck understands; upgrade sitecheck")
        return revision

    def columns(self, table: str) -> set[str]:
        """The columns `table` has (none when it is missing): a store opened read-only may be old."""
        return storedb.columns(self.db, self.postgresql, table)

    def _migrate(self, db: sqlite3.Connection, version: int) -> None:
        """The SQLite migrations from before Alembic, for a store made by an earlier sitecheck."""
        for target in range(version, len(MIGRATIONS)):
            db.execute("BEGIN IMMEDIATE")
            try:
                # Re-read inside the write lock: another process may have migrated meanwhile.
                if db.execute("PRAGMA user_version").fetchone()[0] > target:
                    db.execute("COMMIT")
                    continue
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {target + 1}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self._close_scratch(delete=False)
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, sql: str, rows: Iterable[tuple] | None = None) -> None:
        if rows is None:
            self.db.execute(sql)
            return
        rows = rows if isinstance(rows, list) else list(rows)
        for attempt in (0, 1):
            self.db.execute("BEGIN")
            try:
                self.db.executemany(sql, rows)
                self.db.execute("COMMIT")
                return
            except BaseException as exc:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                # A batch PostgreSQL lost with its connection (a restart) is written again, once.
                if attempt or not (self.postgresql and self.db.lost(exc)):
                    raise

    # --- runs -----------------------------------------------------------------------

    @_writes
    def recover_interrupted(self) -> list[int]:
        """Mark runs of this machine whose crawling process is gone as incomplete; returns their ids.

        Only runs started on this host are judged: a pid means nothing on another machine, whose
        live crawl must not be marked dead here (a night claim's heartbeat judges those)."""
        here = socket.gethostname()
        stale = []
        for run_id, pid, host in self.db.execute(
                "SELECT id, pid, hostname FROM runs WHERE status = 'running'").fetchall():
            if host and host != here:
                continue
            if pid and _pid_alive(pid):
                continue
            stale.append(run_id)
        for run_id in stale:
            self._write("UPDATE runs SET status = 'incomplete', "
                        "error = 'the crawl stopped before it finished' WHERE id = %d" % run_id)
            _remove_scratch(self.path, run_id)
        self._remove_leftovers()
        return stale

    def _remove_leftovers(self) -> None:
        """Delete the scratch files and queues here of runs no longer running: a night another
        worker took over (its run marked incomplete there) while this machine's crawl was dead."""
        found = {int(m.group(1)) for p in self.path.parent.glob(f"{self.path.name}.run*")
                 if (m := re.fullmatch(re.escape(self.path.name) + r"\.run(\d+)\.(?:scratch|queue)", p.name))}
        if not found:
            return
        marks = ",".join("?" * len(found))
        running = {rid for (rid,) in self.db.execute(
            f"SELECT id FROM runs WHERE status = 'running' AND id IN ({marks})", sorted(found))}
        for run_id in found - running:
            _remove_scratch(self.path, run_id)

    @_writes
    def start_run(self, site: str, config_digest: str, started_at: datetime | None = None) -> int:
        self.recover_interrupted()
        run_id = self._insert_run(site, config_digest, started_at)
        self._open_scratch(run_id)
        return run_id

    def _insert_run(self, site: str, config_digest: str, started_at: datetime | None,
                    night: date | None = None) -> int:
        row = self.db.execute(
            "INSERT INTO runs (site, started_at, status, config_digest, pid, hostname, night) "
            "VALUES (?, ?, 'running', ?, ?, ?, ?) RETURNING id",
            (site, _iso(started_at or self.clock()), config_digest, os.getpid(), socket.gethostname(),
             night.isoformat() if night else None)).fetchone()
        return int(row[0])

    @_writes
    def finish_run(self, run_id: int, status: str, *, ended_at: datetime | None = None,
                   error: str = "", stats: dict[str, Any] | None = None) -> None:
        """Close a run: fold link occurrences into referrers of failures, count, set status."""
        self.fold_links(run_id)
        _remove_scratch(self.path, run_id)
        pages = self.db.execute("SELECT count(*) FROM pages WHERE run_id = ? AND kind = 'page' "
                                "AND status IS NOT NULL", (run_id,)).fetchone()[0]
        targets = self.db.execute("SELECT count(*) FROM pages WHERE run_id = ?", (run_id,)).fetchone()[0]
        findings = self.db.execute("SELECT count(*) FROM findings WHERE run_id = ?", (run_id,)).fetchone()[0]
        # A night's run another worker took over (marked incomplete by its claim) stays incomplete.
        self.db.execute(
            "UPDATE runs SET status = CASE WHEN night IS NULL OR status = 'running' THEN ? ELSE status END, "
            "ended_at = ?, error = ?, pages = ?, targets = ?, findings = ?, stats = ? WHERE id = ?",
            (status, _iso(ended_at or self.clock()), error, pages, targets, findings,
             json.dumps(stats or {}, ensure_ascii=False), run_id))

    def run(self, run_id: int) -> Run | None:
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _run(self.db, row) if row else None

    def latest_run(self, site: str, statuses: tuple[str, ...] = ("complete",),
                   before: int | None = None) -> Run | None:
        marks = ",".join("?" * len(statuses))
        sql = f"SELECT * FROM runs WHERE site = ? AND status IN ({marks})"
        args: list[Any] = [site, *statuses]
        if before is not None:
            sql += " AND id < ?"
            args.append(before)
        row = self.db.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return _run(self.db, row) if row else None

    def runs(self, site: str | None = None, limit: int = 100, since: datetime | None = None,
             until: datetime | None = None) -> list[Run]:
        sql, args = "SELECT * FROM runs WHERE 1=1", []
        if site:
            sql += " AND site = ?"
            args.append(site)
        if since:
            sql += " AND started_at >= ?"
            args.append(_iso(since))
        if until:
            sql += " AND started_at < ?"
            args.append(_iso(until))
        rows = self.db.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
        return [_run(self.db, r) for r in rows]

    def sites(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT site FROM runs ORDER BY site")]

    # --- crawl results ----------------------------------------------------------------

    @_writes
    def add_targets(self, run_id: int, targets: Iterable[tuple[Target, dict[str, Any]]]) -> None:
        """Insert fetched URLs. Each item is (target, extra) where extra has title/depth/encoding/
        is_homepage/fetched_at for pages."""
        rows = []
        for t, extra in targets:
            rows.append((run_id, t.url, t.kind.value, t.reason.value, t.status, t.final_url,
                         json.dumps(t.redirects) if t.redirects else "[]", t.latency_s, t.size, t.content_type,
                         extra.get("encoding", ""), extra.get("title", ""), extra.get("depth"), t.host_key,
                         int(bool(extra.get("is_homepage"))), t.method, t.error,
                         _iso(extra.get("fetched_at"))))
        self._write(_PAGES_UPSERT, rows)

    @_writes
    def add_page_links(self, rows: Iterable[tuple[str, int, str, str]]) -> None:
        """(from_url, on_homepage, urls, meta) rows for the running run's scratch file, one per page.

        `urls` is a JSON array of the target URLs, `meta` one of [text, element] at the same
        positions (crawler.pageparse.occurrences). One row a page instead of one a link: ~48
        times fewer rows to insert during the crawl; fold_links reads them at the end.
        """
        if self._scratch is None:
            raise StoreError("no run in progress")
        self._scratch.executemany("INSERT INTO page_links VALUES (?,?,?,?)", rows)
        self._scratch.commit()

    @_writes
    def add_findings(self, run_id: int, findings: Iterable[Finding]) -> None:
        self._write(
            "INSERT INTO findings (run_id, code, severity, check_name, url, host_key, page_url, message, "
            "details) VALUES (?,?,?,?,?,?,?,?,?)",
            [(run_id, f.code, int(f.severity), f.check, f.url, f.host_key, f.page_url, f.message,
              json.dumps(f.details, ensure_ascii=False, default=str)) for f in findings])

    @_writes
    def add_facts(self, run_id: int, facts: Iterable[Fact]) -> None:
        self._write("INSERT INTO facts VALUES (?,?,?,?,?,?) ON CONFLICT (run_id, name, host_key, key) "
                    "DO UPDATE SET check_name = excluded.check_name, value = excluded.value",
                    [(run_id, f.name, f.host_key or "", f.key, f.check,
                      json.dumps(f.value, ensure_ascii=False, default=str)) for f in facts])

    @_writes
    def save_verdict(self, run_id: int, result: str, score: float | None, body: dict[str, Any]) -> None:
        self._write("INSERT INTO verdicts VALUES (?,?,?,?) ON CONFLICT (run_id) DO UPDATE SET "
                    "result = excluded.result, score = excluded.score, body = excluded.body",
                    [(run_id, result, score, json.dumps(body, ensure_ascii=False, default=str))])

    # --- reading back -------------------------------------------------------------------

    def targets(self, run_id: int, failed_only: bool = True) -> Iterator[Target]:
        sql = "SELECT * FROM pages WHERE run_id = ?"
        if failed_only:
            sql += " AND reason != 'ok'"
        cur = self.db.execute(sql + " ORDER BY url", (run_id,))
        cols = [d[0] for d in cur.description]
        for row in cur.fetchall():
            r = dict(zip(cols, row))
            yield Target(url=r["url"], kind=TargetKind(r["kind"]), reason=Reason(r["reason"]),
                         status=r["status"], final_url=r["final_url"], redirects=json.loads(r["redirects"]),
                         latency_s=r["latency_s"], size=r["size"], content_type=r["content_type"],
                         method=r["method"], error=r["error"], host_key=r["host_key"],
                         referrers=self.referrers(run_id, r["url"]))

    def referrers(self, run_id: int, url: str) -> list[Referrer]:
        return [Referrer(page_url=a, text=b, element=c, on_homepage=bool(d)) for a, b, c, d in self.db.execute(
            "SELECT from_url, text, element, on_homepage FROM links WHERE run_id = ? AND to_url = ? "
            "ORDER BY on_homepage DESC, from_url", (run_id, url))]

    def referrer_count(self, run_id: int, url: str) -> int:
        row = self.db.execute("SELECT referrers FROM link_counts WHERE run_id = ? AND to_url = ?",
                              (run_id, url)).fetchone()
        return row[0] if row else 0

    def pages(self, run_id: int) -> Iterator[dict[str, Any]]:
        cur = self.db.execute("SELECT * FROM pages WHERE run_id = ? ORDER BY url", (run_id,))
        cols = [d[0] for d in cur.description]
        for row in cur:
            r = dict(zip(cols, row))
            r["redirects"] = json.loads(r["redirects"])
            r["is_homepage"] = bool(r["is_homepage"])
            yield r

    def findings(self, run_id: int, min_severity: Severity = Severity.INFO) -> list[tuple[int, Finding]]:
        out = []
        for row in self.db.execute(
                "SELECT id, code, severity, check_name, url, host_key, page_url, message, details FROM findings "
                "WHERE run_id = ? AND severity >= ? ORDER BY severity DESC, code, url",
                (run_id, int(min_severity))):
            fid, code, sev, check, url, host, page_url, msg, details = row
            out.append((fid, Finding(code, Severity(sev), url, msg, check, host, page_url, json.loads(details))))
        return out

    def facts(self, run_id: int, name: str | None = None) -> list[Fact]:
        sql, args = "SELECT name, host_key, key, check_name, value FROM facts WHERE run_id = ?", [run_id]
        if name:
            sql += " AND name = ?"
            args.append(name)
        return [Fact(name=n, value=json.loads(v), host_key=h or None, key=k, check=c)
                for n, h, k, c, v in self.db.execute(sql + " ORDER BY name, host_key, key", args)]

    def fact_names(self, run_id: int) -> set[str]:
        """The names of a run's facts: what the verdict reads of them (a run keeps one fact per
        article page, which are not worth loading for that)."""
        return {n for (n,) in self.db.execute("SELECT DISTINCT name FROM facts WHERE run_id = ?", (run_id,))}

    def previous_fact(self, site: str, before_run: int, name: str, host_key: str | None, key: str = "") -> Any:
        row = self.db.execute(
            "SELECT f.value FROM facts f JOIN runs r ON r.id = f.run_id WHERE r.site = ? AND r.id < ? "
            "AND r.status = 'complete' AND f.name = ? AND f.host_key = ? AND f.key = ? "
            "ORDER BY r.id DESC LIMIT 1", (site, before_run, name, host_key or "", key)).fetchone()
        return json.loads(row[0]) if row else None

    def verdict(self, run_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT body FROM verdicts WHERE run_id = ?", (run_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def integrity_ok(self) -> bool:
        if self.postgresql:  # PostgreSQL checks its pages itself (and has no integrity_check)
            return self.db.execute("SELECT 1").fetchone()[0] == 1
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # --- scratch file for link occurrences ----------------------------------------------

    def hand_over_run(self) -> None:
        """Stop writing the running run's scratch file: another process records this run now."""
        self._close_scratch(delete=False)

    def drop_run_scratch(self) -> None:
        """Close and delete the running run's scratch file (the run will not be finished here)."""
        self._close_scratch(delete=True)

    def take_over_run(self, run_id: int) -> None:
        """Record run `run_id`, started by another process (its scratch file starts empty here)."""
        self._open_scratch(run_id)

    def _open_scratch(self, run_id: int) -> None:
        self._close_scratch(delete=False)
        path = _scratch_path(self.path, run_id)
        path.unlink(missing_ok=True)
        db = sqlite3.connect(path, check_same_thread=False)
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("CREATE TABLE page_links (from_url TEXT, on_homepage INT, urls TEXT, meta TEXT)")
        self._scratch, self._scratch_path = db, path

    def _close_scratch(self, delete: bool) -> None:
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None
        if delete and self._scratch_path is not None:
            self._scratch_path.unlink(missing_ok=True)
            self._scratch_path = None

    @_writes
    def resolve_landings(self, run_id: int) -> int:
        """Give each redirect chain that landed on a URL fetched on its own account (its error reads
        "same as <url>", crawler/linkcheck.py) that URL's outcome; the number of rows resolved.

        Done once at the end of a run, in SQL, so the crawl keeps no per-URL outcomes in memory.
        A landing that is itself such a chain resolves on a later pass (at most a few)."""
        resolved = 0
        for _ in range(5):
            cursor = self.db.execute(
                "UPDATE pages SET (reason, status, content_type, size, error) = "
                "(SELECT l.reason, l.status, l.content_type, l.size, l.error FROM pages l "
                " WHERE l.run_id = pages.run_id AND l.url = pages.final_url) "
                "WHERE run_id = ? AND error LIKE 'same as %' AND EXISTS (SELECT 1 FROM pages l "
                " WHERE l.run_id = pages.run_id AND l.url = pages.final_url AND l.error NOT LIKE 'same as %')",
                (run_id,))
            if cursor.rowcount <= 0:
                break
            resolved += cursor.rowcount
        return resolved

    @_writes
    def fold_links(self, run_id: int) -> None:
        """Copy referrers of failed targets from the scratch file into `links` (idempotent).

        One pass over the page rows: each page's target URLs are parsed and tested against the
        failed URLs (a few thousand), counting every referrer and keeping each target's
        MAX_REFERRERS first ones (homepages first, then by URL); SQLite then picks only their
        anchor texts out of the rows.  The same fold in SQL (json_each over every link, a table
        of the failed targets' occurrences, GROUP BY and a window) took 1.43-1.59 s for the
        benchmark's 20,000 pages where this takes 0.40-0.59 s, same rows (bench/README.md), at
        the end of a run when one core works and the other waits.
        """
        path = _scratch_path(self.path, run_id)
        if self._scratch is not None:
            self._scratch.commit()
        if not path.exists():
            return
        self._close_scratch(delete=False)
        failed = {url for (url,) in self.db.execute(
            "SELECT url FROM pages WHERE run_id = ? AND reason != 'ok'", (run_id,))}
        counts: dict[str, list[int]] = {}
        links: list[tuple] = []
        if failed:
            scratch = sqlite3.connect(path)
            try:
                counts, first = _rank_referrers(
                    scratch.execute("SELECT rowid, from_url, on_homepage, urls FROM page_links"), failed)
                links = _with_texts(scratch, first, run_id)
            finally:
                scratch.close()
        db = self.db
        db.execute("BEGIN")
        try:
            db.executemany("INSERT INTO link_counts VALUES (?,?,?,?)",
                           [(run_id, url, n, home) for url, (n, home) in counts.items()])
            db.executemany("INSERT INTO links VALUES (?,?,?,?,?,?)", links)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        path.unlink(missing_ok=True)
        self._scratch_path = None


def _rank_referrers(rows, failed: set[str]) -> tuple[dict[str, list[int]], dict[str, list[tuple]]]:
    """For each failed URL linked in (rowid, from_url, on_homepage, urls) rows: [referring pages,
    linked from a homepage], and its MAX_REFERRERS first referrers as (-on_homepage, from_url,
    rowid, position), best first.

    A page has one row (a page is fetched once); a repeated row is skipped, as a repeated link
    within a row is, so each referring page counts once.  A target's list holds at most twice
    MAX_REFERRERS entries, cut back to the best MAX_REFERRERS when it fills.
    """
    loads, seen_pages = json.loads, set()
    counts: dict[str, list[int]] = {}
    first: dict[str, list[tuple]] = {}
    for rowid, from_url, on_homepage, urls in rows:
        targets = loads(urls)
        if failed.isdisjoint(targets) or from_url in seen_pages:
            continue
        seen_pages.add(from_url)
        done = set()
        minus_home = -1 if on_homepage else 0
        for position, url in enumerate(targets):
            if url not in failed or url in done:
                continue
            done.add(url)
            count = counts.get(url)
            if count is None:
                counts[url] = [1, -minus_home]
                first[url] = kept = []
            else:
                count[0] += 1
                count[1] |= -minus_home
                kept = first[url]
            kept.append((minus_home, from_url, rowid, position))
            if len(kept) >= 2 * MAX_REFERRERS:
                kept.sort()
                del kept[MAX_REFERRERS:]
    for kept in first.values():
        kept.sort()
        del kept[MAX_REFERRERS:]
    return counts, first


def _with_texts(scratch: sqlite3.Connection, first: dict[str, list[tuple]], run_id: int) -> list[tuple]:
    """`links` rows for the kept referrers, with the anchor text and element of each link.

    SQLite picks the few entries wanted out of their rows' JSON (json_extract, in C): parsing
    the texts of every page with a kept referrer in Python (6,179 of 20,000 at the benchmark's
    20k pages) took as long as the rest of the fold.
    """
    wanted = [(url, minus_home, from_url, rowid, position)
              for url, kept in first.items() for minus_home, from_url, rowid, position in kept]
    scratch.execute("CREATE TEMP TABLE wanted (n INTEGER PRIMARY KEY, row INTEGER, position INTEGER)")
    try:
        scratch.executemany("INSERT INTO wanted VALUES (?,?,?)",
                            [(n, rowid, position) for n, (_u, _h, _f, rowid, position) in enumerate(wanted)])
        picked = scratch.execute(
            "SELECT json_extract(p.meta, '$[' || w.position || '][0]'), "
            "json_extract(p.meta, '$[' || w.position || '][1]') "
            "FROM wanted w JOIN page_links p ON p.rowid = w.row ORDER BY w.n").fetchall()
    finally:
        scratch.execute("DROP TABLE temp.wanted")
    return [(run_id, url, from_url, text, element, -minus_home)
            for (url, minus_home, from_url, _r, _p), (text, element) in zip(wanted, picked, strict=True)]


def queue_dir(db_path: Path, run_id: int) -> Path:
    """Where a running crawl keeps its request queue on disk (removed when the run ends)."""
    return db_path.with_name(f"{db_path.name}.run{run_id}.queue")


def _scratch_path(db_path: Path, run_id: int) -> Path:
    return db_path.with_name(f"{db_path.name}.run{run_id}.scratch")


def _remove_scratch(db_path: Path, run_id: int) -> None:
    import shutil

    _scratch_path(db_path, run_id).unlink(missing_ok=True)
    shutil.rmtree(queue_dir(db_path, run_id), ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed child not yet reaped) is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _run(db: sqlite3.Connection, row: tuple) -> Run:
    (rid, site, started, ended, status, pages, targets, findings, digest, error, _pid, _host, stats) = row[:13]
    night = row[13] if len(row) > 13 else None  # a store from before night claims, opened read-only
    return Run(rid, site, _dt(started), _dt(ended), status, pages, targets, findings, digest, error,
               json.loads(stats), date.fromisoformat(night) if night else None)
