"""Shared fixtures for the test suite (kept minimal on purpose)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, fixed-seed generator per test so each test is reproducible alone."""
    return np.random.default_rng(1234)
