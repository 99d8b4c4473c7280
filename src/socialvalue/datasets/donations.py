"""The donations data set (Fader, Hardie & Shang 2010): 11,104 donors over 6 yearly opportunities.

The data come compressed as one row per (frequency, recency) pattern with the number of donors showing it,
the standard input of the BG/BB model. Columns are renamed to socialvalue's conventions: ``frequency``
(repeat-donation years, 0..6), ``recency`` (last year with a donation, 0..6), ``n_periods`` (opportunities,
6) and ``weight`` (donors with that pattern; they sum to 11,104).

References
----------
Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-base analysis in a discrete-time noncontractual
setting. *Marketing Science* 29(6), 1086-1108.
"""

from __future__ import annotations

import os

import pandas as pd

from socialvalue.datasets._common import package_file, shared_file

__all__ = ["load_summary"]


def load_summary(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Load the donations summary (one row per pattern, weighted).

    Parameters
    ----------
    path
        CSV file with ``frequency, recency, periods, weights``; ``None`` reads the copy shipped with
        socialvalue.

    Returns
    -------
    pandas.DataFrame
        Columns ``frequency, recency, n_periods, weight`` (all integers).

    Examples
    --------
    >>> from socialvalue.datasets import donations
    >>> summary = donations.load_summary()
    >>> len(summary), int(summary["weight"].sum())
    (22, 11104)
    """
    file = package_file("donations", "donations_summary.csv") if path is None else shared_file(path=path)
    frame = pd.read_csv(file).rename(columns={"periods": "n_periods", "weights": "weight"})
    return frame[["frequency", "recency", "n_periods", "weight"]].astype("int64")
