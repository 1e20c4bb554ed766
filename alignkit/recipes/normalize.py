"""Text views of a record (prompt, response, …), content cleaning and dedup keys.

The *prompt* of a conversation is every turn before its final assistant turn;
the *response* is that final assistant turn (empty when the conversation does
not end on one); *trained* is every assistant turn.

    >>> from alignkit.records import ChatExample, Turn
    >>> ex = ChatExample(turns=[Turn(role="user", content="Hi  THERE"),
    ...                         Turn(role="assistant", content="Hello!")])
    >>> text_view(ex, "prompt"), text_view(ex, "response")
    ('Hi  THERE', 'Hello!')
    >>> dedup_key("  Hi\\u00a0 there ")
    'hi there'
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Literal

from alignkit.records import ChatExample, Turn

View = Literal["prompt", "response", "prompt_response", "trained", "total", "any"]

_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+")


def _final_assistant(ex: ChatExample) -> int:
    """Index of the final turn when it is an assistant turn, else -1."""
    last = len(ex.turns) - 1
    return last if ex.turns[last].role == "assistant" else -1


def text_view(ex: ChatExample, view: View) -> str:
    """The text of one part of a conversation (turns joined with a blank line)."""
    fin = _final_assistant(ex)
    turns = ex.turns
    if view == "response":
        return turns[fin].content if fin >= 0 else ""
    if view == "prompt":
        upto = fin if fin >= 0 else len(turns)
        return "\n\n".join(t.content for t in turns[:upto])
    if view == "trained":
        return "\n\n".join(t.content for t in turns if t.role == "assistant")
    return "\n\n".join(t.content for t in turns)


def dedup_key(text: str) -> str:
    """NFKC, case-folded, whitespace-collapsed form of ``text``: the exact-dedup key."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def digest(text: str) -> bytes:
    """A stable 16-byte digest (never Python's salted ``hash``)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def words(text: str) -> list[str]:
    """Lower-cased word tokens (``\\w+`` runs after NFKC + casefold)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def clean_text(text: str, form: Literal["NFC", "NFKC", "none"], strip: bool) -> str:
    """Unicode normal form, ``\\r\\n``/``\\r`` → ``\\n``, and (``strip``) outer whitespace."""
    if form != "none":
        text = unicodedata.normalize(form, text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.strip() if strip else text


def clean_example(ex: ChatExample, form: Literal["NFC", "NFKC", "none"], strip: bool) -> ChatExample:
    """A copy of ``ex`` with every turn's content cleaned by :func:`clean_text`.

    Raises:
        pydantic.ValidationError: when a turn becomes empty.
    """
    turns = [
        Turn(role=t.role, content=clean_text(t.content, form, strip), train=t.train, reasoning=t.reasoning)
        for t in ex.turns
    ]
    return ChatExample.model_validate(
        {"turns": turns, "id": ex.id, "source": ex.source, "metadata": ex.metadata}
    )


def measure(text: str, unit: Literal["chars", "words", "tokens"], count_tokens: object = None) -> int:
    """Length of ``text`` in characters, words or tokens (``count_tokens``: str → int)."""
    if unit == "chars":
        return len(text)
    if unit == "words":
        return len(text.split())
    if not callable(count_tokens):
        raise TypeError("unit 'tokens' needs a token counter")
    n = count_tokens(text)
    assert isinstance(n, int)
    return n
