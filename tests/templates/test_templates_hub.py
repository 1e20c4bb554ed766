"""Chat templates of popular permissively licensed Hub models, rendered through the sandboxed
Jinja path (:class:`~alignkit.templates.jinja.JinjaRenderer`).

Each template is the model's ``tokenizer_config.json`` ``chat_template`` (Apache-2.0 or MIT
models), kept here as a test vector. The checks: alignkit's text equals transformers' rendering
of the same template (when transformers is installed); the trained tokens are exactly each
assistant content as the template prints it plus the end-of-turn token; the inference prompt
is a token prefix of the training ids. Templates that leave out or move content (Mistral's
system prompt) are refused with an error that says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from templates_realdata import real_conversations
from templates_tokenizers import ByteTokenizer

from alignkit.encode import IGNORE_INDEX
from alignkit.errors import TemplateError
from alignkit.templates import TurnTuple
from alignkit.templates.chat import ChatTemplate
from alignkit.templates.jinja import JinjaRenderer

# Qwen/Qwen2.5-7B-Instruct (Apache-2.0): ChatML, default system prompt when none is given.
QWEN25 = (
    '{%- if tools %}\n'
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n"
    '    {%- else %}\n'
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n"
    '    {%- endif %}\n'
    '    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\'
    'n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}'
    '\n'
    '    {%- for tool in tools %}\n'
    '        {{- "\\n" }}\n'
    '        {{- tool | tojson }}\n'
    '    {%- endfor %}\n'
    '    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and'
    ' arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-nam'
    'e>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}\n'
    '{%- else %}\n'
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    '    {%- else %}\n'
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful"
    " assistant.<|im_end|>\\n' }}\n"
    '    {%- endif %}\n'
    '{%- endif %}\n'
    '{%- for message in messages %}\n'
    '    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (m'
    'essage.role == "assistant" and not message.tool_calls) %}\n'
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }"
    '}\n'
    '    {%- elif message.role == "assistant" %}\n'
    "        {{- '<|im_start|>' + message.role }}\n"
    '        {%- if message.content %}\n'
    "            {{- '\\n' + message.content }}\n"
    '        {%- endif %}\n'
    '        {%- for tool_call in message.tool_calls %}\n'
    '            {%- if tool_call.function is defined %}\n'
    '                {%- set tool_call = tool_call.function %}\n'
    '            {%- endif %}\n'
    '            {{- \'\\n<tool_call>\\n{"name": "\' }}\n'
    '            {{- tool_call.name }}\n'
    '            {{- \'", "arguments": \' }}\n'
    '            {{- tool_call.arguments | tojson }}\n'
    "            {{- '}\\n</tool_call>' }}\n"
    '        {%- endfor %}\n'
    "        {{- '<|im_end|>\\n' }}\n"
    '    {%- elif message.role == "tool" %}\n'
    '        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}\n'
    "            {{- '<|im_start|>user' }}\n"
    '        {%- endif %}\n'
    "        {{- '\\n<tool_response>\\n' }}\n"
    '        {{- message.content }}\n'
    "        {{- '\\n</tool_response>' }}\n"
    '        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}\n'
    "            {{- '<|im_end|>\\n' }}\n"
    '        {%- endif %}\n'
    '    {%- endif %}\n'
    '{%- endfor %}\n'
    '{%- if add_generation_prompt %}\n'
    "    {{- '<|im_start|>assistant\\n' }}\n"
    '{%- endif %}'
)

# mistralai/Mistral-7B-Instruct-v0.3 (Apache-2.0): the "v3" template (as in llama.cpp's
# test-chat-template.cpp). The system prompt is shown only when the last message is a user turn,
# inside that turn; assistant content is trimmed, user content is not.
MISTRAL_V3 = (
    '{%- if messages[0]["role"] == "system" %}\n'
    '    {%- set system_message = messages[0]["content"] %}\n'
    '    {%- set loop_messages = messages[1:] %}\n'
    '{%- else %}\n'
    '    {%- set loop_messages = messages %}\n'
    '{%- endif %}\n'
    '{%- if not tools is defined %}\n'
    '    {%- set tools = none %}\n'
    '{%- endif %}\n'
    '{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}\n'
    '\n'
    '{#- This block checks for alternating user/assistant messages, skipping tool calling messa'
    'ges #}\n'
    '{%- set ns = namespace() %}\n'
    '{%- set ns.index = 0 %}\n'
    '{%- for message in loop_messages %}\n'
    '    {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_'
    'calls is defined and message.tool_calls is not none)) %}\n'
    '        {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}\n'
    '            {{- raise_exception("After the optional system message, conversation roles mus'
    't alternate user/assistant/user/assistant/...") }}\n'
    '        {%- endif %}\n'
    '        {%- set ns.index = ns.index + 1 %}\n'
    '    {%- endif %}\n'
    '{%- endfor %}\n'
    '\n'
    '{{- bos_token }}\n'
    '{%- for message in loop_messages %}\n'
    '    {%- if message["role"] == "user" %}\n'
    '        {%- if tools is not none and (message == user_messages[-1]) %}\n'
    '            {{- "[AVAILABLE_TOOLS] [" }}\n'
    '            {%- for tool in tools %}\n'
    '                {%- set tool = tool.function %}\n'
    '                {{- \'{"type": "function", "function": {\' }}\n'
    '                {%- for key, val in tool.items() if key != "return" %}\n'
    '                    {%- if val is string %}\n'
    '                        {{- \'"\' + key + \'": "\' + val + \'"\' }}\n'
    '                    {%- else %}\n'
    '                        {{- \'"\' + key + \'": \' + val|tojson }}\n'
    '                    {%- endif %}\n'
    '                    {%- if not loop.last %}\n'
    '                        {{- ", " }}\n'
    '                    {%- endif %}\n'
    '                {%- endfor %}\n'
    '                {{- "}}" }}\n'
    '                {%- if not loop.last %}\n'
    '                    {{- ", " }}\n'
    '                {%- else %}\n'
    '                    {{- "]" }}\n'
    '                {%- endif %}\n'
    '            {%- endfor %}\n'
    '            {{- "[/AVAILABLE_TOOLS]" }}\n'
    '            {%- endif %}\n'
    '        {%- if loop.last and system_message is defined %}\n'
    '            {{- "[INST] " + system_message + "\\n\\n" + message["content"] + "[/INST]" }}\n'
    '        {%- else %}\n'
    '            {{- "[INST] " + message["content"] + "[/INST]" }}\n'
    '        {%- endif %}\n'
    '    {%- elif message.tool_calls is defined and message.tool_calls is not none %}\n'
    '        {{- "[TOOL_CALLS] [" }}\n'
    '        {%- for tool_call in message.tool_calls %}\n'
    '            {%- set out = tool_call.function|tojson %}\n'
    '            {{- out[:-1] }}\n'
    '            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}\n'
    '                {{- raise_exception("Tool call IDs should be alphanumeric strings with len'
    'gth 9!") }}\n'
    '            {%- endif %}\n'
    '            {{- \', "id": "\' + tool_call.id + \'"}\' }}\n'
    '            {%- if not loop.last %}\n'
    '                {{- ", " }}\n'
    '            {%- else %}\n'
    '                {{- "]" + eos_token }}\n'
    '            {%- endif %}\n'
    '        {%- endfor %}\n'
    '    {%- elif message["role"] == "assistant" %}\n'
    '        {{- " " + message["content"]|trim + eos_token}}\n'
    '    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}\n'
    '        {%- if message.content is defined and message.content.content is defined %}\n'
    '            {%- set content = message.content.content %}\n'
    '        {%- else %}\n'
    '            {%- set content = message.content %}\n'
    '        {%- endif %}\n'
    '        {{- \'[TOOL_RESULTS] {"content": \' + content|string + ", " }}\n'
    '        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}\n'
    '            {{- raise_exception("Tool call IDs should be alphanumeric strings with length '
    '9!") }}\n'
    '        {%- endif %}\n'
    '        {{- \'"call_id": "\' + message.tool_call_id + \'"}[/TOOL_RESULTS]\' }}\n'
    '    {%- else %}\n'
    '        {{- raise_exception("Only user and assistant roles are supported, with the excepti'
    'on of an initial optional system message!") }}\n'
    '    {%- endif %}\n'
    '{%- endfor %}\n'
)

# mistralai/Mistral-Nemo-Instruct-2407 (Apache-2.0): "v3-tekken", no spaces, no trimming.
MISTRAL_NEMO = (
    '{%- if messages[0]["role"] == "system" %}\n'
    '    {%- set system_message = messages[0]["content"] %}\n'
    '    {%- set loop_messages = messages[1:] %}\n'
    '{%- else %}\n'
    '    {%- set loop_messages = messages %}\n'
    '{%- endif %}\n'
    '{%- if not tools is defined %}\n'
    '    {%- set tools = none %}\n'
    '{%- endif %}\n'
    '{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}\n'
    '\n'
    '{#- This block checks for alternating user/assistant messages, skipping tool calling messa'
    'ges #}\n'
    '{%- set ns = namespace() %}\n'
    '{%- set ns.index = 0 %}\n'
    '{%- for message in loop_messages %}\n'
    '    {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_'
    'calls is defined and message.tool_calls is not none)) %}\n'
    '        {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}\n'
    '            {{- raise_exception("After the optional system message, conversation roles mus'
    't alternate user/assistant/user/assistant/...") }}\n'
    '        {%- endif %}\n'
    '        {%- set ns.index = ns.index + 1 %}\n'
    '    {%- endif %}\n'
    '{%- endfor %}\n'
    '\n'
    '{{- bos_token }}\n'
    '{%- for message in loop_messages %}\n'
    '    {%- if message["role"] == "user" %}\n'
    '        {%- if tools is not none and (message == user_messages[-1]) %}\n'
    '            {{- "[AVAILABLE_TOOLS][" }}\n'
    '            {%- for tool in tools %}\n'
    '                {%- set tool = tool.function %}\n'
    '                {{- \'{"type": "function", "function": {\' }}\n'
    '                {%- for key, val in tool.items() if key != "return" %}\n'
    '                    {%- if val is string %}\n'
    '                        {{- \'"\' + key + \'": "\' + val + \'"\' }}\n'
    '                    {%- else %}\n'
    '                        {{- \'"\' + key + \'": \' + val|tojson }}\n'
    '                    {%- endif %}\n'
    '                    {%- if not loop.last %}\n'
    '                        {{- ", " }}\n'
    '                    {%- endif %}\n'
    '                {%- endfor %}\n'
    '                {{- "}}" }}\n'
    '                {%- if not loop.last %}\n'
    '                    {{- ", " }}\n'
    '                {%- else %}\n'
    '                    {{- "]" }}\n'
    '                {%- endif %}\n'
    '            {%- endfor %}\n'
    '            {{- "[/AVAILABLE_TOOLS]" }}\n'
    '            {%- endif %}\n'
    '        {%- if loop.last and system_message is defined %}\n'
    '            {{- "[INST]" + system_message + "\\n\\n" + message["content"] + "[/INST]" }}\n'
    '        {%- else %}\n'
    '            {{- "[INST]" + message["content"] + "[/INST]" }}\n'
    '        {%- endif %}\n'
    '    {%- elif (message.tool_calls is defined and message.tool_calls is not none) %}\n'
    '        {{- "[TOOL_CALLS][" }}\n'
    '        {%- for tool_call in message.tool_calls %}\n'
    '            {%- set out = tool_call.function|tojson %}\n'
    '            {{- out[:-1] }}\n'
    '            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}\n'
    '                {{- raise_exception("Tool call IDs should be alphanumeric strings with len'
    'gth 9!") }}\n'
    '            {%- endif %}\n'
    '            {{- \', "id": "\' + tool_call.id + \'"}\' }}\n'
    '            {%- if not loop.last %}\n'
    '                {{- ", " }}\n'
    '            {%- else %}\n'
    '                {{- "]" + eos_token }}\n'
    '            {%- endif %}\n'
    '        {%- endfor %}\n'
    '    {%- elif message["role"] == "assistant" %}\n'
    '        {{- message["content"] + eos_token}}\n'
    '    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}\n'
    '        {%- if message.content is defined and message.content.content is defined %}\n'
    '            {%- set content = message.content.content %}\n'
    '        {%- else %}\n'
    '            {%- set content = message.content %}\n'
    '        {%- endif %}\n'
    '        {{- \'[TOOL_RESULTS]{"content": \' + content|string + ", " }}\n'
    '        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}\n'
    '            {{- raise_exception("Tool call IDs should be alphanumeric strings with length '
    '9!") }}\n'
    '        {%- endif %}\n'
    '        {{- \'"call_id": "\' + message.tool_call_id + \'"}[/TOOL_RESULTS]\' }}\n'
    '    {%- else %}\n'
    '        {{- raise_exception("Only user and assistant roles are supported, with the excepti'
    'on of an initial optional system message!") }}\n'
    '    {%- endif %}\n'
    '{%- endfor %}\n'
)

# microsoft/Phi-3.5-mini-instruct (MIT).
PHI35 = (
    "{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}{{"
    "'<|system|>\n"
    "' + message['content'] + '<|end|>\n"
    "'}}{% elif message['role'] == 'user' %}{{'<|user|>\n"
    "' + message['content'] + '<|end|>\n"
    "'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n"
    "' + message['content'] + '<|end|>\n"
    "'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n"
    "' }}{% else %}{{ eos_token }}{% endif %}"
)

# microsoft/phi-4 (MIT), current template.
PHI4 = (
    "{% for message in messages %}{% if (message['role'] == 'system') %}{{'<|im_start|>system<|"
    "im_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'user') %}{{'<|"
    "im_start|>user<|im_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] =="
    " 'assistant') %}{{'<|im_start|>assistant<|im_sep|>' + message['content'] + '<|im_end|>'}}{"
    "% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant<|im_sep|>' }"
    '}{% endif %}'
)

# microsoft/phi-4 (MIT), first published template: the user turn carries the assistant header.
PHI4_FIRST = (
    "{% for message in messages %}{% if (message['role'] == 'system') %}{{'<|im_start|>system<|"
    "im_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'user') %}{{'<|"
    "im_start|>user<|im_sep|>' + message['content'] + '<|im_end|><|im_start|>assistant<|im_sep|"
    ">'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|im_end|>'}}{% end"
    'if %}{% endfor %}'
)

# deepseek-ai/DeepSeek-R1-Distill-Qwen-32B (MIT): drops reasoning (text before </think>) from
# every assistant turn; the generation prompt opens a think block.
DEEPSEEK_R1_DISTILL = (
    '{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% end'
    'if %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_pro'
    "mpt='') %}{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.sys"
    "tem_prompt = message['content'] %}{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt"
    "}}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = fa"
    "lse -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant"
    "' and message['content'] is none %}{%- set ns.is_tool = false -%}{%- for tool in message['"
    "tool_calls']%}{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁beg"
    "in｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n'"
    " + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{%- set ns.is_first"
    " = true -%}{%- else %}{{'\\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + too"
    "l['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '"
    "```' + '<｜tool▁call▁end｜>'}}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- end"
    "for %}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none"
    " %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜"
    ">'}}{%- set ns.is_tool = false -%}{%- else %}{% set content = message['content'] %}{% if '"
    "</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<｜As"
    "sistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}{%- if message['role"
    "'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}{{'<｜tool▁outputs▁"
    "begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_"
    "output_first = false %}{%- else %}{{'\\n<｜tool▁output▁begin｜>' + message['content'] + '<｜to"
    "ol▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outpu"
    "ts▁end｜>'}}{% endif %}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><th"
    "ink>\\n'}}{% endif %}"
)

# HuggingFaceTB/SmolLM2-1.7B-Instruct (Apache-2.0): ChatML with a default system prompt.
SMOLLM2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|"
    'im_start|>system\n'
    'You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n'
    "' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n"
    "' + message['content'] + '<|im_end|>' + '\n"
    "'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n"
    "' }}{% endif %}"
)

# HuggingFaceH4/zephyr-7b-beta (MIT).
ZEPHYR = (
    '{% for message in messages %}\n'
    "{% if message['role'] == 'user' %}\n"
    "{{ '<|user|>\n"
    "' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n"
    "{{ '<|system|>\n"
    "' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n"
    "{{ '<|assistant|>\n"
    "'  + message['content'] + eos_token }}\n"
    '{% endif %}\n'
    '{% if loop.last and add_generation_prompt %}\n'
    "{{ '<|assistant|>' }}\n"
    '{% endif %}\n'
    '{% endfor %}'
)

_MISTRAL = ("<s>", "</s>", "<unk>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]",
            "[TOOL_CALLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]")
_DEEPSEEK = ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<think>",
             "</think>")
_CHATML = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
_PHI4 = ("<|endoftext|>", "<|im_start|>", "<|im_sep|>", "<|im_end|>")


class Hub:
    """A template with its tokenizer's special tokens, BOS/EOS, end-of-turn token and whether
    it trims assistant content."""

    def __init__(self, source: str, specials: tuple[str, ...], bos: str | None, eos: str,
                 eot: str, trims: bool = False) -> None:
        self.source, self.specials, self.bos, self.eos = source, specials, bos, eos
        self.eot, self.trims = eot, trims

    def chat(self) -> ChatTemplate:
        return ChatTemplate(JinjaRenderer(self.source, list(self.specials), self.bos, self.eos),
                            ByteTokenizer(self.specials), bos_token=self.bos, eos_token=self.eos)


HUB = {
    "qwen2.5": Hub(QWEN25, _CHATML, None, "<|im_end|>", "<|im_end|>"),
    "mistral-v3": Hub(MISTRAL_V3, _MISTRAL, "<s>", "</s>", "</s>", trims=True),
    "mistral-nemo": Hub(MISTRAL_NEMO, _MISTRAL, "<s>", "</s>", "</s>"),
    "phi-3.5": Hub(PHI35, ("<unk>", "<s>", "</s>", "<|endoftext|>", "<|assistant|>", "<|system|>",
                           "<|end|>", "<|user|>"), "<s>", "<|endoftext|>", "<|end|>"),
    "phi-4": Hub(PHI4, _PHI4, "<|endoftext|>", "<|im_end|>", "<|im_end|>"),
    "phi-4-first": Hub(PHI4_FIRST, _PHI4, "<|endoftext|>", "<|im_end|>", "<|im_end|>"),
    "deepseek-r1-distill": Hub(DEEPSEEK_R1_DISTILL, _DEEPSEEK, _DEEPSEEK[0], _DEEPSEEK[1], _DEEPSEEK[1]),
    "smollm2": Hub(SMOLLM2, _CHATML, "<|im_start|>", "<|im_end|>", "<|im_end|>"),
    "zephyr": Hub(ZEPHYR, ("<unk>", "<s>", "</s>"), "<s>", "</s>", "</s>"),
}

#: Templates that show a system prompt only in the last user turn (refused when it is left out).
SYSTEM_ONLY_IN_LAST_USER = {"mistral-v3", "mistral-nemo"}
#: Templates whose generation prompt is not a prefix of the training text (it opens a think block).
PROMPT_NOT_A_PREFIX = {"deepseek-r1-distill"}


def _turns(*pairs: tuple[str, str]) -> list[TurnTuple]:
    return [(role, content, None, None) for role, content in pairs]


HAND: list[list[TurnTuple]] = [
    _turns(("user", "Hello there!"), ("assistant", "Hi. How can I help?")),
    _turns(("user", "2+2?"), ("assistant", "4"), ("user", "And 3+3?"), ("assistant", "6")),
    _turns(("user", "  padded  "), ("assistant", " lead and trail\n")),
    _turns(("system", "Be brief."), ("user", "2+2?"), ("assistant", "4")),
    _turns(("system", "Be brief."), ("user", "2+2?"), ("assistant", " 4 "), ("user", "And 3+3?"),
           ("assistant", "6")),
]

# transformers' rendering of the system + multi-turn conversation with the generation prompt
# (``HAND[4][:-1]``), checked with ``_compile_jinja_template``: it runs without transformers.
EXPECTED_PROMPT = {
    "qwen2.5": "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
               " 4 <|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n",
    "phi-3.5": "<|system|>\nBe brief.<|end|>\n<|user|>\n2+2?<|end|>\n<|assistant|>\n 4 <|end|>\n<|user|>\n"
               "And 3+3?<|end|>\n<|assistant|>\n",
    "phi-4": "<|im_start|>system<|im_sep|>Be brief.<|im_end|><|im_start|>user<|im_sep|>2+2?<|im_end|>"
             "<|im_start|>assistant<|im_sep|> 4 <|im_end|><|im_start|>user<|im_sep|>And 3+3?<|im_end|>"
             "<|im_start|>assistant<|im_sep|>",
    "deepseek-r1-distill": "<｜begin▁of▁sentence｜>Be brief.<｜User｜>2+2?<｜Assistant｜> 4 <｜end▁of▁sentence｜>"
                           "<｜User｜>And 3+3?<｜Assistant｜><think>\n",
    "smollm2": "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
               " 4 <|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n",
    "zephyr": "<|system|>\nBe brief.</s>\n<|user|>\n2+2?</s>\n<|assistant|>\n 4 </s>\n<|user|>\nAnd 3+3?</s>\n"
              "<|assistant|>\n",
}
EXPECTED_PROMPT["phi-4-first"] = EXPECTED_PROMPT["phi-4"]


def _trained_runs(chat: ChatTemplate, turns: list[TurnTuple]) -> list[str]:
    """The trained tokens of ``turns``, decoded, one string per contiguous run."""
    ex = chat.encode(turns)
    tok = chat.tokenizer
    assert isinstance(tok, ByteTokenizer)
    runs: list[list[int]] = []
    previous = False
    for token, label in zip(ex.input_ids, ex.labels):
        trained = label != IGNORE_INDEX
        if trained and not previous:
            runs.append([])
        if trained:
            runs[-1].append(token)
        previous = trained
    return [tok.decode(run) for run in runs]


def _check_masks(hub: Hub, name: str, turns: list[TurnTuple]) -> None:
    chat = hub.chat()
    expected = [(c.strip() if hub.trims else c) + hub.eot for r, c, _, _ in turns if r == "assistant"]
    assert _trained_runs(chat, turns) == expected
    prompt = chat.encode_prompt(turns[:-1]).input_ids
    full = chat.encode(turns).input_ids
    assert (full[: len(prompt)] == prompt) is (name not in PROMPT_NOT_A_PREFIX)


def _leaves_out_system(name: str, turns: list[TurnTuple], generation_prompt: bool) -> bool:
    return (name in SYSTEM_ONLY_IN_LAST_USER and turns[0][0] == "system"
            and not (generation_prompt and len(turns) == 2))


@pytest.mark.parametrize("name", sorted(HUB))
def test_hub_template_masks_on_hand_conversations(name: str) -> None:
    """Always runs: trained tokens are each assistant content (trimmed where the template trims)
    plus the end-of-turn token; the prompt is a prefix of the training ids (not for DeepSeek-R1's,
    whose prompt opens a think block its training rendering lacks)."""
    hub = HUB[name]
    for turns in HAND:
        if _leaves_out_system(name, turns, False):
            with pytest.raises(TemplateError, match=r"leaves out the content of turn 0 \(role 'system'\)"):
                hub.chat().encode(turns)
            continue
        _check_masks(hub, name, turns)


@pytest.mark.parametrize("name", sorted(EXPECTED_PROMPT))
def test_hub_template_prompt_text(name: str) -> None:
    assert HUB[name].chat().text(HAND[4][:-1], add_generation_prompt=True) == EXPECTED_PROMPT[name]


def test_mistral_refusals_say_what_the_template_does() -> None:
    """Mistral's v3 templates show the system prompt only inside the last user turn: a training
    conversation (ending with the assistant) loses it, a prompt with history moves it."""
    chat = HUB["mistral-v3"].chat()
    with pytest.raises(TemplateError, match=r"leaves out the content of turn 0 \(role 'system'\)"):
        chat.encode(HAND[4])
    with pytest.raises(TemplateError, match=r"shows the content of turn 1 \(role 'user'\) before that of"
                                            r" an earlier turn \(it moves content"):
        chat.encode_prompt(HAND[4][:-1])
    # one user turn: the system prompt is in it, before the user content, and can be mapped
    assert chat.text(HAND[3][:-1], add_generation_prompt=True) == "<s>[INST] Be brief.\n\n2+2?[/INST]"


def test_mistral_v3_trims_assistant_content_only() -> None:
    """Regression: the template trims assistant content but not user content; with whitespace
    around both, the turn-by-turn match maps it (it was refused as 'changes message content')."""
    hub = HUB["mistral-v3"]
    turns = _turns(("user", "  padded  "), ("assistant", " lead and trail\n"))
    assert hub.chat().text(turns) == "<s>[INST]   padded  [/INST] lead and trail</s>"
    assert _trained_runs(hub.chat(), turns) == ["lead and trail</s>"]


def test_system_as_is_and_user_trimmed_in_one_turn() -> None:
    """Regression (Gemma 3's pattern): the system prompt is printed as is and the user content
    trimmed, in the same turn."""
    src = ("{%- if messages[0]['role'] == 'system' %}{%- set prefix = messages[0]['content'] + '\n\n' %}"
           "{%- set loop_messages = messages[1:] %}{%- else %}{%- set prefix = '' %}"
           "{%- set loop_messages = messages %}{%- endif %}"
           "{%- for m in loop_messages %}<t>{{ m['role'] }}\n{{ prefix if loop.first else '' }}"
           "{{ m['content'] | trim }}</t>\n{%- endfor %}")
    tok = ByteTokenizer(("<t>", "</t>"))
    chat = ChatTemplate(JinjaRenderer(src, ["<t>", "</t>"], None, None), tok)
    turns = _turns(("system", " sys "), ("user", " u "), ("assistant", " a "))
    assert chat.text(turns) == "<t>user\n sys \n\nu</t><t>assistant\na</t>"
    assert _trained_runs(chat, turns) == ["a</t>"]


def test_deepseek_r1_reasoning_in_content_is_refused_by_turn() -> None:
    """The template keeps only the text after '</think>' of every assistant turn: training on
    reasoning is not possible with it, and the error names the turn."""
    chat = HUB["deepseek-r1-distill"].chat()
    turns = _turns(("user", "q"), ("assistant", "<think>\nr\n</think>\n\nfinal"))
    with pytest.raises(TemplateError, match=r"changes the content of turn 1 \(role 'assistant'\)"):
        chat.encode(turns)


def test_repeated_content_is_named() -> None:
    src = "{% for m in messages %}{{ m.content }}{{ m.content }}</s>{% endfor %}"
    chat = ChatTemplate(JinjaRenderer(src, ["</s>"], None, "</s>"), ByteTokenizer(("</s>",)))
    with pytest.raises(TemplateError, match=r"repeats the content of turn 0 \(role 'user'\) 2 times"):
        chat.encode(_turns(("user", "q"), ("assistant", "a")))


def _transformers_render() -> Any:
    utils = pytest.importorskip("transformers.utils.chat_template_utils")
    compile_hf = getattr(utils, "_compile_jinja_template", None)
    if compile_hf is None:
        pytest.skip("this transformers version has no _compile_jinja_template")
    return compile_hf


def _compare_with_transformers(name: str, conversations: list[list[TurnTuple]]) -> None:
    hub = HUB[name]
    chat = hub.chat()
    template = _transformers_render()(hub.source)
    for turns in conversations:
        for generation_prompt in (False, True):
            part = turns[:-1] if generation_prompt else turns
            messages = [{"role": r, "content": c} for r, c, _, _ in part]
            theirs = template.render(messages=messages, add_generation_prompt=generation_prompt,
                                     bos_token=hub.bos or "", eos_token=hub.eos)
            if _leaves_out_system(name, part, generation_prompt):
                with pytest.raises(TemplateError, match="(leaves out|moves) .*content"):
                    chat.text(part, add_generation_prompt=generation_prompt)
                continue
            assert chat.text(part, add_generation_prompt=generation_prompt) == theirs
        if not _leaves_out_system(name, turns, False):
            _check_masks(hub, name, turns)


@pytest.mark.parametrize("name", sorted(HUB))
def test_hub_template_equals_transformers_on_hand_conversations(name: str) -> None:
    _compare_with_transformers(name, HAND)


@pytest.mark.parametrize("name", sorted(HUB))
def test_hub_template_equals_transformers_on_real_conversations(name: str, shared_data: Path) -> None:
    """100 real conversations (GSM8K with a system prompt, Super-NI, FastChat multi-turn,
    HH-RLHF, self-instruct), with and without the generation prompt."""
    conversations = [[(m["role"], m["content"], None, None) for m in msgs]
                     for msgs in real_conversations(shared_data, 20)]
    _compare_with_transformers(name, conversations)


def test_folder_template_that_refuses_system_prompts_is_used_as_is(tmp_path: Path) -> None:
    """Regression: a template that refuses the system role with ``raise_exception`` (as Gemma's
    do) made ``from_folder`` fail while probing built-ins, for every dataset; now it is used
    as is, and only records with a system prompt are refused, by the template's own message."""
    import json

    src = ("{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
           "{% endif %}{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
           "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": src}))
    chat = ChatTemplate.from_folder(tmp_path, ByteTokenizer(_CHATML))
    assert chat.jinja is not None
    assert _trained_runs(chat, HAND[0]) == ["Hi. How can I help?<|im_end|>"]
    with pytest.raises(TemplateError, match="System role not supported"):
        chat.encode(HAND[3])


def test_empty_system_prompt_left_out_by_the_template() -> None:
    """Regression: Phi-3.5's template leaves out a system turn whose content is empty, which
    the sentinel (never empty) did not show; the record was refused as 'changes message
    content'. Empty contents are now given to the template as they are when that happens."""
    hub = HUB["phi-3.5"]
    turns = _turns(("system", ""), ("user", "q"), ("assistant", "a"))
    assert hub.chat().text(turns) == "<|user|>\nq<|end|>\n<|assistant|>\na<|end|>\n<|endoftext|>"
    _check_masks(hub, "phi-3.5", turns)
    _compare_with_transformers("phi-3.5", [turns])
