"""Hugging Face ``chat_template`` support: pick the matching built-in, or render in a sandbox.

Jinja is never executed outside ``jinja2.sandbox.ImmutableSandboxedEnvironment``
(reliability F2: template code from a model folder is untrusted), and masks are never
derived from the rendered text by searching for markers. Two paths:

1. **Match a built-in spec** (:func:`match_builtin`): render a set of probe
   conversations (system prompt, multi-turn, with and without the generation prompt)
   with the folder's template and with every built-in spec; the first spec whose
   renderings are all identical is used. Llama 3 Instruct and Qwen3 folders take this
   path, and then everything (ids, masks, speed) is the built-in's.

2. **Sentinel rendering** (:class:`JinjaRenderer`), for other templates. Each
   conversation is rendered twice: once with every content replaced by a unique
   sentinel (a private-use character pair around the turn index) and once as is.
   The sentinel rendering must contain each sentinel exactly once, in order; the
   text between sentinels is template glue, so content boundaries are known from
   structure. The real rendering must equal the sentinel rendering with each
   sentinel replaced by its content (or by the content trimmed, turn by turn, for
   templates that ``| trim`` some roles); otherwise the template transforms content in
   a way alignkit cannot map and the record is refused with a
   :class:`~alignkit.errors.TemplateError` that names the turn and what the template
   does with it (leaves it out, repeats it, moves it or rewrites it).
   Glue is split on the tokenizer's special-token spellings into SPECIAL and TEXT
   segments (glue is template text, so its special tokens are real); content is
   always TEXT. The first special token right after a turn's content is its
   end-of-turn token (the turn's role id, trained with the turn); an assistant turn
   without one cannot be trained and the template is refused.

    >>> src = ("{% for m in messages %}<|im_start|>{{ m.role }}\\n{{ m.content }}<|im_end|>\\n"
    ...        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\\n{% endif %}")
    >>> match_builtin(src, None, None).name
    'chatml'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

from alignkit.errors import TemplateError
from alignkit.templates.render import TurnTuple, is_trained, policy_name
from alignkit.templates.segments import (
    KIND_SPECIAL,
    KIND_TEXT,
    ROLE_IDS,
    ROLE_TEMPLATE,
    Segment,
    segments_text,
)
from alignkit.templates.specs import BUILTIN_SPECS, ChatSpec

_OPEN, _CLOSE = "\ue000", "\ue001"


class _GenerationTag(Extension):
    """Accept ``{% generation %}…{% endgeneration %}`` (transformers' mask tag) and ignore it."""

    tags = {"generation"}

    def parse(self, parser: Any) -> Any:
        next(parser.stream)
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body)


class _TemplateRaised(TemplateError):
    """The template's own ``raise_exception`` (it refuses the conversation)."""


def _raise(message: str) -> None:
    raise _TemplateRaised(f"the chat template raised: {message}")


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | str | None = None,
            separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
    """The ``tojson`` filter with the options transformers gives chat templates (no HTML escaping).

        >>> _tojson({"b": "é", "a": [1, 2]}, sort_keys=True, separators=(",", ":"))
        '{"a":[1,2],"b":"é"}'
    """
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


#: The day ``strftime_now`` gives templates: the default date of the Llama 3.1 template
#: (which Llama 3.2 / 3.3 templates fall back to when ``strftime_now`` is missing).
FIXED_DATE = (2024, 7, 26)


def _strftime_now(fmt: str) -> str:
    """``strftime_now`` for templates: :data:`FIXED_DATE` in ``fmt``, never the day of the run,
    so the same data always gives the same ids (transformers prints today's date).

        >>> _strftime_now("%d %b %Y"), _strftime_now("%Y-%m-%d")
        ('26 Jul 2024', '2024-07-26')
    """
    import datetime

    return datetime.date(*FIXED_DATE).strftime(fmt)


