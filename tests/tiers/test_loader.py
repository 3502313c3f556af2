"""Policy files: strict validation, one broken file per failure mode, file and key path named."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tiers.loader import PolicyError, load_policy
from tiers.params import at_tier

DEMO = Path(__file__).parents[2] / "tiers" / "policies" / "demo.yaml"


def _write(tmp_path: Path, text: str, name: str = "broken.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _broken(tmp_path: Path, edit: str, replacement: str) -> Path:
    text = DEMO.read_text(encoding="utf-8")
    assert edit in text, edit
    return _write(tmp_path, text.replace(edit, replacement, 1))


@pytest.mark.parametrize(
    ("edit", "replacement", "where", "reason"),
    [
        (
            "        ratio: 0.60\n        cap: 5000",
            "        ratio: 1.60\n        cap: 5000",
            "layers.0.rules.1.ratio",
            "within [0, 1]",
        ),
        (
            "        ratio: 0.60\n        cap: 5000",
            "        ratio: 0.123456\n        cap: 5000",
            "layers.0.rules.1.ratio",
            "at most four decimals",
        ),
        ("        cap: 400\n", "        cap: -400\n", "layers.0.rules.2.cap", "must not be negative"),
        (
            "category: [tekun]}",
            "category: [rich]}",
            "layers.2.rules.0.when.category",
            "unknown relief category ['rich']",
        ),
        ("categories: [tekun]\n", "categories: [tekun, rich]\n", "layers.0.rules.0.tilts.0", "unknown relief category"),
        ('    "2201": tekun', '    "2201": rich', "identity_codes.codes", "unknown relief category ['rich']"),
        (
            "{by_level: {1: 200, 2: 500, 3: 800}}",
            "{by_level: {1: 200, 2: 500, 3: 800, 4: 900}}",
            "layers.0.rules.0.deductible.amount",
            "'by_level' needs exactly the hospital tiers [1, 2, 3]",
        ),
        (
            'when: {med_type: ["21"]}',
            'when: {med_type: ["21"], hospital_level: [4]}',
            "layers.0.rules.0.when.hospital_level",
            "unknown hospital tier(s) [4]",
        ),
        ("diagnosis_in: major}", "diagnosis_in: minor}", "layers.2.rules.1.when", "unknown disease list"),
        ("{from: 100000, ratio: 0.80}", "{from: 40000, ratio: 0.80}", "layers.1.rules.0.bands", "must increase"),
        (
            "        bucket: chronic\n",
            "        bucket: chronic\n        colour: red\n",
            "layers.0.rules.1.colour",
            "Extra inputs",
        ),
        (
            "        reference: demo policy, layer 1 general outpatient\n",
            "",
            "layers.0.rules.2.reference",
            "Field required",
        ),
        (
            "{from: 2024-07-01, value: 0.72",
            "{from: 2022-07-01, value: 0.72",
            "layers.0.rules.0.ratio",
            "strictly increasing",
        ),
        ("      - id: chronic", "      - id: inpatient", "layers.0.rules", "duplicate rule ids"),
        ("    output: maf_pay", "    output: hifp_pay", "", "each output column belongs to one layer"),
        ("    output: maf_pay", "    output: charity", "layers.2.output", "ending in '_pay'"),
        ("    output: maf_pay", "    output: psn_part_amt", "layers.2.output", "ending in '_pay'"),
        (
            "identity_codes:",
            "relief_categories:\n  dibao: {name: 低保, reference: x}\nidentity_codes:",
            "relief_categories.dibao",
            "a national category",
        ),
        (
            "{by_level: {1: 200, 2: 500",
            "{by_level: {1: 200.01, 2: 500",
            "layers.0.rules.0",
            "not a whole number of fen",
        ),
        ("ratio_add: 0.05", "ratio_add: 0.25", "layers.1.rules.0", "outside [0, 1]"),
        (
            'when: {med_type: ["21"]}',
            'when: {med_type: ["21"], age_band: [children]}',
            "layers.0.rules.0.when.age_band",
            "unknown age band(s) ['children'] (declared: [])",
        ),
        (
            "identity_codes:",
            "age_bands:\n  children: {name: 儿童, from_age: 18, to_age: 6, reference: x}\nidentity_codes:",
            "age_bands.children",
            "to_age 6 is below from_age 18",
        ),
    ],
)
def test_broken_file_names_file_and_key_path(
    tmp_path: Path, edit: str, replacement: str, where: str, reason: str
) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(_broken(tmp_path, edit, replacement))
    message = str(info.value)
    assert message.startswith("broken.yaml: ")
    assert where in message
    assert reason in message


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    path = _broken(tmp_path, "        cap: 400\n", "        cap: 400\n        cap: 500\n")
    with pytest.raises(PolicyError, match=r"broken.yaml: not valid YAML: .*duplicate key 'cap'"):
        load_policy(path)


def test_extends_merges_rules_by_id(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(DEMO.read_text(encoding="utf-8"), encoding="utf-8")
    child = {"extends": "demo", "id": "child", "layers": [{"id": "basic", "rules": [{"id": "outpatient", "cap": 999}]}]}
    path = _write(tmp_path, yaml.safe_dump(child, allow_unicode=True), "child.yaml")
    policy = load_policy(path)
    basic = policy.layers[0]
    assert [r.id for r in basic.rules] == ["inpatient", "chronic", "outpatient"]
    assert at_tier(basic.rules[2].cap, 1)[0].value == 999
    assert basic.rules[2].ratio is not None


def test_unknown_policy_name() -> None:
    with pytest.raises(PolicyError, match="no such policy file or bundled policy"):
        load_policy("atlantis")


def test_post_hoc_programs_are_checked_like_layers(tmp_path: Path) -> None:
    source = (Path(__file__).parents[2] / "tiers" / "policies" / "beijing.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "bj.yaml"
    broken.write_text(source.replace("{from: 50000, ratio: 0.50}", "{from: 20000, ratio: 0.50}"), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"bj.yaml: post_hoc.0.rules.0.bands: band 'from' amounts must increase"):
        load_policy(str(broken))


def _child(tmp_path: Path, layers: list[dict[str, object]]) -> Path:
    (tmp_path / "demo.yaml").write_text(DEMO.read_text(encoding="utf-8"), encoding="utf-8")
    child = {"extends": "demo", "id": "child", "layers": layers}
    return _write(tmp_path, yaml.safe_dump(child, allow_unicode=True), "child.yaml")


def test_extends_replaces_or_removes_a_parent_item_whole(tmp_path: Path) -> None:
    rule = {"id": "only", "when": {"category": ["dibao"]}, "bucket": "assistance", "reference": "test", "ratio": 0.5,
            "cap": 100}  # fmt: skip
    assistance = {"id": "assistance", "replace": True, "name": "救助", "output": "maf_pay", "rules": [rule]}
    policy = load_policy(_child(tmp_path, [assistance, {"id": "supplementary", "remove": True}]))
    assert [layer.id for layer in policy.layers] == ["basic", "critical_illness", "assistance"]
    assert [r.id for r in policy.layers[2].rules] == ["only"]


@pytest.mark.parametrize(
    "item",
    [{"id": "supplemantary", "remove": True}, {"id": "supplementary", "remove": True, "name": "x"}],
    ids=["unknown id", "more than id"],
)
def test_a_removal_that_removes_nothing_is_refused(tmp_path: Path, item: dict[str, object]) -> None:
    with pytest.raises(PolicyError, match=r"child.yaml: layers\.0: remove: the parent has no item"):
        load_policy(_child(tmp_path, [item]))


def test_replace_outside_extends_is_refused(tmp_path: Path) -> None:
    path = _broken(tmp_path, "  - id: basic\n", "  - id: basic\n    replace: true\n")
    with pytest.raises(PolicyError, match=r"broken.yaml: layers\.0\.replace: Extra inputs are not permitted"):
        load_policy(path)


FIGURE = """reference_figures:
  income:
    name: 上年度人均可支配收入
    values:
      - {from: 2023-01-01, value: 50000, reference: 公报}
      - {from: 2024-01-01, value: 52000.50, reference: 公报}
