"""load_model without models importing social: documents name their class's module, imported on demand.

``socialvalue.models.persist`` must not import :mod:`socialvalue.social` (the layering, tests/test_layering.py),
yet a saved ``CustomerSocialValue`` loads in a fresh process as before: from the ``"module"`` the document
names, or, for documents written before that key, from where the class is known to live.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import ConfigError
from socialvalue.models import persist
from socialvalue.social.customer_value import CustomerSocialValue

COMPONENTS = ("clv", "crv", "civ")

#: In a fresh process: load the document on stdin, print the class and whether social was imported before.
_FRESH = """
import sys
from socialvalue.models import persist
before = sorted(m for m in sys.modules if m.startswith("socialvalue.social"))
model = persist.load_model(sys.stdin.read())
print(type(model).__module__, type(model).__name__, before, sep="|")
"""


@pytest.fixture(scope="module")
def document() -> str:
    rng = np.random.default_rng(3)
    x = pd.DataFrame({c: rng.gamma(1.0, 10.0, 600) for c in COMPONENTS})
    y = pd.Series(x.to_numpy() @ np.array([1.0, 2.0, 0.5]) + rng.normal(0.0, 1.0, 600))
    return CustomerSocialValue(components=COMPONENTS, n_bootstrap=20, random_state=1).fit(x, y).to_json()


def _load_fresh(text: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _FRESH], input=text, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_document_names_the_module_of_its_class(document):
    doc = json.loads(document)
    assert doc["model"] == "CustomerSocialValue" and doc["module"] == "socialvalue.social.customer_value"
    assert "module" not in json.loads(persist.dump_document("Unregistered", {}, {}, None))


def test_importing_persist_imports_no_social_and_loads_them_on_demand(document):
    expected = "socialvalue.social.customer_value|CustomerSocialValue|[]"
    assert _load_fresh(document) == expected
    without_key = json.loads(document)
    del without_key["module"]  # as written before the key
    assert _load_fresh(json.dumps(without_key)) == expected


def test_documents_of_the_earlier_format_load_in_a_fresh_process(document):
    model = CustomerSocialValue.from_json(document)
    old = {
        "format": "socialvalue.CustomerSocialValue/1",
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in model.get_params().items()},
        **json.loads(document)["state"],
    }
    assert _load_fresh(json.dumps(old)) == "socialvalue.social.customer_value|CustomerSocialValue|[]"


@pytest.mark.parametrize("module", ["json", "socialvalue.cli.__main__", "socialvalue.nope", 7])
def test_only_socialvalue_modules_are_imported_and_the_class_must_register(document, module):
    doc = json.loads(persist.dump_document("Stranger", {}, {}, None)) | {"module": module}
    with pytest.raises(ConfigError, match=r"(unknown saved model 'Stranger'|cannot import its module)"):
        persist.load_model(json.dumps(doc))
    assert "socialvalue.cli.__main__" not in sys.modules
    # a socialvalue module that defines no such class: imported, still unknown
    named = json.loads(document) | {"model": "Stranger", "module": "socialvalue.social.customer_value"}
    with pytest.raises(ConfigError, match=r"unknown saved model 'Stranger'; known: .*'CustomerSocialValue'"):
        persist.load_model(json.dumps(named))
