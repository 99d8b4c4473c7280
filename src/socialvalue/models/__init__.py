"""Statistical models of customer value and behaviour.

BTYD purchase models and CLV (``socialvalue.models.btyd``), RFM, lifecycle, churn, clusters, tiers and the
user value coefficient.
"""

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
from socialvalue.models.churn import ChurnClassifier, ChurnConfig, ChurnReport, churn_report, model_churn_risk
from socialvalue.models.churn_social import social_churn_features
from socialvalue.models.clusters import BehaviouralClusters, ClusterConfig
from socialvalue.models.lifecycle import LifecycleConfig, StageTransitions, lifecycle_stage, stage_transitions
from socialvalue.models.rfm import RFMConfig, SegmentMap, rfm_scores, rfm_segments, segment_summary
from socialvalue.models.scoring import SCORE_COLUMNS, ScoringConfig, load_scoring_config, score_frame
from socialvalue.models.tiers import TierConfig, assign_tiers, tier_summary
from socialvalue.models.value_coefficient import (
    ValueCoefficientConfig,
    value_coefficient,
    value_coefficient_distribution,
)

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