"""


def test_an_amount_as_a_multiple_of_a_reference_figure_follows_its_dates(tmp_path: Path) -> None:
    path = _broken(tmp_path, "        cap: 400\n", "        cap: {of: income, times: 0.025}\n")
    path.write_text(path.read_text(encoding="utf-8") + FIGURE, encoding="utf-8")
    cap = at_tier(load_policy(path).layers[0].rules[2].cap, 1)
    assert [(v.from_, v.value) for v in cap] == [
        (date(2023, 1, 1), Decimal("1250.00")),
        (date(2024, 1, 1), Decimal("1300.01")),
    ]
    assert cap[1].reference == "0.025 × income (公报)"


@pytest.mark.parametrize(
    ("cap", "where", "reason"),
    [
        ("{of: incme, times: 0.1}", "cap.of", "unknown reference figure 'incme'; declared: ['income']"),
        ("{of: income, times: -1}", "cap.times", "-1: a factor is a number ≥ 0"),
        ("{of: income, times: 0.1, per: year}", "cap", "unexpected ['per'] beside 'of' and 'times'"),
    ],
)
def test_a_bad_multiple_of_a_figure_is_refused_with_its_path(tmp_path: Path, cap: str, where: str, reason: str) -> None:
    path = _broken(tmp_path, "        cap: 400\n", f"        cap: {cap}\n")
    path.write_text(path.read_text(encoding="utf-8") + FIGURE, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value) == f"broken.yaml: layers.0.rules.2.{where}: {reason}"


def test_a_figure_without_dated_values_is_refused(tmp_path: Path) -> None:
    path = _broken(tmp_path, "        cap: 400\n", "        cap: 400\n")
    path.write_text(path.read_text(encoding="utf-8") + "reference_figures:\n  income: {name: x}\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"broken.yaml: reference_figures.income: give 'values'"):
        load_policy(path)


@pytest.mark.parametrize(
    ("visit", "reason"),
    [
        ('  "13": {name: 急诊}\n', "visit type '13': give settles_as (one of ['11', '14', '21'])"),
        ('  "1-3": {name: 急诊, settles_as: "21"}\n', "visit type '1-3': a code is 1–10 letters or digits"),
        ('  "13": {name: 急诊, settles_as: "12"}\n', "settles_as: Input should be '11', '14' or '21'"),
    ],
)
def test_a_visit_type_that_cannot_settle_is_refused(tmp_path: Path, visit: str, reason: str) -> None:
    path = _broken(tmp_path, '  "21": {name: 普通住院}\n', '  "21": {name: 普通住院}\n' + visit)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value).startswith("broken.yaml: visit_types")
    assert reason in str(caught.value)


def test_a_claim_of_a_visit_type_the_policy_does_not_declare_is_refused_by_id() -> None:
    from settlement.claims import ClaimValidationError, from_frame

    frame = pd.DataFrame([{"claim_id": "C1", "person_id": "P", "category": "general", "med_type": "13",
                           "hospital_level": "1", "settle_date": "2025-01-02", "diagnosis": "", "accident": "0",
                           "medfee_sumamt": "10", "fulamt_ownpay_amt": "0", "overlmt_selfpay": "0",
                           "preselfpay_amt": "0"}])  # fmt: skip
    with pytest.raises(ClaimValidationError, match=r"C1.*med_type.*unknown visit type; the policy declares \['11'"):
        from_frame(frame, settles_as=load_policy("demo").settles_as())
    assert from_frame(frame, settles_as={**load_policy("demo").settles_as(), "13": "21"}).med.tolist() == [2]


def test_a_parameter_without_a_value_on_the_policy_s_first_day_is_refused(tmp_path: Path) -> None:
    path = _broken(tmp_path, "        cap: 400\n", "        cap: [{from: 2030-01-01, value: 400}]\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value) == (
        "broken.yaml: layers.0.rules.2.cap: its first value is in force from 2030-01-01, "
        "after the policy's valid_from 2023-01-01"
    )
