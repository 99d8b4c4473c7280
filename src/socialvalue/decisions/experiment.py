r"""Actions that measure themselves: control groups, their power, measured uplift and whether an action paid.

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

**Uplift** per action and per segment is the difference of the treated and control means with Welch's
standard error and a Student-t interval on the Welch–Satterthwaite degrees of freedom:

.. math:: \hat\tau = \bar y_T - \bar y_C, \qquad \widehat{se} = \sqrt{s_T^2 / n_T + s_C^2 / n_C}, \qquad
   \nu = \frac{\widehat{se}^4}{\frac{(s_T^2/n_T)^2}{n_T - 1} + \frac{(s_C^2/n_C)^2}{n_C - 1}}.

An action **paid** when its value uplift (margin × revenue uplift + value per referral × referral uplift)
exceeds its cost per customer contacted over the whole interval, is **harmful** when the uplift's interval lies
entirely below zero, **did not pay** otherwise, and is **not yet measured** until each arm has the minimum
number of outcomes whose windows have fully elapsed.

References
----------
Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*, 2nd ed., ch. 6 (differences
between proportions, the arcsine effect size :math:`h`). Lehr, R. (1992). Sixteen S-squared over D-squared: a
relation for crude sample size estimates. *Statistics in Medicine* 11(8), 1099–1102. Welch, B. L. (1947). The
generalization of "Student's" problem when several different population variances are involved.
*Biometrika* 34(1/2), 28–35. Radcliffe, N. J. (2007). Using control groups to target on predicted lift.
*Direct Marketing Analytics Journal* 1, 14–21.
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
from socialvalue.decisions.uplift import QiniCurve, qini_curve
from socialvalue.errors import ConfigError, SchemaError

__all__ = [
    "ALL_SEGMENTS",
    "ARMS",
    "METRICS",
    "VERDICTS",
    "ExperimentConfig",
    "Holdout",
    "apply_holdout",
    "assignment_uniforms",
    "detectable_effect",
    "hold_out",
    "measure_uplift",
    "measured_values",
    "paid_verdicts",
    "power_two_sample",
    "qini_curves",
    "required_control_share",
]

Arm = Literal["treated", "control"]
Verdict = Literal["paid", "did not pay", "harmful", "not yet measured"]

#: The two arms of an experiment.
ARMS: tuple[str, str] = ("treated", "control")
#: The verdicts of :func:`paid_verdicts`.
VERDICTS: tuple[str, ...] = ("paid", "did not pay", "harmful", "not yet measured")
#: Outcomes measured in the window after an action, per customer; ``value`` is derived from two of them.
METRICS: tuple[str, ...] = ("purchases", "revenue", "referrals", "churned", "value")
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
    """

    control_share: float = Field(default=0.10, gt=0.0, lt=1.0)
    max_control_share: float = Field(default=0.50, gt=0.0, lt=1.0)
    min_detectable_effect: float | None = Field(default=None, gt=0.0, lt=1.0)
    baseline_rate: float | None = Field(default=None, gt=0.0, lt=1.0)
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    power: float = Field(default=0.80, gt=0.0, lt=1.0)
    window_days: int = Field(default=30, ge=1, le=3650)
    min_outcomes: int = Field(default=30, ge=2)
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)
    strata: tuple[str, ...] = ("segment", "tier")
    method: Literal["hash", "stratified"] = "hash"
    seed: int = Field(default=0, ge=0, lt=2**63)

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


# -- measured uplift ----------------------------------------------------------------------------------------------


def _welch(groups: pd.DataFrame, z_level: float) -> pd.DataFrame:
    """Uplift, Welch SE, degrees of freedom and the Student-t interval from per-arm count, mean and variance."""
    from scipy.special import stdtrit

    n_t, n_c = groups["n_treated"], groups["n_control"]
    a = groups["var_treated"].fillna(0.0) / n_t
    b = groups["var_control"].fillna(0.0) / n_c
    se = np.sqrt(a + b)
    denom = a**2 / (n_t - 1).clip(lower=1) + b**2 / (n_c - 1).clip(lower=1)
    df = pd.Series(np.inf, index=groups.index)
    pos = denom > 0
    df[pos] = (a + b)[pos] ** 2 / denom[pos]
    q = stdtrit(df.to_numpy(), 0.5 + z_level / 2.0)
    uplift = groups["mean_treated"] - groups["mean_control"]
    return groups.assign(uplift=uplift, se=se, df=df, lower=uplift - q * se, upper=uplift + q * se)


