"""``datasets.map`` integration: picklable tokenize callables with content-based fingerprints.

:class:`SFTTokenize` and :class:`PreferenceTokenize` hold only plain data (a
:class:`~alignkit.worker.TokenizeConfig` of names, paths and numbers). Each
process builds the tokenizer and template lazily on first call (compiled objects
cannot be pickled by dill), so ``num_proc > 1`` works. They give the same rows
as ``alignkit tokenize`` with the same settings.

Caching is explicit (F14): what ``datasets`` hashes is the settings plus the
tokenizer's content sha256, the template's sha256 and alignkit's version, never a
path, so the second run hits the cache (also through a copy of the tokenizer folder,
or a relative instead of an absolute path), and changing the tokenizer file, the
template or any setting changes the fingerprint. :func:`tokenize_dataset` also passes
an explicit ``new_fingerprint`` and fixed ``Features``.

With ``batched=True`` (recommended), rows that truncation or masking leave out
(``drop`` policy, zero trained tokens) are removed from the batch; in per-row mode
such a row raises :class:`~alignkit.errors.InputError`, as does an invalid row (or,
under ``truncation="error"``, a row longer than ``max_seq_len``). The error names the
row and the field: ``dataset: row 6: turns.0.role: ... (row 2 of this batch)
[literal_error]`` when ``ds.map`` is called with ``with_indices=True`` (the callable
then takes the indices as its second argument; :func:`tokenize_dataset` passes it),
else ``batch: row 2: ...``. The pydantic ``ValidationError`` is its ``__cause__``.
To list every bad row of a JSONL file before mapping, run ``alignkit validate FILE``.

Example::

    >>> import datasets
    >>> ds = datasets.Dataset.from_list([{"turns": [{"role": "user", "content": "Hi"},
    ...                                             {"role": "assistant", "content": "Hello"}]}])
    >>> fn = SFTTokenize(tokenizer="gpt2", max_seq_len=512)
    >>> out = tokenize_dataset(ds, fn)          # doctest: +SKIP
    >>> out.column_names                        # doctest: +SKIP
    ['input_ids', 'labels', 'role_ids', 'attention_mask']
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import TYPE_CHECKING, Any

from alignkit._version import __version__
from alignkit.errors import AlignkitError, InputError, UsageError
from alignkit.truncate import POLICIES
from alignkit.worker import (
    DEFAULT_ENCODER,
    LAYOUTS,
    MASKS,
    PAIR_COLUMNS,
    Skip,
    TokenizeConfig,
    pair_columns,
    pair_row,
    reward_row,
    sft_row,
    tokenizer_file_state,
)

if TYPE_CHECKING:
    from alignkit.encoder import Encoder

_ENCODERS: dict[tuple[TokenizeConfig, tuple[tuple[str, int, int], ...]], Encoder] = {}

_SFT_FIELDS = ("turns",)
_PAIR_FIELDS = ("history", "response_a", "response_b", "chosen", "score_a", "score_b")


def _encoder(config: TokenizeConfig) -> Encoder:
    """This process's encoder for ``config``; rebuilt when the tokenizer files change."""
    key = (config, tokenizer_file_state(config.tokenizer))
    enc = _ENCODERS.get(key)
    if enc is None:
        from alignkit.encoder import build_encoder

        enc = _ENCODERS[key] = build_encoder(config)
    return enc


def _check_settings(truncation: str, mask: str, max_seq_len: int) -> None:
    """:meth:`TokenizeConfig.check` for the settings a Python caller passes, in their own names."""
    for name, value, choices in (("truncation", truncation, POLICIES), ("mask", mask, MASKS)):
        if value not in choices:
            raise UsageError(f"{name}={value!r}: use one of {', '.join(repr(c) for c in choices)}")
    if max_seq_len < 0:
        raise UsageError(f"max_seq_len={max_seq_len}: it must be >= 0 (0: no limit)")


def _python_skip(skip: Skip, tokens: int, prompt_len: int, max_seq_len: int) -> Skip:
    """``skip`` with a message for Python callers: parameter names, not the CLI's flags."""
    if skip.reason == "too_long" and skip.status == "rejected":
        message = (f"{tokens} tokens, longer than max_seq_len={max_seq_len}; pass truncation='truncate'"
                   " or 'drop', or raise max_seq_len")
    elif skip.reason == "too_long":
        message = f"{tokens} tokens > max_seq_len={max_seq_len}"
    elif skip.reason == "prompt_too_long":
        message = (f"the prompt alone has {prompt_len} tokens, no room for a response in"
                   f" max_seq_len={max_seq_len}")
    else:
        return skip
    return Skip(skip.status, skip.reason, message)


