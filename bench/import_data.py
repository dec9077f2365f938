#!/usr/bin/env python3
"""Writes the files the import benchmark reads (docs/benchmarks.md, "Import").

    bench/import_data.py DIR ROWS [--customers N] [--shuffle]

DIR/customers.ndjson: N customers (default 10 000) with external_ref c0 … c{N-1}.
DIR/interactions_ROWS.ndjson: ROWS interactions naming their customer by customer_external_ref,
each with a source and an external_ref, one in three a purchase, about 290 bytes a line. Like an
export of another system's event log, lines are in time order and the references increase;
--shuffle writes them in random order instead (the worst case for every index).
"""
import argparse, json, os, random
from datetime import datetime, timedelta, timezone

p = argparse.ArgumentParser()
p.add_argument("dir")
p.add_argument("rows", type=int)
p.add_argument("--customers", type=int, default=10_000)
p.add_argument("--shuffle", action="store_true")
a = p.parse_args()
os.makedirs(a.dir, exist_ok=True)
rng = random.Random(7)

with open(os.path.join(a.dir, "customers.ndjson"), "w") as f:
    for i in range(a.customers):
        f.write(json.dumps({"external_ref": f"c{i}", "given_name": f"Given{i}",
                            "family_name": f"Family{i}", "email": f"c{i}@example.com"}) + "\n")

start = datetime(2024, 1, 1, tzinfo=timezone.utc)
span = (datetime(2026, 1, 1, tzinfo=timezone.utc) - start).total_seconds()
order = list(range(a.rows))
if a.shuffle:
    rng.shuffle(order)
channels = ["email", "phone", "web", "in_person", "chat"]
name = f"interactions_{a.rows}{'_shuffled' if a.shuffle else ''}.ndjson"
with open(os.path.join(a.dir, name), "w") as f:
    for i in order:
        at = start + timedelta(seconds=span * i / a.rows)
        row = {"customer_external_ref": f"c{rng.randrange(a.customers)}",
               "channel": rng.choice(channels),
               "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "source": "legacy-crm", "external_ref": f"ev-{i:09d}",
               "subject": "Follow-up about the spring catalogue",
               "body": "Customer asked about delivery times and the loyalty programme."}
        if i % 3 == 0:
            row.update(kind="purchase", direction="inbound", amount_minor=rng.randrange(100, 50000),
                       currency="EUR", product_category="shoes", order_ref=f"o-{i}")
        else:
            row.update(kind="note", direction="outbound")
        f.write(json.dumps(row, separators=(",", ":")) + "\n")
print(os.path.join(a.dir, name))
