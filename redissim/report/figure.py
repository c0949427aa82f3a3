"""Writing a matplotlib figure to a PNG all at once (temp file + rename): never a
half-written image, whatever fails while drawing or saving."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from redissim.outputs import give_default_mode


def save_png(fig: Any, path: Path) -> Path:
    """Save ``fig`` as ``path`` (a sibling temp file renamed into place) and close it.
    Raises ValueError when the directory does not exist."""
    import matplotlib.pyplot as plt

    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        plt.close(fig)
        raise ValueError(f"{path}: directory {parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        give_default_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        plt.close(fig)
    return path
