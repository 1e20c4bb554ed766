"""Model-folder chat templates: built-in matching, sandboxed sentinel rendering, SSTI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from templates_realdata import real_conversations
from templates_tokenizers import ByteTokenizer, llama3_tokenizer, qwen3_tokenizer

from alignkit.encode import IGNORE_INDEX
from alignkit.errors import TemplateError
from alignkit.templates import TurnTuple
from alignkit.templates.chat import ChatTemplate
from alignkit.templates.jinja import JinjaRenderer, match_builtin, read_folder_template

ZEPHYR = ("{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}{{ eos_token }}\n{% endfor %}"
          "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")


def _qwen_folder(tmp_path: Path, shared_data: Path) -> Path:
    shutil.copy(shared_data / "tokenizers" / "qwen3" / "tokenizer_config.json", tmp_path / "tokenizer_config.json")
    return tmp_path


def test_real_folders_match_their_builtin(shared_data: Path, tmp_path: Path) -> None:
    llama = shared_data / "tokenizers" / "llama3" / "Meta-Llama-3-8B-Instruct"
    assert match_builtin(*read_folder_template(llama)).name == "llama3"  # type: ignore[union-attr]
    chat = ChatTemplate.from_folder(_qwen_folder(tmp_path, shared_data), qwen3_tokenizer(shared_data))
    assert chat.name == "qwen3" and chat.jinja is None
    no_template = shared_data / "tokenizers" / "llama3" / "Meta-Llama-3-8B"
    with pytest.raises(TemplateError, match="no chat_template"):
        read_folder_template(no_template)


@pytest.mark.parametrize("name", ["llama3", "qwen3"])
def test_sentinel_renderer_equals_builtin_on_real_data(name: str, shared_data: Path) -> None:
    """Differential: the sandboxed Jinja path and the built-in spec give identical arrays."""
    if name == "llama3":
        tok = llama3_tokenizer(shared_data)
        source, bos, eos = read_folder_template(shared_data / "tokenizers" / "llama3" / "Meta-Llama-3-8B-Instruct")
    else:
        tok = qwen3_tokenizer(shared_data)
        source, bos, eos = read_folder_template(shared_data / "tokenizers" / "qwen3")
    jinja = ChatTemplate(JinjaRenderer(source, list(tok.special_tokens), bos, eos), tok)
    builtin = ChatTemplate(name, tok)
    for messages in real_conversations(shared_data, 6):
        turns: list[TurnTuple] = [(m["role"], m["content"], None, None) for m in messages]
        for policy in ("all_assistant", "last_assistant", "everything"):
            a = jinja.encode(turns, policy=policy)
            b = builtin.encode(turns, policy=policy)
            assert (a.input_ids, a.labels, a.role_ids) == (b.input_ids, b.labels, b.role_ids)
        assert jinja.encode_prompt(turns[:-1]).input_ids == builtin.encode_prompt(turns[:-1]).input_ids


def test_unknown_template_renders_with_structural_masks() -> None:
    tok = ByteTokenizer(("</s>", "<s>"))
    renderer = JinjaRenderer(ZEPHYR, list(tok.special_tokens), "<s>", "</s>", name="zephyr")
    chat = ChatTemplate(renderer, tok)
    turns: list[TurnTuple] = [("system", "S", None, None), ("user", "U </s> x", None, None),
                              ("assistant", "A1", None, None), ("user", "V", None, None),
                              ("assistant", "A2", False, None)]
    ex = chat.encode(turns)
    assert tok.decode(ex.input_ids) == "<|system|>\nS</s>\n<|user|>\nU </s> x</s>\n<|assistant|>\nA1</s>\n<|user|>\nV</s>\n<|assistant|>\nA2</s>\n"
    assert tok.decode([t for t, lab in zip(ex.input_ids, ex.labels) if lab != IGNORE_INDEX]) == "A1</s>"
    # the "</s>" inside user content stays text: only 5 special ids, all from the template
    assert sum(1 for t in ex.input_ids if t == 1000) == 5
    assert ex.special_in_content == "</s>"
    prompt = chat.encode_prompt(turns[:4]).input_ids
    assert ex.input_ids[: len(prompt)] == prompt


@pytest.mark.parametrize(("source", "message"), [
    ("{% for m in messages %}{{ m.content }}{{ m.content }}</s>{% endfor %}", "exactly once"),
    ("{% for m in messages %}{{ m.content | upper }}</s>{% endfor %}", "cannot map"),
    ("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}", "end-of-turn"),
    ("{% for m in messages %}{% if m.content.startswith('x') %}X{% endif %}{{ m.content }}</s>{% endfor %}",
     "cannot map"),
    ("{% unknowntag %}", "cannot parse"),
    ("{{ raise_exception('only user/assistant roles are supported') }}", "only user/assistant"),
])
def test_unmappable_templates_are_refused(source: str, message: str) -> None:
    tok = ByteTokenizer(("</s>",))
    turns: list[TurnTuple] = [("user", "xyz", None, None), ("assistant", "ok", None, None)]
    with pytest.raises(TemplateError, match=message):
        ChatTemplate(JinjaRenderer(source, ["</s>"], None, "</s>"), tok).encode(turns)


def test_generation_tag_is_accepted() -> None:
    src = ("{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}</s>"
           "{% endgeneration %}{% else %}{{ m.content }}\n{% endif %}{% endfor %}")
    tok = ByteTokenizer(("</s>",))
    ex = ChatTemplate(JinjaRenderer(src, ["</s>"], None, "</s>"), tok).encode(
        [("user", "q", None, None), ("assistant", "a", None, None)])
    assert tok.decode(ex.input_ids) == "q\na</s>"


PAYLOADS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('touch SENTINEL').read() }}",
    "{{ lipsum.__globals__['os'].popen('touch SENTINEL').read() }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('touch SENTINEL') }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ messages.append(1) }}",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_template_injection_is_blocked(payload: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TemplateError):
        JinjaRenderer(payload, [], None, None).render([("user", "hi", None, None)])
    assert not (tmp_path / "SENTINEL").exists()


def test_folder_with_unknown_template_uses_the_sandboxed_renderer(tmp_path: Path) -> None:
    import json

    (tmp_path / "tokenizer_config.json").write_text(json.dumps(
        {"chat_template": [{"name": "default", "template": ZEPHYR}], "eos_token": {"content": "</s>"}}))
    tok = ByteTokenizer(("</s>",))
    chat = ChatTemplate.from_folder(tmp_path, tok)
    assert chat.jinja is not None and chat.name == f"jinja:{tmp_path.name}"
    assert chat.text([("user", "hi", None, None)], add_generation_prompt=True) == "<|user|>\nhi</s>\n<|assistant|>\n"
    assert chat.describe()["sha256"] != ChatTemplate("chatml", ByteTokenizer()).describe()["sha256"]


# Constructs of real Hub templates that transformers' environment supports: loop controls
# (`{% break %}`), `tojson` options, `namespace`. Before, `{% break %}` was "cannot parse" and
# `tojson(sort_keys=True, separators=...)` silently ignored its options.
LOOPS_AND_JSON = (
    "{%- set ns = namespace(last=-1) %}"
    "{%- for m in messages[::-1] %}{%- if m.role == 'user' %}"
    "{%- set ns.last = messages | length - loop.index0 - 1 %}{%- break %}{%- endif %}{%- endfor %}"
    "{{- {'z': 1, 'a': ['é', 2]} | tojson(sort_keys=True, separators=(',', ':')) }}\n"
    "{%- for m in messages %}{%- if m.role == 'system' and not loop.first %}{% continue %}{% endif %}"
    "<|{{ m.role }}|>{% if loop.index0 == ns.last %} (last query){% endif %}\n{{ m.content }}</s>\n"
    "{%- endfor %}{%- if add_generation_prompt %}<|assistant|>\n{%- endif %}"
)


@pytest.mark.parametrize("generation_prompt", [False, True])
def test_loop_controls_and_tojson_options_render_as_in_transformers(generation_prompt: bool) -> None:
    utils = pytest.importorskip("transformers.utils.chat_template_utils")
    compile_hf = getattr(utils, "_compile_jinja_template", None)
    if compile_hf is None:
        pytest.skip("this transformers version has no _compile_jinja_template")
    turns: list[TurnTuple] = [("user", "a", None, None), ("assistant", "b", None, None), ("user", "c", None, None)]
    if not generation_prompt:
        turns.append(("assistant", "d", None, None))
    messages = [{"role": r, "content": c} for r, c, _, _ in turns]
    theirs = compile_hf(LOOPS_AND_JSON).render(messages=messages, add_generation_prompt=generation_prompt)
    chat = ChatTemplate(JinjaRenderer(LOOPS_AND_JSON, ["</s>"], None, "</s>"), ByteTokenizer(("</s>",)))
    assert chat.text(turns, add_generation_prompt=generation_prompt) == theirs
    assert theirs.startswith('{"a":["é",2],"z":1}<|user|>a</s><|assistant|>b</s><|user|> (last query)c</s>')


def test_strftime_now_formats_a_fixed_day() -> None:
    src = ("{{- strftime_now('%Y-%m-%d') + ' / ' + strftime_now('%d %b %Y') }}\n"
           "{%- for m in messages %}{{ m.content }}</s>{%- endfor %}")
    chat = ChatTemplate(JinjaRenderer(src, ["</s>"], None, "</s>"), ByteTokenizer(("</s>",)))
    assert chat.text([("user", "q", None, None), ("assistant", "a", None, None)]) == \
        "2024-07-26 / 26 Jul 2024q</s>a</s>"
