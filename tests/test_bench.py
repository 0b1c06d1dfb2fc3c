"""The benchmarks run: `make bench` on a tiny load (no timing is asserted: speed is recorded in
docs/benchmarks.md by a real run, see bench/web.py), and the history generators' numbers."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings

from accounts.niss import compact_niss
from bench.docs import write_section
from bench.growth import enterprise_numbers
from bench.web import niss_numbers
from employers.numbers import parse_enterprise_number

ROOT = Path(__file__).resolve().parent.parent


def test_it_makes_valid_niss_and_enterprise_numbers_for_the_history():
    for niss in niss_numbers(0, 300) + niss_numbers(10**6, 50):
        assert compact_niss(niss) == niss
    for number in enterprise_numbers(300):
        assert parse_enterprise_number(number).number == number


def test_it_rewrites_only_its_own_section_of_the_benchmarks_page(tmp_path):
    page = tmp_path / "benchmarks.md"
    write_section("geo", "G1", page)
    write_section("web", "W1", page)
    write_section("geo", "G2", page)
    text = page.read_text()
    assert "G2" in text and "W1" in text and "G1" not in text
    assert text.index("G2") < text.index("W1")


@pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="the benchmark runs on PostgreSQL",
)
def test_it_runs_the_web_benchmark_on_a_tiny_load(tmp_path):
    url = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clao"))
    bench_url = url._replace(path=url.path.rstrip("/") + "_bench").geturl()
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "bench/web.py", "--seconds", "1", "--rate", "20", "--rate-seconds", "1"]
        # Enough workers for the street suggestions of a fast run to stay under each person's
        # limit (120 a minute; per process with --sessions db, whose cache is local).
        + ["--day-workers", "20", "--sessions", "db", "--port", "0", "--connections", "4"]
        + ["--no-docs", "--json", str(report)],
        cwd=ROOT,
        env=os.environ | {"BENCH_DATABASE_URL": bench_url},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout
    for label in ("bare Django view", "check-in POST", "quick OUT", "day list GET", "form GET"):
        assert label in table
    assert "street suggestion GET" in table
    # The stack's floor beside the check-in: the same request to views that do less.
    assert "floor: the check-in's POST answered by a redirect, nothing else" in table
    assert "floor: the check-in's POST that only stores the IN" in table
    assert "floor: the same through only the middleware a check-in needs" in table
    assert "every acknowledged check-in is one stored row" in table
    assert "badge-reader API POST `/api/v1/presence-registrations`, batch of 200" in table
    assert "every created swipe is one stored row" in table
    results = json.loads(report.read_text())
    targets = results["targets"]
    # On a busy machine a 1-second run may end before some target's first answer: no count per
    # target is asserted, but no answer may be a wrong one (a login page, a 403, a 500).
    assert sum(targets[target]["requests"] for target in targets) > 0
    for target, measured in targets.items():
        assert measured["unexpected"] == 0, (target, measured)
    assert results["checks"]["ok"]
    assert results["openloop"]["answered"] > 0
    assert results["checks"]["acknowledged"] > 0
    # The reader sends at least one batch, and every batch stores its 200 swipes.
    api = results["api"]
    assert api["batches"] >= 1, api
    assert (api["errors"], api["unexpected"]) == (0, 0), api
    assert results["checks"]["swipes_stored"] == 200 * api["batches"]
