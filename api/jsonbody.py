"""Reading a JSON request body, the same way for every protocol: strict where money is.

- A duplicated key in an object is refused (JSON leaves it open; Python's reader keeps the last
  value: ``{"medfee_sumamt": "1.00", "medfee_sumamt": "90000.00"}`` would have settled 90,000).
- Numbers are read exactly: a decimal number becomes a ``Decimal``, never a float; ``NaN`` and
  ``Infinity`` (not JSON) are refused.
- The body must be UTF-8.
- A string holding NUL (``\\u0000``) is refused with its key path: no database of the books can
  store it (PostgreSQL refuses it in text), and no field of any protocol needs it.

A body is read by ``jiter`` (pydantic's JSON parser: decimals, duplicate keys caught), and only a
body it refuses (or a string it cannot hold: a lone surrogate escape) is read again by Python's
reader, whose errors name the key or position (``benchmarks/README.md``: a FHIR Claim read in
half the time).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import jiter


class JsonBodyError(ValueError):
    """A body that is not acceptable JSON; ``path`` locates the problem where it can."""

    def __init__(self, reason: str, path: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason, self.path = reason, path


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JsonBodyError(f"duplicate key {key!r} in a JSON object", (key,))
        out[key] = value
    return out


def _constant(name: str) -> Any:
    raise JsonBodyError(f"{name} is not a JSON number")


def read_json(body: bytes | str) -> Any:
    """The body's JSON value (see the module's text).

    >>> read_json(b'{"a": 1.10, "b": [2, "x"]}')
    {'a': Decimal('1.10'), 'b': [2, 'x']}
    >>> read_json(b'{"a": 1, "a": 2}')
    Traceback (most recent call last):
    ...
    api.jsonbody.JsonBodyError: duplicate key 'a' in a JSON object
    """
    raw = body.encode("utf-8") if isinstance(body, str) else body
    try:
        value = jiter.from_json(
            raw, allow_inf_nan=False, cache_mode="keys", catch_duplicate_keys=True, float_mode="decimal"
        )
    except ValueError:
        return _python_read(body)
    return _without_nul(value, raw)


def _python_read(body: bytes | str) -> Any:
    """Python's reader: the same values, and an error that says where a body goes wrong."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        value = json.loads(text, object_pairs_hook=_object, parse_float=Decimal, parse_constant=_constant)
        return _without_nul(value, text.encode("utf-8", "surrogatepass"))
    except UnicodeDecodeError as error:
        raise JsonBodyError(f"the body is not UTF-8 ({error.reason} at byte {error.start})") from error
    except json.JSONDecodeError as error:
        raise JsonBodyError(f"not JSON: {error.msg} (line {error.lineno}, column {error.colno})") from error


def _without_nul(value: Any, raw: bytes) -> Any:
    """``value``, unless a string in it holds NUL (JSON can only write it ``\\u0000``: the bytes say
    at once whether to look)."""
    if b"\\u0000" not in raw:
        return value
    path = _nul_at(value, ())
    if path is not None:
        raise JsonBodyError("a string holds the character NUL (\\u0000), which cannot be stored", path)
    return value


def _nul_at(value: Any, path: tuple[str, ...]) -> tuple[str, ...] | None:
    """The path of the first string (or key) holding NUL, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return (*path, key)
        found = _nul_at(item, (*path, str(key)))
        if found is not None:
            return found
    return None


def write_json(value: Any) -> bytes:
    """A value read by :func:`read_json` written back, numbers as the exact text they came as.

    >>> write_json(read_json('{"a": 60000.0, "b": [1, "元", null, 1E+2]}')).decode()
    '{"a":60000.0,"b":[1,"元",null,1E+2]}'
    """

    def text(item: Any) -> str:
        if isinstance(item, Decimal):
            return str(item)
        if isinstance(item, dict):
            return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{text(v)}" for k, v in item.items()) + "}"
        if isinstance(item, list):
            return "[" + ",".join(text(v) for v in item) + "]"
        return json.dumps(item, ensure_ascii=False)

    return text(value).encode("utf-8")