def compile_template(source: str) -> jinja2.Template:
    """``source`` compiled in an immutable sandbox with what transformers gives chat templates:
    trim_blocks, lstrip_blocks, ``{% break %}``/``{% continue %}``, ``{% generation %}``, the
    ``tojson`` options, ``raise_exception`` and ``strftime_now`` (a fixed day: :func:`_strftime_now`).

    Raises:
        TemplateError: a syntax error or an unknown tag.
    """
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[_GenerationTag, "jinja2.ext.loopcontrols"])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = _strftime_now
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(f"cannot parse the chat template (line {err.lineno}): {err.message}") from err


def _messages(turns: Sequence[TurnTuple], contents: Sequence[str]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for (role, _, _, reasoning), content in zip(turns, contents):
        msg = {"role": role, "content": content}
        if reasoning is not None:
            msg["reasoning_content"] = reasoning
        out.append(msg)
    return out


def render_text(template: jinja2.Template, turns: Sequence[TurnTuple], add_generation_prompt: bool,
                bos_token: str | None, eos_token: str | None) -> str:
    """The template's rendering of ``turns`` (sandboxed)."""
    try:
        return template.render(messages=_messages(turns, [t[1] for t in turns]),
                               add_generation_prompt=add_generation_prompt,
                               bos_token=bos_token or "", eos_token=eos_token or "")
    except jinja2.exceptions.SecurityError as err:
        raise TemplateError(f"the chat template tried an unsafe operation: {err}") from err
    except (jinja2.TemplateError, TypeError, ValueError, AttributeError, OverflowError) as err:
        raise TemplateError(f"the chat template failed to render: {err}") from err


_PROBES: list[list[TurnTuple]] = [
    [("user", "Hello there!", None, None), ("assistant", "Hi. How can I help?", None, None)],
    [("system", "Be brief.", None, None), ("user", "2+2?", None, None), ("assistant", "4", None, None),
     ("user", "And 3+3?", None, None), ("assistant", "6", None, None)],
    [("user", "  padded  ", None, None), ("assistant", " lead and trail\n", None, None)],
]


def match_builtin(source: str, bos_token: str | None, eos_token: str | None) -> ChatSpec | None:
    """The built-in spec whose renderings equal ``source``'s on every probe, or None.

    A template that refuses a probe with ``raise_exception`` (Gemma's "System role not
    supported") matches no built-in, which would render that probe: it is used as is, and
    refuses such records itself.
    """
    from alignkit.templates.render import render

    template = compile_template(source)
    probes = [(probe[:-1] if gen else probe, gen) for probe in _PROBES for gen in (False, True)]
    try:
        theirs = [render_text(template, turns, gen, bos_token, eos_token) for turns, gen in probes]
    except _TemplateRaised:
        return None
    for spec in BUILTIN_SPECS.values():
        try:
            bound = spec.resolve(bos_token, eos_token)
        except TemplateError:
            continue
        if all(segments_text(render(bound, turns, "all_assistant", gen)) == text
               for (turns, gen), text in zip(probes, theirs)):
            return spec
    return None


def _split_glue(glue: str, specials: list[str], first_chars: str, out: list[Segment],
                trained: bool) -> None:
    """Append ``glue`` as SPECIAL (known special spellings) and TEXT segments."""
    i = 0
    start = 0
    while i < len(glue):
        hit = ""
        if glue[i] in first_chars:
            for s in specials:
                if glue.startswith(s, i):
                    hit = s
                    break
        if hit:
            if start < i:
                out.append(Segment(ROLE_TEMPLATE, KIND_TEXT, glue[start:i], trained))
            out.append(Segment(ROLE_TEMPLATE, KIND_SPECIAL, hit, trained))
            i += len(hit)
            start = i
        else:
            i += 1
    if start < len(glue):
        out.append(Segment(ROLE_TEMPLATE, KIND_TEXT, glue[start:], trained))


class JinjaRenderer:
    """Renders with a model's own Jinja template; masks from sentinel structure (module doc).

    Args:
        source: the ``chat_template`` string.
        special_tokens: the tokenizer's special-token spellings.
        bos_token, eos_token: values of the template variables of the same names.
        name: a label for errors and manifests.
    """

    def __init__(self, source: str, special_tokens: Sequence[str], bos_token: str | None,
                 eos_token: str | None, name: str = "jinja") -> None:
        self.source = source
        self.template = compile_template(source)
        self.specials = sorted(set(special_tokens), key=len, reverse=True)
        self.first_chars = "".join(sorted({s[0] for s in self.specials if s}))
        self.bos_token = bos_token
        self.eos_token = eos_token
        self.name = name

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "source": self.source, "bos": self.bos_token, "eos": self.eos_token}

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # the compiled jinja2 Template does not pickle: recompile from the source
        return (JinjaRenderer, (self.source, self.specials, self.bos_token, self.eos_token, self.name))

    def render(self, turns: list[TurnTuple], policy: str = "all_assistant",
               add_generation_prompt: bool = False) -> list[Segment]:
        """Segments of ``turns``; see the module docstring for the method.

        A turn with empty content that the template treats differently from a sentinel
        (Phi-3.5 leaves out a system turn whose content is empty) is rendered as empty
        in both passes instead: it has no content to map (an end-of-turn token after it is
        then template glue).

        Raises:
            TemplateError: the template drops, repeats, reorders or rewrites content, or
                has no special end-of-turn token after an assistant turn.
        """
        policy = policy_name(policy)
        try:
            return self._render(turns, policy, add_generation_prompt, frozenset())
        except TemplateError as err:
            blank = frozenset(i for i, t in enumerate(turns) if t[1] == "")
            if not blank:
                raise
            try:
                return self._render(turns, policy, add_generation_prompt, blank)
            except TemplateError:
                raise err from None

    def _render(self, turns: list[TurnTuple], policy: str, add_generation_prompt: bool,
                blank: frozenset[int]) -> list[Segment]:
        """:meth:`render` with the turns in ``blank`` (empty content) given to the template as
        empty strings, not sentinels."""
        n = len(turns)
        kept = [i for i in range(n) if i not in blank]
        values = ["" if i in blank else f"{_OPEN}{i}{_CLOSE}" for i in range(n)]
        try:
            marked = self.template.render(messages=_messages(turns, values),
                                          add_generation_prompt=add_generation_prompt,
                                          bos_token=self.bos_token or "", eos_token=self.eos_token or "")
        except jinja2.exceptions.SecurityError as err:
            raise TemplateError(f"the chat template tried an unsafe operation: {err}") from err
        except (jinja2.TemplateError, TypeError, ValueError, AttributeError, OverflowError) as err:
            raise TemplateError(f"the chat template failed to render: {err}") from err
        glue: list[str] = []
        pos = 0
        for i in kept:
            s = values[i]
            at = marked.find(s, pos)
            shown = marked.count(s)
            if at < 0 or shown != 1:
                turn = f"the content of turn {i} (role {turns[i][0]!r})"
                if shown == 0:
                    what = f"leaves out {turn}"
                elif shown > 1:
                    what = f"repeats {turn} {shown} times"
                else:
                    what = (f"shows {turn} before that of an earlier turn (it moves content, such as"
                            " a system prompt merged into a later user turn)")
                raise TemplateError(
                    f"template {self.name!r} {what} in this conversation; alignkit maps content to"
                    " tokens only when each message's content is shown exactly once, in order"
                    " (pick a built-in --template)")
            glue.append(marked[pos:at])
            pos = at + len(s)
        glue.append(marked[pos:])
        if _OPEN in glue[-1] or _CLOSE in glue[-1]:
            raise TemplateError(f"template {self.name!r} rewrites content; pick a built-in --template")
        real = render_text(self.template, turns, add_generation_prompt, self.bos_token, self.eos_token)
        contents = self._contents([turns[i] for i in kept], kept, glue, real)
        everything = policy == "everything"
        last_assistant = max((i for i, t in enumerate(turns) if t[0] == "assistant"), default=-1)
        out: list[Segment] = []
        for j in range(len(kept) + 1):
            part = glue[j]
            if j > 0:
                prev = kept[j - 1]
                prev_role, _, prev_train, _ = turns[prev]
                prev_trained = is_trained(prev_role, prev_train, prev, last_assistant, policy)
                hit = next((s for s in self.specials if part.startswith(s)), "")
                if not hit and prev_role == "assistant":
                    raise TemplateError(
                        f"template {self.name!r} has no special end-of-turn token right after"
                        " assistant content, so it cannot be trained; pick a built-in --template")
                if hit:
                    out.append(Segment(ROLE_IDS[prev_role], KIND_SPECIAL, hit, prev_trained))
                    part = part[len(hit):]
            _split_glue(part, self.specials, self.first_chars, out, everything)
            if j < len(kept):
                i = kept[j]
                role, _, train, _ = turns[i]
                if contents[j]:
                    trained = is_trained(role, train, i, last_assistant, policy)
                    out.append(Segment(ROLE_IDS[role], KIND_TEXT, contents[j], trained))
        return out

    def _contents(self, turns: list[TurnTuple], index: list[int], glue: list[str],
                  real: str) -> list[str]:
        """Each turn's content as ``real`` shows it between the glue: as is or trimmed, chosen
        per turn (Mistral's v3 template trims assistant content only, not user content).
        ``index`` gives each turn's position in the conversation, for errors."""
        options = [list(dict.fromkeys((t[1], t[1].strip()))) for t in turns]
        n = len(turns)
        picks: list[int] = []           # option index per placed turn (depth-first, iterative)
        ends = [len(glue[0])]           # position in ``real`` after turn i's glue
        dead: set[tuple[int, int]] = set()  # (turn, position) with no way to the end
        stuck = 0                       # the furthest turn that could not be placed
        if real.startswith(glue[0]):
            nxt = 0
            while True:
                i = len(picks)
                if i == n and ends[-1] == len(real):
                    return [options[k][j] for k, j in enumerate(picks)]
                placed = False
                pos = ends[-1]
                if i < n and (i, pos) not in dead:
                    for j in range(nxt, len(options[i])):
                        c = options[i][j]
                        if real.startswith(c, pos) and real.startswith(glue[i + 1], pos + len(c)):
                            picks.append(j)
                            ends.append(pos + len(c) + len(glue[i + 1]))
                            nxt, placed = 0, True
                            break
                if not placed:
                    dead.add((i, pos))
                    stuck = max(stuck, min(i, n - 1))
                    if not picks:
                        break
                    nxt = picks.pop() + 1
                    ends.pop()
        turn = f" of turn {index[stuck]} (role {turns[stuck][0]!r})" if turns else ""
        raise TemplateError(
            f"template {self.name!r} changes the content{turn} in a way alignkit cannot map"
            " (it depends on or rewrites the text, other than trimming it); pick a built-in"
            " --template")


