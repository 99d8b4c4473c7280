"""Dense integer codes of the store's customer ids, assigned once per engine.

At a million customers, joins and group-bys on string ids (Arrow-backed in pandas 3) dominate the social
computations; on codes looked up once in the engine they run several times faster. Codes are the position of
the id in ``customer_id`` order, as ``float64`` so that a missing id (the brand as an interaction target)
stays ``NaN``, as a missing string id was.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["IdCodes"]


class IdCodes:
    """Codes of a sorted array of customer ids (see the module docstring).

    Parameters
    ----------
    ids
        The customer ids in ``customer_id`` order (an Arrow array or anything numpy takes).
    """

    def __init__(self, ids: pa.Array | pa.ChunkedArray | np.ndarray) -> None:
        if isinstance(ids, pa.ChunkedArray | pa.Array):
            self.values = np.asarray(ids.to_pandas(), dtype=object)
            arrow = ids
        else:
            self.values = np.asarray(ids, dtype=object)
            arrow = pa.array(self.values, type=pa.string())
        self.table = pa.table({"customer_id": arrow, "code": np.arange(len(self.values), dtype=np.float64)})
        self._index = pd.Index(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def code(self, values: pd.Index | pd.Series | np.ndarray) -> np.ndarray:
        """Codes of string ids (``NaN`` where unknown)."""
        pos = self._index.get_indexer(pd.Index(values)).astype(np.float64)
        pos[pos < 0] = np.nan
        return pos

    def decode(self, codes: pd.Series | np.ndarray) -> np.ndarray:
        """String ids of codes."""
        return self.values[np.asarray(codes, dtype=np.float64).astype(np.int64)]

    def recode_index(self, series: pd.Series) -> pd.Series:
        """The same series indexed by codes (unknown ids dropped)."""
        codes = self.code(series.index)
        keep = ~np.isnan(codes)
        return pd.Series(series.to_numpy()[keep], index=codes[keep], name=series.name)
