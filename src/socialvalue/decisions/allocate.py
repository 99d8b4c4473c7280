r"""Next-best action: expected net value per (customer, action) and a budget- and capacity-constrained allocation.

For customer :math:`i` and action :math:`j` with eligibility :math:`e_{ij}`, the expected incremental value is

.. math:: V_{ij} = u_j \prod_{c \in B_j} s_{ic} + k_j, \qquad N_{ij} = V_{ij} - \text{cost}_j,

with :math:`u_j` the action's uplift, :math:`B_j` its base columns (e.g. CLV, churn risk) and :math:`k_j` a
constant value. A marketing action is never eligible without ``consent_marketing``.

Allocation (vectorized, in rounds): every unassigned customer proposes its best remaining action with positive
net value; each action (then each channel) accepts its proposers in decreasing net value up to its remaining
capacity; rejected customers move to their next choice. With a total budget, assigned marketing actions are
then kept in decreasing order of net value per unit cost (the greedy solution of the fractional knapsack) while
the cumulative cost fits; the rest fall back to the free action. The greedy knapsack is within one item of
the optimum (Dantzig 1957).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from socialvalue.decisions.playbook import Playbook
from socialvalue.decisions.reasons import reasons_for
from socialvalue.errors import SchemaError

__all__ = ["allocate", "expected_net_values"]

logger = logging.getLogger(__name__)


def expected_net_values(
    scores: pd.DataFrame, playbook: Playbook, estimated_values: Mapping[str, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eligibility, expected incremental value and net value for every customer × action.

    ``estimated_values`` maps an action name to per-customer incremental values (currency, aligned with
    ``scores``) estimated from campaign data; they replace that action's assumed ``uplift × base``.

    Returns
    -------
    eligible : ndarray of bool, shape (n_customers, n_actions)
    value : ndarray of float, same shape (expected incremental value, currency)
    net : ndarray of float, same shape (value − cost; ``-inf`` where not eligible)
    """
    if "consent_marketing" not in scores.columns:
        raise SchemaError("scores need a 'consent_marketing' column: marketing actions require consent")
    playbook.check_columns(scores)
    n, m = len(scores), len(playbook.actions)
    consent = scores["consent_marketing"].fillna(False).astype(bool).to_numpy()
    eligible = np.zeros((n, m), dtype=bool)
    value = np.zeros((n, m), dtype=float)
    for j, action in enumerate(playbook.actions):
        mask = np.ones(n, dtype=bool)
        for cond in action.conditions:
            mask &= cond.evaluate(scores)
        if action.marketing:
            mask &= consent
        base = np.ones(n, dtype=float)
        for col in action.base:
            base *= np.nan_to_num(scores[col].to_numpy(dtype=float, na_value=np.nan), nan=0.0)
        eligible[:, j] = mask
        if estimated_values is not None and action.name in estimated_values:
            est = np.asarray(estimated_values[action.name], dtype=float)
            if est.shape != (n,):
                raise SchemaError(
                    f"estimated values of action {action.name!r} must have one value per customer"
                )
            value[:, j] = np.nan_to_num(est, nan=0.0)
        else:
            value[:, j] = action.uplift * base + action.constant_value
    cost = np.array([a.cost for a in playbook.actions])
    net = np.where(eligible, value - cost, -np.inf)
    return eligible, value, net


def _accept(
    proposal: np.ndarray, priority: np.ndarray, group: np.ndarray, remaining: np.ndarray
) -> np.ndarray:
    """Accept proposals per group in decreasing ``priority`` while the group's remaining capacity lasts."""
    if proposal.size == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((-priority, group))
    g_sorted = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g_sorted)) + 1]
    counts = np.diff(np.r_[starts, g_sorted.size])
    rank = np.arange(g_sorted.size) - np.repeat(starts, counts)
    accepted = np.empty(proposal.size, dtype=bool)
    accepted[order] = rank < remaining[g_sorted]
    return accepted


