"""User value coefficient (socialvalue.models.value_coefficient)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import SchemaError
from socialvalue.models._synthetic import synthetic_features
from socialvalue.models.value_coefficient import (
    ValueCoefficientConfig,
    load_value_coefficient_config,
    value_coefficient,
    value_coefficient_distribution,
)


def _cfg(**update) -> ValueCoefficientConfig:
    base = {
        "components": {
            "clv": {"weight": 3, "columns": ["clv"]},
            "engagement": {"weight": 1, "columns": ["likes", "posts"]},
        }
    }
    base.update(update)
    return ValueCoefficientConfig.model_validate(base)


def test_hand_checked_small_frame():
    """Mid-rank percentiles (r - 1/2)/n, weighted 3:1, times 100."""
    frame = pd.DataFrame({"likes": [0, 10, 5, 0], "posts": [0, 0, 0, 0]})
    clv = np.array([10.0, 20.0, 40.0, 30.0])
    out = value_coefficient(frame, clv, config=_cfg(), return_components=True)
    # clv ranks 1..4 -> 1/8, 3/8, 7/8, 5/8; engagement 0, 10, 5, 0 -> ties at rank 1.5 -> 1/4, 7/8, 5/8, 1/4.
    assert out["vc_clv"].tolist() == pytest.approx([1 / 8, 3 / 8, 7 / 8, 5 / 8])
    assert out["vc_engagement"].tolist() == pytest.approx([1 / 4, 7 / 8, 5 / 8, 1 / 4])
    expected = [
        100 * (3 * c + e) / 4
        for c, e in zip([1 / 8, 3 / 8, 7 / 8, 5 / 8], [1 / 4, 7 / 8, 5 / 8, 1 / 4], strict=True)
    ]
    assert out["value_coefficient"].tolist() == pytest.approx(expected)
    assert out.attrs["components"] == {"clv": 0.75, "engagement": 0.25}
    geo = value_coefficient(frame, clv, config=_cfg(combine="geometric"))
    assert geo.iloc[1] == pytest.approx(100 * (3 / 8) ** 0.75 * (7 / 8) ** 0.25)
    assert (geo <= out["value_coefficient"] + 1e-9).all()  # AM-GM


def test_missing_component_dropped_and_nan_neutral(caplog):
    frame = pd.DataFrame({"likes": [1, 2, 3]})
    with caplog.at_level(logging.INFO, logger="socialvalue.models.value_coefficient"):
        out = value_coefficient(frame, np.array([1.0, np.nan, 3.0]), config=_cfg(), return_components=True)
    assert "component 'engagement' dropped (no column posts)" in caplog.text
    assert out.attrs["components"] == {"clv": 1.0}
    assert out["vc_clv"].tolist() == pytest.approx([0.25, 0.5, 0.75])  # NaN -> 0.5
    with pytest.raises(SchemaError, match="none of the configured components"):
        value_coefficient(frame, None, config=_cfg(components={"clv": {"weight": 1, "columns": ["clv"]}}))


def test_ratio_components():
    cfg = _cfg(
        components={
            "repurchase": {
                "weight": 1,
                "columns": ["n_orders"],
                "offset": -1,
                "per": ["tenure_days"],
                "min_per": 30,
            }
        }
    )
    frame = pd.DataFrame({"n_orders": [1, 3, 3, 2], "tenure_days": [100, 10, 200, 0]})
    out = value_coefficient(frame, config=cfg, return_components=True)
    # rates: 0/100 = 0, 2/max(10, 30) = 0.0667, 2/200 = 0.01, tenure 0 -> NaN -> 0.5
    assert out["vc_repurchase"].tolist() == pytest.approx([1 / 6, 5 / 6, 0.5, 0.5])


def test_default_on_synthetic_table_and_distribution():
    features, outputs = synthetic_features(5000, seed=3)
    vc = value_coefficient(features, outputs["clv"])
    assert vc.between(0, 100).all()
    assert vc.mean() == pytest.approx(50, abs=0.5)  # percentiles average 1/2 per component
    assert set(vc.attrs["components"]) == set(load_value_coefficient_config().components)
    dist = value_coefficient_distribution(vc, by=np.where(features["n_orders"] > 3, "many", "few"))
    assert dist.quantiles.index.tolist() == ["few", "many"]
    assert dist.quantiles["n"].sum() == 5000
    assert dist.quantiles.loc["many", "q50"] > dist.quantiles.loc["few", "q50"]
    assert list(dist.quantiles.columns[:4]) == ["n", "mean", "q1", "q5"]
    assert dist.histogram["count"].sum() == 5000 and dist.histogram["share"].sum() == pytest.approx(1.0)
    overall = value_coefficient_distribution(vc.to_numpy(), quantiles=(0.5,), bins=4)
    assert overall.quantiles.loc["all", "q50"] == pytest.approx(vc.median())
    assert overall.histogram["bin_right"].tolist() == [25.0, 50.0, 75.0, 100.0]
