"""`InputError`: bad input a user can fix (a setting, a file, a path), found before any work."""


class InputError(ValueError):
    """A setting, file or path that cannot be used; the message names it and its value."""
