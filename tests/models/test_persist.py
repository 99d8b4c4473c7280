"""The shared JSON envelope of saved estimators (socialvalue.models.persist): documents, arrays, fingerprints."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import ConfigError
from socialvalue.models import persist


def test_document_round_trip_and_checks():
    text = persist.dump_document("Thing", {"a": 1, "b": [1, 2]}, {"x": float("inf")}, {"rows": 3})
    doc = persist.load_document(text, "Thing")
    assert doc["format"] == "socialvalue.model" and doc["format_version"] == 1
    assert doc["settings"] == {"a": 1, "b": [1, 2]} and doc["state"]["x"] == float("inf")
    assert doc["fingerprint"] == {"rows": 3}
    with pytest.raises(ConfigError, match="holds a 'Thing' model, not a Other"):
        persist.load_document(text, "Other")
    with pytest.raises(ConfigError, match="not valid JSON"):
        persist.load_document("{")
    with pytest.raises(ConfigError, match='no "format"'):
        persist.load_document('{"format": "pickle"}')
    newer = json.loads(text) | {"format_version": 99}
    with pytest.raises(ConfigError, match="format_version 99"):
        persist.load_document(json.dumps(newer))
    with pytest.raises(ConfigError, match="cannot be saved as JSON"):
        persist.dump_document("Thing", {"a": object()}, {}, None)


def test_arrays_round_trip_exactly_including_structured_ones():
    rng = np.random.default_rng(0)
    plain = rng.normal(size=(3, 4))
    plain[0, 0] = np.nan
    ints = np.arange(6, dtype=np.uint8).reshape(2, 3)
    nodes = np.zeros(3, dtype=[("value", "<f8"), ("left", "<u4"), ("is_leaf", "u1")])
    nodes["value"] = [0.1, -1e-300, 2.5]
    nodes["left"] = [1, 0, 0]
    nodes["is_leaf"] = [0, 1, 1]
    words = np.array(["a", "b"], dtype=object)
    for arr in (plain, ints, nodes, words):
        back = persist.decode_array(json.loads(json.dumps(persist.encode_array(arr))))
        assert back.dtype == arr.dtype and back.shape == arr.shape
        if arr.dtype.names:
            for name in arr.dtype.names:
                assert np.array_equal(back[name], arr[name])
        else:
            assert np.array_equal(back, arr, equal_nan=arr.dtype.kind == "f")
    with pytest.raises(ConfigError, match="malformed"):
        persist.decode_array({"dtype": "<f8", "shape": [3], "data": [1.0]})


def test_fingerprint_identifies_the_data_not_its_order_of_rows_in_memory():
    a = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1, 0, 1], "name": ["p", "q", "r"]}, index=[7, 8, 9])
    fp = persist.data_fingerprint(a, ["x", "y"])
    assert fp["rows"] == 3 and fp["columns"] == ["x", "y"] and len(fp["sha256"]) == 64
    assert persist.data_fingerprint(a.reset_index(drop=True), ["x", "y"]) == fp  # the index does not count
    assert persist.data_fingerprint({"x": a["x"].to_numpy(), "y": a["y"].to_numpy()}) == fp
    assert persist.data_fingerprint(a.assign(x=[1.0, 2.0, 3.5]), ["x", "y"])["sha256"] != fp["sha256"]
    assert persist.data_fingerprint(a, ["y", "x"])["sha256"] != fp["sha256"]  # column order counts
    assert persist.data_fingerprint(a, ["x", "absent"])["columns"] == ["x"]
    assert "p" not in json.dumps(persist.data_fingerprint(a, ["name"]))  # hashed, never stored


def test_load_model_dispatches_on_the_class_and_refuses_the_unknown():
    from socialvalue.models.clusters import BehaviouralClusters

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"total_spend": rng.gamma(2, 50, 300), "n_orders": rng.poisson(3, 300)})
    model = BehaviouralClusters(k=2, features=("total_spend", "n_orders")).fit(frame)
    assert isinstance(persist.load_model(model.to_json()), BehaviouralClusters)
    assert isinstance(persist.load_model(model.to_json().encode("utf-8")), BehaviouralClusters)
    with pytest.raises(ConfigError, match="unknown saved model 'Nope'"):
        persist.load_model(persist.dump_document("Nope", {}, {}, None))
    with pytest.raises(ConfigError, match="not a JSON object"):
        persist.load_model("[]")
