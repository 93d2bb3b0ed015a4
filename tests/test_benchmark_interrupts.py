"""Interrupting a parallel benchmark at 20 random times (SIGINT, SIGTERM, to the main process
or its whole process group): it exits 130 within seconds, no worker outlives it, nothing
is written into its folder afterwards, and the same command then completes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SRC = HERE.parent / "src"


def _command(out: Path, pids: Path) -> list[str]:
    return [sys.executable, str(HERE / "interrupt_bench.py"), str(out), str(pids)]


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(SRC), str(HERE), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _snapshot(out: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_interrupted_benchmarks_stop_cleanly_and_continue(tmp_path):
    rng = random.Random(26)
    outs = [tmp_path / "out0", tmp_path / "out1"]
    pids = tmp_path / "pids"
    pids.mkdir()
    codes = []
    for trial in range(20):
        out = outs[trial % len(outs)]
        for old in pids.iterdir():
            old.unlink()
        process = subprocess.Popen(
            _command(out, pids),
            env=_env(),
            start_new_session=True,  # a process group of its own, as a shell gives it
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(rng.uniform(0.2, 2.0))
        sig = rng.choice([signal.SIGINT, signal.SIGTERM])
        group = rng.random() < 0.4
        (os.killpg if group else os.kill)(process.pid, sig)
        try:
            _, err = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"trial {trial}: still running 20 s after {sig.name}")
        what = f"trial {trial} ({sig.name} to the {'group' if group else 'process'})"
        assert process.returncode in (130, 0), f"{what}: {process.returncode}\n{err.decode()}"
        assert b"Traceback" not in err, f"{what}:\n{err.decode()}"
        codes.append(process.returncode)
        before = _snapshot(out) if out.exists() else {}
        workers = [int(p.name) for p in pids.iterdir()]
        assert not [pid for pid in workers if _running(pid)], f"{what}: a worker outlived it"
        time.sleep(0.3)
        assert (_snapshot(out) if out.exists() else {}) == before, f"{what}: written after"
    assert 130 in codes
    for out in outs:  # the same command completes what the interrupted ones left
        done = subprocess.run(_command(out, pids), env=_env(), capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode()
        record = json.loads((out / "results.json").read_text())
        assert record["complete"] and len(record["runs"]) == 12
        folders = sorted((out / "runs").iterdir())
        assert len(folders) == 12
        for folder in folders:  # every run made once, in full, in a folder of its own
            assert (folder / "done").exists()
            assert (folder / "epoch_errors.csv").read_text() == "0\n1\n2\n3\n4\n"
