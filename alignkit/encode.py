"""Segments → training arrays (compiled).

SEED: the data types below are the contract between the serializer (templates,
encode) and packing/writers. Fields may be added; do not rename these.

Role ids (``role_ids``), a documented enum written into every manifest::

    0 system · 1 user · 2 assistant · 3 tool · 4 template (glue the chat template adds:
    BOS, headers, separators) · 5 padding

Labels follow the Hugging Face convention: the token id where trained, ``-100``
(``IGNORE_INDEX``) where not. Labels are *not* shifted; the trainer shifts.

Ids, labels and role ids are made together, segment by segment: a ``TEXT`` segment
goes through the tokenizer's ``encode_ordinary`` (so content can never become a
special id, whatever it contains), a ``SPECIAL`` segment is one id looked up by its
spelling, and every id gets its segment's role and trained flag. Nothing is searched
for or mapped back afterwards.

    >>> from alignkit.templates.segments import Segment, KIND_SPECIAL, KIND_TEXT
    >>> class Bytes:  # a toy tokenizer: one id per byte
    ...     def encode_ordinary(self, text): return list(text.encode())
    >>> enc = Encoder(Bytes(), {"<eos>": 300})
    >>> ex = enc.encode([Segment(1, KIND_TEXT, "hi", False), Segment(2, KIND_TEXT, "ok", True),
    ...                  Segment(2, KIND_SPECIAL, "<eos>", True)])
    >>> ex.input_ids, ex.labels, ex.role_ids
    ([104, 105, 111, 107, 300], [-100, -100, 111, 107, 300], [1, 1, 2, 2, 2])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal, Protocol, final

from alignkit.bpe._core import BPECore
from alignkit.errors import SpecialTokenError, UsageError
from alignkit.templates.segments import (
    KIND_SPECIAL,
    ROLE_ASSISTANT as ROLE_ASSISTANT,
    ROLE_IDS as ROLE_IDS,
    ROLE_PADDING as ROLE_PADDING,
    ROLE_SYSTEM as ROLE_SYSTEM,
    ROLE_TEMPLATE as ROLE_TEMPLATE,
    ROLE_TOOL as ROLE_TOOL,
    ROLE_USER as ROLE_USER,
    Segment,
)

IGNORE_INDEX: Final = -100

#: A Unicode normalization form (what ``unicodedata.normalize`` takes).
NormalForm = Literal["NFC", "NFD", "NFKC", "NFKD"]
_NORMAL_FORMS: Final[dict[str, NormalForm]] = {"NFC": "NFC", "NFD": "NFD", "NFKC": "NFKC", "NFKD": "NFKD"}

#: What to do with content that contains a special-token string (it is always
#: encoded as ordinary text): ``"count"`` flags the example, ``"error"`` raises.
SPECIAL_IN_CONTENT_MODES: Final[tuple[str, ...]] = ("count", "error")

_GLUE_CACHE_MAX: Final = 4096

#: Number of role ids (``0 .. NUM_ROLES - 1``).
NUM_ROLES: Final = len(ROLE_IDS)


class TokenizerLike(Protocol):
    """What the encoder needs from a tokenizer."""

    def encode_ordinary(self, text: str) -> list[int]: ...


@final
class EncodedExample:
    """One tokenized sequence: three parallel arrays of equal length.

    ``attention_mask`` is all ones before padding, so it is not stored here.
    ``special_in_content`` is the first special-token string found in the content
    (encoded as ordinary text), or ``""``.
    """

    def __init__(self, input_ids: list[int], labels: list[int], role_ids: list[int],
                 special_in_content: str = "", role_tokens: list[int] | None = None,
                 role_trained: list[int] | None = None) -> None:
        self.input_ids: list[int] = input_ids
        self.labels: list[int] = labels
        self.role_ids: list[int] = role_ids
        self.special_in_content: str = special_in_content
        #: Tokens and trained tokens per role id (``NUM_ROLES`` entries each), counted by
        #: :class:`Encoder` segment by segment while it builds the arrays; ``None`` when
        #: the example was made otherwise (then :meth:`role_counts` is ``None`` and
        #: callers count the arrays). The arrays must not be changed after construction.
        self.role_tokens: list[int] | None = role_tokens
        self.role_trained: list[int] | None = role_trained

    def __len__(self) -> int:
        return len(self.input_ids)

    def num_trained(self) -> int:
        trained = self.role_trained
        if trained is not None:
            return sum(trained)
        n = 0
        for label in self.labels:
            if label != IGNORE_INDEX:
                n += 1
        return n

    def attention_mask(self) -> list[int]:
        """All ones (no padding inside an example)."""
        return [1] * len(self.input_ids)

    def concat(self, other: EncodedExample) -> EncodedExample:
        """This sequence followed by ``other``."""
        flag = self.special_in_content or other.special_in_content
        totals: list[int] | None = None
        trained: list[int] | None = None
        a_tot, a_tr, b_tot, b_tr = self.role_tokens, self.role_trained, other.role_tokens, other.role_trained
        if a_tot is not None and a_tr is not None and b_tot is not None and b_tr is not None:
            totals = [a_tot[k] + b_tot[k] for k in range(len(a_tot))]
            trained = [a_tr[k] + b_tr[k] for k in range(len(a_tr))]
        return EncodedExample(self.input_ids + other.input_ids, self.labels + other.labels,
                              self.role_ids + other.role_ids, flag, totals, trained)


@final
class EncodedPair:
    """A DPO-ready preference pair: one shared prompt, two completions.

    ``prompt`` holds the ids of the inference prompt (history plus the assistant
    header), with every label ``-100``; ``chosen``/``rejected`` hold only the tokens
    after it. ``prompt + chosen`` equals the SFT encoding of ``history + [chosen]``.
    """

    def __init__(self, prompt: EncodedExample, chosen: EncodedExample,
                 rejected: EncodedExample) -> None:
        self.prompt: EncodedExample = prompt
        self.chosen: EncodedExample = chosen
        self.rejected: EncodedExample = rejected

    def chosen_full(self) -> EncodedExample:
        return self.prompt.concat(self.chosen)

    def rejected_full(self) -> EncodedExample:
        return self.prompt.concat(self.rejected)

    def special_in_content(self) -> str:
        return (self.prompt.special_in_content or self.chosen.special_in_content
                or self.rejected.special_in_content)

    def to_dpo(self) -> dict[str, list[int]]:
        """Prompt and completion-only chosen/rejected columns (TRL 0.x's pre-tokenized DPO names).

        TRL 1.x's ``DPOTrainer`` re-tokenizes from text (see the README, "Preference pairs");
        a reward model needs whole sequences: :meth:`to_reward`.
        """
        return {
            "prompt_input_ids": self.prompt.input_ids,
            "chosen_input_ids": self.chosen.input_ids,
            "rejected_input_ids": self.rejected.input_ids,
            "chosen_labels": self.chosen.labels,
            "rejected_labels": self.rejected.labels,
            "prompt_role_ids": self.prompt.role_ids,
            "chosen_role_ids": self.chosen.role_ids,
            "rejected_role_ids": self.rejected.role_ids,
        }

    def to_reward(self) -> dict[str, list[int]]:
        """Whole chosen/rejected sequences (prompt + response) and their role ids, under the
        names TRL's ``RewardTrainer`` takes as tokenized input (``alignkit tokenize --layout reward``)."""
        chosen = self.chosen_full()
        rejected = self.rejected_full()
        return {
            "chosen_ids": chosen.input_ids,
            "chosen_role_ids": chosen.role_ids,
            "rejected_ids": rejected.input_ids,
            "rejected_role_ids": rejected.role_ids,
        }


def _special_leads(specials: dict[str, int]) -> dict[str, list[str]]:
    """The special-token names of two or more characters, by their first two, longest first
    (what :meth:`Encoder.find_special` tries at a position).

        >>> _special_leads({"<|im_end|>": 1, "<|im_start|>": 2, "<think>": 3, "<": 4})
        {'<|': ['<|im_start|>', '<|im_end|>'], '<t': ['<think>']}
    """
    leads: dict[str, list[str]] = {}
    for name in sorted(specials, key=len, reverse=True):
        if len(name) >= 2:
            leads.setdefault(name[:2], []).append(name)
    return leads


def _ascii_core(tokenizer: object) -> BPECore | None:
    """``tokenizer.ascii_core()`` when it has one and it is a :class:`BPECore`, else ``None``."""
    method = getattr(tokenizer, "ascii_core", None)
    if method is None or not callable(method):
        return None
    core = method()
    return core if isinstance(core, BPECore) else None


def _text_preparer(tokenizer: object, core: BPECore | None) -> Callable[[str], str] | None:
    """What alignkit's own tokenizer does to any text before its core encodes it (surrogate
    fix, normalization), when its core is the ASCII core: ``core`` encodes the result
    exactly as ``encode_ordinary`` encodes the text (the facade's own encode is that call).
    ``None`` for any other tokenizer.
    """
    if core is None:
        return None
    from alignkit.bpe.tokenizer import Tokenizer

    if type(tokenizer) is not Tokenizer:
        return None
    method = getattr(tokenizer, "_prepare", None)
    return method if callable(method) else None


def _forms(tokenizer: object) -> tuple[NormalForm, ...] | None:
    """The normalization forms named by ``tokenizer.normalizer`` (``"NFC"``, ``"NFKC,NFC"``…);
    ``None`` when it names anything else."""
    names = getattr(tokenizer, "normalizer", None)
    if names is None or names == "":
        return ()
    if not isinstance(names, str):
        return None
    out: list[NormalForm] = []
    for name in names.split(","):
        form = _NORMAL_FORMS.get(name)
        if form is None:
            return None
        out.append(form)
    return tuple(out)


@final
class Encoder:
    """Turns segments into an :class:`EncodedExample`.

    Args:
        tokenizer: anything with ``encode_ordinary(text) -> list[int]``.
        specials: every special-token spelling of the tokenizer → id (also used to
            flag content that contains one).
        special_in_content: ``"count"`` (flag the example) or ``"error"`` (raise
            :class:`~alignkit.errors.SpecialTokenError`).
    """

    def __init__(self, tokenizer: TokenizerLike, specials: dict[str, int],
                 special_in_content: str = "count") -> None:
        if special_in_content not in SPECIAL_IN_CONTENT_MODES:
            raise UsageError(
                f"special_in_content must be 'count' or 'error', not {special_in_content!r}"
            )
        self.tokenizer: TokenizerLike = tokenizer
        self.specials: dict[str, int] = dict(specials)
        self.raise_on_special: bool = special_in_content == "error"
        #: names of two or more characters by their first two (:func:`_special_leads`).
        self.leads: dict[str, list[str]] = _special_leads(self.specials)
        self.glue_cache: dict[str, list[int]] = {}
        self.first_chars: str = "".join(sorted({name[0] for name in self.specials if name}))
        #: The tokenizer's core when it encodes ASCII text exactly as ``encode_ordinary``
        #: does (``Tokenizer.ascii_core``): ASCII text skips the facade's checks.
        self.ascii_core: BPECore | None = _ascii_core(tokenizer)
        #: With :attr:`ascii_core`: the text any content becomes before that core encodes it
        #: as ``encode_ordinary`` does (non-ASCII text too); ``None`` when unknown.
        self.prepare: Callable[[str], str] | None = _text_preparer(tokenizer, self.ascii_core)
        #: With :attr:`prepare`: the tokenizer's Unicode normalization forms (its public
        #: ``normalizer``, e.g. ``("NFC",)``). Text already in every form and free of lone
        #: surrogates is what :attr:`prepare` returns unchanged, so callers may skip it.
        #: ``None``: always call :attr:`prepare`.
        self.forms: tuple[NormalForm, ...] | None = _forms(tokenizer) if self.prepare is not None else None

    def special_id(self, name: str) -> int:
        sid = self.specials.get(name)
        if sid is None:
            raise SpecialTokenError(
                f"the chat template needs the special token {name!r}, which this tokenizer"
                " does not have; pick the template that belongs to this tokenizer"
            )
        return sid

    def find_special(self, text: str) -> str:
        """The first special-token string inside ``text``, or ``""``: the leftmost one, and
        of those starting there the longest (what a longest-first alternation finds).

        Each character that starts a name is looked for with ``str.find`` (one C scan per
        distinct first character; usually one, ``<``), and at each place it occurs the names
        sharing the next character too are tried, longest first.
        """
        firsts = self.first_chars
        best = -1
        found = ""
        for k in range(len(firsts)):
            first = firsts[k]
            i = text.find(first)
            while i >= 0 and (best < 0 or i < best):
                name = self._name_at(text, i)
                if name:
                    best = i
                    found = name
                    break
                i = text.find(first, i + 1)
        return found

    def _name_at(self, text: str, i: int) -> str:
        """The longest special-token name that starts at ``text[i]``, or ``""``."""
        names = self.leads.get(text[i:i + 2])
        if names is not None:
            for name in names:
                if text.startswith(name, i):
                    return name
        one = text[i]
        return one if one in self.specials else ""

    def text_ids(self, text: str, role: int) -> list[int]:
        """The ids of one TEXT segment (``encode_ordinary``; template glue is cached).

        The result may be a cached list: do not change it.
        """
        if role == ROLE_TEMPLATE:
            cached = self.glue_cache.get(text)
            if cached is None:
                cached = self._ordinary(text)
                if len(self.glue_cache) < _GLUE_CACHE_MAX:
                    self.glue_cache[text] = cached
            return cached
        return self._ordinary(text)

    def _ordinary(self, text: str) -> list[int]:
        core = self.ascii_core
        if core is not None and text and text.isascii():
            return core.encode_ordinary(text)
        return self.tokenizer.encode_ordinary(text)

    def _text_ids(self, seg: Segment) -> list[int]:
        return self.text_ids(seg.text, seg.role)

    def encode(self, segments: list[Segment]) -> EncodedExample:
        """Ids, labels and role ids of ``segments``, built together.

        Raises:
            SpecialTokenError: content holds a special-token string and the mode is
                ``"error"``; or a SPECIAL segment names a token the tokenizer lacks.
        """
        ids: list[int] = []
        labels: list[int] = []
        roles: list[int] = []
        totals = [0] * NUM_ROLES
        trained = [0] * NUM_ROLES
        counted = True
        flagged = ""
        for seg in segments:
            role = seg.role
            if role < 0 or role >= NUM_ROLES:
                counted = False  # not counted here: whoever tallies the arrays reports it
            if seg.kind == KIND_SPECIAL:
                sid = self.special_id(seg.text)
                ids.append(sid)
                labels.append(sid if seg.trained else IGNORE_INDEX)
                roles.append(role)
                if counted:
                    totals[role] += 1
                    if seg.trained:
                        trained[role] += 1
                continue
            if role != ROLE_TEMPLATE and not flagged:
                flagged = self.find_special(seg.text)
                if flagged and self.raise_on_special:
                    raise SpecialTokenError(
                        f"content contains the special token {flagged!r}; it would be"
                        " encoded as plain text, but this run treats it as an error"
                        " (special_in_content='error'); clean the data or use 'count'"
                    )
            toks = self._text_ids(seg)
            n = len(toks)
            ids.extend(toks)
            if seg.trained:
                labels.extend(toks)
            else:
                labels.extend([IGNORE_INDEX] * n)
            roles.extend([role] * n)
            if counted:
                totals[role] += n
                if seg.trained:
                    trained[role] += n
        if not counted:
            return EncodedExample(ids, labels, roles, flagged)
        return EncodedExample(ids, labels, roles, flagged, totals, trained)

    def encode_untrained(self, segments: list[Segment]) -> EncodedExample:
        """Like :meth:`encode`, with every label ``-100`` (a DPO prompt)."""
        ex = self.encode(segments)
        trained = None if ex.role_tokens is None else [0] * NUM_ROLES
        return EncodedExample(ex.input_ids, [IGNORE_INDEX] * len(ex.labels), ex.role_ids,
                              ex.special_in_content, ex.role_tokens, trained)
