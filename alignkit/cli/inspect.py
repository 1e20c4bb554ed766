"""``alignkit inspect OUT [--index I]``: what an output folder holds, and one example.

Prints the manifest summary, checks every file against its sha256, then renders
row ``I`` decoded token by token: trained tokens highlighted (green on a
terminal, ``[[…]]`` otherwise), special tokens set apart from text that only looks
like one (bold cyan on a terminal, ``⟦…⟧`` otherwise: content that contains
``<|endoftext|>`` is plain text, never the special token), padding left out. A folder without ``manifest.json`` is incomplete (a killed
or running ``tokenize``): inspect says so and exits 1.

Example::

    $ alignkit inspect alignkit_out/sft --index 3
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

_GREEN = "\x1b[32m"
_RESET = "\x1b[0m"
_SPECIAL = "\x1b[1;36m"
#: Plain-text brackets around a special token (content never holds special ids, only text).
_OPEN, _CLOSE = "\u27e6", "\u27e7"


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "inspect",
        help="show an output folder's manifest and one example with its trained tokens",
        description="Show the manifest of a tokenize output folder, verify its files, and"
        " render one row decoded token by token with the trained tokens highlighted.",
    )
    p.add_argument("out", metavar="OUT", help="a folder written by alignkit tokenize")
    p.add_argument("--index", type=int, default=0, metavar="I", help="row to render (default 0)")
    p.add_argument("--tokenizer", metavar="NAME|PATH|DIR",
                   help="tokenizer to decode with, when the one the manifest names is not found here"
                   " (its sha256 must match the manifest's)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="highlight with ANSI colours (auto: on a terminal)")
    p.set_defaults(run=run)


def _read_rows(folder: Path, manifest: dict[str, Any], index: int) -> dict[str, list[int]]:
    fmt = manifest["config"]["format"]
    names = list(manifest["columns"])
    if fmt == "npy":
        import numpy as np

        row: dict[str, list[int]] = {}
        for n in names:
            offsets = np.load(folder / f"{n}.offsets.npy", mmap_mode="r")
            values = np.load(folder / f"{n}.npy", mmap_mode="r")
            row[n] = values[int(offsets[index]) : int(offsets[index + 1])].tolist()
        return row
    if fmt == "jsonl":
        with open(folder / "data.jsonl", encoding="utf-8") as handle:
            for i, line in enumerate(handle):
                if i == index:
                    data: dict[str, list[int]] = json.loads(line)
                    return data
        raise IndexError(index)
    import pyarrow as pa
    import pyarrow.parquet as pq

    if fmt == "parquet":
        table = pq.read_table(folder / "data.parquet")
    else:
        with pa.memory_map(str(folder / "data-00000-of-00001.arrow")) as source:
            table = pa.ipc.open_stream(source).read_all()
    sliced = table.slice(index, 1).to_pylist()
    if not sliced:
        raise IndexError(index)
    result: dict[str, list[int]] = sliced[0]
    return result


def _render(ids: list[int], labels: list[int] | None, roles: list[int] | None, token_bytes: Any,
            color: bool, special: Any = None) -> str:
    """Runs of trained and untrained tokens, each decoded from its tokens' bytes (padding left out).

    Bytes are joined within a run before decoding, so a character split over several
    tokens shows as itself, not as escapes; ``token_bytes`` returns ``None`` when no
    tokenizer is at hand, and ids are shown as ``<id>``. A token for which ``special(id)``
    is true is shown apart (:data:`_SPECIAL` colour, else ``⟦…⟧``).

        >>> text = {1: b"<|eot|>", 2: b"ok", 3: b" <|eot|>"}  # 3: text that looks like 1
        >>> _render([2, 3, 1], [-100, 3, 1], None, text.get, False, lambda t: t == 1)
        'ok[[ <|eot|>\u27e6<|eot|>\u27e7]]'
    """
    parts: list[str] = []
    run_bytes: list[bytes] = []
    in_run = False

    def flush() -> None:
        if run_bytes:
            parts.append(b"".join(run_bytes).decode("utf-8", errors="backslashreplace"))
            run_bytes.clear()

    for k, tok in enumerate(ids):
        if roles is not None and roles[k] == 5:  # padding
            continue
        trained = labels is not None and labels[k] != -100
        if trained != in_run:
            flush()
            if color:
                parts.append(_GREEN if trained else _RESET)
            else:
                parts.append("[[" if trained else "]]")
            in_run = trained
        raw = token_bytes(tok)
        if raw is None:
            parts.append(f"<{tok}>")
        elif special is not None and special(tok):
            flush()
            text = raw.decode("utf-8", errors="backslashreplace")
            if color:
                parts.append(_SPECIAL + text + _RESET + (_GREEN if in_run else ""))
            else:
                parts.append(_OPEN + text + _CLOSE)
        else:
            run_bytes.append(raw)
    flush()
    if in_run:
        parts.append(_RESET if color else "]]")
    return "".join(parts)


def run(args: argparse.Namespace) -> int:
    from alignkit.cli.tokenize import summary_text
    from alignkit.errors import UsageError
    from alignkit.io.atomic import MANIFEST_NAME, sha256_file

    folder = Path(args.out)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder; give the -o folder of alignkit tokenize")
    if not (folder / MANIFEST_NAME).is_file():
        print(f"{folder}: incomplete: no {MANIFEST_NAME} (a killed or unfinished tokenize run);"
              " do not train on it", file=sys.stderr)
        return 1
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    bad = [n for n, e in manifest["files"].items()
           if not (folder / n).is_file() or sha256_file(folder / n) != e["sha256"]]
    from alignkit.pipeline import TokenizeReport
    from alignkit.manifest import RunStats

    report = TokenizeReport(folder, manifest["kind"], RunStats(), manifest)
    print(summary_text(report))
    print(f"  tokenizer: {manifest['tokenizer'].get('name')} ({manifest['tokenizer'].get('n_vocab')} ids),"
          f" template: {manifest['template'].get('name')}, columns: "
          + ", ".join(f"{k} {v}" for k, v in manifest["columns"].items()))
    if bad:
        print(f"{folder}: files changed since they were written: {', '.join(bad)}", file=sys.stderr)
        return 1
    try:
        row = _read_rows(folder, manifest, args.index)
    except IndexError:
        raise UsageError(f"--index {args.index} is out of range ({manifest['counts']['written']} examples)") from None
    token_text, special = _token_bytes(manifest, args.tokenizer)
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    legend = "trained tokens in green, special tokens in bold cyan" if color else (
        f"trained tokens in [[...]], special tokens in {_OPEN}...{_CLOSE}")
    print(f"--- row {args.index} ({legend})")
    if manifest["kind"] == "preference" and "chosen_ids" in row:  # the reward layout: whole sequences
        for side in ("chosen", "rejected"):
            print(f"{side + ':':<10}" + _render(row[f"{side}_ids"], None, row[f"{side}_role_ids"],
                                               token_text, color, special))
    elif manifest["kind"] == "preference":
        print("prompt:   " + _render(row["prompt_input_ids"], None, None, token_text, color, special))
        for side in ("chosen", "rejected"):
            print(f"{side + ':':<10}" + _render(row[f"{side}_input_ids"], row[f"{side}_labels"],
                                               row[f"{side}_role_ids"], token_text, color, special))
    elif "seq_lens" in row:  # a packed row: one block per example, padding left out
        start = 0
        for k, n in zip(row["example_index"], row["seq_lens"]):
            print(f"--- example {k} ({n} tokens)")
            stop = start + n
            print(_render(row["input_ids"][start:stop], row["labels"][start:stop],
                          row["role_ids"][start:stop], token_text, color, special))
            start = stop
        print(f"--- padding: {len(row['input_ids']) - start} tokens")
    else:
        print(_render(row["input_ids"], row["labels"], row["role_ids"], token_text, color, special))
    return 0


def _token_bytes(manifest: dict[str, Any], tokenizer: str | None) -> tuple[Any, Any]:
    """Functions id → token bytes (``None``: show ids) and id → is a special token, from the
    tokenizer the manifest names."""
    from alignkit.encoder import build_encoder
    from alignkit.errors import AlignkitError
    from alignkit.worker import TokenizeConfig

    cfg = dict(manifest["config"])
    if tokenizer is not None:
        cfg["tokenizer"] = tokenizer
    config = TokenizeConfig(**{k: v for k, v in cfg.items() if k in TokenizeConfig.FIELDS})
    try:
        encoder = build_encoder(config)
        same = encoder.describe_tokenizer().get("sha256") == manifest["tokenizer"].get("sha256")
    except (AlignkitError, OSError) as err:
        print(f"cannot load the tokenizer {config.tokenizer!r} ({err}); showing ids"
              " (pass --tokenizer PATH to decode)", file=sys.stderr)
        same, encoder = False, None
    if encoder is None or not same:
        if encoder is not None:
            print(f"the tokenizer {config.tokenizer!r} found here is not the one the output was"
                  " made with (sha256 differs); showing ids", file=sys.stderr)
        return (lambda token_id: None), None
    specials = getattr(getattr(encoder, "tokenizer", None), "special_tokens", None)
    ids = frozenset(specials.values()) if isinstance(specials, dict) else frozenset()
    return encoder.token_bytes, ids.__contains__
