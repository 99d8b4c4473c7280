"""Issue 13: an I/O failure in erase, ingest or export names its cause, prints no traceback and leaves the store intact.

The failures are real: the store lives on a small tmpfs that is then filled up (the tests run as root in CI, as
here). Where mounting is not permitted, the same paths are driven by an injected ``ENOSPC`` from ``os.replace``
(the standard library, not our code).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.cli import main
from socialvalue.demo import generate


def _mount(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
        ).returncode
        == 0
    )


def _fill(path: Path) -> Path:
    filler = path / "filler.bin"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


@pytest.fixture
def small_fs(tmp_path):
    fs = tmp_path / "fs"
    mounted = _mount(fs, "24M")
    yield fs if mounted else None
    if mounted:
        subprocess.run(["umount", "-l", str(fs)], capture_output=True)


@pytest.fixture
def demo_store(tmp_path):
    path = tmp_path / "seed.duckdb"
    with Store(path) as s:
        generate(400, seed=2).load_into(s)
    return path


def _counts(db: Path) -> dict[str, int]:
    with Store(db, read_only=True) as s:
        return {t: int(s.scalar(f'SELECT count(*) FROM "{t}"')) for t in s.tables()}


def _one_clean_line(capsys) -> str:
    cap = capsys.readouterr()
    assert "Traceback" not in cap.out + cap.err
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), cap.err
    return lines[0]


def test_erase_on_a_full_disk_names_the_cause_and_keeps_the_store(small_fs, demo_store, capsys, monkeypatch):
    if small_fs is None:  # no permission to mount: the same failure, injected where the file is swapped
        db = demo_store

        def no_space(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "replace", no_space)
    else:
        db = small_fs / "shop.duckdb"
        shutil.copy(demo_store, db)
        filler = _fill(small_fs)
    with Store(db, read_only=True) as s:
        cid = s.scalar("SELECT min(customer_id) FROM customers")
    before = _counts(db)
    code = main(["erase", str(db), cid])
    line = _one_clean_line(capsys)
    assert code != 0
    assert "No space left on device" in line or "rewriting the store file failed" in line
    if small_fs is not None:
        filler.unlink()
    else:
        monkeypatch.undo()
    after = _counts(db)
    with Store(db, read_only=True) as s:
        still = s.scalar("SELECT count(*) FROM customers WHERE customer_id = ?", [cid])
    # either the erasure was rolled back as a whole, or it committed and only the file rewrite failed
    if still:
        assert after == before
    else:
        assert after["customers"] == before["customers"] - 1
        assert main(["compact", str(db)]) == 0  # and the rewrite can be finished once there is space


def test_ingest_on_a_full_disk_names_the_cause_and_loads_nothing(small_fs, demo_store, tmp_path, capsys):
    if small_fs is None:
        pytest.fail("mounting a tmpfs needs root; CI runs as root")  # pragma: no cover
    db = small_fs / "shop.duckdb"
    shutil.copy(demo_store, db)
    big = tmp_path / "customers.csv"
    n = 200_000
    pd.DataFrame({"customer_id": [f"N{i:08d}" for i in range(n)], "country": ["DE"] * n}).to_csv(
        big, index=False
    )
    before = _counts(db)
    filler = _fill(small_fs)
    code = main(["ingest", str(db), "customers", str(big)])
    line = _one_clean_line(capsys)
    assert code != 0 and ("space" in line.lower() or "disk" in line.lower()), line
    filler.unlink()
    assert _counts(db) == before


def test_export_to_a_full_disk_names_the_cause(small_fs, demo_store, tmp_path, capsys):
    if small_fs is None:
        pytest.fail("mounting a tmpfs needs root; CI runs as root")  # pragma: no cover
    db = tmp_path / "scored.duckdb"
    shutil.copy(demo_store, db)
    assert main(["run", str(db), "--as-of", "2026-07-01"]) == 0
    capsys.readouterr()
    filler = _fill(small_fs)
    code = main(["export", str(db), "--out", str(small_fs / "exports")])
    line = _one_clean_line(capsys)
    assert code != 0 and "No space left on device" in line, line
    filler.unlink()
    # nothing half-written is left behind
    leftovers = [p for p in small_fs.rglob("*") if p.is_file()]
    assert all(p.stat().st_size > 0 for p in leftovers)
