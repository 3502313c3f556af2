"""Statements tie out: Σ detail rows == every grouping's total == what the engine paid, to the fen."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.data import claims_frame
from settlement.engine import settle
from settlement.money import yuan_grouped
from settlement.statement import MONEY, by_kind, monthly, named, totals
from settlement.statement_page import Heading, render_statement
from tiers.codes import PAYMENT_COLUMNS
from tiers.loader import load_policy
from tiers.vocabulary import Names


def _year() -> tuple[pd.DataFrame, pd.DataFrame]:
    """100,000 generated claims settled by the engine, as settlement rows; every 50th reversed,
    every 70th adjusted (+1.00 in 救助, as a re-settlement's row of its own)."""
    claims = claims_frame(100_000, 20_000, seed=11)
    result = settle(claims, load_policy("demo"))
    paid = result.frame()
    rows = paid.assign(
        kind="settlement",
        setl_id=paid["claim_id"],
        medfee_sumamt=result.claims.medfee,
        institution_id=np.where(claims["hospital_level"] == "3", "H3", "H-other"),
        settle_date=claims["settle_date"],
        med_type=claims["med_type"],
        insutype="390",
    )
    reversals = rows.iloc[::50].assign(kind="reversal")
    for column in MONEY:
        reversals[column] = -reversals[column]
    adjusted = rows.iloc[1::70].assign(kind="adjustment", **dict.fromkeys(MONEY, 0))
    adjusted = adjusted.assign(maf_pay=100, fund_pay_sumamt=100, psn_part_amt=-100)
    paid.loc[paid.index[1::70], "maf_pay"] += 100
    return pd.concat([rows, reversals, adjusted], ignore_index=True), paid


def test_every_grouping_adds_up_to_what_the_engine_paid() -> None:
    rows, paid = _year()
    statement = totals(rows)
    grand = statement[statement["dimension"] == "all"].iloc[0]
    kept = paid.drop(index=paid.index[::50])
    for column in PAYMENT_COLUMNS:
        assert int(grand[column]) == int(kept[column].sum())
    assert (int(grand["settlements"]), int(grand["reversals"]), int(grand["adjustments"])) == (100_000, 2_000, 1_429)
    for dimension in ("insutype", "med_type", "hospital"):
        part = statement[statement["dimension"] == dimension]
        for column in (*MONEY, "settlements", "reversals", "adjustments"):
            assert int(part[column].sum()) == int(grand[column]), (dimension, column)
    funds = statement[statement["dimension"] == "fund"].set_index("value")
    for column in PAYMENT_COLUMNS:
        assert int(funds[column].to_dict()[column]) == int(grand[column])
    assert int(monthly(rows).to_numpy().sum()) == int(grand["fund_pay_sumamt"])


def test_each_fund_shows_settlements_reversals_and_adjustments_apart() -> None:
    """By kind, per fund: what settlements paid, what reversals took back (negative), what
    adjustments added — adding up to the fund's net, which is the statement's fund total."""
    rows, _ = _year()
    kinds = by_kind(rows).set_index("fund")
    statement = totals(rows).set_index(["dimension", "value"])
    settled = rows[rows["kind"] == "settlement"]
    for fund in PAYMENT_COLUMNS:
        row = kinds.loc[fund]
        assert row["settlement_amount"] == settled[fund].sum()
        assert row["reversal_amount"] == -settled[fund].iloc[::50].sum()
        assert row["adjustment_amount"] == (100 * len(rows[rows["kind"] == "adjustment"]) if fund == "maf_pay" else 0)
        assert row["net"] == row["settlement_amount"] + row["reversal_amount"] + row["adjustment_amount"]
        assert row["net"] == statement.loc[("fund", fund), fund]
        assert row["settlements"] == int((settled[fund] != 0).sum())
    fund_rows = statement.xs("fund", level="dimension")
    assert fund_rows["fund_pay_sumamt"].isna().all()  # a fund's row says nothing of the others
    assert fund_rows.loc["hifp_pay", "maf_pay"] is pd.NA


def test_the_page_a_fund_sends() -> None:
    """The page: issuer, period, the funds by name with settlements, reversals and adjustments
    apart and their net, the breakdowns by name, the chart; money exact and grouped."""
    rows, _ = _year()
    statement = named(totals(rows), Names(load_policy("demo")))
    heading = Heading("结算对账单", "示范市医疗保障局", "2024-01-01", "2024-12-31", "demo", "2025-01-15")
    page = render_statement(statement, by_kind(rows), monthly(rows), heading)
    assert "data:image/png;base64," in page
    for text in (
        "示范市医疗保障局",
        "2024-01-01 至 2024-12-31",
        "制表日期</th><td>2025-01-15",
        "普通住院",
        "城乡居民基本医疗保险",
    ):
        assert text in page, text
    kinds = by_kind(rows).set_index("fund")
    basic = {k: int(v) for k, v in kinds.loc["hifp_pay"].to_dict().items()}
    cells = "".join(f'<td class="n">{v}</td>' for v in (
        f"{basic['settlements']:,}", yuan_grouped(basic["settlement_amount"]),
        f"{basic['reversals']:,}", yuan_grouped(basic["reversal_amount"]),
        f"{basic['adjustments']:,}", yuan_grouped(basic["adjustment_amount"]), yuan_grouped(basic["net"]),
    ))  # fmt: skip
    assert f"<td>{Names(load_policy('demo')).fund('hifp_pay')}</td>{cells}" in page
    assert "hifp_pay" not in page.split("<h2>")[2]  # the funds' table names, never ids


def test_a_statement_names_funds_and_visit_types_as_the_policy_does() -> None:
    """Beijing names its funds and visit types its own way (住院, 门（急）诊): a statement read with
    the policy shows those names, the grand total as 合计; the ids stay in ``value``."""
    rows, _ = _year()
    statement = named(totals(rows), Names(load_policy("beijing")))
    by_value = statement.set_index(["dimension", "value"])["name"].to_dict()
    assert by_value[("fund", "hifp_pay")] == "城乡居民基本医疗保险基金"
    assert by_value[("fund", "maf_pay")] == "医疗救助基金"
    assert (by_value[("med_type", "21")], by_value[("med_type", "11")]) == ("住院", "门（急）诊")
    assert by_value[("all", "all")] == "合计"
    assert list(statement.columns[:3]) == ["dimension", "value", "name"]
