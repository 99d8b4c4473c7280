"""Statistical models of customer value and behaviour.

BTYD purchase models and CLV (``socialvalue.models.btyd``), RFM, lifecycle, churn, clusters, tiers and the
user value coefficient.

Every public name is imported on first use (PEP 562), so ``import socialvalue.models`` or
``from socialvalue.models import BetaGeo`` loads neither scikit-learn (the churn and cluster models) nor
``scipy.stats``: a one-off BTYD fit in a fresh process pays only for what it uses.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from socialvalue._lazy import lazy_attributes

# name -> module that defines it; resolved on first attribute access.
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        (
            "BTYDModel",
            "BetaGeo",
            "BetaGeoBetaBinom",
            "GammaGamma",
            "ModifiedBetaGeo",
            "ParetoNBD",
            "compare_models",
            "customer_lifetime_value",
            "lifetimes_clv",
        ),
        "socialvalue.models.btyd",
    ),
    **dict.fromkeys(
        ("ChurnClassifier", "ChurnConfig", "ChurnReport", "churn_report", "model_churn_risk"),
        "socialvalue.models.churn",
    ),
    "social_churn_features": "socialvalue.models.churn_social",
    "BehaviouralClusters": "socialvalue.models.clusters",
    "ClusterConfig": "socialvalue.models.clusters",
    **dict.fromkeys(
        ("LifecycleConfig", "StageTransitions", "lifecycle_stage", "stage_transitions"),
        "socialvalue.models.lifecycle",
    ),
    **dict.fromkeys(
        ("RFMConfig", "SegmentMap", "rfm_scores", "rfm_segments", "segment_summary"), "socialvalue.models.rfm"
    ),
    **dict.fromkeys(
        ("SCORE_COLUMNS", "ScoringConfig", "load_scoring_config", "score_frame"), "socialvalue.models.scoring"
    ),
    **dict.fromkeys(("TierConfig", "assign_tiers", "tier_summary"), "socialvalue.models.tiers"),
    **dict.fromkeys(
        ("ValueCoefficientConfig", "value_coefficient", "value_coefficient_distribution"),
        "socialvalue.models.value_coefficient",
    ),
}

__all__ = [
    "SCORE_COLUMNS",
    "BTYDModel",
    "BehaviouralClusters",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "ChurnClassifier",
    "ChurnConfig",
    "ChurnReport",
    "ClusterConfig",
    "GammaGamma",
    "LifecycleConfig",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "RFMConfig",
    "ScoringConfig",
    "SegmentMap",
    "StageTransitions",
    "TierConfig",
    "ValueCoefficientConfig",
    "assign_tiers",
    "churn_report",
    "compare_models",
    "customer_lifetime_value",
    "lifecycle_stage",
    "lifetimes_clv",
    "load_scoring_config",
    "model_churn_risk",
    "rfm_scores",
    "rfm_segments",
    "score_frame",
    "segment_summary",
    "social_churn_features",
    "stage_transitions",
    "tier_summary",
    "value_coefficient",
    "value_coefficient_distribution",
]

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.models.btyd import (
        BetaGeo,
        BetaGeoBetaBinom,
        BTYDModel,
        GammaGamma,
        ModifiedBetaGeo,
        ParetoNBD,
        compare_models,
        customer_lifetime_value,
        lifetimes_clv,
    )
    from socialvalue.models.churn import (
        ChurnClassifier,
        ChurnConfig,
        ChurnReport,
        churn_report,
        model_churn_risk,
    )
    from socialvalue.models.churn_social import social_churn_features
    from socialvalue.models.clusters import BehaviouralClusters, ClusterConfig
    from socialvalue.models.lifecycle import (
        LifecycleConfig,
        StageTransitions,
        lifecycle_stage,
        stage_transitions,
    )
    from socialvalue.models.rfm import RFMConfig, SegmentMap, rfm_scores, rfm_segments, segment_summary
    from socialvalue.models.scoring import SCORE_COLUMNS, ScoringConfig, load_scoring_config, score_frame
    from socialvalue.models.tiers import TierConfig, assign_tiers, tier_summary
    from socialvalue.models.value_coefficient import (
        ValueCoefficientConfig,
        value_coefficient,
        value_coefficient_distribution,
    )


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__, globals())


class _Package(types.ModuleType):
    """The package keeps exporting the function ``value_coefficient``, not the submodule of that name.

    Importing a submodule binds it as an attribute of its package; for ``value_coefficient`` that would hide
    the function exported here (the eager package bound the function after the submodule).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "value_coefficient" and isinstance(value, types.ModuleType):
            value = value.value_coefficient
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