class _Where:
    """Where a row is: its index in the batch and, when ``ds.map`` passes indices, in the dataset."""

    def __init__(self, batch_row: int, dataset_row: int | None, single: bool) -> None:
        self.batch_row = batch_row
        self.dataset_row = dataset_row
        self.single = single

    def error(self, loc: str, message: str, error_type: str) -> InputError:
        """An :class:`InputError` for this row: ``dataset: row N: loc: message (row i of this batch)``."""
        if self.dataset_row is not None:
            note = "" if self.single else f" (row {self.batch_row} of this batch)"
            return InputError("dataset", self.dataset_row, loc, message + note, error_type, unit="row")
        return InputError("batch", self.batch_row, loc, message + " (pass with_indices=True to ds.map"
                          " to get dataset row numbers)", error_type, unit="row")

    def invalid(self, exc: Any) -> InputError:
        """The error of a record pydantic rejected: every problem, each with its field."""
        from alignkit.io.diagnostics import explain
        from alignkit.records import error_loc

        parts: list[tuple[str, str, str]] = []
        for d in exc.errors(include_url=False):
            path = tuple(d["loc"])
            ctx = d.get("ctx")
            parts.append((error_loc(path, dict(ctx) if ctx else None),
                          explain(d["type"], d["msg"], path, d.get("input")), d["type"]))
        if not parts:  # pragma: no cover - pydantic always lists at least one
            return self.error("", str(exc), "invalid_record")
        loc, message, error_type = parts[0]
        rest = "".join(f"; {w + ': ' if w else ''}{m} [{t}]" for w, m, t in parts[1:])
        return self.error(loc, message + rest, error_type)


class _Config:
    """A config as it travels to worker processes (paths included), with its content ``key``.

    ``datasets`` hashes it as the ``key`` alone (:func:`_hash_config`), so its fingerprints
    and cache files follow the tokenizer's and template's content, not where they lie.
    """

    __slots__ = ("config", "key")

    def __init__(self, config: TokenizeConfig, key: str) -> None:
        self.config = config
        self.key = key

    def __reduce__(self) -> tuple[type[_Config], tuple[TokenizeConfig, str]]:
        return (_Config, (self.config, self.key))


def _hash_config(pickler: Any, obj: _Config) -> None:
    """How ``datasets``' hashing pickler writes a :class:`_Config`: its key, no path."""
    pickler.save_reduce(_Config, (None, obj.key), obj=obj)


_HASHER: list[bool] = []


def _register_hasher() -> None:
    """Register :func:`_hash_config` with ``datasets``' pickler once it is imported.

    Called before each pickling, so it is in place when ``datasets`` hashes a callable,
    whichever was imported first. Without the hook (a ``datasets`` that lacks it) the hash
    includes the paths: still correct, only a copied folder misses the cache.
    """
    if _HASHER or "datasets" not in sys.modules:
        return
    try:
        from datasets.utils.py_utils import pklregister
    except ImportError:
        return
    pklregister(_Config)(_hash_config)
    _HASHER.append(True)


