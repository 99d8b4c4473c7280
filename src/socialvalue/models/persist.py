"""JSON persistence shared by every estimator: one document envelope, a data fingerprint, never pickle.

A saved model is a JSON document::

    {
      "format": "socialvalue.model",
      "format_version": 1,
      "model": "ChurnClassifier",            # the class name; load_model dispatches on it
      "module": "socialvalue.models.churn",  # where the class lives (load_model imports it when needed)
      "socialvalue_version": "0.1.0",
      "settings": {...},                     # constructor arguments (get_params), JSON values only
      "state": {...},                        # the fitted attributes, arrays encoded by encode_array
      "fingerprint": {"rows": 1234, "columns": [...], "sha256": "..."}   # the data it was fitted on
    }

The fingerprint identifies the fitted data without holding any of it: the row count, the column names and a
SHA-256 over the columns' values (as float64/str bytes). It contains no customer id and no value, so a saved
model can be shared and an erasure never has to rewrite it.

Each estimator implements ``to_json() -> str`` and ``from_json(text) -> Self`` with :func:`dump_document` and
:func:`load_document`; :func:`load_model` rebuilds any saved estimator from its text by the registered class
name (see :func:`register`).

This module imports nothing above :mod:`socialvalue.models`: an estimator defined in a higher package (the
learned social value in :mod:`socialvalue.social`) registers itself when its module is imported, and the
document names that module, so :func:`load_model` can import it by name (only a ``socialvalue.`` module)
without this package depending on it. Nor does it import the models that use it: the BTYD models
(:mod:`socialvalue.models.btyd`) register every subclass of ``BTYDModel`` as it is defined, and their
documents, which name no module, are found through a fixed table of where each class lives.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from socialvalue.errors import ConfigError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "data_fingerprint",
    "decode_array",
    "dump_document",
    "encode_array",
    "load_document",
    "load_model",
    "register",
]

FORMAT = "socialvalue.model"
FORMAT_VERSION = 1

#: class name -> ``from_json`` of every estimator that can be saved
_LOADERS: dict[str, Callable[[str], Any]] = {}
#: class name -> the module that defines it (and registers its loader on import)
_MODULES: dict[str, str] = {}
#: where the classes of documents that name no module live, by class name: documents written before the
#: ``"module"`` key, and the BTYD models' own documents (format ``socialvalue.btyd``)
_KNOWN_MODULES: dict[str, str] = {
    "BehaviouralClusters": "socialvalue.models.clusters",
    "BetaGeo": "socialvalue.models.btyd.bgnbd",
    "BetaGeoBetaBinom": "socialvalue.models.btyd.bgbb",
    "ChurnChampion": "socialvalue.models.churn_choice",
    "ChurnClassifier": "socialvalue.models.churn",
    "CustomerSocialValue": "socialvalue.social.customer_value",
    "GammaGamma": "socialvalue.models.btyd.gammagamma",
    "ModifiedBetaGeo": "socialvalue.models.btyd.mbgnbd",
    "ParetoNBD": "socialvalue.models.btyd.paretonbd",
    "RateModel": "socialvalue.models.btyd.rate",
    "ShrunkMeanSpend": "socialvalue.models.btyd.shrunk_spend",
}
#: the BTYD models' document format (``JSON_FORMAT`` of ``BTYDModel.to_json``): a class name, no module
_BTYD_FORMAT = "socialvalue.btyd"
#: formats of documents written before this envelope -> the class whose ``from_json`` reads them
_LEGACY_FORMATS: dict[str, str] = {"socialvalue.CustomerSocialValue/1": "CustomerSocialValue"}


def register(name: str, loader: Callable[[str], Any], module: str | None = None) -> None:
    """Register ``loader`` (a ``from_json``) for documents whose ``model`` is ``name``.

    ``module`` (default: the module of the class ``loader`` is bound to) is written into every document of
    ``name``, so that :func:`load_model` can import it in a process that has not yet.
    """
    _LOADERS[name] = loader
    owner = getattr(loader, "__self__", loader)  # a bound classmethod's class
    found = module or getattr(owner, "__module__", None)
    if isinstance(found, str):
        _MODULES[name] = found


def data_fingerprint(data: pd.DataFrame | Mapping[str, Any], columns: Sequence[str] | None = None) -> dict:
    """Row count, column names and a SHA-256 of the values of ``columns`` (default: all) of ``data``.

    Numeric columns are hashed as their float64 bytes, others as their ``str`` values joined by NUL, column
    by column in the given order, so equal data gives equal fingerprints whatever the frame's index.
    """
    cols = list(columns) if columns is not None else list(data.keys())
    h = hashlib.sha256()
    n = 0
    for c in cols:
        if c not in data:
            continue
        values = data[c]
        arr = np.asarray(values)
        n = max(n, len(arr))
        h.update(c.encode("utf-8") + b"\x00")
        if arr.dtype.kind in "biuf":
            h.update(np.ascontiguousarray(arr, dtype=np.float64).data)  # hashed in place, no copy
        elif arr.dtype.kind == "M":
            h.update(np.ascontiguousarray(arr.astype("datetime64[us]").astype(np.int64)).data)
        else:
            h.update("\x00".join(map(str, arr.tolist())).encode("utf-8"))
    return {"rows": int(n), "columns": [c for c in cols if c in data], "sha256": h.hexdigest()}


def encode_array(values: Any) -> dict[str, Any]:
    """A numpy array as JSON: dtype, shape and the values (structured arrays: one list per field)."""
    arr = np.asarray(values)
    if arr.dtype.names:
        return {
            "dtype": [[name, arr.dtype[name].str] for name in arr.dtype.names],
            "shape": list(arr.shape),
            "fields": {name: arr[name].ravel().tolist() for name in arr.dtype.names},
        }
    if arr.dtype.kind not in "biuf":
        return {"dtype": "str", "shape": list(arr.shape), "data": [str(v) for v in arr.ravel().tolist()]}
    return {"dtype": arr.dtype.str, "shape": list(arr.shape), "data": arr.ravel().tolist()}


def decode_array(doc: Mapping[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode_array`."""
    try:
        shape = tuple(int(s) for s in doc["shape"])
        if isinstance(doc["dtype"], list):
            dtype = np.dtype([(str(name), str(code)) for name, code in doc["dtype"]])
            out = np.empty(int(np.prod(shape)), dtype=dtype)
            for name in dtype.names:
                out[name] = np.asarray(doc["fields"][name], dtype=dtype[name])
            return out.reshape(shape)
        if doc["dtype"] == "str":
            return np.asarray(doc["data"], dtype=object).reshape(shape)
        return np.asarray(doc["data"], dtype=np.dtype(doc["dtype"])).reshape(shape)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"a saved array is malformed: {exc}") from exc


