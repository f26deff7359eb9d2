"""Shared fixtures of the Python tests: a seeded generator and the naive fp64 oracle."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(20261203)
