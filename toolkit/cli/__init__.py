"""The ``toolkit`` command line.  Heavy libraries are imported inside commands, so that
``toolkit --help`` stays fast.  Exit status: 0 success, 2 bad input, 1 unexpected failure.
"""

from __future__ import annotations

# Each module registers its commands on ``app``; they import nothing heavy at module level.
from toolkit.cli import (  # noqa: F401
    audit,
    explain,
    generate,
    policy,
    recourse,
    run,
    study,
    train,
    tune,
)
from toolkit.cli.app import app

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """The ``toolkit`` console script: run the command line ``argv`` and exit with its status.

    A usage mistake (an unknown option, a value of the wrong type) is reported on one line,
    like every other bad input, with exit status 2.
    """
    import sys

    import typer
    from typer.main import get_command

    from toolkit.cli.common import print_error

    command = get_command(app)
    try:
        code = command.main(args=argv, prog_name="toolkit", standalone_mode=False)
    except typer.TyperException as err:  # typer's (vendored) click usage errors
        ctx = getattr(err, "ctx", None)
        if type(err).__name__ == "NoArgsIsHelpError" and ctx is not None:
            try:
                print(ctx.get_help())
            except BrokenPipeError:  # `toolkit | head`
                pass
            code = 0
        else:
            where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            print_error(f"{err.format_message()}{where}")
            code = 2
    except typer.Abort:
        print_error("aborted")
        code = 130
    sys.exit(code if isinstance(code, int) else 0)
