import numpy as np
import pandas as pd
import pytest

from socialvalue.decisions import estimate_uplift, qini_curve
from socialvalue.errors import SchemaError


def _campaign(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    seg = rng.choice(["A", "B"], n)
    t = rng.integers(0, 2, n)
    effect = np.where(seg == "A", 0.10, 0.0)
    y = (rng.random(n) < 0.05 + effect * t).astype(int)
    return pd.DataFrame({"segment": seg, "treatment": t, "outcome": y})


def test_segment_uplift_recovers_true_effect():
    est = estimate_uplift(_campaign())
    assert est.loc["A", "lower"] < 0.10 < est.loc["A", "upper"]
    assert est.loc["B", "lower"] < 0.0 < est.loc["B", "upper"]
    assert est.loc["A", "uplift"] == pytest.approx(0.10, abs=0.02)


def test_bad_treatment_column():
    df = _campaign(100).assign(treatment=2)
    with pytest.raises(SchemaError, match="must hold 0 \\(control\\) or 1 \\(treated\\)"):
        estimate_uplift(df)


@pytest.mark.filterwarnings("ignore:Function stable_cumsum is deprecated:FutureWarning")
def test_qini_matches_scikit_uplift():
    """Reference: scikit-uplift's qini_curve / qini_auc_score (Radcliffe 2007 definition)."""
    from sklift.metrics import qini_auc_score
    from sklift.metrics import qini_curve as sk_qini_curve

    rng = np.random.default_rng(1)
    n = 3000
    t = rng.integers(0, 2, n)
    s = np.round(rng.random(n), 2)  # ties on purpose
    y = (rng.random(n) < 0.1 + 0.2 * s * t).astype(int)
    ours = qini_curve(y, t, s)
    x, q = sk_qini_curve(y, s, t)
    np.testing.assert_allclose(ours.x, x)
    np.testing.assert_allclose(ours.y, q)
    assert ours.coefficient == pytest.approx(qini_auc_score(y, s, t), rel=1e-12)
    assert ours.coefficient > 0.05  # the score carries real uplift signal
