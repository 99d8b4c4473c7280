"""Donations summary (Fader, Hardie & Shang 2010, Marketing Science 29(6); tests/data/donations/SOURCE.md)."""

from __future__ import annotations

from pathlib import Path

from socialvalue.datasets import donations

TEST_DATA = Path(__file__).resolve().parents[1] / "data" / "donations"


def test_summary_columns_and_weights():
    """11,104 first-time donors of 1995 over 6 yearly opportunities (paper, section 2)."""
    summary = donations.load_summary(TEST_DATA / "donations_summary.csv")
    assert list(summary.columns) == ["frequency", "recency", "n_periods", "weight"]
    assert int(summary["weight"].sum()) == 11104
    assert len(summary) == 22
    assert (summary["n_periods"] == 6).all()
    assert (summary["frequency"] <= summary["recency"]).all()
    # 3,464 donors never gave again (the paper's first pattern)
    assert int(summary.loc[(summary["frequency"] == 0), "weight"].sum()) == 3464


def test_packaged_copy_is_identical():
    assert donations.load_summary().equals(donations.load_summary(TEST_DATA / "donations_summary.csv"))
