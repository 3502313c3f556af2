"""Synthetic cohorts: reproducible from the seed, block by block, and shaped like their spec."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from settlement.simulation.cohort import DEFAULT, Block, CohortSpec, generate_block, load_cohort
from tiers.codes import CATEGORIES, MED_TYPES, MedType
from tiers.loader import PolicyError


def _spec(persons: int = 20_000, block_size: int = 5_000) -> CohortSpec:
    return load_cohort().model_copy(update={"persons": persons, "block_size": block_size})


def _same(a: Block, b: Block) -> bool:
    arrays = [(getattr(a.claims, f.name), getattr(b.claims, f.name)) for f in fields(a.claims)]
    return np.array_equal(a.category, b.category) and all(np.array_equal(x, y) for x, y in arrays)


def test_same_seed_same_block_other_seed_or_replication_other_block() -> None:
    spec = _spec()
    assert _same(generate_block(spec, 7, 0, 1), generate_block(spec, 7, 0, 1))
    assert not _same(generate_block(spec, 7, 0, 1), generate_block(spec, 8, 0, 1))
    assert not _same(generate_block(spec, 7, 0, 1), generate_block(spec, 7, 1, 1))


def test_a_block_does_not_depend_on_the_cohort_size() -> None:
    assert _same(generate_block(_spec(20_000), 3, 0, 2), generate_block(_spec(50_000), 3, 0, 2))


def test_blocks_hold_their_persons_and_valid_claims() -> None:
    spec = _spec(12_000, 5_000)
    assert spec.n_blocks == 3
    last = generate_block(spec, 1, 0, 2)
    assert last.persons == 2_000
    assert last.claims.persons.tolist() == list(range(10_000, 12_000))
    claims = last.claims
    assert (claims.inscp >= 0).all()
    assert (claims.medfee > 0).all()
    assert (claims.year == spec.year).all()
    assert np.array_equal(claims.category, last.category[claims.person])
    with pytest.raises(ValueError, match="outside a cohort"):
        generate_block(spec, 1, 0, 3)


def test_category_mix_and_frequencies_follow_the_spec() -> None:
    spec = _spec(200_000, 200_000)
    block = generate_block(spec, 11, 0, 0)
    shares = np.bincount(block.category, minlength=len(CATEGORIES)) / block.persons
    for name, category in spec.categories.items():
        assert shares[CATEGORIES.index(name)] == pytest.approx(
            category.share / sum(c.share for c in spec.categories.values()), abs=0.005
        )
    factor = sum(c.share * c.frequency_factor for c in spec.categories.values()) / sum(
        c.share for c in spec.categories.values()
    )
    for med, visit in spec.visits.items():
        per_person = (block.claims.med == MED_TYPES.index(med)).sum() / block.persons
        assert per_person == pytest.approx(visit.frequency * factor, rel=0.03)
    inpatient = block.claims.med == MED_TYPES.index("21")
    median_yuan = np.median(block.claims.medfee[inpatient & (block.claims.accident == 0)]) / 100
    expected = float(spec.visits[MedType.INPATIENT].severity.median)
    assert 0.8 * expected < median_yuan < 1.3 * expected


def test_bad_cohort_file_names_the_key(tmp_path: Path) -> None:
    text = DEFAULT.read_text(encoding="utf-8").replace("frequency: 0.28", "frequency: -1")
    path = tmp_path / "cohort.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_cohort(path)
    assert info.value.file == "cohort.yaml"
    assert info.value.path == "visits.21.frequency"
