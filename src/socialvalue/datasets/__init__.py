"""Real public data sets in canonical form, so every model can run on real data.

* :mod:`~socialvalue.datasets.cdnow` — the CDNOW purchase log and its calibration summary (BTYD, Gamma-Gamma);
* :mod:`~socialvalue.datasets.donations` — the donations summary (BG/BB);
* :mod:`~socialvalue.datasets.ciao` — Ciao reviews and trust graph (social value).

Loaders return canonical tables (``dict`` of kind to Arrow table) or summary frames; feed the tables to a store
with :func:`ingest_tables`. Small files ship with the package; big ones are read from a path or from the folder
named by ``SOCIALVALUE_SHARED_DATA`` (default: a ``shared/data`` folder beside the working directory).
"""

from __future__ import annotations

from socialvalue.datasets._common import ENV_SHARED_DATA, DatasetNotFoundError, ingest_tables, shared_file

__all__ = ["ENV_SHARED_DATA", "DatasetNotFoundError", "ingest_tables", "shared_file"]
