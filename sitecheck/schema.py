"""The store's schema at its newest revision, one definition for SQLite and PostgreSQL.

The tables are created and changed only by the Alembic revisions in sitecheck/migrations
(their table definitions are frozen copies, as released migrations must be); this module is
what those revisions add up to, for `sitecheck store copy` and for the test that compares a
migrated database with it.  Timestamps are ISO-8601 text in UTC and JSON is text in both
databases, so both sort and compare them alike; PostgreSQL's text columns use the "C"
collation, which orders strings by code point as SQLite does.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
# Row ids: BIGINT on PostgreSQL (a nation's findings outgrow 2**31), INTEGER on SQLite, where
# an INTEGER PRIMARY KEY is the rowid.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
REAL = sa.Float().with_variant(sa.REAL(), "sqlite")  # double precision on PostgreSQL

metadata = sa.MetaData()


def _col(name: str, type_, *args, default: str | None = None, **kw) -> sa.Column:
    if default is not None:
        kw["server_default"] = sa.text(default)
    return sa.Column(name, type_, *args, **kw)


def _run_fk(name: str = "run_id", **kw) -> sa.Column:
    return sa.Column(name, ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, **kw)


runs = sa.Table(
    "runs", metadata,
    sa.Column("id", ID, primary_key=True),
    _col("site", TEXT, nullable=False),
    _col("started_at", TEXT, nullable=False),
    _col("ended_at", TEXT),
    _col("status", TEXT, sa.CheckConstraint("status IN ('running', 'complete', 'incomplete', 'failed')"),
         nullable=False),
    _col("pages", sa.Integer, nullable=False, default="0"),
    _col("targets", sa.Integer, nullable=False, default="0"),
    _col("findings", sa.Integer, nullable=False, default="0"),
    _col("config_digest", TEXT, nullable=False, default="''"),
    _col("error", TEXT, nullable=False, default="''"),
    _col("pid", sa.Integer),
    _col("hostname", TEXT),
    _col("stats", TEXT, nullable=False, default="'{}'"),
    _col("night", TEXT),
)
sa.Index("runs_site", runs.c.site, runs.c.id)
sa.Index("runs_one_complete_night", runs.c.site, runs.c.night, unique=True,
         sqlite_where=sa.text("status = 'complete'"), postgresql_where=sa.text("status = 'complete'"))
sa.Index("runs_running", runs.c.hostname,
         sqlite_where=sa.text("status = 'running'"), postgresql_where=sa.text("status = 'running'"))

pages = sa.Table(
    "pages", metadata,
    _run_fk(),
    _col("url", TEXT, nullable=False),
    _col("kind", TEXT, nullable=False),
    _col("reason", TEXT, nullable=False),
    _col("status", sa.Integer),
    _col("final_url", TEXT),
    _col("redirects", TEXT, nullable=False, default="'[]'"),
    _col("latency_s", REAL),
    _col("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
    _col("content_type", TEXT, nullable=False, default="''"),
    _col("encoding", TEXT, nullable=False, default="''"),
    _col("title", TEXT, nullable=False, default="''"),
    _col("depth", sa.Integer),
    _col("host_key", TEXT),
    _col("is_homepage", sa.Integer, nullable=False, default="0"),
    _col("method", TEXT, nullable=False, default="'GET'"),
    _col("error", TEXT, nullable=False, default="''"),
    _col("fetched_at", TEXT),
)
sa.Index("pages_run_url", pages.c.run_id, pages.c.url, unique=True)

links = sa.Table(
    "links", metadata,
    _run_fk(),
    _col("to_url", TEXT, nullable=False),
    _col("from_url", TEXT, nullable=False),
    _col("text", TEXT, nullable=False, default="''"),
    _col("element", TEXT, nullable=False, default="'a'"),
    _col("on_homepage", sa.Integer, nullable=False, default="0"),
)
sa.Index("links_target", links.c.run_id, links.c.to_url)

link_counts = sa.Table(
    "link_counts", metadata,
    _run_fk(primary_key=True),
    _col("to_url", TEXT, primary_key=True),
    _col("referrers", sa.Integer, nullable=False),
    _col("on_homepage", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)

findings = sa.Table(
    "findings", metadata,
    sa.Column("id", ID, primary_key=True),
    _run_fk(),
    _col("code", TEXT, nullable=False),
    _col("severity", sa.Integer, nullable=False),
    _col("check_name", TEXT, nullable=False, default="''"),
    _col("url", TEXT, nullable=False),
    _col("host_key", TEXT),
    _col("page_url", TEXT),
    _col("message", TEXT, nullable=False, default="''"),
    _col("details", TEXT, nullable=False, default="'{}'"),
)
sa.Index("findings_run", findings.c.run_id, findings.c.code)

facts = sa.Table(
    "facts", metadata,
    _run_fk(primary_key=True),
    _col("name", TEXT, primary_key=True),
    _col("host_key", TEXT, primary_key=True, default="''"),
    _col("key", TEXT, primary_key=True, default="''"),
    _col("check_name", TEXT, nullable=False, default="''"),
    _col("value", TEXT, nullable=False),
    sqlite_with_rowid=False,
)

verdicts = sa.Table(
    "verdicts", metadata,
    sa.Column("run_id", ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True,
              autoincrement=False),
    _col("result", TEXT, nullable=False),
    _col("score", REAL),
    _col("body", TEXT, nullable=False),
)

probes = sa.Table(
    "probes", metadata,
    sa.Column("id", ID, primary_key=True),
    _col("site", TEXT, nullable=False),
    _col("host_key", TEXT, nullable=False),
    _col("url", TEXT, nullable=False),
    _col("started_at", TEXT, nullable=False),
    _col("ok", sa.Integer, nullable=False),
    _col("status", sa.Integer),
    _col("reason", TEXT, nullable=False, default="''"),
    _col("ttfb_s", REAL),
    _col("total_s", REAL),
    _col("cert_expiry", TEXT),
    _col("error", TEXT, nullable=False, default="''"),
    _col("kind", TEXT, nullable=False, default="'portal'"),
    _col("name", TEXT, nullable=False, default="''"),
    _col("final_url", TEXT),
    _col("dns_s", REAL),
    _col("connect_s", REAL),
    _col("tls_s", REAL),
)
sa.Index("probes_site_time", probes.c.site, probes.c.started_at)
sa.Index("probes_site_url_time", probes.c.site, probes.c.url, probes.c.started_at)

nights = sa.Table(
    "nights", metadata,
    _col("site", TEXT, primary_key=True),
    _col("night", TEXT, primary_key=True),
    _col("state", TEXT, sa.CheckConstraint("state IN ('queued', 'running', 'done')"), nullable=False),
    sa.Column("run_id", ID, sa.ForeignKey("runs.id", ondelete="SET NULL")),
    _col("worker", TEXT, nullable=False, default="''"),
    _col("heartbeat_at", TEXT),
    _col("attempts", sa.Integer, nullable=False, default="0"),
    _col("enqueued_at", TEXT, nullable=False),
    _col("finished_at", TEXT),
)
sa.Index("nights_by_night", nights.c.night, nights.c.state)
sa.Index("nights_running", nights.c.heartbeat_at,
         sqlite_where=sa.text("state = 'running'"), postgresql_where=sa.text("state = 'running'"))
