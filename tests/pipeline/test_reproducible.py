"""Reproducible runs (issue 13, item 9): the same data, configuration and seed give bit-identical results.

Two copies of one store are scored with the same configuration; ``scores`` and ``actions`` must agree row for
row and bit for bit (floats compared as their IEEE-754 bytes, not to a tolerance), and the export files
written from each must be byte-identical. Run identifiers and timestamps (``_runs``) are expected to differ
and are not compared.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.demo import generate
from socialvalue.exports import export_results
from socialvalue.pipeline import run_pipeline

AS_OF = "2026-07-01"
KEY = "a reproducibility key, long enough"


@pytest.fixture(scope="module")
def twin_runs(tmp_path_factory):
    """Two stores from one demo (3,000 customers), each scored and exported once."""
    root = tmp_path_factory.mktemp("repro")
    base = root / "base.duckdb"
    with Store(base) as store:
        generate(3000, seed=13).load_into(store)
    out = []
    for name in ("a", "b"):
        path = root / f"{name}.duckdb"
        shutil.copyfile(base, path)
        with Store(path) as store:
            run_pipeline(store, AS_OF)
            tables = {
                t: store.query_df(f"SELECT * FROM {t} ORDER BY customer_id") for t in ("scores", "actions")
            }
            plain = export_results(store, root / name / "plain")
            pseudo = export_results(store, root / name / "pseudo", pseudonymize=True, key=KEY)
        out.append((tables, plain, pseudo))
    return out


def _bitwise_equal(a: pd.Series, b: pd.Series) -> bool:
    if a.dtype.kind == "f":
        return a.to_numpy().tobytes() == b.to_numpy().tobytes()  # NaN == NaN, -0.0 != 0.0: bit for bit
    return (
        a.astype(object).where(a.notna(), None).tolist() == b.astype(object).where(b.notna(), None).tolist()
    )


@pytest.mark.parametrize("table", ["scores", "actions"])
def test_tables_are_bit_identical(twin_runs, table):
    (first, *_), (second, *_) = twin_runs
    a, b = first[table], second[table]
    assert len(a) > 2000
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    differing = [c for c in a.columns if not _bitwise_equal(a[c], b[c])]
    assert differing == []
    floats = [c for c in a.columns if a[c].dtype.kind == "f"]
    assert len(floats) >= (20 if table == "scores" else 3)  # the comparison did cover the model outputs
    assert np.isfinite(a[floats].to_numpy(dtype=float)).any()


@pytest.mark.parametrize("kind", ["plain", "pseudo"])
def test_export_files_are_byte_identical(twin_runs, kind):
    index = 1 if kind == "plain" else 2
    first, second = twin_runs[0][index], twin_runs[1][index]
    assert first.keys() == second.keys()
    n = 0
    for group in first:
        names_a = [p.name for p in first[group]]
        assert names_a == [p.name for p in second[group]]
        for pa, pb in zip(first[group], second[group], strict=True):
            assert pa.read_bytes() == pb.read_bytes(), f"{kind} export {pa.name} differs between runs"
            n += 1
    assert n >= 5  # scores and actions in two formats, and at least one audience list