def allocate(
    scores: pd.DataFrame,
    playbook: Playbook,
    *,
    budget: float | None = None,
    estimated_values: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Pick one action per customer: highest expected net value under budget, capacities and consent.

    Parameters
    ----------
    scores
        One row per customer with ``customer_id``, ``consent_marketing`` and the columns the playbook names.
    playbook
        Validated playbook.
    budget
        Total spend allowed; defaults to ``playbook.budget`` (``None`` = unlimited).
    estimated_values
        Per-action incremental values estimated from campaign data (see :func:`expected_net_values`).

    Returns
    -------
    DataFrame
        ``customer_id, action, label, channel, cost, expected_value, net_value, reason`` (one row per customer).
    """
    budget = playbook.budget if budget is None else budget
    _, value, net = expected_net_values(scores, playbook, estimated_values)
    n, m = net.shape
    actions = playbook.actions
    fb = next(j for j, a in enumerate(actions) if a.name == playbook.fallback)
    net_pos = np.where(net > 0, net, -np.inf)
    net_pos[:, fb] = 0.0  # the free fallback is always available
    pref = np.argsort(-net_pos, axis=1, kind="stable")
    ptr = np.zeros(n, dtype=np.int64)
    assigned = np.full(n, -1, dtype=np.int64)
    big = np.iinfo(np.int64).max // 4
    act_remaining = np.array([a.capacity if a.capacity is not None else big for a in actions], dtype=np.int64)
    # the fallback contacts nobody: it gets a channel of its own with no cap
    channel_of = [a.channel if j != fb else "\0none" for j, a in enumerate(actions)]
    channels = sorted(set(channel_of))
    ch_index = np.array([channels.index(c) for c in channel_of])
    ch_remaining = np.array([playbook.channel_capacity.get(c, big) for c in channels], dtype=np.int64)
    act_remaining[fb] = big
    ch_remaining[ch_index[fb]] = big

    for _ in range(m):
        todo = np.flatnonzero(assigned < 0)
        if todo.size == 0:
            break
        choice = pref[todo, np.minimum(ptr[todo], m - 1)]
        pnet = net_pos[todo, choice]
        dead = ~np.isfinite(pnet) | (ptr[todo] >= m)
        assigned[todo[dead]] = fb
        todo, choice, pnet = todo[~dead], choice[~dead], pnet[~dead]
        ok = _accept(todo, pnet, choice, act_remaining)
        ok_idx = np.flatnonzero(ok)
        ok2 = _accept(todo[ok_idx], pnet[ok_idx], ch_index[choice[ok_idx]], ch_remaining)
        ok[ok_idx[~ok2]] = False
        winners, wact = todo[ok], choice[ok]
        assigned[winners] = wact
        np.subtract.at(act_remaining, wact, 1)
        np.subtract.at(ch_remaining, ch_index[wact], 1)
        ptr[todo[~ok]] += 1
    assigned[assigned < 0] = fb

    cost = np.array([a.cost for a in actions])[assigned]
    rows = np.arange(n)
    dropped = np.zeros(0, dtype=np.int64)
    if budget is not None and cost.sum() > budget:
        spend = np.flatnonzero(cost > 0)
        ratio = net_pos[spend, assigned[spend]] / cost[spend]
        order = spend[np.argsort(-ratio, kind="stable")]
        keep = np.cumsum(cost[order]) <= budget
        dropped = order[~keep]
        assigned[dropped] = fb
        cost[dropped] = 0.0
        logger.info(
            "budget %.2f binds: %d planned actions dropped to %s", budget, dropped.size, playbook.fallback
        )

    expected = value[rows, assigned]
    result = pd.DataFrame(
        {
            "customer_id": scores["customer_id"].to_numpy(),
            "action": np.array([a.name for a in actions], dtype=object)[assigned],
            "label": np.array([a.label for a in actions], dtype=object)[assigned],
            "channel": np.array([c if c != "\0none" else "none" for c in channel_of], dtype=object)[assigned],
            "cost": cost,
            "expected_value": np.where(assigned == fb, 0.0, expected),
            "net_value": np.where(assigned == fb, 0.0, expected - cost),
        }
    )
    reason = np.full(n, "", dtype=object)
    for j, action in enumerate(actions):
        idx = np.flatnonzero(assigned == j)
        if idx.size and j != fb:
            reason[idx] = reasons_for(action, scores.iloc[idx].reset_index(drop=True))
    # why nothing: no consent, budget or capacity ran out, or no action pays for itself
    consent = scores["consent_marketing"].fillna(False).astype(bool).to_numpy()
    best_other = np.delete(net_pos, fb, axis=1).max(axis=1) if m > 1 else np.full(n, -np.inf)
    why = np.where(
        ~consent,
        "no marketing consent",
        np.where(
            np.isin(rows, dropped),
            "budget exhausted",
            np.where(np.isfinite(best_other), "capacity reached", "no eligible action pays for its cost"),
        ),
    ).astype(object)
    is_fb = assigned == fb
    reason[is_fb] = why[is_fb] + " → " + actions[fb].label
    result["reason"] = reason
    return result
