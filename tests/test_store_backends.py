"""One schema, one set of migrations, the same results: the store on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from sitecheck import schema, storedb
from sitecheck.model import Fact, Finding, Reason, Severity, Target, TargetKind
from sitecheck.store import APPLICATION_ID, MIGRATIONS, Store, StoreError
from sitecheck.storedb import location

from .helpers import add_link_occurrences

T0 = datetime(2026, 11, 20, 1, 30, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request, tmp_path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("pg_url")
    return str(tmp_path / "s.sqlite3")


def _fill(store: Store, site: str = "demo") -> int:
    run = store.start_run(site, "digest", T0)
    store.add_targets(run, [
        (Target("http://a/", TargetKind.PAGE, Reason.OK, 200, host_key="p"), {"is_homepage": True, "depth": 0}),
        (Target("http://a/x.pdf", TargetKind.ATTACHMENT, Reason.NOT_FOUND, 404, host_key="p"), {}),
        (Target("http://a/b.html", TargetKind.PAGE, Reason.OK, 200, latency_s=0.25, host_key="p"), {"depth": 1}),
        (Target("http://a/Z.html", TargetKind.PAGE, Reason.SERVER_ERROR, 500, host_key="p"), {"depth": 1}),
        (Target("http://a/old", TargetKind.PAGE, Reason.OK, 301, final_url="http://a/Z.html", host_key="p",
                error="same as http://a/Z.html"), {"depth": 1}),
    ])
    add_link_occurrences(store, [
        ("http://a/x.pdf", "http://a/", "附件", "a", 1),
        ("http://a/x.pdf", "http://a/b.html", "附件", "a", 0),
        ("http://a/Z.html", "http://a/b.html", "Z", "a", 0),
        ("http://a/b.html", "http://a/", "B", "a", 1),
    ])
    store.add_findings(run, [Finding("link.broken_homepage", Severity.ERROR, "http://a/x.pdf", "坏链", "links", "p",
                                     details={"reason": "not_found", "kind": "attachment"})])
    store.add_facts(run, [Fact("column.newest", {"age_days": 3}, "p", "通知公告")])
    store.add_facts(run, [Fact("column.newest", {"age_days": 4}, "p", "通知公告")])  # replaces
    store.save_verdict(run, "合格", 97.5, {"score": 97.5})
    store.save_verdict(run, "不合格", 40.0, {"score": 40.0})  # replaces
    assert store.resolve_landings(run) == 1
    store.finish_run(run, "complete", ended_at=T0, stats={"pages": 3})
    return run


def test_a_run_reads_back_the_same_on_both_databases(where):
    with Store(where) as store:
        run = _fill(store)
        second = store.start_run("demo", "digest")
        store.add_facts(second, [Fact("column.newest", {"age_days": 9}, "p", "通知公告")])
        r = store.run(run)
        assert (r.status, r.pages, r.targets, r.findings, r.stats, r.ended_at) == \
            ("complete", 4, 5, 1, {"pages": 3}, T0)
        # Code-point order, as SQLite sorts: "Z" before "b", "o" after.
        assert [t.url for t in store.targets(run)] == ["http://a/Z.html", "http://a/old", "http://a/x.pdf"]
        old = next(t for t in store.targets(run) if t.url == "http://a/old")
        assert (old.reason, old.status) == (Reason.SERVER_ERROR, 500)
        assert [(x.page_url, x.text, x.on_homepage) for x in store.referrers(run, "http://a/x.pdf")] == \
            [("http://a/", "附件", True), ("http://a/b.html", "附件", False)]
        assert store.referrer_count(run, "http://a/x.pdf") == 2
        assert [p["url"] for p in store.pages(run)][:2] == ["http://a/", "http://a/Z.html"]
        assert next(store.pages(run))["is_homepage"] is True
        [(fid, f)] = store.findings(run)
        assert (f.code, f.severity, f.message, f.details) == ("link.broken_homepage", Severity.ERROR, "坏链",
                                                              {"reason": "not_found", "kind": "attachment"})
        assert [x.value for x in store.facts(run)] == [{"age_days": 4}]
        assert store.previous_fact("demo", second, "column.newest", "p", "通知公告") == {"age_days": 4}
        assert store.verdict(run) == {"score": 40.0}
        assert store.latest_run("demo").id == run
        assert [x.id for x in store.runs("demo")] == [second, run]
        assert store.sites() == ["demo"]
        assert store.integrity_ok()


def _schema_differences(url: str) -> list:
    """What Alembic's comparison finds between the database at `url` and sitecheck.schema (and
    the database's revision, which must be the newest)."""
    import sqlalchemy as sa
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                             "compare_server_default": True})
            assert context.get_current_revision() == storedb.HEAD
            return compare_metadata(context, schema.metadata)
    finally:
        engine.dispose()


