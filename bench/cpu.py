"""CPU seconds used so far by one server: its gunicorn processes and their PostgreSQL backends.

    python bench/cpu.py GUNICORN_PIDFILE DBNAME   → prints a number of seconds

On a shared machine req/s moves with whatever else runs; the CPU a request costs (web
process + database backend) does not, so run.sh samples this before and after every wrk
run and reports CPU ms per request beside req/s."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def tree_cpu_seconds(pid: int) -> float:
    """A process with its children, live and exited: a gunicorn worker recycled by
    max_requests takes its CPU time with it, into the master's cutime + cstime once reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    own = sum(int(x) for x in fields[11:15]) / TICK  # utime, stime, cutime, cstime
    return own + sum(tree_cpu_seconds(child) for child in children(pid))


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def backends(db: str) -> list[int]:
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-tAc",
         f"SELECT pid FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [int(p) for p in out.split()]


def main() -> None:
    pidfile, db = sys.argv[1], sys.argv[2]
    master = int(Path(pidfile).read_text().strip())
    pids = [master, *children(master), *backends(db)]
    print(f"{sum(cpu_seconds(p) for p in pids):.3f}")


if __name__ == "__main__":
    main()
