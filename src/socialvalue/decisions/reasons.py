"""Plain-words reasons for decisions, built column-wise (no per-customer Python loop).

A driver's template such as ``"purchases slowing (P(alive) {p_alive:.2f})"`` is split once into literals and
fields; each field is formatted for all rows at once with :func:`numpy.char.mod`, and the pieces are joined with
vectorized string concatenation.
"""

from __future__ import annotations

import re
import string

import numpy as np
import pandas as pd

from socialvalue.decisions.playbook import Action, Condition

__all__ = ["format_template", "reasons_for"]

_SPEC = re.compile(r"^(?P<prec>\.\d+)?(?P<type>[fdgs%])?$")


def _format_column(values: pd.Series, spec: str) -> np.ndarray:
    m = _SPEC.match(spec or "")
    if values.dtype.kind in "biuf" and m and m.group("type") in ("f", "d", "g", None):
        arr = values.to_numpy(dtype=float, na_value=np.nan)
        if m.group("type") == "d":
            return np.char.mod("%d", np.nan_to_num(arr).astype(np.int64))
        prec = m.group("prec") or (".0" if m.group("type") is None and values.dtype.kind in "biu" else ".2")
        return np.char.mod(f"%{prec}f", arr)
    return values.astype("string").fillna("").to_numpy(dtype=str)


def format_template(template: str, frame: pd.DataFrame) -> np.ndarray:
    """Format ``template`` (``str.format`` syntax) for every row of ``frame`` at once.

    Supports plain fields and the format specs ``.Nf``, ``d`` and ``g``; other text is copied as is.
    """
    out = np.full(len(frame), "", dtype=object)
    for literal, field, spec, _conv in string.Formatter().parse(template):
        if literal:
            out = out + literal
        if field is not None:
            out = out + _format_column(frame[field], spec or "").astype(object)
    return out


def _mask(conditions: list[Condition], frame: pd.DataFrame) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for cond in conditions:
        mask &= cond.evaluate(frame)
    return mask


def reasons_for(action: Action, frame: pd.DataFrame) -> np.ndarray:
    """Reason strings for the customers of ``frame`` who were given ``action``.

    Each reason joins the action's drivers whose conditions hold, then ``→ <label>``, e.g.
    ``"top 2% social value (spread 41 people), purchases slowing (P(alive) 0.46) → Influencer programme"``.
    """
    n = len(frame)
    if n == 0:
        return np.array([], dtype=object)
    view = frame
    if "csv_percentile" in frame.columns and "top_pct" not in frame.columns:
        view = frame.assign(
            top_pct=np.maximum(
                1.0, np.ceil(100.0 - frame["csv_percentile"].astype(float))
            )  # percentile on 0-100
        )
    text = np.full(n, "", dtype=object)
    for driver in action.drivers:
        mask = _mask(driver.when, view)
        if not mask.any():
            continue
        phrase = np.full(n, "", dtype=object)
        phrase[mask] = format_template(driver.text, view.loc[mask])
        sep = np.where((text != "") & mask, ", ", "")
        text = text + sep.astype(object) + phrase
    arrow = np.where(text != "", " → ", "→ ").astype(object)
    return text + arrow + action.label
