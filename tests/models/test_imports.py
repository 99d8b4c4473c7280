"""Import laziness of ``socialvalue.models`` (issue 16): a one-off BTYD fit loads only what it uses.

Each check runs in a fresh interpreter, since the test session itself has long imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import socialvalue.models
import socialvalue.models.btyd

CDNOW = Path(__file__).resolve().parents[1] / "data" / "cdnow" / "cdnow_summary_calibration.csv"
HEAVY = ("sklearn", "scipy.stats", "scipy.optimize", "plotly", "duckdb", "threadpoolctl")


def _loaded_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; return which of HEAVY it loaded, plus what the code stored in ``out``."""
    script = f"import sys, json\nout = {{}}\n{code}\nout['loaded'] = [m for m in {HEAVY!r} if m in sys.modules]\nprint(json.dumps(out))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_models_loads_neither_sklearn_nor_scipy_stats():
    out = _loaded_after("import socialvalue.models")
    assert "sklearn" not in out["loaded"] and "scipy.stats" not in out["loaded"]
    assert out["loaded"] == []


def test_btyd_fit_in_a_fresh_process_loads_only_what_it_uses():
    # The BG/NBD fit is Newton's method (no scipy.optimize), summary() uses scipy.special's normal quantile
    # (no scipy.stats) and numpy's own OpenBLAS is limited directly (no threadpoolctl scan).
    code = f"""
import numpy as np
from socialvalue import BetaGeo
raw = np.loadtxt({str(CDNOW)!r}, delimiter=",", skiprows=1)
model = BetaGeo().fit({{"frequency": raw[:, 1], "recency": raw[:, 2], "T": raw[:, 3]}})
out["params"] = model.params_
out["upper"] = model.summary()["upper"].tolist()
from socialvalue.models._threads import _loaded_openblas
out["direct_blas"] = _loaded_openblas() is not None
"""
    out = _loaded_after(code)
    # Fader, Hardie & Lee (2005), "Counting your customers the easy way", CDNOW 1/10 sample: r = 0.243,
    # alpha = 4.414, a = 0.793, b = 2.426 (lifetimes 0.11.3 BetaGeoFitter agrees to 1e-6).
    assert out["params"]["r"] == pytest.approx(0.2426, abs=1e-4)
    assert out["params"]["alpha"] == pytest.approx(4.4135, abs=1e-4)
    assert out["params"]["a"] == pytest.approx(0.7929, abs=1e-4)
    assert out["params"]["b"] == pytest.approx(2.4258, abs=1e-4)
    assert out["upper"][0] == pytest.approx(0.2426 * 1.107, rel=2e-3)  # r * exp(1.96 * se(log r))
    expected = [] if out["direct_blas"] else ["threadpoolctl"]
    assert out["loaded"] == expected


def test_pareto_nbd_fit_imports_scipy_optimize_when_it_needs_it():
    code = f"""
import numpy as np
from socialvalue.models.btyd import ParetoNBD
raw = np.loadtxt({str(CDNOW)!r}, delimiter=",", skiprows=1)
out["params"] = ParetoNBD().fit({{"frequency": raw[:, 1], "recency": raw[:, 2], "T": raw[:, 3]}}).params_
"""
    out = _loaded_after(code)
    # Fader, Hardie & Lee (2005b) / lifetimes 0.11.3 ParetoNBDFitter on the CDNOW sample: r = 0.55, s = 0.61
    assert out["params"]["r"] == pytest.approx(0.553, abs=2e-3)
    assert out["params"]["s"] == pytest.approx(0.606, abs=2e-3)
    assert "scipy.optimize" in out["loaded"]
    assert "sklearn" not in out["loaded"] and "scipy.stats" not in out["loaded"]


@pytest.mark.parametrize("package", [socialvalue.models, socialvalue.models.btyd])
def test_every_public_name_resolves_to_its_definition(package):
    assert sorted(package.__all__) == sorted(package._LAZY)
    for name in package.__all__:
        value = getattr(package, name)
        defining = sys.modules[package._LAZY[name]]
        assert value is getattr(defining, name), name
        assert name in dir(package)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        package.Nope  # noqa: B018


def test_from_import_of_the_lazy_names():
    from socialvalue.models import BetaGeo, score_frame
    from socialvalue.models.btyd.bgnbd import BetaGeo as defined
    from socialvalue.models.scoring import score_frame as score_defined

    assert BetaGeo is defined and score_frame is score_defined


def test_value_coefficient_stays_the_function_after_its_submodule_is_imported():
    # The submodule shares the function's name; importing it first must not hide the function the package
    # exports (as the eager package did not).
    code = """
import socialvalue.models.value_coefficient
import socialvalue.models as m
from socialvalue.models import value_coefficient
out["kind"] = [type(m.value_coefficient).__name__, type(value_coefficient).__name__]
out["module"] = type(sys.modules["socialvalue.models.value_coefficient"]).__name__
"""
    out = _loaded_after(code)
    assert out["kind"] == ["function", "function"]
    assert out["module"] == "module"
