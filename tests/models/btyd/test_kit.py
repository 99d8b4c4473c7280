"""Helpers shared by the BTYD models (socialvalue.models.btyd._kit)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from socialvalue.models.btyd._kit import trigamma


def test_trigamma_equals_scipy_polygamma():
    # psi_1(x) = sum_k (x + k)^-2 (Abramowitz & Stegun 6.4.10); scipy.special.polygamma(1, x) is the reference.
    x = np.concatenate([np.logspace(-6, 8, 5000), np.linspace(0.05, 40, 4001), np.arange(1, 60) + 0.25])
    np.testing.assert_allclose(trigamma(x), special.polygamma(1, x), rtol=4e-15, atol=0)
    assert trigamma(np.array([1.0]))[0] == pytest.approx(np.pi**2 / 6, rel=5e-16)  # psi_1(1) = zeta(2)
    assert trigamma(np.array([0.5]))[0] == pytest.approx(np.pi**2 / 2, rel=5e-16)  # psi_1(1/2) = pi^2 / 2
    x2 = np.array([[0.3, 12.0], [7.0, 1e5]])
    assert trigamma(x2).shape == (2, 2)
