"""``socialvalue config`` and ``socialvalue playbook``: templates that load, checks that say what is wrong."""

from __future__ import annotations

import re
import tomllib
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from socialvalue.cli import main
from socialvalue.config import ConfigModel
from socialvalue.decisions import default_playbook, load_playbook
from socialvalue.pipeline import RunConfig, load_run_config
from socialvalue.pipeline.config_template import render_config_template, toml_value


def _leaf_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key of ``model`` and its sections, as dotted paths (``run.unit``)."""
    keys = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys += _leaf_keys(ann, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def _uncomment_examples(text: str) -> str:
    """The template with every commented-out key (``# key = value``) switched on."""
    return re.sub(r"^# ([A-Za-z0-9_-]+ = .*)$", r"\1", text, flags=re.M)


# --- the generator -------------------------------------------------------------------------------------


def test_template_loads_as_the_defaults_and_names_every_key(tmp_path):
    text = render_config_template(RunConfig)
    assert RunConfig.model_validate(tomllib.loads(text)) == RunConfig()
    path = tmp_path / "socialvalue.toml"
    path.write_text(text)
    assert load_run_config(path) == RunConfig()
    for key in _leaf_keys(RunConfig):
        section, name = key.rsplit(".", 1)
        assert f"[{section}]" in text
        assert re.search(rf"^(# )?{name} = ", text, flags=re.M), f"{key} missing from the template"


def test_template_examples_of_unset_keys_are_valid():
    """Every commented-out example, switched on, still validates (so the examples can be copied)."""
    text = render_config_template(RunConfig)
    on = tomllib.loads(_uncomment_examples(text))
    cfg = RunConfig.model_validate(on)
    assert cfg.actions.playbook == "playbook.toml" and cfg.actions.budget == 50_000


class _Inner(ConfigModel):
    """Nested settings."""

    depth: int = Field(default=3, ge=1, description="How deep")


class _Section(ConfigModel):
    """A section added later.

    Longer text that is not part of the heading.
    """

    mode: Literal["fast", "exact"] = Field(default="exact", description="Which algorithm.")
    ratio: float = Field(default=0.25, gt=0, lt=1)
    names: tuple[str, ...] = ("a", "b")
    weights: dict[str, float] = Field(default_factory=lambda: {"x": 1.5, "needs quotes": 2.0})
    enabled: bool = False
    big: int = 1_000_000
    label: str = 'say "hi"\\ \u00e9'
    limit: int | None = Field(default=None, gt=10, examples=[99])
    code: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", examples=["EUR"])
    inner: _Inner = _Inner()


class _Config(ConfigModel):
    """A configuration with a section the CLI has never seen."""

    top: int = 1
    later: _Section = _Section()


def test_template_picks_up_new_keys_types_bounds_and_descriptions():
    text = render_config_template(_Config, header="hello")
    assert _Config.model_validate(tomllib.loads(text)) == _Config()
    assert text.startswith("# hello\n")
    assert '# Which algorithm. [one of "fast", "exact"]\nmode = "exact"\n' in text
    assert "[number; > 0 and < 1]\nratio = 0.25\n" in text
    assert 'weights = { x = 1.5, "needs quotes" = 2.0 }' in text
    assert "big = 1_000_000" in text and "enabled = false" in text
    assert "# limit = 99\n" in text and '# code = "EUR"\n' in text
    assert "[integer, optional; > 10]" in text and "matching ^[A-Z]{3}$" in text
    assert "# A section added later.\n[later]\n" in text and "Longer text" not in text
    assert "[later.inner]\n# How deep. [integer; >= 1]\ndepth = 3\n" in text
    assert text.index("top = 1") < text.index("[later]")  # top-level keys before any table
    on = _Config.model_validate(tomllib.loads(_uncomment_examples(text)))
    assert on.later.limit == 99 and on.later.code == "EUR"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1, "0.1"),
        (1e-05, "1e-05"),
        (10000.0, "10000.0"),
        (float("inf"), "inf"),
        (-3, "-3"),
        ("a\nb", '"a\\nb"'),
        ((), "[]"),
        ({}, "{}"),
    ],
)
def test_toml_value_round_trips(value, expected):
    assert toml_value(value) == expected
    assert tomllib.loads(f"k = {expected}")["k"] == (list(value) if isinstance(value, tuple) else value)


def test_toml_value_refuses_none():
    with pytest.raises(TypeError, match="TOML has no null value"):
        toml_value(None)


# --- socialvalue config ---------------------------------------------------------------------------------


def test_config_init_writes_a_file_that_loads_as_the_defaults(tmp_path, capsys):
    path = tmp_path / "socialvalue.toml"
    assert main(["config", "init", str(path)]) == 0
    res = capsys.readouterr()
    assert res.out == (
        f"wrote {path}: every key at its default; edit it, then check it with: socialvalue config check {path}\n"
    )
    assert res.err == ""
    assert load_run_config(path) == RunConfig()
    text = path.read_text()
    assert text.startswith("# socialvalue run configuration, written by `socialvalue config init`")
    assert "Unknown keys are errors." in text