def test_every_database_is_migrated_to_the_schema_module(where):
    """What the Alembic revisions build is what sitecheck.schema says, on both databases."""
    Store(where).close()
    url = (f"sqlite:///{where}" if "://" not in where else "postgresql+psycopg://" + where.split("://", 1)[1])
    assert _schema_differences(url) == []


def test_a_new_sqlite_store_is_built_by_alembics_own_script(tmp_path):
    """The script a new SQLite store runs is what Alembic renders today (regenerate it with
    `python -m sitecheck.storedb --sqlite-script`), and Alembic run online builds the same."""
    assert storedb.SQLITE_SCRIPT.read_text(encoding="utf-8") == storedb.render_sqlite_script()
    online = tmp_path / "online.sqlite3"
    storedb.migrate_sqlite(online, legacy_schema=False)
    assert _schema_differences(f"sqlite:///{online}") == []


def test_head_is_the_newest_alembic_revision():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(storedb.Path(storedb.__file__).with_name("migrations")))
    scripts = ScriptDirectory.from_config(cfg)
    assert scripts.get_current_head() == storedb.HEAD
    assert tuple(reversed([s.revision for s in scripts.walk_revisions()])) == storedb.REVISIONS


def _legacy_store(path) -> None:
    """A store as the sitecheck before Alembic left it (user_version 3), with one finished run."""
    db = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS:
        db.executescript(migration)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    db.execute("INSERT INTO runs (id, site, started_at, ended_at, status, pid, hostname) VALUES "
               "(1, 'demo', '2026-11-20T01:30:00+00:00', '2026-11-20T02:00:00+00:00', 'complete', 1, 'h')")
    db.execute("INSERT INTO pages (run_id, url, kind, reason, status) VALUES (1, 'http://a/x', 'page', "
               "'not_found', 404)")
    db.execute("INSERT INTO facts VALUES (1, 'column.newest', 'p', 'k', 'c', '{\"age_days\": 1}')")
    db.close()


def test_an_existing_users_store_is_stamped_and_upgraded(tmp_path):
    path = tmp_path / "old.sqlite3"
    _legacy_store(path)
    with Store(path, readonly=True) as store:  # read-only: read as it is, not migrated
        assert store.run(1).status == "complete" and store.run(1).night is None
        assert "night" not in store.columns("runs")
    with Store(path) as store:
        assert store.db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == storedb.HEAD
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert [t.url for t in store.targets(1)] == ["http://a/x"]
        assert store.run(1).status == "complete" and store.run(1).night is None
        assert store.facts(1)[0].value == {"age_days": 1}
        run = store.claim_night("demo", T0.date(), "w1", 60)
        assert store.run(run).night == T0.date()
        assert store.integrity_ok()
    with Store(path, readonly=True) as store:  # and opens as fast as a new one: nothing left to do
        assert store.run(1).status == "complete"


def test_a_store_newer_than_this_sitecheck_is_refused(where):
    Store(where).close()
    with Store(where) as store:
        store.db.execute("UPDATE alembic_version SET version_num = '9999'")
    for readonly in (False, True):
        with pytest.raises(StoreError, match="revision 9999 is newer than this sitecheck understands"):
            Store(where, readonly=readonly)


def test_postgresql_read_only_opening(pg_url):
    with pytest.raises(StoreError, match="holds no sitecheck store"):
        Store(pg_url, readonly=True)
    with Store(pg_url) as store:
        run = _fill(store)
    with Store(pg_url, readonly=True) as store:
        assert store.run(run).status == "complete"
        with pytest.raises(StoreError, match="read-only"):
            store.start_run("demo", "d")


