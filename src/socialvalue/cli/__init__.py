"""The ``socialvalue`` command line (Typer).

Each group of commands lives in its own module and registers itself on :data:`app`; errors derived from
:class:`~socialvalue.errors.SocialValueError` are turned, in one place, into a one-paragraph message and a
non-zero exit code (no traceback).

Results (tables, summaries, files written, generated text) go to standard output through :data:`out`, so they
can be piped or redirected; errors, progress and status go to standard error through :data:`console`.
"""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console

from socialvalue.errors import ConfigError, SchemaError, SocialValueError

__all__ = ["app", "console", "main", "out"]

app = typer.Typer(
    name="socialvalue",
    help="What each customer is worth, through purchases and through other people.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
#: Diagnostics: errors, progress, status (standard error).
console = Console(stderr=True, soft_wrap=True)  # no hard wraps: output is also parsed by scripts
#: Results (standard output).
out = Console(soft_wrap=True)

#: Exit codes by error type (most specific first).
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (SchemaError, 3),
    (ConfigError, 4),
    (SocialValueError, 2),
)


def _version(value: bool) -> None:
    if value:
        from socialvalue import __version__

        out.print(f"socialvalue {__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """socialvalue: customer value from purchases and from social influence."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    # a library's warning (PySpark 4's notice about pandas >= 3, say) reaches the user as one log line,
    # not as the source line the warnings module would print after it
    logging.captureWarnings(True)


def _register() -> None:
    # Command modules import lazily-heavy parts inside their functions; importing them here is cheap.
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("cmd_"):
            importlib.import_module(f"{__name__}.{info.name}")


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map library errors to exit codes with a one-paragraph message."""
    try:
        app(args=argv, standalone_mode=False)
    except SocialValueError as exc:
        code = next(c for t, c in EXIT_CODES if isinstance(exc, t))
        console.print("[bold red]error:[/] ", end="")
        console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        return code
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        console.print("aborted")
        return 130
    except Exception as exc:
        # usage errors (unknown option, bad value): typer bundles its own click, so match by behaviour
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            return code
        return _unexpected(exc)
    return 0


#: Exit code of an error socialvalue did not foresee (BSD ``EX_SOFTWARE``) and of an operating-system error.
EXIT_INTERNAL, EXIT_OS = 70, 74


def _unexpected(exc: BaseException) -> int:
    """One line for an error no part of socialvalue raised on purpose; the traceback only with --verbose."""
    logging.getLogger("socialvalue").info("unexpected error", exc_info=exc)
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        console.print("[bold red]error:[/] ", end="")
        console.print(f"{exc.strerror or first}{where}", markup=False, highlight=False)
        return EXIT_OS
    if "Conflicting lock" in first or "Could not set lock" in first:
        console.print("[bold red]error:[/] ", end="")
        console.print(
            "the store is in use by another process (a run or a load holds it); try again when it finishes",
            markup=False,
        )
        return EXIT_OS
    console.print("[bold red]error:[/] ", end="")
    console.print(
        f"internal error ({type(exc).__name__}); this is a bug in socialvalue. Rerun with --verbose to see "
        "the details and report them.",
        markup=False,
        highlight=False,
    )
    return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