def _with_value(frame: pd.DataFrame, margin: float, referral_value: float) -> pd.DataFrame:
    """``frame`` with the ``value`` outcome: ``margin × revenue + referral_value × referrals``."""
    revenue = frame["revenue"].astype(float)
    referrals = frame["referrals"].astype(float)
    return frame.assign(value=margin * revenue + referral_value * referrals)


def measure_uplift(
    outcomes: pd.DataFrame,
    *,
    margin: float = 1.0,
    referral_value: float = 0.0,
    confidence: float = 0.95,
    min_outcomes: int = 30,
    metrics: Sequence[str] = METRICS,
) -> pd.DataFrame:
    """Uplift (treated minus control) per action, per segment and over all segments, with Welch intervals.

    Parameters
    ----------
    outcomes
        One row per assignment: ``action, segment, arm`` (``treated``/``control``), ``measured`` (the window
        has fully elapsed; optional, default all) and the outcomes ``purchases, revenue, referrals, churned``.
    margin
        Contribution margin: the ``value`` outcome is ``margin × revenue + referral_value × referrals``.
    referral_value
        Value of one referral made (currency).
    confidence
        Level of the intervals.
    min_outcomes
        Measured customers needed in each arm; below it the row's ``status`` is ``"not yet measured"``.
    metrics
        Outcomes to estimate (of :data:`METRICS`).

    Returns
    -------
    DataFrame
        One row per (action, segment, metric), ``segment`` :data:`ALL_SEGMENTS` for the whole action:
        ``n_treated, n_control, mean_treated, mean_control, uplift, se, df, lower, upper, status``
        (``"measured"`` or ``"not yet measured"``; the estimates are NaN then).
    """
    need = ["action", "segment", "arm"]
    missing = [c for c in need if c not in outcomes.columns]
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise ConfigError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")
    frame = outcomes.copy()
    if "value" in metrics and "value" not in frame.columns:
        missing += [c for c in ("revenue", "referrals") if c not in frame.columns]
        if not missing:
            frame = _with_value(frame, margin, referral_value)
    missing += [m for m in metrics if m not in frame.columns and m not in missing]
    if missing:
        raise SchemaError(f"outcomes lack column(s) {', '.join(dict.fromkeys(missing))}")
    bad = sorted(set(frame["arm"].astype(str)) - set(ARMS))
    if bad:
        raise SchemaError(f"arm must be 'treated' or 'control', got {', '.join(bad)}")
    if "measured" in frame.columns:
        frame = frame[frame["measured"].astype(bool)]
    frame = frame.assign(action=frame["action"].astype(str), segment=frame["segment"].astype(str))
    all_actions = sorted(set(outcomes["action"].astype(str)))
    rows = []
    for metric in metrics:
        long = frame[["action", "segment", "arm", metric]].rename(columns={metric: "y"})
        long = long.assign(y=long["y"].astype(float))
        both = pd.concat([long, long.assign(segment=ALL_SEGMENTS)], ignore_index=True)
        g = both.groupby(["action", "segment", "arm"])["y"].agg(["count", "mean", "var"]).unstack("arm")
        stats_ = pd.DataFrame(index=g.index)
        for arm in ARMS:
            for stat, col in (("count", "n"), ("mean", "mean"), ("var", "var")):
                stats_[f"{col}_{arm}"] = g[(stat, arm)] if (stat, arm) in g.columns else np.nan
        stats_[["n_treated", "n_control"]] = stats_[["n_treated", "n_control"]].fillna(0).astype(int)
        stats_ = stats_.reindex(
            stats_.index.union(
                pd.MultiIndex.from_product([all_actions, [ALL_SEGMENTS]], names=["action", "segment"])
            ),
            fill_value=0,
        )
        for col in ("mean_treated", "mean_control", "var_treated", "var_control"):
            stats_.loc[stats_["n_treated"].eq(0) | stats_["n_control"].eq(0), col] = np.nan
        enough = (stats_["n_treated"] >= min_outcomes) & (stats_["n_control"] >= min_outcomes)
        est = _welch(stats_.where(enough), confidence)
        est[["n_treated", "n_control"]] = stats_[["n_treated", "n_control"]]
        est[["mean_treated", "mean_control"]] = stats_[["mean_treated", "mean_control"]]
        est["status"] = np.where(enough, "measured", "not yet measured")
        rows.append(est.drop(columns=["var_treated", "var_control"]).assign(metric=metric).reset_index())
    columns = [
        "action", "segment", "metric", "n_treated", "n_control", "mean_treated", "mean_control", "uplift",
        "se", "df", "lower", "upper", "status",
    ]  # fmt: skip
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)
    out = out[columns]
    return out.sort_values(["action", "metric", "segment"], ignore_index=True)


