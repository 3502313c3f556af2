"""Every page a person reads, opened in a real headless browser as it prints on A4: the patient's
slip (after a retroactive 低保 approval, with its adjustments; and reversed), the statement a fund
sends, the clawback statement of a revoked fast-track approval, and the simulation report. Each
shows what it must and nothing runs past the right edge (the slip also on A5).
``MEDRELIEF_SCREENSHOTS=docs/screenshots`` keeps a screenshot of each (the ones in the docs)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.browser import A4_PRINT_WIDTH, A5_PRINT_WIDTH, Browser, browser
from tests.api.helpers import claim, register
from tests.api.servers import ROOT, Server, prepare


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The pages, as files: a SQLite service's slips, statement and clawback statement; a simulation's report."""
    folder = tmp_path_factory.mktemp("pages")
    url = f"sqlite:///{folder / 'medrelief.db'}"
    server = Server(url, prepare(url)).start()
    try:
        found = _from_the_service(server)
    finally:
        server.stop()
    out = folder / "simulation"
    done = subprocess.run(
        [sys.executable, "-c", "from settlement.cli import app; app()", "simulate", "--persons", "3000",
         "--replications", "3", "--out", str(out)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found["report"] = (out / "report.html").read_text(encoding="utf-8")
    for name, page in found.items():
        (folder / f"{name}.html").write_text(page, encoding="utf-8")
    return {name: folder / f"{name}.html" for name in found}


def _from_the_service(server: Server) -> dict[str, str]:
    with server.client("admin") as admin, server.client() as hospital, server.client("insurer") as insurer:
        person = register(admin, category=None)
        first = hospital.post("/v1/settlements", json=claim(person, settle_date="2024-03-01")).json()["setl_id"]
        case = admin.post("/v1/cases", json={"person_id": person, "year": 2024}).json()["case_id"]
        admin.post(f"/v1/cases/{case}/apply", json={"note": "申请"})
        approval = {"category": "dibao", "effective_from": "2024-01-01", "fast_track": True}
        assert admin.post(f"/v1/cases/{case}/approval", json=approval).status_code == 200
        adjusted = hospital.get(f"/v1/settlements/{first}/slip").text
        small = hospital.get(f"/v1/settlements/{first}/slip", params={"paper": "A5"}).text
        assert admin.post(f"/v1/cases/{case}/revocation", json={"note": "核对不符"}).status_code == 200
        other = register(admin)
        second = hospital.post("/v1/settlements", json=claim(other, settle_date="2024-04-01")).json()["setl_id"]
        assert hospital.post(f"/v1/settlements/{second}/reversal").status_code == 201
        return {
            "slip": adjusted,
            "slip-a5": small,
            "slip-reversed": hospital.get(f"/v1/settlements/{second}/slip").text,
            "statement": insurer.get("/v1/statements?from=2024-01-01&to=2024-12-31&format=html").text,
            "clawback": admin.get(f"/v1/cases/{case}/clawback").text,
        }


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with browser() as opened:
        yield opened


SHOWN = {
    "slip": ("医疗费用结算单", "测试", "110101", "大写", "重新结算调整", "医疗救助"),
    "slip-a5": ("医疗费用结算单", "大写", "重新结算调整"),
    "slip-reversed": ("本结算已冲正",),
    "statement": ("结算对账单", "统计期间", "各基金支付", "净支付", "冲正", "按医疗类别", "普通住院"),
    "clawback": ("追回通知书", "容缺审批", "尚需退还"),
    "report": (
        "What each reform changes",
        "top 1%",
        "stylised inpatient stay",
        "Reproduce",
        "sha256:",
        "replication 0 of 3",
    ),
}


@pytest.mark.parametrize("name", list(SHOWN))
def test_a_page_shows_what_it_must_and_fits_a4(chromium: Browser, pages: dict[str, Path], name: str) -> None:
    width = A5_PRINT_WIDTH if name.endswith("-a5") else A4_PRINT_WIDTH
    page = chromium.open(pages[name], name if os.environ.get("MEDRELIEF_SCREENSHOTS") else None, width)
    for text in SHOWN[name]:
        assert text in page.text, (name, text)
    assert page.past_the_edge == [], (name, page.past_the_edge)
    assert page.scroll_width <= page.width, name
