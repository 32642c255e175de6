"""The crawl's garbage-collector settings apply during a crawl only (tests and `run --all` crawl in-process)."""

from __future__ import annotations

import gc

from sitecheck.gcpolicy import OLDER, YOUNG, tuned_for_crawl


def test_settings_hold_during_the_crawl_and_are_restored_after():
    before = gc.get_threshold()
    with tuned_for_crawl():
        assert gc.get_threshold() == (YOUNG, *OLDER)
        assert gc.get_freeze_count() > 0  # what existed at the start is out of the collector's sight
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cycles_made_during_a_crawl_are_still_collected():
    import weakref

    class Node:
        pass

    with tuned_for_crawl():
        a, b = Node(), Node()
        a.other, b.other = b, a
        alive = weakref.ref(a)
        del a, b
        gc.collect()
        assert alive() is None
