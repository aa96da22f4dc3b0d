"""Exceptions that map onto the command line's exit codes."""


class InputError(Exception):
    """Bad input or usage: the command exits with code 2 and prints this one-line message."""

    exit_code = 2
