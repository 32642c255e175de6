"""The SQLite store: schema versions, run lifecycle, crash recovery, bad files."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from sitecheck.model import Fact, Finding, Reason, Severity, Target, TargetKind
from sitecheck.store import APPLICATION_ID, MAX_REFERRERS, MIGRATIONS, Store, StoreError

from .helpers import add_link_occurrences

T0 = datetime(2026, 11, 20, 1, 30, tzinfo=timezone.utc)


def _fill(store: Store, site: str = "demo") -> int:
    run = store.start_run(site, "digest", T0)
    store.add_targets(run, [
        (Target("http://a/", TargetKind.PAGE, Reason.OK, 200, host_key="p"), {"is_homepage": True, "depth": 0}),
        (Target("http://a/x.pdf", TargetKind.ATTACHMENT, Reason.NOT_FOUND, 404, host_key="p"), {}),
        (Target("http://a/b.html", TargetKind.PAGE, Reason.OK, 200, host_key="p"), {"depth": 1}),
    ])
    add_link_occurrences(store, [
        ("http://a/x.pdf", "http://a/", "附件", "a", 1),
        ("http://a/x.pdf", "http://a/b.html", "附件", "a", 0),
        ("http://a/b.html", "http://a/", "B", "a", 1),
    ])
    store.add_findings(run, [Finding("link.broken_homepage", Severity.ERROR, "http://a/x.pdf", "坏链", "links", "p")])
    store.add_facts(run, [Fact("column.newest", {"age_days": 3}, "p", "通知公告")])
    store.finish_run(run, "complete", ended_at=T0)
    return run


def test_fresh_store_is_migrated_and_marked(tmp_path):
    path = tmp_path / "s.sqlite3"
    Store(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_version_2_store_keeps_its_pages_through_the_rowid_migration(tmp_path):
    """Migration 3 moves `pages` to a rowid table: history survives, (run, url) stays unique."""
    path = tmp_path / "s.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:2]:
        db.executescript(migration)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 2")
    db.execute("INSERT INTO runs (id, site, started_at, status) VALUES (1, 'demo', '2026-11-20T01:30:00+00:00', "
               "'complete')")
    db.executemany("INSERT INTO pages (run_id, url, kind, reason, status, title) VALUES (1, ?, 'page', ?, ?, ?)",
                   [("http://a/", "ok", 200, "首页"), ("http://a/gone", "not_found", 404, "")])
    assert db.execute("SELECT sql FROM sqlite_master WHERE name = 'pages'").fetchone()[0].endswith("WITHOUT ROWID")
    db.close()
    with Store(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 3
        assert "WITHOUT ROWID" not in store.db.execute("SELECT sql FROM sqlite_master WHERE name = 'pages'").fetchone()[0]
        assert [t.url for t in store.targets(1)] == ["http://a/gone"]
        assert [p["title"] for p in store.pages(1)] == ["首页", ""]
        store.add_targets(1, [(Target("http://a/gone", TargetKind.PAGE, Reason.OK, 200, host_key="p"), {})])
        assert list(store.targets(1)) == []  # the same (run, url) is replaced, not added
        assert store.db.execute("SELECT count(*) FROM pages").fetchone()[0] == 2
        assert store.integrity_ok()


def test_run_roundtrip_keeps_referrers_of_failures_only(tmp_path):
    with Store(tmp_path / "s.sqlite3") as store:
        run = _fill(store)
        r = store.run(run)
        assert (r.status, r.pages, r.targets, r.findings) == ("complete", 2, 3, 1)
        failed = list(store.targets(run))
        assert [t.url for t in failed] == ["http://a/x.pdf"]
        assert [(x.page_url, x.on_homepage) for x in failed[0].referrers] == [("http://a/", True),
                                                                              ("http://a/b.html", False)]
        assert failed[0].on_homepage
        # Working targets keep no link rows: history grows with problems, not with site size.
        assert store.referrers(run, "http://a/b.html") == []
        assert store.facts(run)[0].value == {"age_days": 3}
        assert not list(tmp_path.glob("*.scratch"))


def test_referrers_are_capped_but_counted(tmp_path):
    with Store(tmp_path / "s.sqlite3") as store:
        run = store.start_run("demo", "d", T0)
        store.add_targets(run, [(Target("http://a/gone", TargetKind.PAGE, Reason.NOT_FOUND, 404, host_key="p"), {})])
        add_link_occurrences(store, [("http://a/gone", f"http://a/p{i}", "", "a", 0) for i in range(50)])
        store.finish_run(run, "complete")
        assert len(store.referrers(run, "http://a/gone")) == MAX_REFERRERS
        assert store.referrer_count(run, "http://a/gone") == 50


def test_fold_keeps_the_first_referrers_homepages_first_and_counts_them_all(tmp_path):
    """The fold against a plain reading of its contract, on a random link graph: every failed
    target keeps its MAX_REFERRERS first referring pages (homepage pages first, then by URL) with
    the anchor text and element of the link, and a count of all of them; working targets keep nothing."""
    import random

    rng = random.Random(7)
    targets = [f"http://a/t{i}" for i in range(60)]
    failed = set(rng.sample(targets, 25))
    pages = [(f"http://a/p{i:03d}", int(i % 17 == 0)) for i in range(300)]
    texts = ["", "坏链", 'quote " and \\', "换行\n"]
    rows = []
    for from_url, home in pages:
        for to_url in rng.sample(targets, rng.randint(0, 12)):
            rows.append((to_url, from_url, rng.choice(texts), rng.choice(["a", "img", "iframe"]), home))
    rng.shuffle(rows)
    with Store(tmp_path / "s.sqlite3") as store:
        run = store.start_run("demo", "d", T0)
        store.add_targets(run, [(Target(u, TargetKind.PAGE, Reason.NOT_FOUND if u in failed else Reason.OK,
                                        404 if u in failed else 200, host_key="p"), {}) for u in targets])
        add_link_occurrences(store, rows)
        store.finish_run(run, "complete")
        for url in targets:
            mine = sorted(((-home, from_url, text, element) for to_url, from_url, text, element, home in rows
                           if to_url == url))
            if url not in failed:
                assert store.referrers(run, url) == [] and store.referrer_count(run, url) == 0
                continue
            assert store.referrer_count(run, url) == len(mine)
            assert [(r.page_url, r.text, r.element, r.on_homepage) for r in store.referrers(run, url)] == [
                (from_url, text, element, bool(-home)) for home, from_url, text, element in mine[:MAX_REFERRERS]]
        on_homepage = {t.url: t.on_homepage for t in store.targets(run)}
        assert on_homepage == {url: any(home for to_url, _f, _t, _e, home in rows if to_url == url) for url in failed}
        assert any(store.referrer_count(run, url) > MAX_REFERRERS for url in failed)  # the cap was exercised
        assert any(r.on_homepage for url in failed for r in store.referrers(run, url))


def test_previous_fact_comes_from_the_latest_earlier_complete_run(tmp_path):
    with Store(tmp_path / "s.sqlite3") as store:
        first = _fill(store)
        second = store.start_run("demo", "d", T0)
        assert store.previous_fact("demo", second, "column.newest", "p", "通知公告") == {"age_days": 3}
        assert store.previous_fact("demo", first, "column.newest", "p", "通知公告") is None
        assert store.previous_fact("other", second, "column.newest", "p", "通知公告") is None


def test_killed_run_is_marked_incomplete_and_earlier_runs_kept(tmp_path):
    path = tmp_path / "s.sqlite3"
    with Store(path) as store:
        done = _fill(store)
    # A child process starts a run and is killed with SIGKILL before finishing.
    code = ("import os, signal; from sitecheck.store import Store; s = Store(%r); "
            "r = s.start_run('demo', 'd'); s.add_page_links([('v', 0, '[\"u\"]', '[[\"\", \"a\"]]')]); "
            "print(r, flush=True); os.kill(os.getpid(), signal.SIGKILL)" % str(path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == -9
    killed = int(proc.stdout.strip())
    with Store(path) as store:
        assert store.integrity_ok()
        assert store.run(killed).status == "running"  # nobody has looked yet
        assert store.recover_interrupted() == [killed]
        assert store.run(killed).status == "incomplete"
        assert store.run(done).status == "complete"
        assert not list(tmp_path.glob("*.scratch"))
        nxt = store.start_run("demo", "d")
        store.finish_run(nxt, "complete")
        assert store.latest_run("demo").id == nxt


def test_live_run_of_another_process_is_not_stolen(tmp_path):
    with Store(tmp_path / "s.sqlite3") as store:
        run = store.start_run("demo", "d")  # our own pid: alive
        assert store.recover_interrupted() == []
        assert store.run(run).status == "running"


def test_corrupt_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "s.sqlite3"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match=r"s\.sqlite3: not a usable SQLite database"):
        Store(path)


def test_foreign_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="not a sitecheck store"):
        Store(path)


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "s.sqlite3"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer than this sitecheck understands"):
        Store(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory_non_root(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(StoreError, match="read-only"):
        Store(ro / "s.sqlite3")


def test_read_only_directory_via_cli(tmp_path):
    """As root, permissions do not bind; a read-only bind is simulated with a file where the directory should be."""
    blocker = tmp_path / "data"
    blocker.write_text("a file, not a directory")
    proc = subprocess.run([sys.executable, "-m", "sitecheck.cli", "runs", "--db", str(blocker / "s.sqlite3")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(blocker / "s.sqlite3") in proc.stderr


def test_corrupt_store_via_cli_names_the_file(tmp_path):
    path = tmp_path / "broken.sqlite3"
    path.write_bytes(os.urandom(4096))
    proc = subprocess.run([sys.executable, "-m", "sitecheck.cli", "runs", "--db", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"error: {path}:" in proc.stderr


def _mount_tmpfs(path, options):
    path.mkdir(exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.decode().strip()})")


def test_read_only_filesystem_gives_a_clear_error(tmp_path):
    mnt = tmp_path / "ro"
    _mount_tmpfs(mnt, "ro,size=1m")
    try:
        with pytest.raises(StoreError, match=r"ro/s\.sqlite3: the data directory .* is read-only"):
            Store(mnt / "s.sqlite3")
    finally:
        subprocess.run(["umount", str(mnt)])


def test_full_disk_gives_a_clear_error_and_keeps_earlier_runs(tmp_path):
    mnt = tmp_path / "small"
    _mount_tmpfs(mnt, "size=256k")
    try:
        path = mnt / "s.sqlite3"
        with Store(path) as store:
            done = _fill(store)
            run = store.start_run("demo", "d")
            big = [(Target(f"http://a/{i}" + "x" * 400, TargetKind.PAGE, Reason.OK, 200, host_key="p"), {})
                   for i in range(2000)]
            with pytest.raises(StoreError, match=r"s\.sqlite3: write failed: database or disk is full"):
                for _ in range(20):
                    store.add_targets(run, big)
        with Store(path, readonly=True) as store:
            assert store.integrity_ok()
            assert store.run(done).status == "complete"
            assert len(list(store.targets(done))) == 1
    finally:
        subprocess.run(["umount", str(mnt)])


def test_page_link_rows_keep_any_anchor_text_through_the_fold(tmp_path):
    """A page's links travel as one JSON row (crawler.pageparse.occurrences) and come out intact."""
    from sitecheck.crawler.pageparse import occurrences
    from sitecheck.model import Element

    texts = ['引号 " 和 \\ 反斜杠', "\\u0000 literally", "换行\n制表\t", "\x00\x1f 控制字符", "😀 emoji", ""]
    distinct = [(f"http://a/gone{i}.html", text, Element.A) for i, text in enumerate(texts)]
    distinct.append(("http://a/ok.html", "fine", Element.A))
    distinct.append(("http://a/gone.png", "图", Element.IMG))
    with Store(tmp_path / "s.sqlite3") as store:
        run = store.start_run("demo", "d", T0)
        store.add_targets(run, [(Target(u, TargetKind.PAGE, Reason.OK if "ok" in u else Reason.NOT_FOUND, 404,
                                        host_key="p"), {}) for u, _t, _e in distinct])
        store.add_page_links([occurrences(distinct, "http://a/", True), occurrences(distinct[:1], "http://a/b", False)])
        store.finish_run(run, "complete")
        for url, text, element in distinct:
            text = text.replace("\x00", "\ufffd")  # as lxml's HTML parser does
            referrers = store.referrers(run, url)
            if "ok" in url:
                assert referrers == []  # working targets keep no link rows
                continue
            assert [(r.page_url, r.text, r.element, r.on_homepage) for r in referrers][0] == (
                "http://a/", text, element.value, True)
        assert store.referrer_count(run, "http://a/gone0.html") == 2
