"""The run's bookkeeping (pipeline.record): _runs gains models_from on old stores, _models rows, run listing."""

from __future__ import annotations

import datetime as dt

import pytest

from socialvalue import Store
from socialvalue.errors import ConfigError
from socialvalue.pipeline.fitted import RunChoices
from socialvalue.pipeline.record import load_fitted_models, record_run, stored_runs, write_models


def _choices() -> RunChoices:
    return RunChoices(
        as_of="2026-04-01",
        calibration_end="2025-09-30",
        unit="W",
        holdout_periods=26,
        currency="USD",
        purchase_model="BG/NBD",
        spend_model="Gamma-Gamma",
        purchase_champion="BG/NBD",
    )


def test_old_runs_table_gains_models_from_and_listing_counts_models(tmp_path):
    with Store(tmp_path / "s.duckdb") as store:
        assert stored_runs(store).empty
        with pytest.raises(ConfigError, match="has no recorded run"):
            load_fitted_models(store, "abc")
        # a _runs table as written before models were stored: no models_from column
        store.con.execute(
            "CREATE TABLE _runs (run_id VARCHAR PRIMARY KEY, as_of DATE NOT NULL, started_at TIMESTAMP, "
            "finished_at TIMESTAMP, socialvalue_version VARCHAR, config_hash VARCHAR, config_json VARCHAR, "
            "params_json VARCHAR, snapshot_json VARCHAR, timings_json VARCHAR, memory_json VARCHAR, "
            "diagnostics_json VARCHAR)"
        )
        store.con.execute(
            "INSERT INTO _runs (run_id, as_of, started_at) VALUES ('old', DATE '2026-01-01', NULL)"
        )
        assert stored_runs(store)["models_from"].isna().all()
        now = dt.datetime(2026, 4, 2, 12, 0)
        record_run(
            store, {"run_id": "new", "as_of": dt.date(2026, 4, 1), "started_at": now, "models_from": "new"}
        )
        assert write_models(store, "new", {"choices": _choices()}, now) == 1
        runs = stored_runs(store).set_index("run_id")
        assert runs.loc["new", "models_from"] == "new" and runs.loc["new", "n_models"] == 1
        assert runs.loc["old", "n_models"] == 0
        row = store.con.execute(
            "SELECT role, model_class, fingerprint_sha256, created_at FROM _models"
        ).fetchall()
        assert row == [("choices", "RunChoices", None, now)]
        assert RunChoices.from_json(store.scalar("SELECT json FROM _models")) == _choices()
        with pytest.raises(ValueError, match="unknown _runs column"):
            record_run(store, {"run_id": "x", "as_of": dt.date(2026, 4, 1), "nope": 1})


def test_run_choices_refuse_malformed_documents():
    text = _choices().to_json().replace('"2026-04-01"', '"April 1st"')
    with pytest.raises(ConfigError, match="malformed"):
        RunChoices.from_json(text)
