"""The schema of the last store before Alembic (SQLite user_version 3), for new databases.

A SQLite store made by an earlier sitecheck already has these tables: it is stamped with this
revision instead (sitecheck.storedb), and goes on from here.
"""

import sqlalchemy as sa
from alembic import op

from sitecheck.schema import ID, REAL, TEXT

revision = "0001"
down_revision = None


def _d(value: str):
    return sa.text(value)


def _run_fk():
    return sa.Column("run_id", ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("site", TEXT, nullable=False),
        sa.Column("started_at", TEXT, nullable=False),
        sa.Column("ended_at", TEXT),
        sa.Column("status", TEXT, sa.CheckConstraint(
            "status IN ('running', 'complete', 'incomplete', 'failed')"), nullable=False),
        sa.Column("pages", sa.Integer, nullable=False, server_default=_d("0")),
        sa.Column("targets", sa.Integer, nullable=False, server_default=_d("0")),
        sa.Column("findings", sa.Integer, nullable=False, server_default=_d("0")),
        sa.Column("config_digest", TEXT, nullable=False, server_default=_d("''")),
        sa.Column("error", TEXT, nullable=False, server_default=_d("''")),
        sa.Column("pid", sa.Integer),
        sa.Column("hostname", TEXT),
        sa.Column("stats", TEXT, nullable=False, server_default=_d("'{}'")),
    )
    op.create_index("runs_site", "runs", ["site", "id"])
    op.create_table(
        "pages",
        _run_fk(),
        sa.Column("url", TEXT, nullable=False),
        sa.Column("kind", TEXT, nullable=False),
        sa.Column("reason", TEXT, nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("final_url", TEXT),
        sa.Column("redirects", TEXT, nullable=False, server_default=_d("'[]'")),
        sa.Column("latency_s", REAL),
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
        sa.Column("content_type", TEXT, nullable=False, server_default=_d("''")),
        sa.Column("encoding", TEXT, nullable=False, server_default=_d("''")),
        sa.Column("title", TEXT, nullable=False, server_default=_d("''")),
        sa.Column("depth", sa.Integer),
        sa.Column("host_key", TEXT),
        sa.Column("is_homepage", sa.Integer, nullable=False, server_default=_d("0")),
        sa.Column("method", TEXT, nullable=False, server_default=_d("'GET'")),
        sa.Column("error", TEXT, nullable=False, server_default=_d("''")),
        sa.Column("fetched_at", TEXT),
    )
    op.create_index("pages_run_url", "pages", ["run_id", "url"], unique=True)
    op.create_table(
        "links",
        _run_fk(),
        sa.Column("to_url", TEXT, nullable=False),
        sa.Column("from_url", TEXT, nullable=False),
        sa.Column("text", TEXT, nullable=False, server_default=_d("''")),
        sa.Column("element", TEXT, nullable=False, server_default=_d("'a'")),
        sa.Column("on_homepage", sa.Integer, nullable=False, server_default=_d("0")),
    )
    op.create_index("links_target", "links", ["run_id", "to_url"])
    op.create_table(
        "link_counts",
        _run_fk(),
        sa.Column("to_url", TEXT, nullable=False),
        sa.Column("referrers", sa.Integer, nullable=False),
        sa.Column("on_homepage", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "to_url"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "findings",
        sa.Column("id", ID, primary_key=True),
        _run_fk(),
        sa.Column("code", TEXT, nullable=False),
        sa.Column("severity", sa.Integer, nullable=False),
        sa.Column("check_name", TEXT, nullable=False, server_default=_d("''")),
        sa.Column("url", TEXT, nullable=False),
        sa.Column("host_key", TEXT),
        sa.Column("page_url", TEXT),
        sa.Column("message", TEXT, nullable=False, server_default=_d("''")),
        sa.Column("details", TEXT, nullable=False, server_default=_d("'{}'")),
    )
    op.create_index("findings_run", "findings", ["run_id", "code"])
    op.create_table(
        "facts",
        _run_fk(),
        sa.Column("name", TEXT, nullable=False),
        sa.Column("host_key", TEXT, nullable=False, server_default=_d("''")),
        sa.Column("key", TEXT, nullable=False, server_default=_d("''")),
        sa.Column("check_name", TEXT, nullable=False, server_default=_d("''")),
        sa.Column("value", TEXT, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "name", "host_key", "key"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "verdicts",
        sa.Column("run_id", ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True,
                  autoincrement=False),
        sa.Column("result", TEXT, nullable=False),
        sa.Column("score", REAL),
        sa.Column("body", TEXT, nullable=False),
    )
    op.create_table(
        "probes",
        sa.Column("id", ID, primary_key=True),
        sa.Column("site", TEXT, nullable=False),
        sa.Column("host_key", TEXT, nullable=False),
        sa.Column("url", TEXT, nullable=False),
        sa.Column("started_at", TEXT, nullable=False),
        sa.Column("ok", sa.Integer, nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("reason", TEXT, nullable=False, server_default=_d("''")),
        sa.Column("ttfb_s", REAL),
        sa.Column("total_s", REAL),
        sa.Column("cert_expiry", TEXT),
        sa.Column("error", TEXT, nullable=False, server_default=_d("''")),
        sa.Column("kind", TEXT, nullable=False, server_default=_d("'portal'")),
        sa.Column("name", TEXT, nullable=False, server_default=_d("''")),
        sa.Column("final_url", TEXT),
        sa.Column("dns_s", REAL),
        sa.Column("connect_s", REAL),
        sa.Column("tls_s", REAL),
    )
    op.create_index("probes_site_time", "probes", ["site", "started_at"])
    op.create_index("probes_site_url_time", "probes", ["site", "url", "started_at"])
