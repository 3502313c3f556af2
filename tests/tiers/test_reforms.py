"""Reforms: scenario changes edit a copy of the baseline and are validated like a policy file."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tiers.loader import PolicyError, load_policy
from tiers.params import at_tier, value_at
from tiers.reforms import BASELINE, load_scenarios, scenario_policies
from tiers.schema import Policy

ON = date(2025, 1, 1)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "scenarios.yaml"
    path.write_text("baseline: demo\nscenarios:\n" + body, encoding="utf-8")
    return path


def _rule(policy: Policy, layer: str, rule: str):  # type: ignore[no-untyped-def]
    found = next(la for la in policy.layers if la.id == layer)
    return next(r for r in found.rules if r.id == rule)


def _policies(tmp_path: Path, body: str) -> dict[str, Policy]:
    return scenario_policies(load_scenarios(_write(tmp_path, body)))


def test_add_reaches_every_band_and_level_and_leaves_the_baseline_alone(tmp_path: Path) -> None:
    body = (
        "  - id: plus5\n    changes:\n      - {path: 'layers[critical_illness].rules[*].bands[*].ratio', add: 0.05}\n"
    )
    policies = _policies(tmp_path, body)
    assert list(policies) == [BASELINE, "plus5"]
    for policy, expected in (
        (policies[BASELINE], ["0.60", "0.70", "0.80"]),
        (policies["plus5"], ["0.65", "0.75", "0.85"]),
    ):
        bands = _rule(policy, "critical_illness", "critical_illness").bands
        for level in (1, 2, 3):
            got = [value_at(at_tier(band.ratio, level), ON).value for band in bands]
            assert got == [Decimal(e) for e in expected]
    assert load_policy("demo") == policies[BASELINE]


def test_multiply_a_dated_parameter_changes_every_version(tmp_path: Path) -> None:
    body = "  - id: caps_up\n    changes:\n      - {path: 'layers[assistance].rules[dibao_other].cap', multiply: 2}\n"
    cap = _rule(_policies(tmp_path, body)["caps_up"], "assistance", "dibao_other").cap
    assert [value_at(at_tier(cap, 1), d).value for d in (date(2024, 1, 1), date(2025, 1, 1))] == [40000, 50000]


def test_set_and_append(tmp_path: Path) -> None:
    body = (
        "  - id: lifted\n    changes:\n      - {path: 'layers[assistance].rules[*].cap', set: null}\n"
        "  - id: wider\n    changes:\n"
        "      - {path: 'layers[supplementary].rules[major_or_accident].when.category', append: [monitored]}\n"
    )
    policies = _policies(tmp_path, body)
    caps = [
        value_at(at_tier(r.cap, 2), ON).value
        for r in next(la for la in policies["lifted"].layers if la.id == "assistance").rules
    ]
    assert caps == [None] * 5
    categories = _rule(policies["wider"], "supplementary", "major_or_accident").when.category
    assert categories is not None
    assert categories[-1] == "monitored"
    assert len(categories) == 7


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        ("{path: 'layers[nope].rules[*].cap', set: 1}", "changes[0].path", "no item with that id"),
        ("{path: 'layers[basic].rules[inpatient].ratioo', add: 0.1}", "changes[0].path", "no key 'ratioo'"),
        ("{path: 'layers[supplementary].rules[*].cap', add: 1000}", "changes[0].path", "changes nothing"),
        ("{path: 'layers[basic].rules[inpatient].name', add: 1}", "changes[0].path", "not a parameter value"),
    ],
)
def test_bad_paths_name_the_scenario_and_change(tmp_path: Path, change: str, where: str, reason: str) -> None:
    with pytest.raises(PolicyError, match=reason) as info:
        _policies(tmp_path, f"  - id: bad\n    changes:\n      - {change}\n")
    assert info.value.file == "scenario bad"
    assert where in info.value.path


def test_a_reform_that_breaks_the_policy_fails_validation_with_the_key_path(tmp_path: Path) -> None:
    body = "  - id: too_much\n    changes:\n      - {path: 'layers[supplementary].rules[*].ratio', add: 0.05}\n"
    with pytest.raises(PolicyError, match=r"ratio") as info:
        _policies(tmp_path, body)
    assert info.value.file == "demo + scenario too_much"
    assert info.value.path.startswith("layers.3.rules.0.ratio")


def test_scenario_file_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="exactly one of set, add, multiply, append") as info:
        _policies(tmp_path, "  - id: two\n    changes:\n      - {path: a, add: 1, multiply: 2}\n")
    assert info.value.file == "scenarios.yaml"
    with pytest.raises(PolicyError, match="implicit"):
        _policies(tmp_path, "  - id: baseline\n")
    with pytest.raises(PolicyError, match="no such file"):
        load_scenarios(tmp_path / "missing.yaml")