def _token_str(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def read_folder_template(folder: str | Path) -> tuple[str, str | None, str | None]:
    """``(chat_template, bos_token, eos_token)`` from a model folder.

    Reads ``chat_template.jinja`` if present, else ``tokenizer_config.json``'s
    ``chat_template`` (a string, or a list of named templates: ``default`` is used).

    Raises:
        TemplateError: no chat template in the folder.
    """
    folder = Path(folder)
    config: dict[str, Any] = {}
    cfg_path = folder / "tokenizer_config.json"
    if cfg_path.exists():
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    source = config.get("chat_template")
    jinja_file = folder / "chat_template.jinja"
    if jinja_file.exists():
        source = jinja_file.read_text(encoding="utf-8")
    if isinstance(source, list):
        named = {d.get("name"): d.get("template") for d in source if isinstance(d, dict)}
        source = named.get("default")
    if not isinstance(source, str) or not source:
        raise TemplateError(
            f"{folder.name}: no chat_template in tokenizer_config.json or chat_template.jinja;"
            " pass --template NAME")
    return source, _token_str(config.get("bos_token")), _token_str(config.get("eos_token"))


def template_for_folder(folder: str | Path, special_tokens: Sequence[str]) -> ChatSpec | JinjaRenderer:
    """The built-in spec matching the folder's template, else a sandboxed :class:`JinjaRenderer`."""
    source, bos, eos = read_folder_template(folder)
    spec = match_builtin(source, bos, eos)
    if spec is not None:
        return spec
    return JinjaRenderer(source, special_tokens, bos, eos, name=f"jinja:{Path(folder).name}")
