"""Everything a run learned, by role: the models it fitted and the champions it chose, saved with the run.

A run fits its models on the calibration/holdout split and applies them at ``as_of``; :class:`FittedModels`
holds them under role names (what each does), and :class:`RunChoices` what the run decided beside them: which
purchase and spend models the ladders settled on, which score won each holdout contest, the uplift of past
campaigns, and the unit, holdout and currency the models were fitted in. :mod:`socialvalue.pipeline.record`
writes one ``_models`` row per role (JSON documents of :mod:`socialvalue.models.persist`, never pickle) and
reads them back, so :func:`socialvalue.pipeline.score_with_models` can score a later date without refitting.

Roles
-----
``purchase``, ``purchase_calibration``
    The purchase model fitted at ``as_of`` (applied to every buyer) and on the calibration period (its holdout
    forecasts chose it).
``spend``, ``spend_calibration``
    The spend model at ``as_of`` and on the calibration period.
``churn``
    The churn champion (:class:`~socialvalue.models.churn_choice.ChurnChampion`, with the classifier's trees).
``clusters``
    The behavioural clusters (:class:`~socialvalue.models.clusters.BehaviouralClusters`).
``social_value``, ``social_value_own``, ``social_value_through_others``
    The learned customer social value (published), and the value learned on each of its two targets
    (:class:`~socialvalue.social.customer_value.CustomerSocialValue`).
``choices``
    :class:`RunChoices`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from socialvalue.errors import ConfigError
from socialvalue.models import persist

__all__ = ["ROLES", "FittedModels", "RunChoices"]

#: Role -> attribute of :class:`FittedModels`, in the order the rows are written.
ROLES: tuple[str, ...] = (
    "purchase",
    "purchase_calibration",
    "spend",
    "spend_calibration",
    "churn",
    "clusters",
    "social_value",
    "social_value_own",
    "social_value_through_others",
    "choices",
)


class RunChoices:
    """What a run chose beside its models: ladder rungs, contest champions, uplift, and its unit and money.

    Parameters
    ----------
    as_of, calibration_end
        The run's scoring date and the end of its calibration period (ISO dates).
    unit, holdout_periods
        The time unit of the purchase models (``"W"``/``"D"``) and the holdout length in units (the churn
        label's horizon).
    currency
        The reporting currency of every amount the models were fitted on.
    purchase_model, spend_model
        The rungs the purchase and spend ladders settled on (e.g. ``"BG/NBD"``, ``"Gamma-Gamma"``).
    purchase_champion
        The winner of the next-period purchases contest: the purchase model, or a baseline's name (then that
        baseline's forecast is published).
    value_champion, network_champion
        The winners of the customer-value and value-through-others contests (None: no contest was held).
    churn_champion
        The published churn risk's source (None: no churn score could be evaluated; the purchase model's
        risk is used).
    uplift
        Per playbook action, the incremental value per customer of each segment estimated from past
        campaigns (None without campaign data).
    """

    def __init__(
        self,
        *,
        as_of: str,
        calibration_end: str,
        unit: str,
        holdout_periods: int,
        currency: str,
        purchase_model: str,
        spend_model: str,
        purchase_champion: str,
        value_champion: str | None = None,
        network_champion: str | None = None,
        churn_champion: str | None = None,
        uplift: dict[str, dict[str, float]] | None = None,
    ) -> None:
        self.as_of = as_of
        self.calibration_end = calibration_end
        self.unit = unit
        self.holdout_periods = holdout_periods
        self.currency = currency
        self.purchase_model = purchase_model
        self.spend_model = spend_model
        self.purchase_champion = purchase_champion
        self.value_champion = value_champion
        self.network_champion = network_champion
        self.churn_champion = churn_champion
        self.uplift = uplift

    _PARAMS = (
        "as_of",
        "calibration_end",
        "unit",
        "holdout_periods",
        "currency",
        "purchase_model",
        "spend_model",
        "purchase_champion",
        "value_champion",
        "network_champion",
        "churn_champion",
        "uplift",
    )

    def get_params(self) -> dict[str, Any]:
        """Every setting, as JSON values."""
        return {k: getattr(self, k) for k in self._PARAMS}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunChoices) and self.get_params() == other.get_params()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RunChoices(as_of={self.as_of!r}, unit={self.unit!r}, currency={self.currency!r})"

    def to_json(self) -> str:
        """A ``socialvalue.model`` document (no fingerprint: it holds choices, not a fit)."""
        return persist.dump_document(type(self).__name__, self.get_params(), {}, None)

    @classmethod
    def from_json(cls, text: str) -> RunChoices:
        """Rebuild the choices saved by :meth:`to_json`.

        Raises
        ------
        ConfigError
            Not saved run choices, or malformed ones.
        """
        doc = persist.load_document(text, cls.__name__)
        try:
            out = cls(**doc["settings"])
            dt.date.fromisoformat(out.as_of)
            dt.date.fromisoformat(out.calibration_end)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"the saved run choices are malformed: {exc}") from exc
        return out


persist.register(RunChoices.__name__, RunChoices.from_json)


@dataclass
class FittedModels:
    """The models of one run by role (see the module docstring), and the run's recorded diagnostics.

    Attributes
    ----------
    choices
        :class:`RunChoices`.
    purchase, spend
        The purchase and spend models applied at ``as_of``.
    purchase_calibration, spend_calibration, churn, clusters, social_value, social_value_own,
    social_value_through_others
        The other roles; None when the run could not fit them (a fallback it recorded).
    run_id
        The run that fitted them ("" before they are written).
    diagnostics
        That run's diagnostics (``_runs``): scoring carries its holdout contests and model comparisons.
    """

    choices: RunChoices
    purchase: Any
    spend: Any
    purchase_calibration: Any = None
    spend_calibration: Any = None
    churn: Any = None
    clusters: Any = None
    social_value: Any = None
    social_value_own: Any = None
    social_value_through_others: Any = None
    run_id: str = ""
    diagnostics: dict[str, Any] = field(default_factory=dict, repr=False)

    def models(self) -> dict[str, Any]:
        """Role -> model, for every role that holds one, in :data:`ROLES` order."""
        return {role: getattr(self, role) for role in ROLES if getattr(self, role) is not None}
