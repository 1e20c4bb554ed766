"""The :class:`Tokenizer` facade: special tokens, normalization, decode, hashing.

The facade is interpreted Python; the hot loop (pre-tokenize + merge) is the
compiled :class:`alignkit.bpe._core.BPECore`. A tokenizer is a list of BPE
tokens in merge-priority order (each with its id), optional decode-only tokens,
special tokens, a split pattern, an optional Unicode normalizer and the
ByteLevel ``add_prefix_space`` flag. That is exactly what alignkit's own file
stores (:mod:`alignkit.bpe.model_file`) and what :attr:`Tokenizer.hash` hashes.

Lone surrogates: like tiktoken, text that cannot be UTF-8 encoded is first
passed through UTF-16 with ``surrogatepass``/``replace``: a surrogate pair
written as two code points becomes the character it encodes, and a lone
surrogate becomes U+FFFD.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from librt.vecs import append as vec_append
from librt.vecs import extend as vec_extend
from librt.vecs import vec
from mypy_extensions import i32

from alignkit.bpe import _nfc
from alignkit.bpe._core import BPECore
from alignkit.bpe._decode import TokenDecoder
from alignkit.bpe._persist import FORMAT as FORMAT
from alignkit.bpe._persist import VERSION as VERSION
from alignkit.bpe._persist import Persistent
from alignkit.bpe._persist import content_hash as content_hash
from alignkit.bpe._specials import TEXT, SpecialSplitter
from alignkit.bpe._vocab import bpe_order
from alignkit.bpe.patterns import GPT2
from alignkit.errors import SpecialTokenError, TokenizerFileError

NORMALIZERS = ("NFC", "NFKC", "NFD", "NFKD")
#: Text of an NFC-only tokenizer is first asked :func:`~alignkit.bpe._nfc.nfc_inert` (where
#: that is compiled: :data:`alignkit.bpe._nfc.NATIVE`).
_NFC_ONLY = ("NFC",)

SpecialSet = Literal["all"] | Collection[str]


def fix_surrogates(text: str) -> str:
    """Make ``text`` UTF-8 encodable the way tiktoken does.

    Example:
        >>> fix_surrogates("a\\ud800b") == "a\\ufffdb"
        True
    """
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _not_str(method: str, text: object) -> TypeError:
    """The error of an encode method given something other than ``str`` (facade entry check)."""
    kind = type(text).__name__
    if isinstance(text, (bytes, bytearray, memoryview)):
        how = f"decode it first, e.g. {method}(data.decode('utf-8'))"
    elif isinstance(text, (list, tuple)):
        how = "encode each text, or use encode_batch() for many texts"
    else:
        how = "pass the text as a str"
    return TypeError(f"{method}() takes str, got {kind}; {how}")


def _check_normalizer(normalizer: str | None) -> tuple[str, ...]:
    if not normalizer:
        return ()
    forms = tuple(normalizer.split(","))
    for form in forms:
        if form not in NORMALIZERS:
            raise TokenizerFileError(
                f"unsupported normalizer {form!r}: alignkit supports {', '.join(NORMALIZERS)} "
                "(or a comma-separated sequence of them)"
            )
    return forms


class Tokenizer(Persistent):
    """A byte-level BPE tokenizer (CS336 API, tiktoken-style special-token options).

    Args:
        vocab: id -> token bytes (every single byte must be present).
        merges: merges in priority order, as pairs of token bytes.
        special_tokens: special-token strings; found in ``vocab`` by their
            UTF-8 bytes, or given new ids after the largest one. A mapping
            (string -> id) gives the ids explicitly.
        pattern: pre-tokenizer split regex (default GPT-2's).
        normalizer: None, or "NFC"/"NFKC"/... (comma-separated for a sequence).
        add_prefix_space: prepend " " to each ordinary run not starting with one.

    Example:
        >>> vocab = {i: bytes([i]) for i in range(256)} | {256: b"ab"}
        >>> tok = Tokenizer(vocab, [(b"a", b"b")], ["<|end|>"])
        >>> tok.encode("abc<|end|>")
        [256, 99, 257]
        >>> tok.decode([256, 99, 257])
        'abc<|end|>'
    """

    def __init__(
        self,
        vocab: dict[int, bytes],
        merges: Sequence[tuple[bytes, bytes]],
        special_tokens: Sequence[str] | Mapping[str, int] | None = None,
        *,
        pattern: str = GPT2,
        normalizer: str | None = None,
        add_prefix_space: bool = False,
        name: str | None = None,
    ) -> None:
        order, added, specials = bpe_order(vocab, merges, special_tokens)
        tokens, ids = [t for t, _ in order], [i for _, i in order]
        self._setup(tokens, ids, added, specials, pattern, normalizer, add_prefix_space, name)

    @classmethod
    def from_ranks(
        cls,
        ranks: dict[bytes, int],
        special_tokens: dict[str, int] | None = None,
        *,
        pattern: str = GPT2,
        normalizer: str | None = None,
        add_prefix_space: bool = False,
        added: dict[int, bytes] | None = None,
        name: str | None = None,
    ) -> Tokenizer:
        """A tokenizer from tiktoken-style ranks (token bytes -> id, the id is the merge priority).

        Example:
            >>> ranks = {bytes([i]): i for i in range(256)} | {b"ab": 256}
            >>> Tokenizer.from_ranks(ranks, {"<|end|>": 257}).encode("ab<|end|>")
            [256, 257]
        """
        self = cls.__new__(cls)
        tokens, ids = list(ranks), list(ranks.values())
        if ids != sorted(ids):
            order = sorted(ranks.items(), key=lambda t: t[1])
            tokens, ids = [t for t, _ in order], [i for _, i in order]
        self._setup(
            tokens, ids, dict(added or {}), dict(special_tokens or {}), pattern, normalizer, add_prefix_space, name,
            ranks=ranks,
        )
        return self

    @classmethod
    def _from_dense_ranks(
        cls,
        ranks: dict[bytes, int] | list[bytes],
        special_tokens: dict[str, int],
        pattern: str,
        name: str | None,
    ) -> Tokenizer:
        """A tokenizer from ranks whose values are ``0, 1, ..., n - 1`` in the dict's order.

        The loaders' fast path (a parsed tiktoken file): ``ranks`` is handed over, not
        copied, and the token and id lists (for saving, hashing and decode tables) are
        made from it on first use. The caller guarantees the ids; specials are checked.
        ``ranks`` may be the list of tokens of ids 0..n-1: then no dict is built until
        one is asked for (the core looks tokens up in its own index), and a token given
        twice raises ``ValueError``.
        """
        self = cls.__new__(cls)
        n = len(ranks)
        clash = sorted(i for i in special_tokens.values() if 0 <= i < n)
        if clash:
            raise TokenizerFileError(f"special-token ids {clash[:5]} are also ids of ordinary tokens; give specials their own ids")
        if isinstance(ranks, list):
            core = BPECore({}, pattern, tokens=ranks)
        else:
            core = BPECore(ranks, pattern, owned=True)
        self._dense(core, None, {}, special_tokens, pattern, (), False, name)
        return self

    @classmethod
    def _from_merge_layout(
        cls,
        tokens: list[bytes],
        ids: list[int] | None,
        added: dict[int, bytes],
        specials: dict[str, int],
        pattern: str,
        normalizer: str | None,
        add_prefix_space: bool,
        name: str | None,
    ) -> Tokenizer:
        """:meth:`_setup` of BPE tokens whose ids are ``0, 1, ..., n - 1`` (a byte-level file in merge layout).

        No rank dict and no id checks: the core indexes ``tokens`` itself (the dict is built
        only when asked for). ``ids``, when given, must be ``list(range(n))`` (kept for
        hashing and saving instead of being made again). Raises ``ValueError`` when a token
        is given twice (found by the core's index), before any other check: then the
        caller's general loader decides, as it does for a rank dict with a token twice.

        Example:
            >>> tokens = [bytes([b]) for b in range(256)] + [b"ab"]
            >>> tok = Tokenizer._from_merge_layout(tokens, None, {}, {"<s>": 257}, GPT2, None, False, None)
            >>> tok.encode("ab<s>"), tok.n_vocab
            ([256, 257], 258)
        """
        self = cls.__new__(cls)
        forms = _check_normalizer(normalizer)
        core = BPECore({}, pattern, tokens=tokens, ids=ids)
        n = len(tokens)
        clash = sorted(i for i in specials.values() if 0 <= i < n or i in added)
        if clash:
            raise TokenizerFileError(f"special-token ids {clash[:5]} are also ids of ordinary tokens; give specials their own ids")
        self._dense(core, ids, added, specials, pattern, forms, add_prefix_space, name)
        self._token_list = tokens  # (the core's own list: made from it, never changed)
        return self

    @classmethod
    def _from_scanned(
        cls,
        tokens: list[bytes],
        ids: list[int],
        added: dict[int, bytes],
        specials: dict[str, int],
        ranks: dict[bytes, int] | None,
        pattern: str,
        normalizer: str | None,
        add_prefix_space: bool,
        name: str | None,
    ) -> Tokenizer | None:
        """The tokenizer of a scanned file's merge-order answer (the loaders' compiled scanner).

        No rank dict (BPE ids ``0 .. n - 1``): :meth:`_from_merge_layout`, or None when a token
        is given twice (then the caller's ``json.loads`` path decides); else :meth:`_setup`
        with the rank dict.
        """
        if ranks is None:
            try:
                return cls._from_merge_layout(tokens, ids, added, specials, pattern, normalizer, add_prefix_space, name)
            except ValueError:  # a BPE token twice
                return None
        tok = cls.__new__(cls)
        tok._setup(tokens, ids, added, specials, pattern, normalizer, add_prefix_space, name, ranks=ranks)
        return tok

    def _dense(
        self,
        core: BPECore,
        ids: list[int] | None,
        added: dict[int, bytes],
        specials: dict[str, int],
        pattern: str,
        forms: tuple[str, ...],
        add_prefix_space: bool,
        name: str | None,
    ) -> None:
        """The attributes of a tokenizer whose core holds the BPE tokens of ids ``0 .. n - 1`` (checked)."""
        self._forms = forms
        self.normalizer = ",".join(forms) or None
        self.pattern = pattern
        self.add_prefix_space = add_prefix_space
        self.name = name
        self._token_list: list[bytes] | None = None
        self._id_list: list[int] | None = ids
        self._added = added
        self._specials = dict(specials)
        top = len(core.decoder) - 1
        self._n_vocab = max(top, max(added, default=-1), max(specials.values(), default=-1)) + 1
        self._lazy_tables(None, core)

    @classmethod
    def from_files(
        cls,
        vocab_path: str | os.PathLike[str],
        merges_path: str | os.PathLike[str],
        special_tokens: Sequence[str] | None = None,
    ) -> Tokenizer:
        """GPT-2 style ``vocab.json`` + ``merges.txt`` (also the CS336 reference output).

        Example:
            >>> tok = Tokenizer.from_files("vocab.json", "merges.txt", ["<|endoftext|>"])  # doctest: +SKIP
        """
        from alignkit.bpe.loaders.gpt2_files import load_rank_order, load_vocab_merges

        names = list(special_tokens or [])
        fast = load_rank_order(vocab_path, merges_path, names)
        if fast is not None and len(fast[3]) == len(set(names)):  # files in merge layout, specials found
            self = cls.__new__(cls)
            self._setup(*fast, GPT2, None, False, None)
            return self
        vocab, merges = load_vocab_merges(vocab_path, merges_path)
        return cls(vocab, merges, special_tokens)

    def _setup(
        self,
        tokens: list[bytes],
        ids: list[int],
        added: dict[int, bytes],
        specials: dict[str, int],
        pattern: str,
        normalizer: str | None,
        add_prefix_space: bool,
        name: str | None,
        *,
        ranks: dict[bytes, int] | None = None,
    ) -> None:
        """Build from BPE tokens in merge-priority order and their ids (parallel lists).

        Only what encoding needs is built here (the rank table and the compiled core);
        the id -> bytes tables for decoding and vocabulary queries are built on first use.
        ``ranks``, when given, must equal ``dict(zip(tokens, ids))`` (a loader that built it
        already passes it on instead of having it built twice).
        """
        self._forms = _check_normalizer(normalizer)
        n = len(tokens)
        taken = set(ids)
        increasing = len(taken) == n and ids == sorted(ids)  # unique and sorted: strictly increasing
        if ranks is None or not increasing or len(ranks) != n:
            ranks = dict(zip(tokens, ids if increasing else range(n)))
        if len(taken) != n or len(ranks) != n or len(ids) != n:
            raise TokenizerFileError("two BPE tokens share an id or a byte string: the vocabulary is corrupt")
        special_ids = set(specials.values())
        clash = sorted(i for i in special_ids if i in taken or i in added)
        if clash:
            raise TokenizerFileError(f"special-token ids {clash[:5]} are also ids of ordinary tokens; give specials their own ids")
        self.normalizer: str | None = ",".join(self._forms) or None
        self.pattern: str = pattern
        self.add_prefix_space: bool = add_prefix_space
        self.name: str | None = name
        self._token_list = tokens
        self._id_list = ids
        self._added = added
        self._specials = dict(specials)
        top = ids[-1] if increasing and ids else max(ids, default=-1)
        self._n_vocab = max(top, max(added, default=-1), max(special_ids, default=-1)) + 1
        self._lazy_tables(None if increasing else ids, BPECore(ranks, pattern))

    def _lazy_tables(self, remap: list[int] | None, core: BPECore) -> None:
        """The core, and the tables built on first use (decode, vocabulary queries, specials)."""
        self._decoder_map: dict[int, bytes] | None = None
        self._table_list: list[bytes | None] | None = None
        self._encoder_map: dict[bytes, int] | None = None
        self._decode_core: TokenDecoder | None = None
        self._remap: list[int] | None = remap
        self._core = core
        self._splitter_all: SpecialSplitter | None = None
        self._splitters: dict[frozenset[str], SpecialSplitter] = {}
        self._hash: str | None = None
        self.source: str | None = None

    @property
    def _tokens(self) -> list[bytes]:
        """The BPE tokens in merge-priority order (made from the rank table on first use)."""
        tokens = self._token_list
        if tokens is None:
            tokens = self._token_list = list(self._core.decoder)  # ids 0..n-1 (no _token_list only then)
        return tokens

    @property
    def _ids(self) -> list[int]:
        """The id of each of :attr:`_tokens` (made from the rank table on first use)."""
        ids = self._id_list
        if ids is None:
            ids = self._id_list = list(range(len(self._core.decoder)))
        return ids

    @property
    def _splitter(self) -> SpecialSplitter:
        """The splitter of every special token (its regex is compiled on first use)."""
        splitter = self._splitter_all
        if splitter is None:
            splitter = self._splitter_all = SpecialSplitter(self._specials)
        return splitter

    @property
    def _decoder(self) -> dict[int, bytes]:
        """id -> token bytes, specials included (built on first use)."""
        decoder = self._decoder_map
        if decoder is None:
            decoder = dict(self._added)
            decoder.update(zip(self._ids, self._tokens))
            for s, i in self._specials.items():
                decoder[i] = s.encode("utf-8")
            self._decoder_map = decoder
        return decoder

    @property
    def _table(self) -> list[bytes | None]:
        """The decoder as a list indexed by id (None where no token has the id)."""
        table = self._table_list
        if table is None:
            table = [None] * self._n_vocab
            for i, token in self._decoder.items():
                table[i] = token
            self._table_list = table
        return table

    @property
    def _encoder(self) -> dict[bytes, int]:
        """token bytes -> id, specials included (built on first use); where a special's text
        is also the bytes of a token, the token's id wins (``token_to_id`` of bytes names a token)."""
        encoder = self._encoder_map
        if encoder is None:
            encoder = {s.encode("utf-8"): i for s, i in self._specials.items()}
            encoder.update({t: i for i, t in self._added.items()})
            encoder.update(zip(self._tokens, self._ids))
            self._encoder_map = encoder
        return encoder

    # ---------------------------------------------------------------- encode
    def _prepare(self, text: str) -> str:
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                text = fix_surrogates(text)
            for form in self._forms:
                text = unicodedata.normalize(form, text)  # type: ignore[arg-type]
        if self.add_prefix_space and text and not text.startswith(" "):
            text = " " + text
        return text

    def _utf8(self, text: str) -> bytes:
        """``self._prepare(text).encode("utf-8")``, encoding valid text only once."""
        if self._forms or self.add_prefix_space:
            if _nfc.NATIVE and self._forms == _NFC_ONLY and not self.add_prefix_space and not text.isascii():
                try:
                    data = text.encode("utf-8")
                except UnicodeEncodeError:
                    data = b""
                if data and _nfc.nfc_inert(data):
                    return data  # certainly NFC already: no unicodedata pass, no second encode
            return self._prepare(text).encode("utf-8")
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            return fix_surrogates(text).encode("utf-8")

    def _encode_run(self, text: str) -> list[int]:
        ids = self._core.encode_bytes(self._utf8(text))
        remap = self._remap
        return ids if remap is None else [remap[r] for r in ids]

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode ``text`` as plain text: special-token strings in it are ordinary text.

        This never returns a special-token id, whatever the text holds, so it is
        the only way content from data is encoded (no role spoofing).

        Example:
            >>> tok = load_default()  # doctest: +SKIP
            >>> tok.encode_ordinary("<|endoftext|>")  # doctest: +SKIP
            [27, 91, 437, 1659, 5239, 91, 29]
        """
        if not isinstance(text, str):
            raise _not_str("encode_ordinary", text)
        if not text:
            return []
        return self._encode_run(text)

    def ascii_core(self) -> BPECore | None:
        """The core whose ``encode_ordinary`` equals this one's for ASCII text, or ``None``.

        A narrow fast entry for compiled callers (the pipeline's encoder) that encode many
        short texts: ASCII text needs no surrogate fix or normalization, so when ids need
        no remapping and no prefix space is added, the core's result is exactly
        :meth:`encode_ordinary`'s. Non-ASCII text must still go through this facade.

        Example:
            >>> core = load_default().ascii_core()  # doctest: +SKIP
            >>> core.encode_ordinary("Hi") == load_default().encode_ordinary("Hi")  # doctest: +SKIP
            True
        """
        if self._remap is not None or self.add_prefix_space:
            return None
        return self._core

    def _splitter_for(self, allowed: SpecialSet) -> SpecialSplitter:
        if allowed == "all":
            return self._splitter
        key = frozenset(allowed)
        splitter = self._splitters.get(key)
        if splitter is None:
            unknown = key - self._specials.keys()
            if unknown:
                raise SpecialTokenError(
                    f"allowed_special names tokens this tokenizer does not have: {sorted(unknown)}; "
                    f"its special tokens are {sorted(self._specials)[:10]}"
                )
            splitter = SpecialSplitter({s: self._specials[s] for s in key})
            self._splitters[key] = splitter
        return splitter

    def encode(
        self,
        text: str,
        *,
        allowed_special: SpecialSet = "all",
        disallowed_special: SpecialSet = "all",
    ) -> list[int]:
        """Encode ``text``; declared special tokens in it become their special ids.

        Defaults (CS336 / Hugging Face behaviour): every declared special token
        is allowed. Pass ``allowed_special=set()`` for tiktoken's safe default:
        a special-token string in the text then raises :class:`SpecialTokenError`
        (``disallowed_special`` = "all" means every special not allowed), or
        ``disallowed_special=()`` to encode it as ordinary text. For content
        from data use :meth:`encode_ordinary`. Overlapping specials: the
        leftmost match wins and, at one position, the longest.

        Example:
            >>> tok = load_default()  # doctest: +SKIP
            >>> tok.encode("hi<|endoftext|>")  # doctest: +SKIP
            [5303, 50256]
        """
        if not isinstance(text, str):
            raise _not_str("encode", text)
        splitter = self._checked_splitter(text, allowed_special, disallowed_special)
        if splitter.regex is None:
            return self.encode_ordinary(text)
        out: list[int] = []
        for part, sid in splitter.split(text):
            if sid == TEXT:
                out.extend(self._encode_run(part))
            else:
                out.append(sid)
        return out

    def _checked_splitter(
        self, text: str, allowed_special: SpecialSet, disallowed_special: SpecialSet
    ) -> SpecialSplitter:
        """The splitter of the allowed specials, after refusing a disallowed one in ``text``.

        tiktoken's rule: ``disallowed_special="all"`` means every special that is not
        allowed; an explicit set is checked as given, even for tokens also allowed.
        """
        splitter = self._splitter_for(allowed_special)
        explicit = disallowed_special != "all"
        if explicit:
            disallowed = set(disallowed_special)
        else:
            disallowed = self._specials.keys() - splitter.specials.keys()
        if disallowed:
            found = self._splitter_for(frozenset(disallowed) & self._specials.keys()).locate(text)
            if found is not None:
                token, at = found
                if explicit:
                    why = "which disallowed_special forbids. Leave it out of disallowed_special and allow it"
                else:
                    why = "which is not allowed here. Pass allowed_special={...} (or 'all')"
                raise SpecialTokenError(
                    f"the text contains the special token {token!r} at character {at}, {why} "
                    "to encode it as a special token, pass disallowed_special=() to encode it as text, "
                    "or use encode_ordinary()"
                )
        return splitter

    def encode_into(self, text: str, out: vec[i32], *, allowed_special: SpecialSet = "all") -> vec[i32]:
        """:meth:`encode` appending to a native ``vec[i32]`` (returned: always reassign).

        The same ids as :meth:`encode` (every special not allowed is refused, as there);
        ordinary text goes from the compiled core straight into the vector, with no
        Python int per id. ``np.frombuffer(memoryview(out), np.int32)`` views the result.

        Example:
            >>> from librt.vecs import vec  # doctest: +SKIP
            >>> from mypy_extensions import i32  # doctest: +SKIP
            >>> list(load_default().encode_into("hi", vec[i32]()))  # doctest: +SKIP
            [5303]
        """
        if not isinstance(text, str):
            raise _not_str("encode_into", text)
        splitter = self._checked_splitter(text, allowed_special, "all")
        parts = [(text, TEXT)] if splitter.regex is None else splitter.split(text)
        for part, sid in parts:
            if sid != TEXT:
                out = vec_append(out, sid)
            elif part:
                if self._remap is None:
                    out = self._core.encode_bytes_into(self._utf8(part), out)
                else:
                    out = vec_extend(out, self._encode_run(part))
        return out

    def encode_iterable(self, iterable: Iterable[str]) -> Iterator[int]:
        """Stream ids for a stream of text chunks (e.g. an open file), in bounded memory.

        Ids never depend on where the input was cut into chunks. Memory is
        bounded by the longest stretch of text without a newline run followed by an
        ASCII letter or digit (where the buffer can be cut; see ``_stream``).

        Example:
            >>> with open("corpus.txt") as f:  # doctest: +SKIP
            ...     ids = list(tok.encode_iterable(f))
        """
        from alignkit.bpe._stream import iter_encode

        return iter_encode(self, iterable)

    def encode_batch(
        self, texts: Sequence[str], *, num_proc: int = 1, allowed_special: SpecialSet = "all"
    ) -> list[list[int]]:
        """Encode many texts, in ``num_proc`` processes when that is > 1.

        Example:
            >>> tok.encode_batch(["a b", "c"], num_proc=2)  # doctest: +SKIP
            [[64, 275], [66]]
        """
        from alignkit.bpe._parallel import encode_batch

        return encode_batch(self, texts, num_proc=num_proc, allowed_special=allowed_special)

    def encode_batch_arrays(
        self,
        texts: Sequence[str],
        *,
        num_proc: int = 1,
        allowed_special: SpecialSet = "all",
        dtype: str | None = None,
    ) -> tuple[Any, Any]:  # numpy arrays (not imported here: the mypyc build env has no numpy)
        """Encode many texts into one flat numpy id array plus offsets (no Python int per id).

        Text ``k``'s ids are ``ids[offsets[k]:offsets[k + 1]]``; ``dtype`` defaults to the
        smallest unsigned type that holds every id (``uint16`` for vocabularies up to 65,536).
        With ``num_proc > 1`` the workers send packed buffers, so the parent's cost per id is a
        copy, not an object: the form to use for pre-tokenizing corpora.

        Example:
            >>> ids, offsets = load_default().encode_batch_arrays(["hello world", "hi"])  # doctest: +SKIP
            >>> ids.tolist(), offsets.tolist()  # doctest: +SKIP
            ([31373, 995, 5303], [0, 2, 3])
        """
        from alignkit.bpe._parallel import encode_batch_arrays

        if dtype is None:
            dtype = "uint16" if self.n_vocab <= 1 << 16 else "uint32"
        return encode_batch_arrays(
            self, texts, num_proc=num_proc, allowed_special=allowed_special, dtype=dtype
        )

    def encode_file(
        self,
        path: str | os.PathLike[str],
        *,
        num_proc: int = 1,
        allowed_special: SpecialSet = "all",
        dtype: str | None = None,
    ) -> Any:  # a numpy array (not imported here: the mypyc build env has no numpy)
        """The ids of a whole UTF-8 text file as one flat numpy array, in ``num_proc`` processes.

        Exactly ``encode(open(path, encoding="utf-8", newline="").read(), allowed_special=...)``:
        no newline translation (CRLF stays), a byte-order mark is kept (as U+FEFF), and
        invalid UTF-8 raises :class:`~alignkit.errors.InputError` naming the file and the byte
        offset. The file is read 64 MiB at a time and cut into ~1 MB pieces at points where ids
        cannot depend on the cut (a newline run between printable ASCII and an ASCII letter or
        digit; see :meth:`encode_iterable`), which :meth:`encode_batch_arrays` encodes (forked
        workers when ``num_proc > 1``). Memory: the ids (up to twice, briefly, while arrays are
        joined), plus one window's bytes and its text (plus any bytes since the last cut,
        carried into the next window): not the whole text at once. A tokenizer with no
        safe cut (unknown split pattern, ``add_prefix_space``, a special token containing a
        newline) encodes the whole text as one piece in this process (exact, not parallel);
        so does a file with no cut point.
        ``dtype`` defaults as in :meth:`encode_batch_arrays`.

        Example:
            >>> ids = load_default().encode_file("corpus.txt", num_proc=4)  # doctest: +SKIP
            >>> ids.dtype, ids[:2].tolist()  # doctest: +SKIP
            (dtype('uint16'), [464, 3290])
        """
        from alignkit.bpe._file_encode import encode_file

        if dtype is None:
            dtype = "uint16" if self.n_vocab <= 1 << 16 else "uint32"
        return encode_file(self, path, num_proc=num_proc, allowed_special=allowed_special, dtype=dtype)

    # ---------------------------------------------------------------- decode
    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The exact bytes of ``ids`` (specials included).

        Example:
            >>> load_default().decode_bytes([31373, 995])  # doctest: +SKIP
            b'hello world'
        """
        if type(ids) is not list:
            ids = list(ids)
        try:
            return self._decoding_core().decode_bytes(ids)
        except (KeyError, TypeError):
            pass  # an unknown id: the facade's table below says which
        decoder = self._decoder
        try:
            if ids and min(ids) < 0:
                raise IndexError
            return b"".join(map(self._table.__getitem__, ids))  # type: ignore[arg-type]
        except (IndexError, TypeError):
            bad = [i for i in ids if not isinstance(i, int) or i not in decoder][:5]
            raise ValueError(f"ids not in this tokenizer's vocabulary (n_vocab={self.n_vocab}): {bad}") from None

    def _decoding_core(self) -> TokenDecoder:
        """A compiled decoder that knows every id (specials and added tokens too), built on first use."""
        dec = self._decode_core
        if dec is None:
            if self._remap is None and not self._added and not self._specials:
                dec = self._core.decoding()
            else:  # every id's bytes, straight from the parallel lists (no id -> bytes map)
                if self._id_list is None and not self._added:  # ids 0..n-1: the tokens, then the rest
                    tokens = list(self._core.decoder)
                    tokens += [b""] * (self._n_vocab - len(tokens))
                else:
                    tokens = [b""] * self._n_vocab
                    for i, t in self._added.items():
                        tokens[i] = t
                    for i, t in zip(self._ids, self._tokens):
                        tokens[i] = t
                for s, i in self._specials.items():
                    tokens[i] = s.encode("utf-8")
                dec = TokenDecoder(tokens)
            self._decode_core = dec
        return dec

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """Decode ids to text; invalid UTF-8 becomes U+FFFD (``errors="replace"``).

        Example:
            >>> load_default().decode([31373, 995])  # doctest: +SKIP
            'hello world'
        """
        return self.decode_bytes(ids).decode("utf-8", errors)

    # ---------------------------------------------------------------- vocabulary
    @property
    def n_vocab(self) -> int:
        """Largest id + 1."""
        return self._n_vocab

    @property
    def special_tokens(self) -> dict[str, int]:
        """Declared special (added) tokens: string -> id."""
        return dict(self._specials)

    @property
    def vocab(self) -> dict[int, bytes]:
        """id -> token bytes, specials included."""
        return dict(self._decoder)

    def token_to_id(self, token: str | bytes) -> int:
        """Id of a special-token string, or of an ordinary token given as text or bytes.

        Example:
            >>> load_default().token_to_id("<|endoftext|>")  # doctest: +SKIP
            50256
        """
        if isinstance(token, str):
            sid = self._specials.get(token)
            if sid is not None:
                return sid
            token = token.encode("utf-8")
        tid = self._encoder.get(token)
        if tid is None:
            raise KeyError(f"{token!r} is not a token of this tokenizer")
        return tid

    def id_to_token_bytes(self, token_id: int) -> bytes:
        """The bytes of one id.

        Example:
            >>> load_default().id_to_token_bytes(995)  # doctest: +SKIP
            b' world'
        """
        try:
            return self._decoder[token_id]
        except KeyError:
            raise KeyError(f"id {token_id} is not in this tokenizer (n_vocab={self.n_vocab})") from None

    def __repr__(self) -> str:
        return f"Tokenizer(name={self.name!r}, n_vocab={self.n_vocab}, specials={len(self._specials)})"


def load_default() -> Tokenizer:
    """The bundled GPT-2 tokenizer (see :func:`alignkit.bpe.loaders.load_tokenizer`)."""
    from alignkit.bpe.loaders import load_tokenizer

    return load_tokenizer()
