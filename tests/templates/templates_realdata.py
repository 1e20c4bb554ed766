"""Real conversations for template tests, converted from ``../shared/data``.

Each conversation is a list of OpenAI-style ``{"role", "content"}`` dicts. The mix
covers single- and multi-turn chats, system prompts and HH-RLHF dialogues. Nothing
here is copied into the repository: it is read from the shared folder at test time.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

Message = dict[str, str]

_HH_SPLIT = re.compile(r"\n\n(Human|Assistant): ")


def parse_hh(text: str) -> list[Message] | None:
    """An HH-RLHF transcript (``\\n\\nHuman: …\\n\\nAssistant: …``) as messages, or None."""
    parts = _HH_SPLIT.split(text)
    if parts[0] != "":
        return None
    messages: list[Message] = []
    for speaker, content in zip(parts[1::2], parts[2::2]):
        role = "user" if speaker == "Human" else "assistant"
        if messages and messages[-1]["role"] == role:
            return None
        messages.append({"role": role, "content": content})
    if not messages or messages[0]["role"] != "user" or messages[-1]["role"] != "assistant":
        return None
    if any(not m["content"].strip() for m in messages):
        return None
    return messages


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def real_conversations(data: Path, per_source: int) -> list[list[Message]]:
    """Up to ``per_source`` conversations from each of five real sources (deterministic)."""
    out: list[list[Message]] = []
    sft = data / "alignment" / "sft"
    for row in _read_jsonl(sft / "gsm8k" / "train.jsonl")[:per_source]:
        out.append([
            {"role": "system", "content": "Solve the grade-school math problem step by step."},
            {"role": "user", "content": str(row["question"])},
            {"role": "assistant", "content": str(row["answer"])},
        ])
    for row in _read_jsonl(sft / "super_ni" / "super_ni_data_1000.jsonl")[:per_source]:
        msgs = row["messages"]
        assert isinstance(msgs, list)
        out.append([{"role": str(m["role"]), "content": str(m["content"])} for m in msgs])
    with open(sft / "fastchat" / "dummy_conversation.json", encoding="utf-8") as fh:
        chats = json.load(fh)
    for chat in chats[:per_source]:
        roles = {"human": "user", "gpt": "assistant"}
        out.append([{"role": roles[t["from"]], "content": t["value"]} for t in chat["conversations"]])
    n = 0
    for row in _read_jsonl(data / "alignment" / "preference" / "hh-rlhf" / "helpful-base" / "test.jsonl.gz"):
        if n >= per_source:
            break
        msgs = parse_hh(str(row["chosen"]))
        if msgs is not None:
            out.append(msgs)
            n += 1
    for row in _read_jsonl(sft / "self-instruct" / "seed_tasks.jsonl")[:per_source]:
        inst = row["instances"]
        assert isinstance(inst, list)
        user = str(row["instruction"])
        if inst[0]["input"]:
            user += "\n\n" + inst[0]["input"]
        out.append([{"role": "user", "content": user}, {"role": "assistant", "content": inst[0]["output"]}])
    return out
