"""CTI events per second one process takes, and the SQL per event (issue 14).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fc_cti .venv/bin/python bench/cti_events.py

Posts Zammad-format events (form-encoded, as PBXs send them) through Django's full request
path (middleware, the view, the service) in this one process: N calls of newCall + answer +
hangup (70 %) or newCall + hangup (30 %, missed: a callback opened or joined), callers drawn
from 2,000 numbers. It prints events/s (wall and CPU) and the queries of each event kind.
It needs a database of its own (it migrates it and adds calls).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudcenter.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from calls.services import cti_endpoint_create  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    _endpoint, token = cti_endpoint_create(name=f"bench-{time.time_ns()}")
    url = f"/api/v1/cti/{token}"
    client = Client()
    rng = random.Random(611)
    queries: dict[str, list[int]] = defaultdict(list)
    run = time.time_ns()
    events = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for n in range(args.calls):
        number = f"8916{rng.randrange(2000):07d}"
        call = {"from": number, "to": "611", "direction": "in", "callId": f"b-{run}-{n}"}
        kinds = ["newCall", "answer", "hangup"] if rng.random() < 0.7 else ["newCall", "hangup"]
        for kind in kinds:
            label = "hangup (missed)" if kind == "hangup" and len(kinds) == 2 else kind
            connection.queries_log.clear()  # a bounded deque: counts break once it is full
            with CaptureQueriesContext(connection) as captured:
                response = client.post(url, {**call, "event": kind, "answeringNumber": "201"})
            assert response.status_code == 200, response.content
            queries[label].append(len(captured.captured_queries))
            events += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{connection.vendor}, {args.calls} calls, {events} events")
    print(f"events/s (wall, one process): {events / wall:,.0f}")
    print(f"CPU ms/event: {1000 * cpu / events:.2f}")
    print("| event | SQL queries (median, max) |")
    print("|---|---:|")
    for label, counts in queries.items():
        print(f"| {label} | {statistics.median(counts):.0f}, {max(counts)} |")


if __name__ == "__main__":
    main()