def dump_document(
    model: str, settings: Mapping[str, Any], state: Mapping[str, Any], fingerprint: Mapping[str, Any] | None
) -> str:
    """The JSON text of a saved estimator (see the module docstring).

    The document names the module of a registered ``model`` (``"module"``), for :func:`load_model`.
    """
    from socialvalue._version import __version__

    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": model,
        **({"module": _MODULES[model]} if model in _MODULES else {}),
        "socialvalue_version": __version__,
        "settings": dict(settings),
        "state": dict(state),
        "fingerprint": None if fingerprint is None else dict(fingerprint),
    }
    try:
        return json.dumps(doc, indent=1, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{model}: a setting or fitted value cannot be saved as JSON ({exc})") from exc


def load_document(text: str | bytes, model: str | None = None) -> dict[str, Any]:
    """Parse and check a saved estimator's document; ``model`` (a class name) must match when given.

    Raises
    ------
    ConfigError
        Not JSON, not a socialvalue model document, a newer format version, or another model class.
    """
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError) as exc:
        raise ConfigError(f"not a saved socialvalue model (not valid JSON: {exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError(f'not a saved socialvalue model (no "format": "{FORMAT}")')
    version = doc.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ConfigError(
            f"unsupported {FORMAT} format_version {version!r}; this socialvalue reads up to {FORMAT_VERSION}"
        )
    if model is not None and doc.get("model") != model:
        raise ConfigError(f"the document holds a {doc.get('model')!r} model, not a {model}")
    for key in ("settings", "state"):
        if not isinstance(doc.get(key), dict):
            raise ConfigError(f"the saved {doc.get('model')!r} model has no {key!r} object")
    return doc


def load_model(text: str | bytes) -> Any:
    """Rebuild any saved socialvalue estimator (BTYD models included) from its JSON text.

    Every document goes to the ``from_json`` registered for its ``model`` name: BTYD documents (format
    ``socialvalue.btyd``, whose classes register themselves when defined), the envelope's, and the earlier
    ``socialvalue.CustomerSocialValue/1`` ones. A class not registered yet is imported first: from the
    document's ``"module"`` (a ``socialvalue.`` module only), or for documents that name none (BTYD ones,
    and those written before that key), from where the class is known to live.

    Raises
    ------
    ConfigError
        Not a saved model, or a model class no loader is registered for.
    """
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError) as exc:
        raise ConfigError(f"not a saved socialvalue model (not valid JSON: {exc})") from exc
    if not isinstance(doc, dict):
        raise ConfigError("not a saved socialvalue model (not a JSON object)")
    decoded = text if isinstance(text, str) else text.decode("utf-8")
    fmt = str(doc.get("format"))
    if fmt == _BTYD_FORMAT:  # the class's from_json checks the rest
        name, module = str(doc.get("model")), None
    elif fmt in _LEGACY_FORMATS:  # written before this envelope
        name, module = _LEGACY_FORMATS[fmt], None
    else:
        load_document(text)
        name, module = str(doc.get("model")), doc.get("module")
    return _loader(name, module)(decoded)


def _loader(name: str, module: Any) -> Callable[[str], Any]:
    """The registered ``from_json`` of the class ``name``, importing ``module`` (or its known one) first."""
    if name not in _LOADERS:
        where = module if isinstance(module, str) else _KNOWN_MODULES.get(name)
        if where is not None and where.startswith("socialvalue.") and not where.endswith("__main__"):
            try:
                importlib.import_module(where)  # the class registers its loader on import
            except ImportError as exc:
                raise ConfigError(
                    f"saved model {name!r}: cannot import its module {where!r} ({exc})"
                ) from exc
    loader = _LOADERS.get(name)
    if loader is None:
        raise ConfigError(f"unknown saved model {name!r}; known: {sorted({*_LOADERS, *_KNOWN_MODULES})}")
    return loader