def test_config_init_refuses_to_overwrite_without_force(tmp_path, capsys):
    path = tmp_path / "socialvalue.toml"
    path.write_text("[run]\nunit = 'D'\n")
    assert main(["config", "init", str(path)]) == 4
    res = capsys.readouterr()
    assert res.out == "" and "Traceback" not in res.err
    assert (
        f"error: {path} already exists; keep it, or overwrite it with: socialvalue config init {path} --force"
        in res.err
    )
    assert path.read_text() == "[run]\nunit = 'D'\n"
    assert main(["config", "init", str(path), "--force"]) == 0
    assert load_run_config(path) == RunConfig()


def test_config_init_default_path_and_stdout(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["config", "init"]) == 0
    assert (tmp_path / "socialvalue.toml").is_file()
    capsys.readouterr()
    assert main(["config", "init", "-"]) == 0
    res = capsys.readouterr()
    assert res.out == (tmp_path / "socialvalue.toml").read_text() and res.err == ""


def test_config_check_ok_and_one_line_errors(tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text("[run]\nholdout_periods = 13\n")
    assert main(["config", "check", str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: ok\n"

    bad = tmp_path / "bad.toml"
    bad.write_text("[run]\nholdout_period = 13\n")
    assert main(["config", "check", str(bad)]) == 4
    res = capsys.readouterr()
    assert res.out == ""
    assert re.fullmatch(
        rf"error: invalid configuration in {re.escape(str(bad))}: run\.holdout_period: Extra inputs are not "
        r"permitted \(got 13\)\n",
        res.err,
    )

    missing = tmp_path / "missing.toml"
    missing.write_text('[actions]\nplaybook = "nowhere.toml"\n')
    assert main(["config", "check", str(missing)]) == 4
    err = capsys.readouterr().err
    assert f"[actions] playbook: file '{tmp_path / 'nowhere.toml'}' does not exist" in err

    assert main(["config", "check", str(tmp_path / "absent.toml")]) == 4
    assert "does not exist" in capsys.readouterr().err


def test_config_check_validates_the_playbook_it_names(tmp_path, capsys):
    (tmp_path / "playbook.toml").write_text('fallback = "nope"\nactions = []\n')
    cfg = tmp_path / "sv.toml"
    cfg.write_text('[actions]\nplaybook = "playbook.toml"\n')
    assert main(["config", "check", str(cfg)]) == 4
    assert "playbook.toml" in capsys.readouterr().err


# --- socialvalue playbook -------------------------------------------------------------------------------


def test_playbook_show_prints_the_builtin_playbook(tmp_path, capsys):
    assert main(["playbook", "show"]) == 0
    res = capsys.readouterr()
    assert res.err == ""
    assert res.out.startswith("# socialvalue default playbook")
    path = tmp_path / "playbook.toml"
    path.write_text(res.out)
    assert load_playbook(path) == default_playbook()
    assert main(["playbook", "check", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: ok (9 actions, fallback do_nothing, budget 50,000)\n"


def test_playbook_check_bad_file(tmp_path, capsys):
    path = tmp_path / "playbook.toml"
    path.write_text('fallback = "nope"\n[[actions]]\nname = "x"\n')
    assert main(["playbook", "check", str(path)]) == 4
    res = capsys.readouterr()
    assert res.out == "" and "Traceback" not in res.err
    assert res.err.startswith("error: ") and str(path) in res.err


def test_help_has_examples(capsys):
    for cmd in (["config", "init"], ["config", "check"], ["playbook", "show"], ["playbook", "check"]):
        assert main([*cmd, "--help"]) == 0
        assert f"Example: socialvalue {' '.join(cmd)}" in capsys.readouterr().out


def test_config_check_reads_the_channel_costs_and_finds_the_category_spend(tmp_path, capsys):
    (tmp_path / "costs.csv").write_text("channel,cost,currency\npaid,-5,EURO\n")
    conf = tmp_path / "socialvalue.toml"
    conf.write_text('[channels]\ncosts = "costs.csv"\n')
    assert main(["config", "check", str(conf)]) == 3  # a data problem, listed as a load lists them
    err = capsys.readouterr().err
    assert "costs.csv: 2 problems in the channel costs" in err
    assert "row 1, column 'cost': got '-5'; expected a number >= 0" in err
    (tmp_path / "costs.csv").write_text("channel,cost,currency\npaid,5,EUR\n")
    assert main(["config", "check", str(conf)]) == 0
    assert capsys.readouterr().out.strip() == f"{conf}: ok"
    conf.write_text('[insight]\ncategory_spend = "spend.csv"\n')
    assert main(["config", "check", str(conf)]) == 4
    assert (
        f"[insight] category_spend: file '{tmp_path / 'spend.csv'}' does not exist" in capsys.readouterr().err
    )
