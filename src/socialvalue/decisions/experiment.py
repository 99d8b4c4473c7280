r"""Actions that measure themselves: a stratified, reproducible control group per action, sized by its power.

Every exported action holds a random **control group** out (its customers get nothing), so that the next run
can compare the customers who got the action with those who did not.

**Assignment** is decided by a hash, never by a random generator's state: customer :math:`i` draws

.. math:: u_{i} = \operatorname{BLAKE2b}_{64}(\text{seed}, \text{action}, \text{customer\_id}) / 2^{64}
   \in [0, 1),

and is held out when :math:`u_i < q` (``method="hash"``). A rerun with the same seed assigns everyone
identically, a customer who joins changes nobody else's arm, and every stratum (segment × value tier) holds out
the share :math:`q` in expectation, so the difference of means is unbiased in every stratum. With
``method="stratified"`` each stratum of :math:`n_s` customers holds out exactly
:math:`\lfloor q n_s + v_s \rfloor` of them (:math:`v_s` the stratum's own hash: the expected count is
:math:`q n_s`), those with the smallest :math:`u_i`; a newcomer then moves at most one other customer of its
stratum across the boundary.

**Power.** The share :math:`q` is the configured one (10 % by default), raised to what a two-sided two-sample
z-test at level :math:`\alpha` needs to detect the minimum detectable effect :math:`\delta` (an absolute lift of
the window's purchase rate :math:`p`, :math:`\sigma^2 = p(1-p)`) with the stated power among the :math:`n`
customers of the action:

.. math:: 1 - \beta = \Phi(d - z_{1-\alpha/2}) + \Phi(-d - z_{1-\alpha/2}), \qquad
   d = \frac{\delta}{\sigma \sqrt{1/n_T + 1/n_C}}, \quad n_C = q n,\ n_T = (1 - q) n,

the power of R's ``pwr.2p2n.test`` and of statsmodels' ``NormalIndPower`` (Cohen 1988, ch. 6).

What the control groups then measure, and whether each action paid, is
:mod:`socialvalue.decisions.measurement`; recording and measuring them in the store is
:mod:`socialvalue.experiments`.

References
----------
.. [1] Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*, 2nd ed., ch. 6
   (differences between proportions, the effect size :math:`h`).
.. [2] Lehr, R. (1992). Sixteen S-squared over D-squared: a relation for crude sample size estimates.
   *Statistics in Medicine* 11(8), 1099–1102.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from socialvalue.config import ConfigModel
from socialvalue.errors import ConfigError, SchemaError

__all__ = [
    "ALL_SEGMENTS",
    "ARMS",
    "ExperimentConfig",
    "Holdout",
    "apply_holdout",
    "assignment_uniforms",
    "detectable_effect",
    "hold_out",
    "power_two_sample",
    "required_control_share",
]

Arm = Literal["treated", "control"]

#: The two arms of an experiment.
ARMS: tuple[str, str] = ("treated", "control")
#: The segment label of an action's rows over all its segments.
ALL_SEGMENTS = "(all)"
_MISSING = "(none)"


class ExperimentConfig(ConfigModel):
    """How control groups are held out and measured (every key optional; unknown keys are errors).

    Attributes
    ----------
    control_share
        Share of each action's customers held out, at least (raised by the power calculation).
    max_control_share
        The most that is ever held out, whatever the power calculation asks.
    min_detectable_effect
        Smallest absolute lift of the window's purchase rate the experiment must detect (0.03 = 3 points);
        unset: the configured share is kept and the sentence says what it detects.
    baseline_rate
        Expected purchase rate in the window without the action; unset: measured from the store (the share of
        the action's customers who bought in the ``window_days`` before the run).
    alpha, power
        Level of the two-sided test and the power wanted at ``min_detectable_effect``.
    window_days
        Days after the action in which outcomes count.
    min_outcomes
        Customers per arm whose windows have elapsed before an uplift is reported ("not yet measured" below).
    confidence
        Level of the uplift intervals.
    strata
        Columns whose combination is a stratum (those absent from the data are left out).
    method
        ``"hash"`` (each customer by their own hash: stable when customers join) or ``"stratified"`` (exact
        counts per stratum).
    seed
        Seed of the assignment hash.
    referral_value
        Value of one referral made (currency): an outcome is worth ``margin × revenue + referral_value ×
        referrals`` (the margin is the run's ``[run] margin``).
    enabled
        Hold out control groups on export and measure them on later runs (false: neither).
    """

    control_share: float = Field(
        default=0.10, gt=0.0, lt=1.0, description="Share of each action's customers held out, at least."
    )
    max_control_share: float = Field(
        default=0.50,
        gt=0.0,
        lt=1.0,
        description="The most ever held out, whatever the power calculation asks.",
    )
    min_detectable_effect: float | None = Field(
        default=None,
        gt=0.0,
        lt=1.0,
        description="Smallest absolute lift of the window's purchase rate to detect (0.03 = 3 points); unset: "
        "control_share is kept and the export says what it detects.",
    )
    baseline_rate: float | None = Field(
        default=None,
        gt=0.0,
        lt=1.0,
        description="Purchase rate in the window without the action; unset: measured from the store.",
    )
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0, description="Level of the two-sided test.")
    power: float = Field(default=0.80, gt=0.0, lt=1.0, description="Power wanted at min_detectable_effect.")
    window_days: int = Field(
        default=30, ge=1, le=3650, description="Days after the action in which outcomes count."
    )
    min_outcomes: int = Field(
        default=30,
        ge=2,
        description="Customers per arm with an elapsed window before an uplift is reported (else 'not yet "
        "measured').",
    )
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0, description="Level of the uplift intervals.")
    strata: tuple[str, ...] = Field(
        default=("segment", "tier"), description="Columns whose combination is a stratum of the assignment."
    )
    method: Literal["hash", "stratified"] = Field(
        default="hash",
        description="hash: each customer by their own hash (stable as customers join); stratified: exact "
        "counts per stratum.",
    )
    seed: int = Field(default=0, ge=0, lt=2**63, description="Seed of the assignment hash.")
    referral_value: float = Field(
        default=0.0,
        ge=0.0,
        description="Value of one referral made (currency) when an action's outcomes are valued: "
        "margin × revenue + referral_value × referrals.",
    )
    enabled: bool = Field(
        default=True,
        description="Hold out control groups when actions are exported, and measure them on later runs.",
    )

    @model_validator(mode="after")
    def _shares_in_order(self) -> ExperimentConfig:
        if self.control_share > self.max_control_share:
            raise ValueError(
                f"control_share {self.control_share} is above max_control_share {self.max_control_share}"
            )
        if self.power <= self.alpha / 2:
            raise ValueError(f"power {self.power} must exceed alpha/2 ({self.alpha / 2})")
        return self


# -- power ----------------------------------------------------------------------------------------------------


_NORMAL = NormalDist()


def _z(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must lie in (0, 1), not {alpha}")
    return _NORMAL.inv_cdf(1.0 - alpha / 2.0)


def _bisect(f: Callable[[float], float], lo: float, hi: float) -> float:
    """The root of an increasing ``f`` with ``f(lo) < 0 <= f(hi)``, to the last bit (bisection)."""
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return hi


def power_two_sample(
    effect: float, n_treated: float, n_control: float, *, sd: float, alpha: float = 0.05
) -> float:
    r"""Power of the two-sided two-sample z-test to detect a difference of means ``effect``.

    .. math:: \Phi(d - z_{1-\alpha/2}) + \Phi(-d - z_{1-\alpha/2}), \qquad
       d = \frac{|\text{effect}|}{\text{sd} \sqrt{1/n_T + 1/n_C}}

    Both tails count, as in R's ``pwr.2p2n.test`` (with ``effect / sd`` as the effect size ``h``).
    The normal distribution is the standard library's (:class:`statistics.NormalDist`).

    Parameters
    ----------
    effect
        The difference of means to detect (outcome units).
    n_treated, n_control
        Group sizes (may be fractional).
    sd
        Standard deviation of one outcome (the same in both groups), ``sqrt(p (1 - p))`` for a rate ``p``.
    alpha
        Level of the test.
    """
    if sd <= 0:
        raise ConfigError(f"sd must be positive, not {sd}")
    if n_treated <= 0 or n_control <= 0:
        return float(alpha) if effect == 0 else 0.0
    z = _z(alpha)
    d = abs(effect) / (sd * math.sqrt(1.0 / n_treated + 1.0 / n_control))
    return _NORMAL.cdf(d - z) + _NORMAL.cdf(-d - z)


def detectable_effect(
    n_treated: float, n_control: float, *, sd: float, alpha: float = 0.05, power: float = 0.80
) -> float:
    r"""The smallest difference of means the two-sided z-test detects with ``power`` (``inf`` for an empty arm).

    The exact inverse of :func:`power_two_sample` (both tails), found by bisection below the one-tail
    approximation :math:`(z_{1-\alpha/2} + z_{1-\beta})\,\text{sd}\sqrt{1/n_T + 1/n_C}`, which it never
    exceeds (the other tail only adds power).
    """
    if n_treated <= 0 or n_control <= 0:
        return math.inf
    if not alpha / 2 < power < 1:
        raise ConfigError(f"power must lie in (alpha/2, 1), not {power}")
    scale = sd * math.sqrt(1.0 / n_treated + 1.0 / n_control)
    guess = (_z(alpha) + _NORMAL.inv_cdf(power)) * scale
    if power_two_sample(0.0, n_treated, n_control, sd=sd, alpha=alpha) >= power:
        return 0.0
    return _bisect(
        lambda e: power_two_sample(e, n_treated, n_control, sd=sd, alpha=alpha) - power, 0.0, guess
    )


def required_control_share(
    n: float,
    *,
    mde: float,
    sd: float,
    alpha: float = 0.05,
    power: float = 0.80,
    floor: float = 0.10,
    cap: float = 0.50,
) -> float:
    """The smallest share of ``n`` customers to hold out so that ``mde`` is detected with ``power``.

    At least ``floor``; ``cap`` when even that cannot reach the power (the caller says so).
    """
    if not 0 < floor <= cap < 1:
        raise ConfigError(f"need 0 < floor <= cap < 1, got floor {floor}, cap {cap}")

    def gap(q: float) -> float:
        return power_two_sample(mde, n * (1 - q), n * q, sd=sd, alpha=alpha) - power

    if gap(floor) >= 0:
        return floor
    top = min(cap, 0.5)  # the power is highest at an even split
    if gap(top) < 0:
        return cap
    return _bisect(gap, floor, top)


# -- assignment -------------------------------------------------------------------------------------------------


def assignment_uniforms(seed: int, action: str, customer_ids: Iterable[object]) -> np.ndarray:
    """Each customer's uniform draw in [0, 1): 64 bits of BLAKE2b over (seed, action, customer id).

    The draw depends on nothing else (not on the other customers, the order or the run), so it is the same
    on every machine and in every run with the same seed.
    """
    base = hashlib.blake2b(f"{int(seed)}\x1f{action}\x1f".encode(), digest_size=8)
    out = []
    for cid in customer_ids:
        h = base.copy()
        h.update(str(cid).encode())
        out.append(int.from_bytes(h.digest(), "big"))
    return np.array(out, dtype=np.uint64).astype(np.float64) / 2.0**64


def _strata(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    cols = [c for c in columns if c in frame.columns]
    if not cols:
        return pd.Series(ALL_SEGMENTS, index=frame.index, dtype=object)
    parts = [frame[c].astype(object).where(frame[c].notna(), _MISSING).astype(str) for c in cols]
    out = parts[0]
    for p in parts[1:]:
        out = out + "|" + p
    return out.astype(object)


@dataclass(frozen=True)
class Holdout:
    """The control groups of one plan.

    Attributes
    ----------
    assignment
        One row per customer and action: ``customer_id, action, arm, stratum, segment, score``.
    plans
        One row per action: ``action, n, n_control, control_share, target_share, baseline_rate,
        detectable_effect, min_detectable_effect, reason`` (``reason``: how many are held out and why).
    config
        The configuration used.
    """

    assignment: pd.DataFrame
    plans: pd.DataFrame
    config: ExperimentConfig = field(default_factory=ExperimentConfig)

    @property
    def reasons(self) -> dict[str, str]:
        """Per action, the sentence saying how many customers are held out and why."""
        return dict(zip(self.plans["action"], self.plans["reason"], strict=True))


def _pct(share: float) -> str:
    text = f"{100 * share:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _points(effect: float) -> str:
    return "an unmeasurable" if not math.isfinite(effect) else f"a {100 * effect:.1f}-point"


def _reason(
    share: float, n_control: int, cfg: ExperimentConfig, floor_detects: float, detects: float, capped: bool
) -> str:
    held = f"{_pct(share)} held out ({n_control:,} customers)"
    pw = f"{_pct(cfg.power)} power"
    window = f"the {cfg.window_days}-day purchase rate"
    if cfg.min_detectable_effect is None:
        return (
            f"{held}: the configured share; it detects {_points(detects)} lift in {window} at {pw} "
            "(no minimum detectable effect is set)"
        )
    asked = f"{100 * cfg.min_detectable_effect:.1f}"
    if capped:
        return (
            f"{held}: the most allowed (max_control_share); even so it detects only {_points(detects)} lift "
            f"at {pw}, not the {asked} asked: too few customers for that precision"
        )
    if share > cfg.control_share:
        return (
            f"{held}: {_pct(cfg.control_share)} would detect only {_points(floor_detects)} lift at {pw}; "
            f"the configuration asks for {asked}"
        )
    return f"{held}: enough to detect the {asked}-point lift asked at {pw} (it detects {100 * detects:.1f})"


def hold_out(
    frame: pd.DataFrame,
    config: ExperimentConfig | None = None,
    *,
    baseline_rate: float | Mapping[str, float] | None = None,
    score: str | None = "expected_value",
) -> Holdout:
    """Hold out a control group per action, stratified and reproducible (see the module docstring).

    Parameters
    ----------
    frame
        One row per customer planned for an action: ``customer_id``, ``action`` and the stratum columns
        (``config.strata``: ``segment`` and ``tier`` by default; those absent are left out). Only the customers
        who may be contacted belong here (the caller filters consent).
    config
        Shares, power, window, seed.
    baseline_rate
        The purchase rate in the window without the action, one for all or per action; it sets the outcome's
        standard deviation of the power calculation. ``config.baseline_rate`` wins when set; 0.1 when neither.
    score
        Column carried into the assignment as the targeting score of the Qini curves (missing: NaN).

    Returns
    -------
    Holdout
        The assignment and, per action, how many are held out and why.
    """
    cfg = config or ExperimentConfig()
    frame = frame.reset_index(drop=True)
    missing = [c for c in ("customer_id", "action") if c not in frame.columns]
    if missing:
        raise SchemaError(f"hold_out needs column(s) {', '.join(missing)}")
    if frame.duplicated(["customer_id", "action"]).any():
        raise SchemaError("hold_out: a customer appears twice for the same action")
    stratum = _strata(frame, cfg.strata)
    segment = (
        frame["segment"].astype(object).where(frame["segment"].notna(), _MISSING).astype(str)
        if "segment" in frame.columns
        else pd.Series(ALL_SEGMENTS, index=frame.index)
    )
    scores = (
        frame[score].astype(float)
        if score and score in frame.columns
        else pd.Series(np.nan, index=frame.index, dtype=float)
    )
    parts, plans = [], []
    for action, rows in frame.groupby("action", sort=True):
        name = str(action)
        idx = rows.index
        n = len(idx)
        p = cfg.baseline_rate
        if p is None:
            p = baseline_rate.get(name) if isinstance(baseline_rate, Mapping) else baseline_rate
        p = 0.1 if p is None or not 0 < p < 1 else float(p)
        sd = math.sqrt(p * (1 - p))
        if cfg.min_detectable_effect is None:
            share = cfg.control_share
        else:
            share = required_control_share(
                n,
                mde=cfg.min_detectable_effect,
                sd=sd,
                alpha=cfg.alpha,
                power=cfg.power,
                floor=cfg.control_share,
                cap=cfg.max_control_share,
            )
        capped = cfg.min_detectable_effect is not None and (
            power_two_sample(cfg.min_detectable_effect, n * (1 - share), n * share, sd=sd, alpha=cfg.alpha)
            < cfg.power - 1e-9
        )
        u = assignment_uniforms(cfg.seed, name, rows["customer_id"].tolist())
        control = u < share
        if cfg.method == "stratified":
            control = _exact_per_stratum(u, stratum.loc[idx].to_numpy(), share, cfg.seed, name)
        n_control = int(control.sum())
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": rows["customer_id"].to_numpy(),
                    "action": name,
                    "arm": np.where(control, "control", "treated"),
                    "stratum": stratum.loc[idx].to_numpy(),
                    "segment": segment.loc[idx].to_numpy(),
                    "score": scores.loc[idx].to_numpy(),
                }
            )
        )
        floor_detects = detectable_effect(
            n * (1 - cfg.control_share), n * cfg.control_share, sd=sd, alpha=cfg.alpha, power=cfg.power
        )
        detects = detectable_effect(n * (1 - share), n * share, sd=sd, alpha=cfg.alpha, power=cfg.power)
        plans.append(
            {
                "action": name,
                "n": n,
                "n_control": n_control,
                "control_share": n_control / n if n else 0.0,
                "target_share": share,
                "baseline_rate": p,
                "detectable_effect": detects,
                "min_detectable_effect": cfg.min_detectable_effect,
                "reason": _reason(share, n_control, cfg, floor_detects, detects, capped),
            }
        )
    columns = ["customer_id", "action", "arm", "stratum", "segment", "score"]
    assignment = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    plan_cols = [
        "action", "n", "n_control", "control_share", "target_share", "baseline_rate", "detectable_effect",
        "min_detectable_effect", "reason",
    ]  # fmt: skip
    return Holdout(assignment, pd.DataFrame(plans, columns=plan_cols), cfg)


def _exact_per_stratum(
    u: np.ndarray, stratum: np.ndarray, share: float, seed: int, action: str
) -> np.ndarray:
    """Hold out floor(share · n_s + v_s) customers of each stratum, those with the smallest draws."""
    frame = pd.DataFrame({"u": u, "s": stratum})
    rank = frame.groupby("s")["u"].rank(method="first").to_numpy() - 1
    sizes = frame.groupby("s")["u"].transform("size").to_numpy()
    names = pd.unique(stratum)
    v = dict(zip(names, assignment_uniforms(seed, f"{action}\x1fstratum", names), strict=True))
    quota = np.floor(share * sizes + np.array([v[s] for s in stratum]))
    return rank < quota


def apply_holdout(
    plan: pd.DataFrame, holdout: Holdout, *, fallback: str = "do_nothing", fallback_label: str = "Do nothing"
) -> pd.DataFrame:
    """The plan with every control customer moved to the free ``fallback`` action (nobody contacts them).

    The plan's columns are kept (:func:`~socialvalue.decisions.allocate.allocate`'s); a control customer's
    cost, expected and net values become 0 and the reason says which action they measure.
    """
    out = plan.copy()
    control = holdout.assignment.loc[holdout.assignment["arm"] == "control", ["customer_id", "action"]]
    key = pd.MultiIndex.from_frame(out[["customer_id", "action"]].astype(str))
    hit = key.isin(pd.MultiIndex.from_frame(control.astype(str)))
    if not hit.any():
        return out
    labels = out.loc[hit, "label"] if "label" in out.columns else out.loc[hit, "action"]
    reason = "held out as a control group for " + labels.astype(str) + " (measures its effect)"
    out.loc[hit, "action"] = fallback
    if "label" in out.columns:
        out.loc[hit, "label"] = fallback_label
    if "channel" in out.columns:
        out.loc[hit, "channel"] = "none"
    for col in ("cost", "expected_value", "net_value"):
        if col in out.columns:
            out.loc[hit, col] = 0.0
    if "reason" in out.columns:
        out.loc[hit, "reason"] = reason.to_numpy()
    return out
