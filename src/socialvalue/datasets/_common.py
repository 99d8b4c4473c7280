"""Shared plumbing of the data set loaders: where files live and how canonical tables are handed over.

Small files ship inside the package (``socialvalue/datasets/data``); big public data sets are read from a
directory named by the ``SOCIALVALUE_SHARED_DATA`` environment variable or, failing that, the first
``shared/data`` folder found beside the current working directory or one of its parents (``../shared/data``
in the project's checkout).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from socialvalue.errors import ConfigError
from socialvalue.schema import KINDS

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from socialvalue.ingest.load import LoadReport
    from socialvalue.store import Store

__all__ = [
    "ENV_SHARED_DATA",
    "DatasetNotFoundError",
    "fixed_width_ids",
    "ingest_tables",
    "package_file",
    "shared_file",
]

logger = logging.getLogger(__name__)

#: Environment variable naming the folder that holds the big public data sets.
ENV_SHARED_DATA = "SOCIALVALUE_SHARED_DATA"


class DatasetNotFoundError(ConfigError, FileNotFoundError):
    """A data set file is missing (a :class:`~socialvalue.errors.ConfigError` and a ``FileNotFoundError``)."""


def package_file(*parts: str) -> Path:
    """Path of a file shipped in ``socialvalue/datasets/data``."""
    path = Path(str(resources.files("socialvalue.datasets").joinpath("data", *parts)))
    if not path.is_file():
        raise DatasetNotFoundError(f"packaged data file {'/'.join(parts)!r} is missing from the installation")
    return path


def _shared_roots() -> list[Path]:
    env = os.environ.get(ENV_SHARED_DATA)
    if env:
        return [Path(env)]
    cwd = Path.cwd().resolve()
    return [p / "shared" / "data" for p in (cwd, *cwd.parents)]


def shared_file(*parts: str, path: str | os.PathLike[str] | None = None) -> Path:
    """Resolve a data set file: ``path`` if given, else ``<shared data>/<parts>``.

    Raises
    ------
    DatasetNotFoundError
        If the file does not exist; the message names where it looked and how to point elsewhere.
    """
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise DatasetNotFoundError(f"data set file {str(p)!r} does not exist")
        return p
    roots = _shared_roots()
    for root in roots:
        candidate = root.joinpath(*parts)
        if candidate.is_file():
            logger.debug("found %s in %s", "/".join(parts), root)
            return candidate
    raise DatasetNotFoundError(
        f"cannot find {'/'.join(parts)!r}: looked in {', '.join(str(r) for r in roots[:3])}"
        f"{' ...' if len(roots) > 3 else ''}; pass path=... or set {ENV_SHARED_DATA} to the data folder"
    )


def ingest_tables(
    store: Store, tables: Mapping[str, pa.Table], **ingest_options: Any
) -> dict[str, LoadReport]:
    """Load canonical tables into ``store`` with :func:`socialvalue.ingest.load.ingest`, customers first.

    Parameters
    ----------
    store
        A :class:`socialvalue.store.Store` (``socialvalue.Store`` too).
    tables
        Canonical tables keyed by kind (``customers``, ``orders``, ...); kinds absent are skipped.
    **ingest_options
        Passed to every ``ingest`` call (e.g. ``force=True``).

    Returns
    -------
    dict
        The :class:`~socialvalue.ingest.LoadReport` of each kind loaded.
    """
    from socialvalue.ingest.load import ingest

    unknown = sorted(set(tables) - set(KINDS))
    if unknown:
        raise ConfigError(f"not canonical table kinds: {', '.join(unknown)}")
    results = {}
    for kind in KINDS:  # customers first: the other tables reference them
        if kind in tables:
            results[kind] = ingest(store, kind, tables[kind], **ingest_options)
    return results


def fixed_width_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Arrow strings ``prefix`` + zero-padded ``numbers`` (``"C0000042"``), built without Python loops.

    The digits are written into one byte buffer by vectorised ``divmod`` and wrapped as an Arrow string array,
    which is several times faster than formatting through Arrow compute kernels.

    Parameters
    ----------
    prefix
        ASCII prefix.
    numbers
        Non-negative integers below ``10 ** width``.
    width
        Number of digits.
    """
    import pyarrow as pa

    values = np.asarray(numbers)
    n = len(values)
    head = np.frombuffer(prefix.encode("ascii"), np.uint8)
    row = len(head) + width
    if n and (values.min() < 0 or values.max() >= 10**width):
        raise ValueError(f"ids must lie in [0, 10**{width})")
    digits = np.empty((row, n), np.uint8)
    digits[: len(head)] = head[:, None]
    rest = values.astype(np.uint32 if width <= 9 else np.uint64)
    for k in range(row - 1, len(head) - 1, -1):
        rest, digit = np.divmod(rest, 10)
        digits[k] = digit
        digits[k] += 48  # ASCII "0"
    data = pa.py_buffer(np.ascontiguousarray(digits.T))
    if (n + 1) * row < 2**31:
        return pa.StringArray.from_buffers(n, pa.py_buffer(np.arange(0, (n + 1) * row, row, np.int32)), data)
    offsets = pa.py_buffer(np.arange(0, (n + 1) * row, row, np.int64))
    return pa.LargeStringArray.from_buffers(n, offsets, data)
