"""The strict JSON reader: jiter's fast path reads every body exactly as Python's reader does
(values, exact decimals), and a body either refuses is refused the same way, with Python's message."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.jsonbody import JsonBodyError, _python_read, read_json, write_json

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


def _outcome(read: Any, body: bytes) -> tuple[str, Any]:
    try:
        return "read", read(body)
    except JsonBodyError as error:
        return "refused", (error.reason, error.path)


@settings(max_examples=400, deadline=None)
@given(VALUES, st.sampled_from([None, 0, 2]))
def test_the_fast_reader_reads_as_python_does(value: Any, indent: int | None) -> None:
    body = write_json(value) if indent is None else json.dumps(value, indent=indent, default=str).encode()
    assert _outcome(read_json, body) == _outcome(_python_read, body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"medfee_sumamt": "1.00", "medfee_sumamt": "90000.00"}', "duplicate key 'medfee_sumamt' in a JSON object"),
        (b'{"a": {"b": 1, "b": 2}}', "duplicate key 'b' in a JSON object"),
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b"\xff", "the body is not UTF-8 (invalid start byte at byte 0)"),
        (b'{"a": 1', "not JSON: Expecting ',' delimiter (line 1, column 8)"),
    ],
)
def test_refusals_say_why(body: bytes, reason: str) -> None:
    with pytest.raises(JsonBodyError) as refused:
        read_json(body)
    assert refused.value.reason == reason


def test_numbers_are_exact_and_written_back_as_they_came() -> None:
    body = b'{"a": 60000.10, "b": 1E+2, "c": [-0.0, 12345678901234567890]}'
    read = read_json(body)
    assert read == {"a": Decimal("60000.10"), "b": Decimal("1E+2"), "c": [Decimal("-0.0"), 12345678901234567890]}
    assert write_json(read) == b'{"a":60000.10,"b":1E+2,"c":[-0.0,12345678901234567890]}'


def test_a_lone_surrogate_is_read_as_python_reads_it() -> None:
    assert read_json(b'{"a": "\\ud800"}') == {"a": "\ud800"}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"person_id": "P\\u00001"}', ("person_id",)),
        (b'{"a": [1, {"b\\u0000": 2}]}', ("a", "1", "b\x00")),
        (b'{"a": ["x", "\\u0000"]}', ("a", "1")),
    ],
)
def test_a_nul_character_is_refused_where_it_is(body: bytes, path: tuple[str, ...]) -> None:
    """No database of the books can store NUL (PostgreSQL refuses it in text: a 500 once)."""
    for read in (read_json, _python_read):
        with pytest.raises(JsonBodyError) as refused:
            read(body)
        assert refused.value.path == path
        assert "NUL" in refused.value.reason


def test_an_escaped_backslash_before_u0000_is_no_nul() -> None:
    assert read_json(b'{"a": "\\\\u0000"}') == {"a": "\\u0000"}
