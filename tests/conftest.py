"""Shared fixtures for the test suite (kept minimal on purpose)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, fixed-seed generator per test so each test is reproducible alone."""
    return np.random.default_rng(1234)


# The tiny trained runs the bad-input batteries corrupt or use (tests/battery.py), one per module.
from battery import text_model, trained  # noqa: E402, F401
