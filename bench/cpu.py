"""Where a load's CPU goes: the CPU time each kind of process on the machine spent meanwhile.

    before = cpu.snapshot(); ...load...; spent = cpu.spent(before, cpu.snapshot())

Reads /proc (Linux): user + system time of every process, grouped as the server's gunicorn
workers, PostgreSQL's backends, Redis, the load generator (wrk, Python load scripts) and the
rest. Processes that started and ended between the two snapshots are not seen (none do in a
run: gunicorn's workers and the database connections persist).
"""

import os
import resource
from collections import Counter
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
GROUPS = ("gunicorn", "postgres", "redis", "load", "other")


def _group(comm: str, cmdline: str) -> str:
    if "gunicorn" in cmdline:
        return "gunicorn"
    if comm.startswith(("postgres", "postmaster")):
        return "postgres"
    if comm.startswith("redis"):
        return "redis"
    if comm == "wrk" or "bench/openloop.py" in cmdline or "bench/api_load.py" in cmdline:
        return "load"
    return "other"


def snapshot() -> dict[int, tuple[str, str, float]]:
    """pid → (group, gunicorn app or "", CPU seconds so far)."""
    seen = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return seen
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / TICK
        app = cmdline.split()[-1] if "gunicorn" in cmdline else ""
        seen[int(entry.name)] = (_group(comm, cmdline), app, seconds)
    return seen


def spent(before: dict, after: dict, app: str | None = None) -> dict[str, float]:
    """CPU seconds per group between two snapshots; with app, gunicorn counts only that app's
    processes (the other server idles, but its master's heartbeat still ticks)."""
    total = Counter({group: 0.0 for group in GROUPS})
    for pid, (group, proc_app, seconds) in after.items():
        if group == "gunicorn" and app is not None and proc_app != app:
            group = "other"
        old = before.get(pid)
        total[group] += seconds - (old[2] if old and old[0] == after[pid][0] else 0.0)
    return dict(total)


def children() -> float:
    """CPU seconds of this process's children that have exited and been waited for (a load
    generator run with subprocess.run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
