"""Permissions of the files redissim writes.

Outputs are written into a temporary sibling and renamed into place, so that a failure never
leaves half a file. ``tempfile`` makes those temporaries private (0600 files, 0700
directories); once complete they get the mode a plain ``open()`` or ``mkdir`` would have
given: 0666 or 0777 less the process's umask.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["give_default_mode"]


def _umask() -> int:
    mask = os.umask(0)  # (the only way to read it; set straight back)
    os.umask(mask)
    return mask


def give_default_mode(path: str | Path) -> None:
    """chmod ``path`` (a file, or a directory and what it holds) as if created normally."""
    mask = _umask()
    p = Path(path)
    if p.is_dir():
        os.chmod(p, 0o777 & ~mask)
        for sub in p.rglob("*"):
            os.chmod(sub, (0o777 if sub.is_dir() else 0o666) & ~mask)
    else:
        os.chmod(p, 0o666 & ~mask)
