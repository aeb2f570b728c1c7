"""Errors raised when a replay source cannot be read."""

from __future__ import annotations

from pipeline.errors import QianliyanError


class ReplayInputError(QianliyanError, ValueError):
    """A replay source that is missing, unknown or unusable as a whole."""


class ReplayParseError(ReplayInputError):
    """A line of a replay source that does not match its format.

    The message starts with ``source:line:`` as compilers write it, so editors and
    terminals can jump to the line.
    """

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        self.source = source
        self.line = line
        self.reason = reason
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")
