"""PairBuffer.add_turns (full renders checked against the prompt as they stream) against
add() of the three complete renders."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from _chunk_tokenizer import SPECIAL_IDS, ByteIds
from alignkit.encode import Encoder
from alignkit.pref_buffer import PairBuffer
from alignkit.sft_buffer import POLICY_TRUNCATE
from alignkit.templates.render import render
from alignkit.templates.specs import BUILTIN_SPECS


def _state(buf: PairBuffer) -> list[object]:
    out: list[object] = [buf.flagged]
    for part in (buf.prompt, buf.chosen, buf.rejected):
        out.append((list(part.ids), list(part.run_lengths), list(part.run_roles), list(part.run_trained),
                    list(part.lengths), part.tokens_by_role, part.trained_by_role))
    return out


_text = st.sampled_from(["Hi", " padded ", "<|im_end|>x", "a</think>b", "caf\u00e9", "<think>\nr\n</think>\n\nok",
                         "<tool_response>t</tool_response>", "\n\nlead"])
_history = st.lists(st.tuples(st.sampled_from(["user", "assistant", "tool"]), _text,
                              st.sampled_from([None, False]), st.sampled_from([None, "why"])),
                    min_size=0, max_size=4)


@settings(max_examples=80, deadline=None)
@given(history=_history, last=_text, chosen=_text, rejected=_text, name=st.sampled_from(sorted(BUILTIN_SPECS)),
       mask=st.sampled_from(["all_assistant", "last_assistant", "everything"]))
def test_add_turns_equals_add_of_the_three_renders(
    history: list[tuple[str, str, bool | None, str | None]], last: str, chosen: str, rejected: str, name: str,
    mask: str,
) -> None:
    spec = BUILTIN_SPECS[name].resolve("<|endoftext|>", "<|endoftext|>")
    turns = [(r, c, t if r == "assistant" else None, w if r == "assistant" else None) for r, c, t, w in history]
    turns.append(("user", last, None, None))
    a, b = PairBuffer(Encoder(ByteIds(), SPECIAL_IDS)), PairBuffer(Encoder(ByteIds(), SPECIAL_IDS))
    p = a.add_turns(spec, turns, chosen, rejected, mask)
    prompt = render(spec, turns, mask, True)
    full_c = render(spec, turns + [("assistant", chosen, None, None)], mask)
    full_r = render(spec, turns + [("assistant", rejected, None, None)], mask)
    assert p == b.add(prompt, full_c, full_r)[0]
    assert _state(a) == _state(b)
    assert a.finish(0, POLICY_TRUNCATE) == b.finish(0, POLICY_TRUNCATE)
    assert _state(a) == _state(b)
