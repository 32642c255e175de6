"""`sitecheck store copy SRC DST`: move a store's whole history between SQLite and PostgreSQL.

Every table is copied row for row with its ids, in one transaction on the destination, which
must be empty (a copy never merges two histories: their run ids would collide).  The source is
only read; one made by an earlier sitecheck lacks the newest columns, which the destination
then fills with their defaults.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from sitecheck.cmdline import EXIT_OK, UsageError
from sitecheck.store import Store, StoreError, store_location

BATCH = 5000
# Tables whose integer primary key PostgreSQL numbers from a sequence.
_SERIAL = ("runs", "findings", "probes")


def register(sub, common) -> None:
    sp = sub.add_parser("store", help="manage the store: copy a history between SQLite and PostgreSQL")
    store_sub = sp.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    cp = store_sub.add_parser(
        "copy", help="copy every run, finding, probe and night claim from SRC into the empty store DST",
        description="Copy a whole store: SRC and DST are each a SQLite path or a postgresql:// URL "
                    "(for example an existing SQLite history into the PostgreSQL store of many workers). "
                    "DST is created or migrated and must hold no data; SRC is only read.")
    cp.add_argument("src", metavar="SRC", help="the store to copy from (path or URL)")
    cp.add_argument("dst", metavar="DST", help="the empty store to copy into (path or URL)")
    cp.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    cp.set_defaults(handler=cmd_copy)


def cmd_copy(args: argparse.Namespace) -> int:
    src, dst = store_location(args.src), store_location(args.dst)
    if src.argument == dst.argument:
        raise UsageError("SRC and DST are the same store")
    if not src.exists():
        raise StoreError(f"{src}: no such database")
    with Store(src, readonly=True) as source, Store(dst) as target:
        counts = copy(source, target, progress=lambda table, n: print(f"{table}: {n} rows", flush=True))
    print(f"copied {sum(counts.values())} rows from {src} to {dst}")
    return EXIT_OK


def copy(source: Store, target: Store, progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy every table of `source` into the empty `target`; rows per table."""
    from sitecheck import schema  # SQLAlchemy: loaded by this command only

    tables = list(schema.metadata.sorted_tables)  # parents (runs) before the rows that point at them
    full = {t.name: n for t in tables if (n := _count(target, t.name))}
    if full:
        raise StoreError(f"{target.location}: the destination is not empty ("
                         + ", ".join(f"{n} {name}" for name, n in full.items())
                         + "); copy into a new, empty store")
    counts: dict[str, int] = {}
    db = target.db
    db.execute("BEGIN IMMEDIATE")
    try:
        for table in tables:
            have = source.columns(table.name)
            cols = [c.name for c in table.columns if c.name in have]
            if not cols:
                continue  # a table the source's schema predates
            counts[table.name] = _copy_table(source, target, table.name, cols,
                                             [c.name for c in table.primary_key.columns])
            if progress:
                progress(table.name, counts[table.name])
        if target.postgresql:
            for name in _SERIAL:
                db.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                           f"coalesce(max(id), 1), max(id) IS NOT NULL) FROM {name}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return counts


def _count(store: Store, table: str) -> int:
    return store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _copy_table(source: Store, target: Store, table: str, cols: list[str], key: list[str]) -> int:
    names = ", ".join(cols)
    order = ", ".join(key) if key else names
    insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(cols))})"
    cur = source.db.execute(f"SELECT {names} FROM {table} ORDER BY {order}")
    total = 0
    while rows := cur.fetchmany(BATCH):
        target.db.executemany(insert, rows)
        total += len(rows)
    return total
