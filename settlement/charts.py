"""Charts for the documents people read (a fund's statement, the simulation report): PNG through
matplotlib's Agg backend, in a CJK font when one is installed so that names show in Chinese —
else the documents keep the ids in their charts (:func:`cjk_font` tells which)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import cache
from io import BytesIO
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

CJK_FAMILIES = (
    "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
    "Droid Sans Fallback", "SimHei", "Microsoft YaHei", "PingFang SC",
)  # fmt: skip
"""Font families with Chinese glyphs, in the order they are preferred."""


@cache
def cjk_font() -> str | None:
    """The installed font family with Chinese glyphs matplotlib will use, or None."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in installed), None)


def label(name: str, code: str) -> str:
    """A chart label: the name when a CJK font can draw it, else the code."""
    return name if cjk_font() or name.isascii() else code


def png(draw: Callable[[Axes], None], title: str, size: tuple[float, float] = (9, 4.5)) -> bytes:
    """A chart as PNG bytes: ``draw`` fills the axes, ``title`` above it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    family = cjk_font()
    with matplotlib.rc_context({"font.sans-serif": [family, "DejaVu Sans"]} if family else {}):
        figure, axes = plt.subplots(figsize=size)
        draw(axes)
        if axes in figure.axes:
            axes.set_title(title)
        else:  # ``draw`` made subplots of its own
            figure.suptitle(title)
        figure.tight_layout()
        buffer = BytesIO()
        figure.savefig(buffer, format="png", dpi=96)
        plt.close(figure)
    return buffer.getvalue()


def data_uri(image: bytes) -> str:
    """A PNG inline in a page (``<img src=…>``): the page stays one self-contained file."""
    return "data:image/png;base64," + base64.b64encode(image).decode()
