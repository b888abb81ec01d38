"""Errors that mean "bad input", and the interrupt that SIGTERM raises.

The CLI turns :class:`InputError` into a one-line message and exit status 2, and
:class:`Terminated` (like Ctrl-C's KeyboardInterrupt) into exit status 143.
"""


class InputError(ValueError):
    """Bad input from the user: the message names the bad value and what is allowed."""


class ConfigError(InputError):
    """An experiment file or config override is invalid."""


class DataError(InputError):
    """A dataset or table is missing, corrupt or does not fit its schema."""


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (``docker stop``, systemd, CI cancellation, ``timeout``).

    A KeyboardInterrupt, so that everything that cleans up after Ctrl-C (an open run is
    marked FAILED, a staged folder is removed, Optuna fails the running trial) does the same
    after SIGTERM.
    """

    def __init__(self, signum: int = 15):
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


class ToolkitWarning(UserWarning):
    """Something the user should know that does not stop the run; the CLI prints it as one
    ``warning:`` line."""
