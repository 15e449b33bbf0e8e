"""Start-up: `ketadesk screenshot` on the demo clinic against a bare PySide6 window.

The yardstick is ``bare_qt.py`` (a bare PySide6 window with a 15x48 table, painted to a PNG):
the least any Qt program can do to show a window.  Both run as whole processes, alternately, N
times after one warm-up run each (file cache, .pyc files, the holiday cache); the medians of
wall time and peak RSS (``ru_maxrss`` from wait4, as ``/usr/bin/time -f "%e s %M KB"``
reports them) and their ratios are printed.  Targets: at most 3x the time and 1.5x the memory.

The demo clinic is a SQLite file at the current schema, so ``screenshot`` reads its day with the
standard library and never imports SQLAlchemy (services.schedule.SqliteFileDays; guarded by
tests/ui/test_commands.py).  A clinic on PostgreSQL, or a file to upgrade, goes through
SQLAlchemy Core instead and costs about 0.3 s and 35 MB more.

    .venv/bin/python -m pytest tests/benchmarks/test_startup.py -s -o addopts=""

Not part of `make test` (`make bench` runs it).  KETADESK_BARE_QT names another bare_qt.py.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

N = 7
TIME_RATIO_LIMIT = 3.0
MEMORY_RATIO_LIMIT = 1.5
DAY = dt.date(2026, 11, 24)  # a Tuesday in the demo clinic's booked weeks
# The yardstick ships beside the repository, in ../shared/bench (as in CI and on every desk).
BARE_QT = Path(
    os.environ.get(
        "KETADESK_BARE_QT",
        Path(__file__).resolve().parents[3] / "shared" / "bench" / "bare_qt.py",
    )
)


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_kb: int


# Measures one process from a small helper, because a child's peak RSS (``ru_maxrss``) counts
# the memory of the process it was forked from, and pytest is bigger than what is measured.
MEASURE = """
import os, sys, time
err = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.dup2(err, 2)
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def run_once(argv: Sequence[str], env: dict[str, str], workdir: Path) -> Run:
    """Run a process to its end; its wall time and peak resident memory."""
    err = workdir / "stderr.txt"
    helper = subprocess.run(
        [sys.executable, "-c", MEASURE, str(err), *argv],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, peak_kb, code = helper.stdout.split()
    assert code == "0", f"{' '.join(argv)} exited {code}: {err.read_text(errors='replace')}"
    return Run(float(seconds), int(peak_kb))


def ketadesk_argv() -> list[str]:
    script = shutil.which("ketadesk", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "ketadesk"]


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    from ketadesk.services.demo.clinic import build_demo

    url = f"sqlite:///{tmp_path_factory.mktemp('startup') / 'demo.sqlite'}"
    build_demo(url, today=DAY)
    return url


def test_screenshot_starts_within_three_times_a_bare_qt_window(
    demo_url: str, tmp_path: Path
) -> None:
    if not BARE_QT.is_file():
        pytest.skip(f"no bare Qt yardstick at {BARE_QT} (set KETADESK_BARE_QT)")
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # the holiday cache, out of the real one
    bare = [sys.executable, str(BARE_QT), str(tmp_path / "bare.png")]
    ours = [
        *ketadesk_argv(),
        "screenshot",
        "--db",
        demo_url,
        "--date",
        DAY.isoformat(),
        "--out",
        str(tmp_path / "ketadesk.png"),
    ]
    cold = run_once(ours, env, tmp_path)  # also the warm-up: fills the holiday cache
    run_once(bare, env, tmp_path)
    bare_runs: list[Run] = []
    our_runs: list[Run] = []
    for _ in range(N):
        bare_runs.append(run_once(bare, env, tmp_path))
        our_runs.append(run_once(ours, env, tmp_path))

    def median(runs: list[Run]) -> tuple[float, float]:
        return (
            statistics.median(r.seconds for r in runs),
            statistics.median(r.peak_kb for r in runs) / 1024,
        )

    bare_s, bare_mb = median(bare_runs)
    our_s, our_mb = median(our_runs)
    time_ratio, memory_ratio = our_s / bare_s, our_mb / bare_mb
    print(
        f"\nstart-up, median of {N} alternate runs ({os.cpu_count()} CPUs):\n"
        f"  bare Qt window        {bare_s:6.2f} s  {bare_mb:6.1f} MB\n"
        f"  ketadesk screenshot   {our_s:6.2f} s  {our_mb:6.1f} MB\n"
        f"  ratio                 {time_ratio:6.2f} x  {memory_ratio:6.2f} x   "
        f"(targets {TIME_RATIO_LIMIT} x and {MEMORY_RATIO_LIMIT} x)\n"
        f"  first run, cold holiday cache: {cold.seconds:.2f} s {cold.peak_kb / 1024:.1f} MB\n"
        f"  all runs (s): bare {[round(r.seconds, 2) for r in bare_runs]}\n"
        f"                ours {[round(r.seconds, 2) for r in our_runs]}"
    )
    assert time_ratio <= TIME_RATIO_LIMIT
    assert memory_ratio <= MEMORY_RATIO_LIMIT
