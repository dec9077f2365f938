#!/usr/bin/env python3
"""The sqlite3 shell for the bench scripts, through Python's module: runs SQL from the argument
(printing rows as `a|b`) or a script from stdin. Rapport stores UUIDs as 16-byte blobs; this
prints them as UUID text, and provides `unhex()` (the sqlite3 shell here predates it)."""
import sqlite3
import sys
import uuid


def show(v):
    if isinstance(v, bytes) and len(v) == 16:
        return str(uuid.UUID(bytes=v))
    return "" if v is None else str(v)


db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA foreign_keys = ON")
db.create_function("unhex", 1, lambda s: None if s is None else bytes.fromhex(s), deterministic=True)
if len(sys.argv) > 2:
    for row in db.execute(sys.argv[2]):
        print("|".join(show(v) for v in row))
else:
    db.executescript(sys.stdin.read())