class _Tokenize:
    kind = "sft"
    columns: tuple[str, ...] = ()

    def __init__(self, tokenizer: str = "gpt2", template: str | None = None, *,
                 max_seq_len: int = 2048, truncation: str = "truncate", mask: str = "assistant",
                 encoder: str | None = None) -> None:
        _check_settings(truncation, mask, max_seq_len)
        self.config = TokenizeConfig(tokenizer=tokenizer, template=template, max_seq_len=max_seq_len,
                                     truncation=truncation, mask=mask, kind=self.kind,
                                     encoder=encoder or DEFAULT_ENCODER)
        self.config.check()

    def identity(self) -> dict[str, object]:
        """What decides the output: settings, tokenizer and template content hashes, version.

        No path: the tokenizer and the template are named by their content sha256 (what the
        manifest records; the tokenizer cache keeps the tokenizer's), so a copy of a tokenizer
        folder, or the same folder by a relative or an absolute path, gives the same identity.
        A name stays only where the encoder gives no sha256 for it (a custom ``encoder``).
        """
        enc = _encoder(self.config)
        config = self.config.manifest_config()
        tokenizer_sha256 = enc.describe_tokenizer().get("sha256")
        template = dict(enc.describe_template())
        if tokenizer_sha256 is not None:
            del config["tokenizer"]
        if template.get("sha256") is not None:
            del config["template"]
            template.pop("name", None)
        return {
            "alignkit": __version__,
            "kind": self.kind,
            "config": config,
            "tokenizer_sha256": tokenizer_sha256,
            "template": template,
        }

    def fingerprint(self, input_fingerprint: str = "") -> str:
        """A 16-hex-digit fingerprint of ``input_fingerprint`` + :meth:`identity`."""
        blob = json.dumps([input_fingerprint, self.identity()], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def __getstate__(self) -> dict[str, object]:
        # Worker processes need the config with its paths; datasets hashes this state with
        # its own pickler, which (registered here) sees only the content fingerprint.
        _register_hasher()
        return {"config": _Config(self.config, self.fingerprint())}

    def __setstate__(self, state: dict[str, object]) -> None:
        config = state["config"]
        assert isinstance(config, _Config)
        self.config = config.config

    def features(self) -> Any:
        """``datasets.Features`` of the output (dtypes as the CLI writes them)."""
        import datasets

        from alignkit.worker import column_dtype

        n_vocab = _encoder(self.config).n_vocab
        return datasets.Features(
            {c: datasets.Sequence(datasets.Value(column_dtype(c, n_vocab))) for c in self.output_columns()})

    def output_columns(self) -> tuple[str, ...]:
        """The names of the output columns, in order."""
        return self.columns

    def _row(self, record: dict[str, Any]) -> tuple[list[int], ...] | Skip:
        raise NotImplementedError

    def __call__(self, batch: dict[str, Any], indices: list[int] | int | None = None,
                 rank: int | None = None) -> dict[str, list[Any]]:
        """Tokenize a batch (``batched=True``) or one row.

        ``indices``: the dataset rows ``ds.map(..., with_indices=True)`` passes (a list for a
        batch, an int for one row), which errors then name; ``rank`` (``with_rank=True``
        besides ``with_indices=True``) is not used.

        Raises:
            InputError: an invalid row, a row too long under ``truncation="error"``, a row the
                template cannot render, or (per-row mode) a row that batched mode would leave out.
        """
        from pydantic import ValidationError

        _encoder(self.config).check()  # a tokenizer or template that cannot load is no row's error
        key = self.columns_in[0]
        if self.kind == "preference":
            single = not isinstance(batch["response_a"], list)
        elif batch[key]:
            single = isinstance(batch[key][0], dict)
        else:  # no turns: one row with an empty list, or an empty batch
            single = isinstance(indices, int)
        n = 1 if single else len(batch[key])
        columns = self.output_columns()
        out: dict[str, list[Any]] = {c: [] for c in columns}
        for i in range(n):
            record = {f: batch[f] if single else batch[f][i] for f in self.columns_in if f in batch}
            at = indices[i] if isinstance(indices, list) else indices if single else None
            where = _Where(i, at, single)
            try:
                row = self._row(record)
            except ValidationError as exc:
                raise where.invalid(exc) from exc
            except InputError as exc:
                raise where.error(exc.loc, exc.message, exc.error_type) from exc
            except (AlignkitError, ValueError) as exc:  # a template that cannot render this record
                raise where.error("", str(exc), "encode_error") from exc
            if isinstance(row, Skip):
                if single or row.status == "rejected":
                    raise where.error("", row.message + (" (use batched=True to drop such rows)"
                                                         if row.status != "rejected" else ""), row.reason)
                continue
            for c, values in zip(columns, self._columns(row)):
                out[c].append(values)
        if single:
            return {c: v[0] for c, v in out.items()}
        return out

    columns_in: tuple[str, ...] = _SFT_FIELDS

    def _columns(self, row: tuple[list[int], ...]) -> tuple[list[int], ...]:
        return row


class SFTTokenize(_Tokenize):
    """``dataset.map(SFTTokenize(...), batched=True)`` on rows with a ``turns`` column.

    Output columns: ``input_ids``, ``labels``, ``role_ids``, ``attention_mask``.

    The first invalid row stops the map with an :class:`~alignkit.errors.InputError` naming
    the row (pass ``with_indices=True`` for dataset row numbers) and the field. Rows are never
    skipped silently: to list every bad record first, run ``alignkit validate data.jsonl`` on
    the JSONL file the dataset is loaded from (line N is dataset row N - 1 when it has no
    blank lines), fix or remove them, then map.
    """

    kind = "sft"
    columns = ("input_ids", "labels", "role_ids", "attention_mask")
    columns_in = _SFT_FIELDS

    def _row(self, record: dict[str, Any]) -> tuple[list[int], ...] | Skip:
        from alignkit.manifest import RunStats
        from alignkit.records import ChatExample

        turns = [{k: v for k, v in t.items() if v is not None} for t in record["turns"]]
        example = ChatExample.model_validate({"turns": turns})
        enc = _encoder(self.config)
        ex = enc.encode_sft(example, self.config.mask)
        row = sft_row(ex, self.config, RunStats())
        return _python_skip(row, len(ex), 0, self.config.max_seq_len) if isinstance(row, Skip) else row

    def _columns(self, row: tuple[list[int], ...]) -> tuple[list[int], ...]:
        return (*row, [1] * len(row[0]))


class PreferenceTokenize(_Tokenize):
    """``dataset.map(PreferenceTokenize(...), batched=True)`` on preference rows.

    Output columns: those of ``alignkit tokenize --layout``. ``layout="dpo"`` (the default):
    ``prompt_input_ids``, ``prompt_role_ids``, and ``chosen_input_ids``/``labels``/``role_ids``
    without the prompt, same for rejected. ``layout="reward"``: ``chosen_ids``,
    ``chosen_role_ids``, ``rejected_ids``, ``rejected_role_ids``, whole sequences (prompt +
    response), as TRL's ``RewardTrainer`` takes them.
    Errors and finding bad rows first (``alignkit validate``): as :class:`SFTTokenize`.
    """

    kind = "preference"
    columns = PAIR_COLUMNS
    columns_in = _PAIR_FIELDS

    def __init__(self, tokenizer: str = "gpt2", template: str | None = None, *,
                 max_seq_len: int = 2048, truncation: str = "truncate", mask: str = "assistant",
                 layout: str = "dpo", encoder: str | None = None) -> None:
        super().__init__(tokenizer, template, max_seq_len=max_seq_len, truncation=truncation, mask=mask,
                         encoder=encoder)
        if layout not in LAYOUTS:
            raise UsageError(f"layout={layout!r}: use one of {', '.join(repr(c) for c in LAYOUTS)}")
        self.config = self.config.replace(layout=layout)

    def output_columns(self) -> tuple[str, ...]:
        return pair_columns(self.config.layout)

    def _columns(self, row: tuple[list[int], ...]) -> tuple[list[int], ...]:
        return reward_row(row) if self.config.layout == "reward" else row

    def _row(self, record: dict[str, Any]) -> tuple[list[int], ...] | Skip:
        from alignkit.manifest import RunStats
        from alignkit.records import PreferenceExample

        data = {k: v for k, v in record.items() if v is not None}
        data["history"] = [{k: v for k, v in t.items() if v is not None} for t in record["history"]]
        pair = PreferenceExample.model_validate(data)
        enc = _encoder(self.config)
        prompt_len, chosen, rejected = enc.encode_pair(pair)
        row = pair_row(prompt_len, chosen, rejected, self.config, RunStats())
        if isinstance(row, Skip):
            return _python_skip(row, max(len(chosen), len(rejected)), prompt_len, self.config.max_seq_len)
        return row


def tokenize_dataset(dataset: Any, fn: _Tokenize, *, num_proc: int | None = None,
                     batch_size: int = 256) -> Any:
    """``dataset.map(fn, batched=True, with_indices=True)`` with an explicit fingerprint and fixed features.

    The input columns are removed (rows may be dropped by truncation or masking). Errors
    name the dataset row (``with_indices`` does not change the output or the fingerprint).
    """
    return dataset.map(
        fn, batched=True, with_indices=True, batch_size=batch_size, num_proc=num_proc,
        remove_columns=dataset.column_names, features=fn.features(),
        new_fingerprint=fn.fingerprint(dataset._fingerprint),
        desc=f"alignkit tokenize ({fn.kind})",
    )
