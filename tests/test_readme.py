"""The README's run configuration is copyable: it validates, and a run with it finishes on a demo store."""

from __future__ import annotations

import re

import pytest

from socialvalue import Store
from socialvalue.cli import main
from socialvalue.demo import generate
from socialvalue.pipeline import RunConfig, load_run_config

from .conftest import REPO

AS_OF = "2026-07-01"  # inside the demo's history, as in tests/pipeline


def readme_config_block() -> str:
    """The first ```toml fence after "The run configuration" in README.md."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("The run configuration")
    found = re.search(r"^```toml\n(.*?)^```$", text[start:], flags=re.M | re.S)
    assert found, "no ```toml block under 'The run configuration' in README.md"
    return found.group(1)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    """A small demo shop (1,000 customers) in a store file, closed so the CLI can open it."""
    path = tmp_path_factory.mktemp("readme") / "shop.duckdb"
    with Store(path) as s:
        generate(1_000, seed=3).load_into(s)
    return path


def test_readme_config_validates(tmp_path):
    path = tmp_path / "socialvalue.toml"
    path.write_text(readme_config_block(), encoding="utf-8")
    cfg = load_run_config(path)
    assert cfg.run.unit == "W" and cfg.run.holdout_periods == 26 and cfg.actions.budget == 50_000
    assert cfg.actions.playbook is None and cfg.actions.campaign is None  # files it names are commented out
    assert "currency" not in readme_config_block()  # read from the orders
    assert cfg.social == RunConfig().social  # the values shown are the defaults


def test_readme_config_checks_and_runs(demo_store, tmp_path, capsys):
    path = tmp_path / "socialvalue.toml"
    path.write_text(readme_config_block(), encoding="utf-8")
    assert main(["config", "check", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: ok\n"
    code = main(["run", str(demo_store), "--as-of", AS_OF, "--config", str(path)])
    res = capsys.readouterr()
    assert code == 0, res.err
    assert "Traceback" not in res.out + res.err
    assert "customers scored" in res.out + res.err


def test_readme_config_with_the_playbook_line_switched_on(demo_store, tmp_path, capsys, monkeypatch):
    """Following the block's comment: `socialvalue playbook show > playbook.toml`, then uncomment the key."""
    monkeypatch.chdir(tmp_path)
    assert main(["playbook", "show"]) == 0
    (tmp_path / "playbook.toml").write_text(capsys.readouterr().out, encoding="utf-8")
    block = readme_config_block()
    switched = re.sub(r"^# (playbook = .*)$", r"\1", block, flags=re.M)
    assert switched != block
    path = tmp_path / "socialvalue.toml"
    path.write_text(switched, encoding="utf-8")
    assert load_run_config(path).actions.playbook == str(tmp_path / "playbook.toml")
    assert main(["config", "check", str(path)]) == 0
    capsys.readouterr()
    code = main(["run", str(demo_store), "--as-of", AS_OF, "--config", str(path)])
    res = capsys.readouterr()
    assert code == 0, res.err
    assert "Traceback" not in res.out + res.err
