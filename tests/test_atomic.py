"""Atomic writes: a failure halfway leaves the previous file intact and no temporary file behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from socialvalue.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from socialvalue.errors import StoreError


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".sv-tmp"))


def test_write_replaces_content_and_keeps_a_plain_file_mode(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write_text(target, "one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert _leftovers(target.parent) == []


def test_error_inside_the_block_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        tmp.write_text("half of the new")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_a_frame_whose_serialisation_raises_leaves_the_old_file(tmp_path):
    class Unwritable:
        def __str__(self):
            raise ValueError("cannot serialise")

    target = tmp_path / "f.csv"
    target.write_text("old")
    frame = pd.DataFrame({"x": [1, 2], "y": ["a", Unwritable()]})
    with pytest.raises(ValueError, match="cannot serialise"), atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False)
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_a_failing_rename_names_the_cause_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "r.html"
    target.write_text("old report")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(StoreError, match=r"cannot write .*r\.html: No space left on device"):
        atomic_write_text(target, "new report")
    assert target.read_text() == "old report"
    assert _leftovers(tmp_path) == []


def test_a_folder_in_the_way_is_a_clean_error(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(StoreError, match="cannot write"):
        atomic_write_text(tmp_path / "taken", "x")
    assert (tmp_path / "taken").is_dir()
    assert _leftovers(tmp_path) == []


def test_killed_writer_never_leaves_a_truncated_target(tmp_path):
    """A process killed between writing and renaming leaves the old file whole (the temp file may remain)."""
    target = tmp_path / "big.bin"
    target.write_bytes(b"old")
    code = (
        "import os, sys\n"
        "from socialvalue.atomic import atomic_path\n"
        f"with atomic_path({str(target)!r}) as tmp:\n"
        "    tmp.write_bytes(b'x' * 1_000_000)\n"
        "    os._exit(9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == 9
    assert target.read_bytes() == b"old"


def test_report_doctor_and_config_writes_are_atomic(tmp_path, monkeypatch):
    """The callers go through the helper: with the rename refused, each leaves its previous file."""
    from typer.testing import CliRunner

    from socialvalue.cli import app
    from socialvalue.report.builder import write_report

    config = tmp_path / "socialvalue.toml"
    config.write_text("# mine\n")
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,customer_id,ordered_at,amount\no1,c1,2026-01-02,10.5\n")
    mapping = tmp_path / "orders.mapping.toml"
    mapping.write_text("# old mapping\n")
    report = tmp_path / "r.html"
    report.write_text("old report")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    runner = CliRunner()
    res = runner.invoke(app, ["config", "init", str(config), "--force"])
    assert res.exit_code != 0 and "No space left on device" in f"{res.output}{res.exception}"
    assert config.read_text() == "# mine\n"
    res = runner.invoke(app, ["doctor", str(orders), "--kind", "orders", "--overwrite"])
    assert res.exit_code != 0 and "No space left on device" in f"{res.output}{res.exception}"
    assert mapping.read_text() == "# old mapping\n"

    class Data:  # write_report only needs something render_report accepts: a failing render is enough
        pass

    with pytest.raises(Exception):  # noqa: B017 - any render error: the point is the file left behind
        write_report(Data(), report)  # type: ignore[arg-type]
    assert report.read_text() == "old report"
    assert _leftovers(tmp_path) == []
