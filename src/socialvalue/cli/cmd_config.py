"""``socialvalue config``: write a commented run configuration with every key, or check one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from socialvalue.cli import app, out

config_app = typer.Typer(
    name="config",
    help="Write a run configuration (socialvalue.toml) with every key and its default, or check one.",
    no_args_is_help=True,
)
app.add_typer(config_app)

#: Keys of the run configuration that name a file, by section: checked to exist by ``config check``.
FILE_KEYS: dict[str, tuple[str, ...]] = {
    "run": ("exchange_rates",),
    "actions": ("playbook", "campaign"),
    "channels": ("costs",),
    "insight": ("category_spend",),
}


def template_text() -> str:
    """The commented ``socialvalue.toml`` that ``config init`` writes (every key at its default)."""
    from socialvalue import __version__
    from socialvalue.pipeline.config import RunConfig
    from socialvalue.pipeline.config_template import render_config_template

    header = (
        f"socialvalue run configuration, written by `socialvalue config init` (socialvalue {__version__}).\n\n"
        "Every key is optional: the values below are the defaults, and keys commented out are unset. "
        "Unknown keys are errors. Relative paths are relative to this file.\n\n"
        "Use it with: socialvalue run STORE --as-of DATE --config socialvalue.toml. "
        "Check it with: socialvalue config check socialvalue.toml"
    )
    return render_config_template(RunConfig, header=header)


@config_app.command("init")
def init(
    path: Annotated[
        Path, typer.Argument(help="File to write ('-' for standard output).", show_default=True)
    ] = Path("socialvalue.toml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite the file if it exists.")] = False,
) -> None:
    """Write a commented run configuration with every key, its default, its allowed values and meaning.

    Keys left unset by default (a playbook file, a budget, ...) are written commented out, with an example.
    An existing file is kept unless --force is given.

    Example: socialvalue config init socialvalue.toml
    """
    from socialvalue.atomic import atomic_write_text
    from socialvalue.errors import ConfigError
    from socialvalue.pipeline.config import RunConfig, load_run_config

    text = template_text()
    if str(path) == "-":
        out.file.write(text)
        return
    if path.exists() and not force:
        raise ConfigError(
            f"{path} already exists; keep it, or overwrite it with: socialvalue config init {path} --force"
        )
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give a file name, e.g. {path / 'socialvalue.toml'}")
    atomic_write_text(path, text)
    if load_run_config(path) != RunConfig():  # pragma: no cover - a bug in the template, not the user's
        raise ConfigError(f"{path}: the written configuration does not load as the defaults")
    out.print(
        f"wrote {path}: every key at its default; edit it, then check it with: socialvalue config check {path}",
        markup=False,
        highlight=False,
    )


@config_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="Run configuration (TOML) to validate.", show_default=False)],
) -> None:
    """Validate a run configuration: keys, types and bounds, and that the files it names exist.

    A playbook it names is validated too. Prints "ok" or the one-line error (exit code 4); a channel-costs file
    it names is read, and its problems are listed as a load lists them (exit code 3).

    Example: socialvalue config check socialvalue.toml
    """
    from socialvalue.errors import ConfigError
    from socialvalue.pipeline.config import load_run_config

    cfg = load_run_config(file)
    for section, keys in FILE_KEYS.items():
        for key in keys:
            value = getattr(getattr(cfg, section, None), key, None)
            if value and not Path(value).is_file():
                raise ConfigError(f"{file}: [{section}] {key}: file {value!r} does not exist")
    playbook = getattr(getattr(cfg, "actions", None), "playbook", None)
    if playbook:
        from socialvalue.decisions import load_playbook

        load_playbook(playbook)
    costs = getattr(getattr(cfg, "channels", None), "costs", None)
    if costs:
        from socialvalue.insight import read_channel_costs

        read_channel_costs(costs)
    out.print(f"{file}: ok", markup=False, highlight=False)
