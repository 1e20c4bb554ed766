"""One exception hierarchy for alignkit.

Every message says what is wrong, where, and how to fix it. The CLI maps
:class:`AlignkitError` to a one-line message on stderr and an exit code;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class AlignkitError(Exception):
    """Base class of every error alignkit raises on purpose."""

    #: Exit code the CLI uses for this error (2: usage or I/O problem).
    exit_code: int = 2


class UsageError(AlignkitError):
    """A bad argument, option or configuration value."""


class InputError(AlignkitError):
    """A problem in one record of an input file.

    ``str(err)`` is ``path:line: field.path: message [error_type]``, the format
    of compilers and linters, so editors and CI annotate the right line.
    """

    exit_code = 1

    def __init__(
        self, path: str, line: int, loc: str, message: str, error_type: str, unit: str = "line"
    ) -> None:
        self.path = path
        self.line = line
        self.loc = loc
        self.message = message
        self.error_type = error_type
        #: What ``line`` counts: ``line`` (JSONL), ``item`` (JSON array), ``row`` (datasets).
        self.unit = unit
        super().__init__(self.format())

    def __reduce__(self) -> tuple[type[InputError], tuple[str, int, str, str, str, str]]:
        # Exceptions pickle their ``args``; say how to rebuild this one from its fields
        # (errors cross process boundaries in ``--num-proc`` runs).
        return (type(self), (self.path, self.line, self.loc, self.message, self.error_type, self.unit))

    def format(self) -> str:
        where = f"{self.path}:{self.line}:" if self.unit == "line" else f"{self.path}: {self.unit} {self.line}:"
        field = f" {self.loc}:" if self.loc else ""
        return f"{where}{field} {self.message} [{self.error_type}]"

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "loc": self.loc,
            "message": self.message,
            "type": self.error_type,
            **({} if self.unit == "line" else {"unit": self.unit}),
        }


class TokenizerFileError(AlignkitError):
    """A tokenizer file that is malformed or uses something alignkit does not support."""


class SpecialTokenError(AlignkitError):
    """Text that contains a special-token string where none is allowed."""


class TemplateError(AlignkitError):
    """A chat template that cannot render a record, or an unsupported template construct."""


class OutputError(AlignkitError):
    """An output location that cannot be written safely."""


class RecipeError(AlignkitError):
    """A recipe file with an unknown key, a bad value or a step that cannot run."""
