import subprocess
import sys

import pytest

import socialvalue
from socialvalue import errors


def test_all_names_resolve():
    for name in socialvalue.__all__:
        assert getattr(socialvalue, name) is not None


def test_import_is_light():
    # Importing the package must not pull in duckdb, fastapi or pyspark (lazy imports).
    code = "import sys, socialvalue; print(sorted(m for m in ('duckdb','fastapi','pyspark') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_error_hierarchy():
    assert issubclass(errors.SchemaError, errors.SocialValueError)
    assert issubclass(errors.NotFittedError, ValueError) and issubclass(errors.NotFittedError, AttributeError)
    assert issubclass(errors.ConvergenceError, errors.SocialValueError)
    exc = errors.ConvergenceError("no", result={"message": "abnormal"})
    assert exc.result == {"message": "abnormal"}
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        socialvalue.Nope  # noqa: B018
