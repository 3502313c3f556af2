"""The layers' tables side by side (``LayerStack``) hold exactly each layer's own tables."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from settlement.accumulators import bucket_keys
from tiers.loader import bundled_names, load_policy
from tiers.resolve import resolve
from tiers.tables import ADMISSIONS, NO_LIMIT, compile_policy


@pytest.mark.parametrize("name", bundled_names())
def test_stack_holds_each_layers_tables(name: str) -> None:
    policy = compile_policy(load_policy(name))
    stack, codes = policy.stack, bucket_keys(policy)
    for index, layer in enumerate(policy.layers):
        local = layer.bucket_of_profile
        expected = [codes[(layer.id, layer.buckets[b])] if b >= 0 else -1 for b in local.tolist()]
        assert stack.bucket_of_profile[index].tolist() == expected
        assert stack.term_of_profile[index].tolist() == layer.term_of_profile.tolist()
        terms = slice(stack.term_offset[index], stack.term_offset[index] + len(layer.cap))
        at = slice(terms.start * ADMISSIONS, terms.stop * ADMISSIONS)
        assert stack.cap[terms].tolist() == layer.cap.tolist()
        assert stack.per_year[terms].tolist() == layer.per_year.tolist()
        assert stack.deductible[at].tolist() == layer.deductible.tolist()
        assert stack.n_bands[index] == layer.n_bands
        assert stack.has_repeat[index] == layer.has_repeat
        k = layer.n_bands
        assert np.array_equal(stack.band_lo[:k, at], layer.band_lo)
        assert np.array_equal(stack.band_width[:k, at], layer.band_width)
        assert np.array_equal(stack.ratio[:k, terms], layer.ratio)
        # padding bands pay nothing: no width, ratio 0
        assert not stack.band_width[k:, at].any()
        assert not stack.ratio[k:, terms].any()
        assert (stack.band_lo[k:, at] == NO_LIMIT).all()
    assert stack.bucket_offset[-1] == len(codes)


@pytest.mark.parametrize("name", bundled_names())
def test_resolved_on_a_day_is_the_policy_resolved_on_that_day(name: str) -> None:
    policy = compile_policy(load_policy(name))
    for start in policy.versions:
        for day in (start - timedelta(days=1), start, start + timedelta(days=200)):
            if day < policy.versions[0]:
                with pytest.raises(LookupError):
                    policy.resolved(day)
            else:
                assert policy.resolved(day) == resolve(policy.policy, day)
