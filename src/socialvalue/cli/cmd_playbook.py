"""``socialvalue playbook``: print the built-in playbook (to edit a copy of it), or check one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from socialvalue.cli import app, out

playbook_app = typer.Typer(
    name="playbook",
    help="Print the built-in action playbook, or check a playbook file.",
    no_args_is_help=True,
)
app.add_typer(playbook_app)


def builtin_playbook_text() -> str:
    """The text of the built-in playbook, ``socialvalue/decisions/defaults/playbook.toml``."""
    import importlib.resources

    ref = importlib.resources.files("socialvalue.decisions") / "defaults" / "playbook.toml"
    return ref.read_text(encoding="utf-8")


@playbook_app.command("show")
def show() -> None:
    """Print the built-in playbook (TOML) on standard output, to redirect into a file and edit.

    Point the run configuration at the edited copy with [actions] playbook = "playbook.toml".

    Example: socialvalue playbook show > playbook.toml
    """
    out.file.write(builtin_playbook_text())
    out.file.flush()


@playbook_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="Playbook (TOML) to validate.", show_default=False)],
) -> None:
    """Validate a playbook: actions, conditions, channels, budget and fallback.

    Prints "ok" with the number of actions, or the one-line error (exit code 4).

    Example: socialvalue playbook check playbook.toml
    """
    from socialvalue.decisions import load_playbook

    pb = load_playbook(file)
    out.print(
        f"{file}: ok ({len(pb.actions)} actions, fallback {pb.fallback}, "
        f"budget {'unlimited' if pb.budget is None else f'{pb.budget:,.0f}'})",
        markup=False,
        highlight=False,
    )
