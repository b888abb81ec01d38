"""Errors that mean "bad input": the CLI turns them into a message and exit status 2."""


class InputError(ValueError):
    """Bad input from the user: the message names the bad value and what is allowed."""


class ConfigError(InputError):
    """An experiment file or config override is invalid."""


class DataError(InputError):
    """A dataset or table is missing, corrupt or does not fit its schema."""
