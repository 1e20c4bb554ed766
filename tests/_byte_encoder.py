"""A tiny, obviously correct encoder for pipeline tests: one id per UTF-8 byte.

Specials: 256 + role index for the role headers, 260 end of turn, 261 BOS.
Used through ``TokenizeConfig(encoder="_byte_encoder:make")`` (``tests/`` is on
``sys.path`` under pytest; subprocesses get it through ``PYTHONPATH``).
"""

from __future__ import annotations

from alignkit.encode import IGNORE_INDEX, ROLE_IDS, ROLE_TEMPLATE, EncodedExample
from alignkit.encoder import Encoder
from alignkit.records import ChatExample, PreferenceExample, Turn
from alignkit.worker import TokenizeConfig

HEADERS = {"system": 256, "user": 257, "assistant": 258, "tool": 259}
END = 260
BOS = 261


class ByteEncoder(Encoder):
    n_vocab = 262
    pad_id = END

    def _render(self, turns: list[Turn], trained: list[bool]) -> EncodedExample:
        flag = "<|" if any("<|" in t.content for t in turns) else ""
        ids, labels, roles = [BOS], [IGNORE_INDEX], [ROLE_TEMPLATE]
        for turn, train in zip(turns, trained):
            role = ROLE_IDS[turn.role]
            ids.append(HEADERS[turn.role])
            labels.append(IGNORE_INDEX)
            roles.append(ROLE_TEMPLATE)
            body = list(turn.content.encode("utf-8")) + [END]
            ids.extend(body)
            labels.extend(body if train else [IGNORE_INDEX] * len(body))
            roles.extend([role] * len(body))
        return EncodedExample(ids, labels, roles, flag)

    def encode_sft(self, record: ChatExample, mask: str) -> EncodedExample:
        turns = list(record.turns)
        last = max(i for i, t in enumerate(turns) if t.role == "assistant")
        trained = []
        for i, t in enumerate(turns):
            if mask == "all":
                trained.append(t.train is not False)
            elif t.role != "assistant" or t.train is False:
                trained.append(False)
            else:
                trained.append(mask == "assistant" or i == last or t.train is True)
        return self._render(turns, trained)

    def encode_pair(self, record: PreferenceExample) -> tuple[int, EncodedExample, EncodedExample]:
        prompt = self._render(list(record.history), [False] * len(record.history))
        sides = []
        for text in (record.chosen_response, record.rejected_response):
            body = list(text.encode("utf-8")) + [END]
            sides.append(EncodedExample(
                prompt.input_ids + [HEADERS["assistant"]] + body,
                prompt.labels + [IGNORE_INDEX] + body,
                prompt.role_ids + [ROLE_TEMPLATE] + [2] * len(body),
                prompt.special_in_content or ("<|" if "<|" in text else ""),
            ))
        return len(prompt) + 1, sides[0], sides[1]

    def token_bytes(self, token_id: int) -> bytes:
        if token_id < 256:
            return bytes([token_id])
        names = {v: k for k, v in HEADERS.items()} | {END: "end", BOS: "bos"}
        return f"<|{names[token_id]}|>".encode()

    def describe_tokenizer(self) -> dict[str, object]:
        return {"name": "bytes", "sha256": "0" * 64, "n_vocab": self.n_vocab}

    def describe_template(self) -> dict[str, object]:
        return {"name": "byte-test", "sha256": "1" * 64}


def make(config: TokenizeConfig) -> Encoder:
    return ByteEncoder()
