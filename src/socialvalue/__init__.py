"""socialvalue: what each customer is worth, through purchases and through other people.

The public surface is small and flat; heavy dependencies (duckdb, fastapi, pyspark) are imported lazily, so
``import socialvalue`` is cheap and opens nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from socialvalue._version import __version__
from socialvalue.errors import (
    ConfigError,
    ConvergenceError,
    ErasedCustomerError,
    NotFittedError,
    SchemaError,
    SocialValueError,
    StoreError,
)

# name -> module that defines it; resolved on first attribute access (PEP 562).
_LAZY: dict[str, str] = {
    "Store": "socialvalue.datastore",
    "ColumnMapping": "socialvalue.ingest",
    "LoadReport": "socialvalue.ingest",
    "pseudonymize": "socialvalue.privacy",
    "build_features": "socialvalue.engine",
    "rfm_summary": "socialvalue.engine",
    "calibration_and_holdout": "socialvalue.engine",
    "BetaGeo": "socialvalue.models",
    "ModifiedBetaGeo": "socialvalue.models",
    "ParetoNBD": "socialvalue.models",
    "BetaGeoBetaBinom": "socialvalue.models",
    "GammaGamma": "socialvalue.models",
    "compare_models": "socialvalue.models",
    "lifetimes_clv": "socialvalue.models",
    "score_frame": "socialvalue.models",
    "CustomerSocialValue": "socialvalue.social",
    "InfluenceModel": "socialvalue.social",
    "Playbook": "socialvalue.decisions",
    "allocate": "socialvalue.decisions",
    "RunConfig": "socialvalue.pipeline",
    "run_pipeline": "socialvalue.pipeline",
    "generate_demo": "socialvalue.demo",
    "write_report": "socialvalue.report",
}
#: public names that differ from the defining module's name
_ALIASES: dict[str, str] = {"build_features": "build", "generate_demo": "generate"}
#: submodules reachable as attributes (``sv.plot``), imported on first access
_SUBMODULES: frozenset[str] = frozenset({"plot"})

__all__ = [
    "BetaGeo",
    "BetaGeoBetaBinom",
    "ColumnMapping",
    "ConfigError",
    "ConvergenceError",
    "CustomerSocialValue",
    "ErasedCustomerError",
    "GammaGamma",
    "InfluenceModel",
    "LoadReport",
    "ModifiedBetaGeo",
    "NotFittedError",
    "ParetoNBD",
    "Playbook",
    "RunConfig",
    "SchemaError",
    "SocialValueError",
    "Store",
    "StoreError",
    "__version__",
    "allocate",
    "build_features",
    "calibration_and_holdout",
    "compare_models",
    "generate_demo",
    "lifetimes_clv",
    "plot",
    "pseudonymize",
    "rfm_summary",
    "run_pipeline",
    "score_frame",
    "write_report",
]

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue import plot
    from socialvalue.datastore import Store
    from socialvalue.decisions import Playbook, allocate
    from socialvalue.demo import generate as generate_demo
    from socialvalue.engine import build as build_features
    from socialvalue.engine import calibration_and_holdout, rfm_summary
    from socialvalue.ingest import ColumnMapping, LoadReport
    from socialvalue.models import (
        BetaGeo,
        BetaGeoBetaBinom,
        GammaGamma,
        ModifiedBetaGeo,
        ParetoNBD,
        compare_models,
        lifetimes_clv,
        score_frame,
    )
    from socialvalue.pipeline import RunConfig, run_pipeline
    from socialvalue.privacy import pseudonymize
    from socialvalue.report import write_report
    from socialvalue.social import InfluenceModel
    from socialvalue.social.customer_value import CustomerSocialValue


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")  # the import binds it as an attribute
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'socialvalue' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), _ALIASES.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
