"""Medians of the RESULT lines of one bench run, as ratios to the DRF floor of the same run.

python bench/summarize.py bench/out/<run>
"""

from __future__ import annotations

import json
import math
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

TARGETS = {  # ratio to the DRF floor's req/s (issue: benchmark at a million cases)
    "api_create": 0.6,
    "api_list_status": 0.8,
    "api_list_phone": 0.8,
    "api_lookup": 0.8,
    "page_case": 0.5,
    "page_list": 0.5,
}


def main() -> None:
    out = Path(sys.argv[1])
    runs: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    for line in (out / "results.txt").read_text().splitlines():
        fields = dict(re.findall(r"(\w+)=(\S+)", line))
        name, size = fields["name"].split("@")
        runs[(name, size)].append(
            {k: float(fields[k]) for k in ("rps", "p50_ms", "p99_ms")}
            | {"non_ok": float(fields["non_ok"]), "cpu_ms": float(fields.get("cpu_ms", "nan"))}
        )
    sizes = sorted({s for _, s in runs}, key=int)
    med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in runs.items()}
    # "CPU ms/req": the server's processes and its database backends per request. On a
    # shared machine req/s moves with the other load; CPU per request hardly does, so the
    # floor's CPU per request over ours is the steadier ratio (what req/s would be on an idle
    # machine where the server is the bottleneck).
    print(
        "| endpoint | cases | req/s | p50 ms | p99 ms | × DRF floor | CPU ms/req | "
        "× floor by CPU | target | SQL/req | non-2xx |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        queries = {}
        qfile = out / f"queries-{size}.json"
        if qfile.exists():
            queries = json.loads(qfile.read_text())
        floor = med.get(("floor_drf", size), {}).get("rps")
        floor_cpu = med.get(("floor_drf", size), {}).get("cpu_ms", math.nan)
        for (name, s), m in sorted(med.items(), key=lambda kv: kv[0][0]):
            if s != size:
                continue
            ratio = f"{m['rps'] / floor:.2f}" if floor else "—"
            cpu_ratio = floor_cpu / m["cpu_ms"] if m["cpu_ms"] > 0 else math.nan
            target = TARGETS.get(name)
            print(
                f"| {name} | {int(size):,} | {m['rps']:.0f} | {m['p50_ms']:.1f} | "
                f"{m['p99_ms']:.1f} | {ratio} | {m['cpu_ms']:.2f} | {cpu_ratio:.2f} | "
                f"{target or ''} | {queries.get(name, '')} | "
                f"{m['non_ok']:.0f} |"
            )
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print(f"\nreq/s at {int(large):,} cases relative to {int(small):,} (floor-relative):")
        for name in TARGETS:
            a, b = med.get((name, small)), med.get((name, large))
            fa, fb = med.get(("floor_drf", small)), med.get(("floor_drf", large))
            if a and b and fa and fb:
                change = (b["rps"] / fb["rps"]) / (a["rps"] / fa["rps"]) - 1
                cpu = b["cpu_ms"] / a["cpu_ms"] - 1
                print(f"- {name}: {change:+.0%} req/s (floor-relative), {cpu:+.0%} CPU per request")


if __name__ == "__main__":
    main()
