"""Build: the modules on the per-command path are compiled with mypyc (see redissim/_compiled.py).

Everything else about the package is in pyproject.toml. ``REDISSIM_PURE=1 pip install ...``
installs without compiling (no C compiler needed); the package is then plain Python.
"""

import os
import runpy

from setuptools import setup

ext_modules = []
if os.environ.get("REDISSIM_PURE", "") in ("", "0"):
    from mypyc.build import mypycify

    here = os.path.dirname(os.path.abspath(__file__))
    compiled = runpy.run_path(os.path.join(here, "redissim", "_compiled.py"))["COMPILED"]
    paths = [os.path.join(*name.split(".")) + ".py" for name in compiled]
    ext_modules = mypycify(
        ["--ignore-missing-imports", "--follow-imports=silent", *paths],
        opt_level="3",
        group_name="redissim",
    )

setup(ext_modules=ext_modules)
