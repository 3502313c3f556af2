"""The bundled policies load, say where their numbers come from, and show their parameters."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tiers.loader import bundled_names, load_policy
from tiers.resolve import resolve
from tiers.view import policy_rows


def test_bundled_policies() -> None:
    assert bundled_names() == [
        "beijing",
        "bengbu",
        "demo",
        "guangde",
        "nantong",
        "npc147",
        "sanming",
        "xianyang",
        "yichang",
        "yubei",
    ]


@pytest.mark.parametrize("name", ["beijing", "demo", "nantong"])
def test_every_rule_has_a_reference(name: str) -> None:
    policy = load_policy(name)
    assert policy.reference
    for layer in policy.layers:
        assert all(rule.reference for rule in layer.rules)


def test_nantong_flags_what_the_source_does_not_give() -> None:
    policy = load_policy("nantong")
    supplementary = policy.layer("supp_pay")
    assert supplementary is not None
    assert supplementary.funding is not None
    assert supplementary.funding.loss_ratio_floor[0].value == Decimal("0.92")
    assert supplementary.funding.premium_per_person[0].assumption
    assert policy.disease_lists["major"].assumption
    assert any("layers 1–3" in a for a in policy.assumptions)
    assert supplementary.rules[0].when.category == (
        "tekun",
        "dibao",
        "dibao_edge",
        "expense_hardship",
        "child_hardship",
        "former_poor",
    )


def test_demo_versions_change_on_2024_07_01() -> None:
    policy = load_policy("demo")
    before, after = resolve(policy, date(2024, 6, 30)), resolve(policy, date(2024, 7, 1))
    assert before.layers[0].rules[0].band_ratio[0][3] == Decimal("0.70")
    assert after.layers[0].rules[0].band_ratio[0][3] == Decimal("0.72")
    assert after.version == date(2024, 7, 1)


def test_policy_rows_show_numbers_in_force() -> None:
    rows = policy_rows(load_policy("demo"), date(2024, 7, 1))
    dibao_other = next(r for r in rows if r["rule"] == "dibao_other")
    assert dibao_other["cap"] == "25,000.00"
    assert "L3 72%" in next(r for r in rows if r["rule"] == "inpatient")["bands"]


def test_documents_name_things_by_the_policy_s_names() -> None:
    from tiers.vocabulary import Names

    beijing, demo = Names(load_policy("beijing")), Names(load_policy("demo"))
    assert (beijing.category("tekun"), demo.category("tekun")) == ("特困供养人员", "特困人员")
    assert (beijing.visit_type("13"), demo.visit_type("21"), demo.level(3)) == ("急诊留观", "普通住院", "三级")
    assert (beijing.layer("hifmi_pay"), beijing.rule("basic", "special_outpatient")) == (
        "城乡居民大病保险",
        "门诊特殊病 (特殊病种门诊)",
    )
    assert beijing.layer("maf_pay") == "医疗救助"
