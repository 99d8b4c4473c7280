r"""Simulated responses to exported actions: the demo shop's customers react with a known true uplift.

Given the customers an export reached or held out (each with an action, an arm and a segment), the demo
simulates what happens in the window after the action, as canonical rows appended to the shop:

* **purchases**: customer :math:`i` buys :math:`N_i \sim \text{Poisson}(\mu_i (1 + \ell_{a,s} T_i))` times,
  at uniform times in the window, where :math:`\mu_i = \lambda_i W` is the BG/NBD purchase rate of the demo's
  truth times the window's length (a small floor rate for a customer who had dropped out or never bought),
  :math:`T_i` is 1 when treated and :math:`\ell_{a,s}` is the true **purchase lift** of action :math:`a` in
  segment :math:`s`; each purchase spends :math:`\text{Gamma}(p, \nu_i)` (the truth's Gamma-Gamma rate);
* **referrals**: :math:`R_i \sim \text{Poisson}(\rho W (1 + r_{a} T_i))` new customers, each a ``customers``
  row signed up through ``referral`` and a ``relationships`` row ``referred``.

The true uplift per action and segment is the mean, over the cell's customers, of the expected difference
their treatment makes:

.. math:: \tau^{\text{purchases}}_{a,s} = \overline{\mu_i \ell_{a,s}}, \quad
   \tau^{\text{revenue}}_{a,s} = \overline{\mu_i \ell_{a,s}\, p / \nu_i}, \quad
   \tau^{\text{referrals}}_{a,s} = \rho W r_a, \quad
   \tau^{\text{churned}}_{a,s} = \overline{e^{-\mu_i (1 + \ell_{a,s})} - e^{-\mu_i}},

what the difference of treated and control means estimates under the random assignment. The default
effects (:data:`DEFAULT_EFFECTS`) include an action that works (:data:`EFFECTIVE`), one that does nothing
(:data:`USELESS`) and one that harms (:data:`HARMFUL`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import Field

from socialvalue.config import ConfigModel
from socialvalue.datasets._common import fixed_width_ids, ingest_tables
from socialvalue.demo._arrow import money as _money
from socialvalue.demo._arrow import timestamps as _timestamps
from socialvalue.demo.config import DemoConfig
from socialvalue.errors import SchemaError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from socialvalue.ingest.load import LoadReport
    from socialvalue.store import Store

__all__ = [
    "DEFAULT_EFFECTS",
    "EFFECTIVE",
    "HARMFUL",
    "USELESS",
    "ActionEffect",
    "DemoResponses",
    "simulate_responses",
]

logger = logging.getLogger(__name__)


class ActionEffect(ConfigModel):
    """The true effect of one action on the customers who get it.

    Attributes
    ----------
    purchase_lift
        Relative change of the purchase rate in the window (0.5: half as many purchases again; -0.3: 30%
        fewer), in every segment not in ``by_segment``.
    by_segment
        Purchase lift per segment, where it differs.
    referral_lift
        Relative change of the referral rate in the window.
    """

    purchase_lift: float = Field(default=0.0, ge=-1.0)
    by_segment: dict[str, float] = Field(default_factory=dict)
    referral_lift: float = Field(default=0.0, ge=-1.0)

    def lift(self, segment: str) -> float:
        """The purchase lift in ``segment``."""
        return float(self.by_segment.get(segment, self.purchase_lift))


#: The action that works, the one that does nothing and the one that harms, in :data:`DEFAULT_EFFECTS`.
EFFECTIVE = "second_purchase_nudge"
USELESS = "loyalty_upgrade"
HARMFUL = "win_back"

#: True effects of the built-in playbook's actions (an action absent here has no effect at all).
DEFAULT_EFFECTS: dict[str, ActionEffect] = {
    "welcome_onboarding": ActionEffect(purchase_lift=0.25),
    # a coupon that about triples a one-time buyer's purchases in the window: it pays at the default margin
    EFFECTIVE: ActionEffect(purchase_lift=2.0, by_segment={"New": 2.5, "Promising": 2.2}),
    USELESS: ActionEffect(purchase_lift=0.0),
    "referral_invitation": ActionEffect(purchase_lift=0.05, referral_lift=3.0),
    "influencer_programme": ActionEffect(purchase_lift=0.1, referral_lift=1.0),
    "review_request": ActionEffect(purchase_lift=0.02),
    HARMFUL: ActionEffect(purchase_lift=-0.5, by_segment={"Can't lose them": -0.3}),
    "reactivation": ActionEffect(purchase_lift=0.3),
}


@dataclass
class DemoResponses:
    """The simulated responses: canonical rows to append to the shop, and the truth they were drawn from.

    Attributes
    ----------
    customers, orders, relationships
        Canonical tables (Arrow): the referred newcomers, the purchases in the windows, the referrals.
    truth
        One row per (action, segment): ``n, n_treated, n_control, purchase_lift, referral_lift`` and the true
        uplift per customer of each outcome, ``purchases, revenue, referrals, churned``.
    customer_truth
        One row per assignment: ``customer_id, action, segment, arm, assigned_at, window_days, mu,
        mean_spend, lift, referral_rate`` and the simulated ``purchases, revenue, referrals``.
    params
        Seed, floor and referral rates, spend shape.
    """

    customers: pa.Table
    orders: pa.Table
    relationships: pa.Table
    truth: pd.DataFrame
    customer_truth: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def tables(self) -> dict[str, pa.Table]:
        """The canonical tables keyed by kind."""
        return {"customers": self.customers, "orders": self.orders, "relationships": self.relationships}

    def load_into(self, store: Store, **ingest_options: Any) -> dict[str, LoadReport]:
        """Append the rows to ``store`` (customers first) with :func:`socialvalue.ingest.load.ingest`."""
        return ingest_tables(store, self.tables, **ingest_options)


def _truth_frame(truth: Any) -> pd.DataFrame:
    frame = (
        truth.to_pandas() if hasattr(truth, "to_pandas") and not isinstance(truth, pd.DataFrame) else truth
    )
    missing = [c for c in ("customer_id", "is_buyer", "lambda", "death_at", "nu") if c not in frame.columns]
    if missing:
        raise SchemaError(f"the demo truth lacks column(s) {', '.join(missing)}")
    return frame[["customer_id", "is_buyer", "lambda", "death_at", "nu"]]


def simulate_responses(
    assignments: pd.DataFrame,
    truth: Any,
    *,
    effects: Mapping[str, ActionEffect] | None = None,
    seed: int = 0,
    assigned_at: Any = None,
    window_days: int | None = None,
    config: DemoConfig | None = None,
    referral_rate: float = 0.0005,
    floor_rate: float = 0.0005,
    id_prefix: str | None = None,
) -> DemoResponses:
    """Simulate the window after each action (see the module docstring), seeded.

    Parameters
    ----------
    assignments
        One row per customer and action: ``customer_id, action, arm`` (``treated``/``control``), ``segment``
        and, unless given below, ``assigned_at`` and ``window_days`` (the ``_assignments`` rows, or a
        hold-out's assignment).
    truth
        The demo's per-customer truth (:attr:`~socialvalue.demo.DemoData.truth`): ``lambda``, ``death_at``,
        ``nu``, ``is_buyer``.
    effects
        True effect per action (default :data:`DEFAULT_EFFECTS`); an action absent has none.
    seed
        Seed of every draw: the same arguments give identical rows.
    assigned_at, window_days
        For every row, when the assignment columns are absent.
    config
        The demo's parameters (spend shape ``gg_p``, currency, countries and consent shares of newcomers).
    referral_rate
        Referrals a customer makes per day without any action.
    floor_rate
        Purchases per day of a customer who had dropped out (or never bought) by the action.
    id_prefix
        Prefix of the new order and customer ids (default ``R<date of the first action>S<seed>``), so that
        several rounds of responses never collide.

    Returns
    -------
    DemoResponses
        The rows and the truth.
    """
    import pyarrow as pa

    cfg = config or DemoConfig()
    effects = DEFAULT_EFFECTS if effects is None else effects
    need = ["customer_id", "action", "arm", "segment"]
    missing = [c for c in need if c not in assignments.columns]
    if missing:
        raise SchemaError(f"assignments lack column(s) {', '.join(missing)}")
    frame = assignments[need].astype(str).reset_index(drop=True)
    bad = sorted(set(frame["arm"]) - {"treated", "control"})
    if bad:
        raise SchemaError(f"arm must be 'treated' or 'control', got {', '.join(bad)}")
    if "assigned_at" in assignments.columns and assigned_at is None:
        at = pd.to_datetime(assignments["assigned_at"].to_numpy())
    elif assigned_at is not None:
        at = pd.DatetimeIndex(np.full(len(frame), pd.Timestamp(assigned_at).to_datetime64()))
    else:
        raise SchemaError("assignments lack an assigned_at column: pass assigned_at=")
    if "window_days" in assignments.columns and window_days is None:
        window = assignments["window_days"].to_numpy(dtype=float)
    elif window_days is not None:
        window = np.full(len(frame), float(window_days))
    else:
        raise SchemaError("assignments lack a window_days column: pass window_days=")
    frame["assigned_at"] = at
    frame["window_days"] = window

    t = _truth_frame(truth).drop_duplicates("customer_id").set_index("customer_id")
    known = frame["customer_id"].isin(t.index)
    if not known.all():
        raise SchemaError(f"{int((~known).sum())} assigned customers are not in the demo truth")
    row = t.loc[frame["customer_id"]]
    death = pd.to_datetime(row["death_at"].to_numpy())
    alive = row["is_buyer"].fillna(False).to_numpy(bool) & (death > frame["assigned_at"].to_numpy())
    rate = np.where(alive, row["lambda"].to_numpy(float), floor_rate)
    mu = np.nan_to_num(rate, nan=floor_rate) * window
    nu = row["nu"].to_numpy(float)
    nu = np.where(np.isfinite(nu) & (nu > 0), nu, (cfg.gg_q - 1.0) / cfg.gg_v)
    mean_spend = cfg.gg_p / nu
    none = ActionEffect()
    lift = np.array(
        [effects.get(a, none).lift(s) for a, s in zip(frame["action"], frame["segment"], strict=True)]
    )
    ref_lift = np.array([effects.get(a, none).referral_lift for a in frame["action"]])
    treated = (frame["arm"] == "treated").to_numpy()

    rng = np.random.default_rng(np.random.SeedSequence(seed))
    n_buy = rng.poisson(mu * (1.0 + lift * treated))
    rho = referral_rate * window
    n_ref = rng.poisson(rho * (1.0 + ref_lift * treated))

    epoch = frame["assigned_at"].min().to_pydatetime()
    offset = (frame["assigned_at"] - pd.Timestamp(epoch)).dt.total_seconds().to_numpy() / 86_400.0
    prefix = id_prefix or f"R{epoch:%Y%m%d}S{seed}"

    who = np.repeat(np.arange(len(frame)), n_buy)
    when = offset[who] + rng.random(who.size) * window[who]
    spend = rng.gamma(cfg.gg_p, 1.0 / nu[who])
    order = np.lexsort((who, when))
    who, when, spend = who[order], when[order], spend[order]
    ids = frame["customer_id"].to_numpy(object)
    orders = pa.table(
        {
            "order_id": fixed_width_ids(f"{prefix}O", np.arange(who.size), max(8, len(str(who.size)))),
            "customer_id": pa.array(ids[who], pa.string()),
            "ordered_at": _timestamps(epoch, when),
            "amount": _money(spend),
            "currency": pa.array([cfg.currency] * who.size, pa.string()),
            "status": pa.array(["completed"] * who.size, pa.string()),
            "quantity": pa.array(1 + rng.poisson(cfg.mean_extra_items, who.size), pa.int32()),
        }
    )

    referrer = np.repeat(np.arange(len(frame)), n_ref)
    ref_when = offset[referrer] + rng.random(referrer.size) * window[referrer]
    new_ids = fixed_width_ids(f"{prefix}C", np.arange(referrer.size), max(6, len(str(referrer.size))))
    countries = list(cfg.countries)
    shares = np.array([cfg.countries[c] for c in countries])
    customers = pa.table(
        {
            "customer_id": new_ids,
            "signup_at": _timestamps(epoch, ref_when),
            "acquisition_channel": pa.array(["referral"] * referrer.size, pa.string()),
            "country": pa.array(
                [countries[k] for k in rng.choice(len(countries), referrer.size, p=shares / shares.sum())],
                pa.string(),
            ),
            "consent_marketing": pa.array(rng.random(referrer.size) < cfg.consent_marketing),
            "consent_profiling": pa.array(rng.random(referrer.size) < cfg.consent_profiling),
        }
    )
    relationships = pa.table(
        {
            "src_id": pa.array(ids[referrer], pa.string()),
            "dst_id": new_ids,
            "kind": pa.array(["referred"] * referrer.size, pa.string()),
            "created_at": _timestamps(epoch, ref_when),
            "ended_at": pa.array([None] * referrer.size, pa.timestamp("us")),
        }
    )

    purchases = np.bincount(who, minlength=len(frame))
    revenue = np.bincount(who, weights=np.round(spend, 2), minlength=len(frame))
    per_customer = frame.assign(
        mu=mu,
        mean_spend=mean_spend,
        lift=lift,
        referral_rate=rho,
        referral_lift=ref_lift,
        purchases=purchases,
        revenue=revenue,
        referrals=n_ref,
    )
    cell = per_customer.assign(
        t_purchases=mu * lift,
        t_revenue=mu * lift * mean_spend,
        t_referrals=rho * ref_lift,
        t_churned=np.exp(-mu * (1.0 + lift)) - np.exp(-mu),
        is_treated=treated,
    )
    truth_table = (
        cell.groupby(["action", "segment"], sort=True)
        .agg(
            n=("customer_id", "size"),
            n_treated=("is_treated", "sum"),
            purchase_lift=("lift", "first"),
            referral_lift=("referral_lift", "first"),
            purchases=("t_purchases", "mean"),
            revenue=("t_revenue", "mean"),
            referrals=("t_referrals", "mean"),
            churned=("t_churned", "mean"),
        )
        .reset_index()
    )
    truth_table.insert(4, "n_control", truth_table["n"] - truth_table["n_treated"])
    logger.info(
        "demo responses: %d purchases and %d referrals by %d assigned customers",
        who.size,
        referrer.size,
        len(frame),
    )
    return DemoResponses(
        customers=customers,
        orders=orders,
        relationships=relationships,
        truth=truth_table,
        customer_truth=per_customer.drop(columns=["referral_lift"]),
        params={
            "seed": seed,
            "referral_rate": referral_rate,
            "floor_rate": floor_rate,
            "gg_p": cfg.gg_p,
            "id_prefix": prefix,
            "effects": {a: e.model_dump() for a, e in effects.items()},
            "start": epoch.isoformat(),
            "end": (epoch + dt.timedelta(days=float((offset + window).max()))).isoformat(),
        },
    )
