"""The CDNOW purchase log (Fader, Hardie & Lee 2005) in canonical form, and its calibration summary.

CDNOW sold CDs online; the data follow the 23,570 customers who first bought in the first quarter of 1997
until the end of June 1998. Two files are read here:

* the transaction log, either the papers' 1/10 sample ``CDNOW_sample.txt`` (2,357 customers, 6,919 rows,
  shipped with socialvalue) or the full ``CDNOW_master.txt`` (23,570 customers, 69,659 rows, read from the
  shared data folder or a path);
* ``cdnow_summary_calibration.csv``, the papers' per-customer summary of the sample over the 39-week
  calibration period (shipped with socialvalue).

Mapping choices
---------------
* ``customer_id`` is the 5-digit master id as written in the file (``"00004"``); the sample's own id
  (1..2357, the ``ID`` of the calibration summary) is kept as the non-canonical column ``sample_id``.
* ``signup_at`` is the customer's first purchase date (the cohort is defined by it); channel, country are
  unknown (null); consent columns take the schema defaults.
* One row of the log is one order, even when a customer bought several times on the same day (the papers
  count such purchases once per day; that is the feature engine's job, not the loader's). ``order_id`` is
  ``"<customer_id>-<n>"`` with ``n`` the 1-based position of the row among the customer's rows (by date, then
  file order), so it is stable across runs.
* ``ordered_at`` is midnight UTC of the purchase date, ``amount`` the dollar value, ``currency`` ``USD``,
  ``quantity`` the number of CDs, ``status`` ``completed``.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: An alternative to
the Pareto/NBD model. *Marketing Science* 24(2), 275-284.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from socialvalue.datasets._common import package_file, shared_file

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = ["load_summary", "load_transactions", "read_log"]

_SAMPLE = "CDNOW_sample.txt"
_MASTER = "CDNOW_master.txt"
_SUMMARY = "cdnow_summary_calibration.csv"


def read_log(path: str | os.PathLike[str] | None = None, *, sample: bool = True) -> pd.DataFrame:
    """Read the raw CDNOW log into a frame with ``customer_id, date, number_of_cds, dollar_value``.

    Parameters
    ----------
    path
        File to read. ``None`` reads the packaged sample (``sample=True``) or ``CDNOW_master.txt`` from the
        shared data folder (``sample=False``).
    sample
        Whether the file is in the sample layout (which has an extra ``sample_id`` column and no header).

    Returns
    -------
    pandas.DataFrame
        One row per log line, in file order; ``date`` as ``datetime64``; ``sample_id`` too for the sample.
    """
    if path is None:
        file = package_file("cdnow", _SAMPLE) if sample else shared_file("cdnow", _MASTER)
    else:
        file = shared_file(path=path)
    if sample:
        names = ["customer_id", "sample_id", "date", "number_of_cds", "dollar_value"]
        frame = pd.read_csv(file, sep=r"\s+", header=None, names=names, dtype={0: str, 1: "int64", 2: str})
    else:
        frame = pd.read_csv(file, sep=r"\s+", header=0, dtype={"customer_id": str, "date": str})
        frame = frame[["customer_id", "date", "number_of_cds", "dollar_value"]]
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame


def load_transactions(path: str | os.PathLike[str] | None = None, sample: bool = True) -> dict[str, pa.Table]:
    """Load the CDNOW log as canonical ``customers`` and ``orders`` tables.

    Parameters
    ----------
    path
        Log file; ``None`` reads the packaged sample (``sample=True``) or the master file from the shared data
        folder (``sample=False``; see :func:`socialvalue.datasets.shared_file`).
    sample
        ``True`` for the 1/10 sample layout, ``False`` for ``CDNOW_master.txt``.

    Returns
    -------
    dict of str to pyarrow.Table
        ``{"customers": ..., "orders": ...}`` in canonical column names and types, ready for
        ``Store.ingest`` (or :func:`socialvalue.datasets.ingest_tables`).

    Examples
    --------
    >>> from socialvalue.datasets import cdnow
    >>> tables = cdnow.load_transactions()
    >>> tables["customers"].num_rows, tables["orders"].num_rows
    (2357, 6919)
    """
    import pyarrow as pa

    log = read_log(path, sample=sample)
    # Stable sort keeps same-day purchases in file order, so the synthesized ids are reproducible.
    log = log.sort_values(["customer_id", "date"], kind="stable", ignore_index=True)
    seq = log.groupby("customer_id", sort=False).cumcount() + 1
    order_id = log["customer_id"] + "-" + seq.astype(str).str.zfill(3)

    n = len(log)
    orders = pa.table(
        {
            "order_id": pa.array(order_id.to_numpy(dtype=object), pa.string()),
            "customer_id": pa.array(log["customer_id"].to_numpy(dtype=object), pa.string()),
            "ordered_at": pa.array(log["date"].to_numpy().astype("datetime64[us]"), pa.timestamp("us")),
            "amount": pa.array(np.round(log["dollar_value"].to_numpy(float), 4)).cast(pa.decimal128(18, 4)),
            "currency": pa.array(["USD"] * n, pa.string()),
            "status": pa.array(["completed"] * n, pa.string()),
            "quantity": pa.array(log["number_of_cds"].to_numpy(), pa.int32()),
        }
    )

    agg = {"signup_at": ("date", "min")}
    if sample:
        agg["sample_id"] = ("sample_id", "first")
    first = log.groupby("customer_id", sort=True).agg(**agg).reset_index()
    columns = {
        "customer_id": pa.array(first["customer_id"].to_numpy(dtype=object), pa.string()),
        "signup_at": pa.array(first["signup_at"].to_numpy().astype("datetime64[us]"), pa.timestamp("us")),
    }
    if sample:
        columns["sample_id"] = pa.array(first["sample_id"].to_numpy(), pa.int64())
    return {"customers": pa.table(columns), "orders": orders}


def load_summary(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Load the papers' 39-week calibration summary of the CDNOW sample (time unit: weeks).

    The file's ``x, t_x, T, zbar`` are renamed to the lifetimes conventions ``frequency`` (repeat
    transactions), ``recency`` (week of the last repeat purchase, after the first), ``T`` (weeks from first
    purchase to 1997-09-30) and ``monetary_value`` (mean repeat transaction value, US$; 0 when
    ``frequency`` is 0). ``ID`` (the sample id, 1..2357) is kept.

    Parameters
    ----------
    path
        CSV file; ``None`` reads the copy shipped with socialvalue.

    Returns
    -------
    pandas.DataFrame
        Columns ``ID, frequency, recency, T, monetary_value``; ``attrs["unit"] == "W"``.

    Examples
    --------
    >>> from socialvalue.datasets import cdnow
    >>> summary = cdnow.load_summary()
    >>> len(summary), int(summary["frequency"].sum())
    (2357, 2457)
    """
    file = package_file("cdnow", _SUMMARY) if path is None else shared_file(path=path)
    frame = pd.read_csv(file).rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})
    frame = frame[["ID", "frequency", "recency", "T", "monetary_value"]]
    frame.attrs["unit"] = "W"
    return frame
