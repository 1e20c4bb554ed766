"""Hatchling build hook: compile alignkit's hot core with mypyc.

The wheel is compiled by default (speed is part of the product). Set
``ALIGNKIT_PURE=1`` in the environment of ``pip install`` to build a pure-Python
wheel instead, e.g. to debug or on a platform without a C compiler.
Editable installs are never compiled, so that source edits take effect.

The list of compiled modules lives in ``pyproject.toml`` under
``[tool.hatch.build.targets.wheel.hooks.custom] compile``; each entry there
carries the reason it is compiled. This file is not shipped in the wheel.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PURE_SWITCH = "ALIGNKIT_PURE"


def _pure_requested() -> bool:
    return os.environ.get(PURE_SWITCH, "").strip().lower() not in ("", "0", "false", "no")


class MypycBuildHook(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"
    _scratch: Path | None = None

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable" or _pure_requested():
            return
        paths = sorted(str(p) for p in self.config.get("compile", []))
        if not paths:
            return
        # mypyc derives module names from relative paths, so run from the root.
        old_cwd = os.getcwd()
        os.chdir(self.root)
        self._scratch = Path(tempfile.mkdtemp(prefix="alignkit-mypyc-"))
        try:
            outputs = _compile(paths, self._scratch)
        except BaseException:
            shutil.rmtree(self._scratch, ignore_errors=True)
            raise
        finally:
            os.chdir(old_cwd)
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        build_data["force_include"].update(outputs)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        # The compiled files are in the wheel now; the C sources and objects (about 12 MB
        # a build) would otherwise stay in the temp folder for good.
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def _compile(paths: list[str], tmp: Path) -> dict[str, str]:
    from mypyc.build import mypycify
    from setuptools import Distribution

    extensions = mypycify(
        paths,
        opt_level=os.environ.get("MYPYC_OPT_LEVEL", "3"),
        debug_level="0",
        target_dir=str(tmp / "c"),
        group_name="alignkit",
    )
    dist = Distribution({"name": "alignkit", "ext_modules": extensions})
    cmd = dist.get_command_obj("build_ext")
    cmd.build_lib = str(tmp / "lib")  # type: ignore[attr-defined]
    cmd.build_temp = str(tmp / "tmp")  # type: ignore[attr-defined]
    cmd.inplace = False  # type: ignore[attr-defined]
    cmd.parallel = os.cpu_count() or 1  # type: ignore[attr-defined]
    dist.run_command("build_ext")
    lib = tmp / "lib"
    return {str(p): str(p.relative_to(lib)) for p in sorted(lib.rglob("*")) if p.is_file()}
