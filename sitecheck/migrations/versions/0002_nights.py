"""Night claims of distributed crawls (sitecheck.nightclaims): the night a run belongs to, one
row per (site, night), a unique index that refuses a second complete run of one night, and
indexes of the running runs and claims."""

import sqlalchemy as sa
from alembic import op

from sitecheck.schema import ID, TEXT

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("runs", sa.Column("night", TEXT))
    op.create_index("runs_one_complete_night", "runs", ["site", "night"], unique=True,
                    sqlite_where=sa.text("status = 'complete'"), postgresql_where=sa.text("status = 'complete'"))
    op.create_table(
        "nights",
        sa.Column("site", TEXT, nullable=False),
        sa.Column("night", TEXT, nullable=False),
        sa.Column("state", TEXT, sa.CheckConstraint("state IN ('queued', 'running', 'done')"), nullable=False),
        sa.Column("run_id", ID, sa.ForeignKey("runs.id", ondelete="SET NULL")),
        sa.Column("worker", TEXT, nullable=False, server_default=sa.text("''")),
        sa.Column("heartbeat_at", TEXT),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("enqueued_at", TEXT, nullable=False),
        sa.Column("finished_at", TEXT),
        sa.PrimaryKeyConstraint("site", "night"),
    )
    op.create_index("nights_by_night", "nights", ["night", "state"])
    # What every claim (runs still running, to judge by pid) and every sweep (claims whose
    # heartbeat stopped) look for: few rows among years of history.
    op.create_index("runs_running", "runs", ["hostname"], sqlite_where=sa.text("status = 'running'"),
                    postgresql_where=sa.text("status = 'running'"))
    op.create_index("nights_running", "nights", ["heartbeat_at"], sqlite_where=sa.text("state = 'running'"),
                    postgresql_where=sa.text("state = 'running'"))