def _money(x: float) -> str:
    return f"{x:+,.2f}"


def paid_verdicts(
    uplift: pd.DataFrame, costs: Mapping[str, float], *, metric: str = "value", confidence: float = 0.95
) -> pd.DataFrame:
    """Whether each action paid: its value uplift per customer contacted against its cost, with the interval.

    Parameters
    ----------
    uplift
        :func:`measure_uplift`'s table (the rows of ``metric`` are read, per segment and over all).
    costs
        Cost per customer contacted, by action (an action missing here costs 0).
    metric
        The uplift compared with the cost (``value``: margin × revenue + value of referrals).
    confidence
        Level of the intervals (for the sentence).

    Returns
    -------
    DataFrame
        One row per (action, segment): ``uplift, lower, upper, cost, net, net_lower, net_upper, verdict,
        sentence``; ``verdict`` is one of :data:`VERDICTS`.
    """
    rows = uplift[uplift["metric"] == metric].copy()
    cost = rows["action"].map(lambda a: float(costs.get(a, 0.0))).astype(float)
    rows["cost"] = cost
    rows["net"] = rows["uplift"] - cost
    rows["net_lower"] = rows["lower"] - cost
    rows["net_upper"] = rows["upper"] - cost
    measured = rows["status"] == "measured"
    rows["verdict"] = np.select(
        [~measured, rows["upper"] < 0, rows["net_lower"] > 0],
        ["not yet measured", "harmful", "paid"],
        "did not pay",
    )
    level = _pct(confidence)
    sentences = []
    for r in rows.itertuples(index=False):
        who = r.action if r.segment == ALL_SEGMENTS else f"{r.action} ({r.segment})"
        if r.verdict == "not yet measured":
            sentences.append(
                f"{who}: not yet measured ({r.n_treated:,} treated and {r.n_control:,} held-out customers with "
                "a fully elapsed window so far)"
            )
            continue
        body = (
            f"{who}: {_money(r.uplift)} of {metric} per customer contacted ({level} interval "
            f"{_money(r.lower)} to {_money(r.upper)}) against a cost of {r.cost:,.2f}"
        )
        tail = {
            "paid": "paid",
            "harmful": "harmful: those who got it bought less than those held out",
            "did not pay": (
                "did not pay (the interval still reaches break-even)" if r.net > 0 else "did not pay"
            ),
        }[r.verdict]
        sentences.append(f"{body}: {tail}")
    rows["sentence"] = sentences
    cols = [
        "action", "segment", "n_treated", "n_control", "uplift", "lower", "upper", "cost", "net", "net_lower",
        "net_upper", "verdict", "sentence",
    ]  # fmt: skip
    return rows[cols].reset_index(drop=True)


