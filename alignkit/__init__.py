"""alignkit: chat and preference data to validated, training-ready token tensors."""

from typing import Any

from alignkit._compiled import COMPILED as COMPILED
from alignkit._version import __version__ as __version__
from alignkit.bpe import Tokenizer as Tokenizer
from alignkit.bpe import load_tokenizer as load_tokenizer

__all__ = [
    "COMPILED",
    "ChatExample",
    "ChatTemplate",
    "EncodedExample",
    "EncodedPair",
    "PreferenceExample",
    "PreferenceTokenize",
    "SFTTokenize",
    "TokenizeConfig",
    "Tokenizer",
    "Turn",
    "__version__",
    "get_template",
    "iter_records",
    "load_recipe",
    "load_tokenizer",
    "run_recipe",
    "tokenize_files",
    "train_bpe",
    "validate_file",
]

# Records and readers load pydantic, so they are imported on first use (`alignkit --help`
# stays fast): `from alignkit import ChatExample` works as usual. Do not add
# `if TYPE_CHECKING:` imports of them here: mypyc's type check of the compiled modules
# follows them into pydantic, which the isolated build environment lacks, and
# `pip install .` fails. Typed code imports from the defining module
# (`from alignkit.records import ChatExample`).
_LAZY = {
    "ChatExample": "alignkit.records",
    "PreferenceExample": "alignkit.records",
    "Turn": "alignkit.records",
    "iter_records": "alignkit.io.reader",
    "validate_file": "alignkit.io.validate",
    "load_recipe": "alignkit.recipes",
    "run_recipe": "alignkit.recipes",
    "tokenize_files": "alignkit.pipeline",
    "TokenizeConfig": "alignkit.worker",
    "SFTTokenize": "alignkit.hf",
    "PreferenceTokenize": "alignkit.hf",
    "ChatTemplate": "alignkit.templates.chat",
    "get_template": "alignkit.templates",
    "EncodedExample": "alignkit.encode",
    "EncodedPair": "alignkit.encode",
    "train_bpe": "alignkit.bpe.train",
}


def __getattr__(name: str) -> Any:
    import importlib

    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'alignkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
