"""`InputError`: bad input a user can fix (a setting, a file, a path), found before any work;
`MissingInputError` when the file or checkpoint is not there; `check` raises the first.
`Stopped`: a run that stopped on SIGTERM, its work saved."""


class InputError(ValueError):
    """A setting, file or path that cannot be used; the message names it and its value."""


class MissingInputError(InputError, FileNotFoundError):
    """A file, directory or checkpoint that is not there: an `InputError` that callers of
    file readers can also catch as the `FileNotFoundError` they expect."""


def check(condition: bool, field: str, value, requirement: str) -> None:
    """Raise `InputError("<field> must be <requirement>; got <field>=<value>.")` unless
    `condition`: how the job configs validate their fields."""
    if not condition:
        raise InputError(f"{field} must be {requirement}; got {field}={value!r}.")


class Stopped(Exception):
    """A run stopped on request (SIGTERM) after saving what it had: not a failure of its
    input. The message says where it stopped and how to resume."""

    exit_code = 143  # 128 + SIGTERM, what a shell reports for a terminated process
