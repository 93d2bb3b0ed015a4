"""Same seed, same weights: the recorded short trainings of ``same_weights.py``.

A change that should not alter behaviour (a refactoring) keeps every preset's trained
weights bit for bit and every preset's resolved settings on every data set.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import same_weights

RECORD = json.loads(same_weights.RECORD.read_text())


@pytest.mark.parametrize("preset", same_weights.PRESETS)
def test_same_seed_trains_the_recorded_weights(preset: str) -> None:
    got = same_weights.weights(same_weights.train(preset))
    want = RECORD["weights"][preset]
    assert sorted(got["sums"]) == sorted(want["sums"])
    if same_weights.machine() == RECORD["machine"]:
        assert got["sha256"] == want["sha256"]
    else:  # another CPU: float32 kernels may round differently in the last bits
        for key, value in want["sums"].items():
            assert got["sums"][key] == pytest.approx(value, rel=1e-3, abs=1e-3), key


def test_every_preset_resolves_the_recorded_settings() -> None:
    got = same_weights.resolved_settings()
    assert sorted(got) == sorted(RECORD["settings"])
    for key, want in RECORD["settings"].items():
        assert got[key] == want, key
