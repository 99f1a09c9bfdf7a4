"""The refresh benchmark still loads and refreshes on today's schema.

Its loader writes rows with SQL, so a new NOT NULL field once broke it unnoticed; a tiny run
here keeps `bench/refresh.py --json` honest (its figures are not checked, only that it works)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import PG_ADMIN, _need
from tests.live import ROOT

pytestmark = pytest.mark.services


def test_the_refresh_benchmark_runs_on_the_current_schema() -> None:
    import psycopg

    _need("PostgreSQL", lambda: psycopg.connect(PG_ADMIN, connect_timeout=3).close())
    done = subprocess.run(
        [sys.executable, "bench/refresh.py", "--votes", "3000", "--contenders", "8", "--json"],
        cwd=ROOT,
        env={**os.environ, "BENCH_PG_URL": PG_ADMIN},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["ok"] is True
    assert figures["votes"] == 3000
    assert 0 < figures["counted_votes"] <= 3000
    assert figures["boards"] >= 1
