"""A real headless browser (Debian's chromium through chromedriver, driven by selenium) for the
page tests: a page opened as it prints on A4 — the print stylesheet, 186 mm of width (A4 less
12 mm margins each side) — and asked what it shows and whether anything runs past the right edge.

Without chromium the page tests are skipped, loudly — unless ``MEDRELIEF_REQUIRE_BROWSER=1``
(``.ci/run`` installs chromium and sets it), where that is a failure."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

A4_PRINT_WIDTH = 703
"""CSS pixels of A4 less 12 mm margins each side (186 mm at 96 px per inch)."""
A5_PRINT_WIDTH = 499
"""CSS pixels of A5 less 8 mm margins each side (132 mm)."""
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip
OVERFLOW = """
const width = document.documentElement.clientWidth;
const past = [];
for (const e of document.querySelectorAll('body *')) {
  const box = e.getBoundingClientRect();
  const text = (e.textContent || '').trim().slice(0, 40);
  if (box.width > 0 && box.right > width + 1) past.push(`${e.tagName} ${Math.round(box.right)}px: ${text}`);
}
return {width: width, scroll: document.documentElement.scrollWidth, past: past.slice(0, 10)};
"""


@dataclass(frozen=True)
class Page:
    """What a page shows at print width: its text, and the elements past the right edge."""

    text: str
    width: int
    scroll_width: int
    past_the_edge: list[str]


class Browser:
    def __init__(self, driver: Any) -> None:
        self.driver, self.width = driver, A4_PRINT_WIDTH

    def open(self, path: Path, screenshot: str | None = None, width: int = A4_PRINT_WIDTH) -> Page:
        """Open a page file as it prints on paper ``width`` px wide (A4 by default); keep a screenshot as
        ``$MEDRELIEF_SCREENSHOTS/<name>.png`` when asked."""
        self.width = width
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        self._size(1000)
        self.driver.get(path.resolve().as_uri())
        measured = self.driver.execute_script(OVERFLOW)
        text = self.driver.execute_script("return document.body.innerText")
        kept = os.environ.get("MEDRELIEF_SCREENSHOTS")
        if kept and screenshot:
            self._size(min(int(self.driver.execute_script("return document.body.scrollHeight")), 4000))
            _keep(self.driver.get_screenshot_as_png(), Path(kept, f"{screenshot}.png"))
        return Page(text, measured["width"], measured["scroll"], measured["past"])

    def _size(self, height: int) -> None:
        metrics = {"width": self.width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def _keep(png: bytes, path: Path) -> None:
    """A screenshot in 256 colours (a page of text loses nothing; the docs stay small)."""
    from PIL import Image

    Image.open(io.BytesIO(png)).convert("RGB").quantize(256).save(path, optimize=True)


@contextmanager
def browser() -> Iterator[Browser]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        reason = "no chromium/chromedriver (apt-get install chromium chromium-driver)"
        if os.environ.get("MEDRELIEF_REQUIRE_BROWSER") == "1":
            pytest.fail(f"a browser is required here: {reason}")
        pytest.skip(f"PAGE TESTS SKIPPED: {reason}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    session = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield Browser(session)
    finally:
        session.quit()
