"""Property: whatever JSON a row holds, every adapter gives results, never an exception,
and each result is a record or a located error."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.io.adapters import FORMATS, convert_rows

_KEYS = [
    "messages",
    "conversations",
    "role",
    "content",
    "from",
    "value",
    "type",
    "text",
    "instruction",
    "input",
    "output",
    "instances",
    "history",
    "system",
    "prompt",
    "response",
    "completion",
    "question",
    "answer",
    "chosen",
    "rejected",
    "turns",
    "response_a",
    "response_b",
    "score_chosen",
    "label",
    "id",
    "tool_calls",
    "reasoning_content",
]
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from(
        [
            "user",
            "assistant",
            "system",
            "human",
            "gpt",
            "tool",
            "text",
            "image_url",
            "\n\nHuman: a\n\nAssistant: b",
            "\n\nHuman: a\n\nAssistant: c",
            "",
        ]
    ),
    st.text(max_size=8),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4),
    ),
    max_leaves=20,
)
_ROWS = st.dictionaries(st.sampled_from(_KEYS), _JSON, max_size=5)


@settings(max_examples=150, deadline=None)
@given(row=_ROWS, fmt=st.sampled_from(sorted(FORMATS)))
def test_any_row_gives_a_record_or_a_located_error(row: dict[str, object], fmt: str) -> None:
    results = list(convert_rows([row], fmt))
    assert results
    for result in results:
        assert (result.record is None) != (result.error is None)
        if result.error is not None:
            assert result.error.error_type
            assert str(result.error).startswith("<rows>: row 0:")
