"""
Errors
------

Every error a user can cause is a :class:`KtriageError`: one line saying what is
wrong and one saying what to try. ``cli.py`` prints them and exits; nothing else
exits.
"""

__all__ = (
    "BadInputError",
    "DebuginfoError",
    "KtriageError",
)


class KtriageError(Exception):
    """An error with a message for the user and a hint on what to try."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        """What is wrong, in one line."""
        self.hint = hint
        """What to try, in one line (may be empty)."""

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class BadInputError(KtriageError):
    """The input file is missing, truncated, corrupt or of an unknown kind."""

    exit_code = 2


class DebuginfoError(KtriageError):
    """Debuginfo is missing or does not match the dump."""

    exit_code = 3
