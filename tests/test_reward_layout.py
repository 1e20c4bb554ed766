"""``--layout reward``: preference pairs as whole sequences, under TRL ``RewardTrainer``'s names.

Every row of the reward layout must be the matching row of the default (``dpo``) layout with
the prompt joined to each response, for every format, for 1 and 2 processes, on the fast and
the general path, with rejected, dropped and truncated pairs in between.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLE_DATA, hh_rlhf_pairs, shared_path

from alignkit.cli import main
from alignkit.cli.inspect import _read_rows
from alignkit.errors import UsageError
from alignkit.hf import PreferenceTokenize, tokenize_dataset
from alignkit.output_columns import reward_chunk
from alignkit.pipeline import tokenize_files
from alignkit.records import PreferenceExample
from alignkit.worker import PAIR_COLUMNS, REWARD_COLUMNS, TokenizeConfig

ENC = "_byte_encoder:make"


def _rows(folder: Path) -> list[dict[str, list[int]]]:
    manifest = json.loads((folder / "manifest.json").read_text())
    return [_read_rows(folder, manifest, i) for i in range(manifest["counts"]["written"])]


def _joined(dpo: dict[str, list[int]]) -> dict[str, list[int]]:
    return {
        "chosen_ids": dpo["prompt_input_ids"] + dpo["chosen_input_ids"],
        "chosen_role_ids": dpo["prompt_role_ids"] + dpo["chosen_role_ids"],
        "rejected_ids": dpo["prompt_input_ids"] + dpo["rejected_input_ids"],
        "rejected_role_ids": dpo["prompt_role_ids"] + dpo["rejected_role_ids"],
    }


def _pairs(tmp_path: Path) -> Path:
    """The sample pairs with a bad line, a pair too long for 64 tokens and a long prompt between them."""
    lines = (SAMPLE_DATA / "preference.jsonl").read_text().splitlines()
    long_answer = {"history": [{"role": "user", "content": "Say a lot."}], "response_a": "word " * 200,
                   "response_b": "short", "chosen": "b"}
    long_prompt = {"history": [{"role": "user", "content": "context " * 300}], "response_a": "x",
                   "response_b": "y", "chosen": "a"}
    lines[3:3] = ["{not json", json.dumps(long_answer), json.dumps(long_prompt)]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(lines * 3) + "\n")
    return path


@pytest.mark.parametrize("fmt", ["arrow", "npy", "parquet", "jsonl"])
@pytest.mark.parametrize("encoder", ["default", ENC])
def test_reward_rows_are_the_dpo_rows_joined(tmp_path: Path, fmt: str, encoder: str) -> None:
    src = _pairs(tmp_path)
    base = TokenizeConfig(format=fmt, max_seq_len=64, on_error="skip")
    if encoder != "default":  # the general path (no fast path for a custom encoder)
        base = base.replace(encoder=encoder)
    dpo = tokenize_files([src], tmp_path / "dpo", base)
    reward = tokenize_files([src], tmp_path / "reward", base.replace(layout="reward"))
    two = tokenize_files([src], tmp_path / "reward2", base.replace(layout="reward"), num_proc=2)
    assert dpo.stats.truncated > 0 and dpo.rejects_total >= 3  # a bad line and the long prompt, thrice
    assert reward.stats == dpo.stats == two.stats
    dpo_rows, reward_rows = _rows(tmp_path / "dpo"), _rows(tmp_path / "reward")
    assert len(reward_rows) == len(dpo_rows) == dpo.stats.written
    assert [r for r in reward_rows] == [_joined(r) for r in dpo_rows]
    assert list(reward.manifest["columns"]) == list(REWARD_COLUMNS)
    assert reward.manifest["config"]["layout"] == "reward" and "layout" not in dpo.manifest["config"]
    for name in (tmp_path / "reward").iterdir():  # any number of processes: the same bytes
        assert name.read_bytes() == (tmp_path / "reward2" / name.name).read_bytes()


def test_a_reward_row_is_the_sft_encoding_of_the_conversation(tmp_path: Path) -> None:
    from alignkit.encoder import build_encoder

    src = SAMPLE_DATA / "preference.jsonl"
    config = TokenizeConfig(max_seq_len=0, layout="reward")
    tokenize_files([src], tmp_path / "o", config)
    encoder = build_encoder(config)
    for row, line in zip(_rows(tmp_path / "o"), src.read_text().splitlines(), strict=True):
        pair = PreferenceExample.model_validate_json(line)
        encoded = encoder.encode_pair(pair)
        _, chosen, rejected = encoded
        assert row["chosen_ids"] == chosen.input_ids and row["rejected_ids"] == rejected.input_ids
        assert row["chosen_role_ids"] == chosen.role_ids


def test_reward_chunk_of_no_rows() -> None:
    import numpy as np

    empty = [(np.zeros(0, np.uint16 if "input" in n else np.uint8), np.zeros(0, np.int64)) for n in PAIR_COLUMNS]
    out = reward_chunk(empty)
    assert [(len(v), len(n)) for v, n in out] == [(0, 0)] * 4


def test_layout_reward_is_for_preference_data(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="preference pairs"):
        tokenize_files([SAMPLE_DATA / "sft.jsonl"], tmp_path / "o", TokenizeConfig(layout="reward"))
    with pytest.raises(UsageError, match="preference pairs"):
        TokenizeConfig(layout="reward", kind="sft").check()
    with pytest.raises(UsageError, match="layout"):
        TokenizeConfig(layout="rm").check()
    assert not (tmp_path / "o").exists()


def test_cli_layout_reward_and_inspect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    assert main(["tokenize", str(SAMPLE_DATA / "preference.jsonl"), "-o", str(out), "--layout", "reward",
                 "--mask", "last"]) == 0
    err = capsys.readouterr().err
    assert "--mask last applies to SFT" in err
    assert main(["inspect", str(out), "--color", "never"]) == 0
    shown = capsys.readouterr().out
    assert "chosen:" in shown and "rejected:" in shown and "prompt:" not in shown
    # with no FILE, the sample SFT records are still written as SFT, with a note
    assert main(["tokenize", "-o", str(tmp_path / "both"), "--layout", "reward"]) == 0
    assert "applies to preference pairs" in capsys.readouterr().err
    assert list(json.loads((tmp_path / "both" / "preference" / "manifest.json").read_text())["columns"]) == list(
        REWARD_COLUMNS)
    assert main(["tokenize", str(SAMPLE_DATA / "sft.jsonl"), "-o", str(tmp_path / "x"), "--layout", "reward"]) == 2


def test_datasets_map_gives_the_cli_rows(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    src = SAMPLE_DATA / "preference.jsonl"
    tokenize_files([src], tmp_path / "cli", TokenizeConfig(max_seq_len=512, layout="reward"))
    cli = datasets.load_from_disk(str(tmp_path / "cli"))
    ds = datasets.load_dataset("json", data_files=str(src), split="train", cache_dir=str(tmp_path / "cache"))
    fn = PreferenceTokenize(max_seq_len=512, layout="reward")
    ours = tokenize_dataset(ds, fn)
    assert ours.column_names == cli.column_names == list(REWARD_COLUMNS)
    assert ours.to_dict() == cli.to_dict() and ours.features == cli.features
    assert fn.fingerprint("x") != PreferenceTokenize(max_seq_len=512).fingerprint("x")
    with pytest.raises(UsageError, match="layout='rm'"):
        PreferenceTokenize(layout="rm")


@pytest.mark.slow
def test_real_hh_rlhf_pairs_with_qwen3(tmp_path: Path) -> None:
    """HH-RLHF test rows converted by alignkit, Qwen3's tokenizer and template, two processes."""
    qwen = shared_path("data", "tokenizers", "qwen3")
    pairs = hh_rlhf_pairs(tmp_path, 200)
    config = TokenizeConfig(tokenizer=str(qwen), template="qwen3", max_seq_len=384, on_error="skip")
    dpo = tokenize_files([pairs], tmp_path / "dpo", config)
    reward = tokenize_files([pairs], tmp_path / "reward", config.replace(layout="reward"), num_proc=2)
    assert dpo.stats.written > 500 and dpo.stats.truncated > 0
    assert reward.stats == dpo.stats
    assert _rows(tmp_path / "reward") == [_joined(r) for r in _rows(tmp_path / "dpo")]
