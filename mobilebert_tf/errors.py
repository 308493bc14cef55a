"""`InputError`: bad input a user can fix (a setting, a file, a path), found before any work;
`MissingInputError` when the file or checkpoint is not there; `check` raises the first."""


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