def measured_values(
    uplift: pd.DataFrame,
    segments: Iterable[str],
    *,
    metric: str = "value",
    shrink: bool = True,
) -> dict[str, dict[str, float]]:
    r"""Per measured action, the incremental value per customer of each segment, for the next allocation.

    The same shape as the campaign uplift a run feeds to :func:`~socialvalue.decisions.allocate.allocate`
    (``{action: {segment: value}}``; ``estimated_values = {a: scores["segment"].map(v).fillna(0)}``): these
    measured values then replace the playbook's assumed ``uplift × base`` for those actions. Actions not yet
    measured are left out (their assumption stands).

    A segment measured on its own gets its estimate, shrunk (``shrink``) towards the action's by precision
    (normal–normal empirical Bayes, the between-segment variance :math:`\hat\tau^2` by moments):

    .. math:: \tilde\tau_s = \frac{\hat\tau^2\,\hat\tau_s + \widehat{se}_s^2\,\hat\tau_{\text{all}}}
       {\hat\tau^2 + \widehat{se}_s^2};

    a segment not measured (too few outcomes, or absent from the experiment) gets the action's estimate.

    Parameters
    ----------
    uplift
        :func:`measure_uplift`'s table.
    segments
        Every segment the next allocation will see (the keys of each action's values).
    metric
        The uplift taken as incremental value (``value``, in currency).
    shrink
        Shrink segment estimates towards the action's.
    """
    rows = uplift[(uplift["metric"] == metric) & (uplift["status"] == "measured")]
    segments = [str(s) for s in segments]
    out: dict[str, dict[str, float]] = {}
    for action, grp in rows.groupby("action", sort=True):
        overall = grp[grp["segment"] == ALL_SEGMENTS]
        if overall.empty:
            continue
        tau_all = float(overall["uplift"].iloc[0])
        own = grp[grp["segment"] != ALL_SEGMENTS].set_index("segment")
        est = own["uplift"].astype(float)
        # a segment's sampling variance, at least what the action's outcome variance gives its arm sizes (a
        # small segment whose outcomes happen to be all equal is not thereby certain)
        inv_all = 1.0 / float(overall["n_treated"].iloc[0]) + 1.0 / float(overall["n_control"].iloc[0])
        inv_own = 1.0 / own["n_treated"].astype(float) + 1.0 / own["n_control"].astype(float)
        var = np.maximum(own["se"].astype(float) ** 2, float(overall["se"].iloc[0]) ** 2 * inv_own / inv_all)
        if shrink and len(own) >= 2:
            between = max(0.0, float(est.var(ddof=1)) - float(var.mean()))
            w = pd.Series(1.0, index=own.index)
            pos = (between + var) > 0
            w[pos] = between / (between + var[pos])
            est = w * est + (1 - w) * tau_all
        elif shrink:
            est = pd.Series(tau_all, index=own.index)
        out[str(action)] = {s: float(est.get(s, tau_all)) for s in segments}
    return out


def qini_curves(
    outcomes: pd.DataFrame,
    *,
    score: str = "score",
    metric: str = "value",
    margin: float = 1.0,
    referral_value: float = 0.0,
) -> dict[str, QiniCurve]:
    """Per action, the Qini curve of the targeting ``score`` on the measured outcomes (Radcliffe 2007).

    ``outcomes`` as for :func:`measure_uplift` (``value`` derived the same way when absent). Only measured
    rows with a score count; an action without both arms gets no curve.
    """
    frame = outcomes
    if metric == "value" and "value" not in frame.columns and {"revenue", "referrals"} <= set(frame.columns):
        frame = _with_value(frame, margin, referral_value)
    if "measured" in frame.columns:
        frame = frame[frame["measured"].astype(bool)]
    if score not in frame.columns or metric not in frame.columns:
        return {}
    frame = frame[frame[score].notna()]
    curves = {}
    for action, grp in frame.groupby("action", sort=True):
        t = (grp["arm"] == "treated").to_numpy(int)
        if t.all() or not t.any():
            continue
        curves[str(action)] = qini_curve(grp[metric].to_numpy(float), t, grp[score].to_numpy(float))
    return curves
