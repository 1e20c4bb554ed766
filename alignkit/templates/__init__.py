"""Chat templates: declarative specs that render conversations into segments.

    >>> get_template("llama3").name
    'llama3'
    >>> get_template("lama3")
    Traceback (most recent call last):
    ...
    alignkit.errors.TemplateError: unknown template 'lama3'; did you mean 'llama3'? Known: alpaca, chatml, llama3, plain, qwen3

See :mod:`alignkit.templates.render` for masking policies and the Qwen3 think block,
:mod:`alignkit.encode` for the arrays, and :mod:`alignkit.templates.jinja` for model
folders with a ``chat_template``.
"""

from __future__ import annotations

import importlib

from alignkit.errors import TemplateError
from alignkit.templates.render import (
    POLICIES,
    POLICY_ALL_ASSISTANT,
    POLICY_EVERYTHING,
    POLICY_LAST_ASSISTANT,
    TurnTuple,
)
from alignkit.templates.segments import KIND_SPECIAL, KIND_TEXT, Segment, segments_text
from alignkit.templates.specs import BUILTIN_SPECS, ChatSpec

#: Extra names accepted by :func:`get_template`.
ALIASES: dict[str, str] = {"qwen": "qwen3", "llama-3": "llama3", "cs336": "alpaca", "none": "plain"}


def template_names() -> list[str]:
    """Names of the built-in templates."""
    return sorted(BUILTIN_SPECS)


def get_template(name: str) -> ChatSpec:
    """The built-in :class:`ChatSpec` called ``name`` (or an alias of it).

    Raises:
        TemplateError: unknown name; the message suggests the closest one.
    """
    key = ALIASES.get(name.lower(), name.lower())
    spec = BUILTIN_SPECS.get(key)
    if spec is None:
        import difflib  # only for this message: ~1 ms of CPU on every run otherwise

        close = difflib.get_close_matches(key, list(BUILTIN_SPECS) + list(ALIASES), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise TemplateError(
            f"unknown template {name!r}; {hint}Known: {', '.join(template_names())}"
        )
    return spec


def __getattr__(name: str) -> object:
    # ChatTemplate (typed: import it from alignkit.templates.chat) imports alignkit.encode,
    # which imports this package, and pydantic/jinja2: loading it lazily keeps the import
    # graph acyclic and keeps the mypyc build (which type-checks this package's __init__
    # without the runtime dependencies installed) free of them.
    if name in ("ChatTemplate", "turn_tuples"):
        return getattr(importlib.import_module("alignkit.templates.chat"), name)
    raise AttributeError(f"module 'alignkit.templates' has no attribute {name!r}")

__all__ = [
    "ALIASES",
    "ChatSpec",
    "KIND_SPECIAL",
    "KIND_TEXT",
    "POLICIES",
    "POLICY_ALL_ASSISTANT",
    "POLICY_EVERYTHING",
    "POLICY_LAST_ASSISTANT",
    "Segment",
    "TurnTuple",
    "get_template",
    "segments_text",
    "template_names",
]