def test_unreachable_or_misnamed_stores_give_clear_errors(postgres_server, tmp_path):
    with pytest.raises(StoreError, match=r"postgresql://sitecheck:\*\*\*@127\.0\.0\.1:1/x: cannot connect"):
        Store("postgresql://sitecheck:secret@127.0.0.1:1/x")
    with pytest.raises(StoreError, match="unknown store URL scheme 'mysql'"):
        Store("mysql://h/db")
    assert location(f"sqlite:///{tmp_path}/a.sqlite3").path == tmp_path / "a.sqlite3"
    assert location("postgres://u@h/db").url == "postgresql://u@h/db"


def test_the_store_reconnects_after_postgresql_restarts(postgres_server, pg_url):
    with Store(pg_url) as store:
        run = _fill(store)
        nxt = store.start_run("demo", "d")
        postgres_server.restart()
        assert store.run(run).status == "complete"
        store.add_targets(nxt, [(Target("http://a/", TargetKind.PAGE, Reason.OK, 200, host_key="p"), {})])
        postgres_server.restart()
        store.add_findings(nxt, [Finding("link.broken", Severity.ERROR, "http://a/y", "坏链")])
        postgres_server.restart()
        assert store.heartbeat_night("demo", T0.date(), nxt) is False
        store.finish_run(nxt, "complete")
        assert (store.run(nxt).targets, store.run(nxt).findings) == (1, 1)
        assert store.latest_run("demo").id == nxt


def test_scratch_files_of_a_postgresql_store_stay_on_the_local_disk(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # as pg_url does, made explicit here
    with Store(pg_url) as store:
        run = store.start_run("demo", "d")
        scratch = list((tmp_path / "data" / "sitecheck").glob("postgresql-127.0.0.1-*.run*.scratch"))
        assert [p.name.rsplit(".run", 1)[1] for p in scratch] == [f"{run}.scratch"]
        store.finish_run(run, "complete")
        assert not list((tmp_path / "data" / "sitecheck").glob("*.scratch"))


def test_copy_carries_every_table_and_new_ids_follow_the_copied_ones(tmp_path, pg_url):
    from sitecheck.storecopy import copy

    old = tmp_path / "old.sqlite3"
    _legacy_store(old)  # a store of the sitecheck before night claims
    with Store(old, readonly=True) as source, Store(pg_url) as target:
        counts = copy(source, target)
    assert counts == {"runs": 1, "pages": 1, "links": 0, "link_counts": 0, "findings": 0, "facts": 1,
                      "verdicts": 0, "probes": 0}  # the old store has no nights table
    with Store(pg_url) as store:
        assert store.run(1).status == "complete" and store.facts(1)[0].value == {"age_days": 1}
        run = store.claim_night("demo", T0.date(), "w1", 60)
        assert run == 2  # the id sequence goes on after the copied runs
        store.add_findings(run, [Finding("link.broken", Severity.ERROR, "http://a/y", "坏链")])
        back = tmp_path / "back.sqlite3"
        with Store(back) as target:
            counts = copy(store, target)
    assert counts["nights"] == 1 and counts["runs"] == 2 and counts["findings"] == 1
    with Store(back) as store:
        [state] = store.nights(T0.date())
        assert (state.site, state.state, state.run_id, state.worker) == ("demo", "running", 2, "w1")
        assert store.start_run("demo", "d") == 3


def test_sqlite_commands_load_no_sqlalchemy_alembic_or_psycopg(tmp_path):
    """Their ~55 MB stay out of a crawl on SQLite: a new store is built by the script, one at
    HEAD opens on sqlite3 alone."""
    import subprocess
    import sys

    code = ("import sys; from sitecheck.cli import build_parser; from sitecheck.store import Store; "
            "build_parser(); s = Store(sys.argv[1]); s.finish_run(s.start_run('a', 'd'), 'complete'); "
            "s.close(); Store(sys.argv[1], readonly=True).close(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'alembic', 'psycopg'}))")
    for _ in range(2):  # a new store, then one at HEAD
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.sqlite3")], capture_output=True,
                             text=True, check=True).stdout
        assert out.strip() == "[]"
