"""The one rounding policy, and every conversion between yuan and int64 fen — exact, never through float.

Inside the engine money is int64 fen and ratios are int64 in 1/10,000 (:data:`RATIO_SCALE`),
so a ratio times an amount is an exact integer in 1/10,000 fen. Each layer payment of each
claim is rounded **once**, half up, to the fen by :func:`round_half_up` — the compiled scan
(:mod:`settlement.scan`) calls this very function, so changing it here changes every payment.

Conversions: yuan text ⇄ fen (:func:`parse_yuan`, :func:`fen_to_yuan_text`, :func:`yuan_text`,
:func:`yuan_grouped`), Decimal yuan ⇄ fen (:func:`fen_of`, :func:`yuan_of`), and the JSON number
of an amount (:func:`yuan_number`).
"""

from __future__ import annotations

from decimal import Decimal

import numba
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tiers.tables import RATIO_SCALE

I64 = npt.NDArray[np.int64]

FEN_PER_YUAN = 100
HALF = RATIO_SCALE // 2
MAX_YUAN = 10**11
"""Largest accepted amount (yuan); keeps every exact product far inside int64."""
_MAX_WHOLE_DIGITS = len(str(MAX_YUAN))
_YUAN = r"^(?P<whole>[0-9]+)(?:\.(?P<cents>[0-9]{1,2}))?$"
"""Yuan text: ASCII digits, at most two decimals (no sign, no exponent, no grouping)."""


@numba.njit(cache=True, nogil=True)
def round_half_up(scaled):  # type: ignore[no-untyped-def]  # numba: int64 or an int64 array
    """Exact amounts in 1/10,000 fen (≥ 0) → fen, half up: THE rounding of every payment.

    Works on one int64 (called by the compiled scan) or an int64 array.

    >>> round_half_up(np.array([12_345_000, 5_000, 4_999, 0], dtype=np.int64)).tolist()
    [1235, 1, 0, 0]
    >>> int(round_half_up(np.int64(15_000)))
    2
    """
    return (scaled + HALF) // RATIO_SCALE


def mean_half_up(total: int, count: int) -> int:
    """A mean of non-negative fen amounts, rounded half up to the fen (0 for no values).

    >>> mean_half_up(5, 2), mean_half_up(7, 3), mean_half_up(0, 0)
    (3, 2, 0)
    """
    if count == 0:
        return 0
    if total < 0:
        raise ValueError("mean_half_up takes non-negative totals")
    return (2 * total + count) // (2 * count)


def fen_to_yuan_text(fen: I64) -> npt.NDArray[np.str_]:
    """int64 fen → "yuan.ff" strings, exact (no float on the way).

    >>> fen_to_yuan_text(np.array([0, 5, 123456, -75], dtype=np.int64)).tolist()
    ['0.00', '0.05', '1234.56', '-0.75']
    """
    if len(fen) == 0:
        return np.zeros(0, dtype=np.str_)
    sign = np.where(fen < 0, "-", "")
    whole, cents = np.divmod(np.abs(fen), FEN_PER_YUAN)
    text = np.char.add(np.char.add(sign, whole.astype(str)), ".")
    return np.char.add(text, np.char.zfill(cents.astype(str), 2))


def yuan_text(fen: int) -> str:
    """One amount: fen → "yuan.ff", exact (what :func:`fen_to_yuan_text` does to an array).

    >>> [yuan_text(f) for f in (0, 5, 123456, -75)]
    ['0.00', '0.05', '1234.56', '-0.75']
    """
    return "%d.%02d" % divmod(fen, FEN_PER_YUAN) if fen >= 0 else "-%d.%02d" % divmod(-fen, FEN_PER_YUAN)  # noqa: UP031


def yuan_grouped(fen: int) -> str:
    """One amount for people to read: thousands grouped, two decimals, exact.

    >>> [yuan_grouped(f) for f in (0, 123456789, -75)]
    ['0.00', '1,234,567.89', '-0.75']
    """
    whole, cents = divmod(abs(int(fen)), FEN_PER_YUAN)
    return f"{'-' if fen < 0 else ''}{whole:,}.{cents:02d}"


DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


def _capital_group(group: int) -> str:
    """1–9999 in capitals, inner zeros read once (2303 → 贰仟叁佰零叁)."""
    out, zero = "", False
    for place in (3, 2, 1, 0):
        digit = group // 10**place % 10
        if digit == 0:
            zero = bool(out)
            continue
        out += ("零" if zero else "") + DIGITS[digit] + _PLACES[place]
        zero = False
    return out


def _capital_integer(yuan: int) -> str:
    groups = []
    while yuan:
        yuan, group = divmod(yuan, 10_000)
        groups.append(group)
    out, skipped = "", False
    for i in range(len(groups) - 1, -1, -1):
        if groups[i] == 0:
            skipped = True
            continue
        out += ("零" if out and (skipped or groups[i] < 1000) else "") + _capital_group(groups[i]) + _GROUPS[i]
        skipped = False
    return out


def yuan_in_capitals(fen: int) -> str:
    """An amount as a slip or an invoice writes it in words (人民币大写): 2,303.75 → 贰仟叁佰零叁元柒角伍分,
    100.00 → 壹佰元整, 100.05 → 壹佰元零伍分, 0.50 → 伍角, a negative amount 负….

    >>> yuan_in_capitals(230375), yuan_in_capitals(10000), yuan_in_capitals(1000500)
    ('贰仟叁佰零叁元柒角伍分', '壹佰元整', '壹万零伍元整')
    """
    if fen < 0:
        return "负" + yuan_in_capitals(-fen)
    yuan, jiao, cents = fen // 100, fen // 10 % 10, fen % 10
    whole = _capital_integer(yuan) + "元" if yuan else ""
    if jiao == 0 and cents == 0:
        return (whole or "零元") + "整"
    tenths = DIGITS[jiao] + "角" if jiao else ("零" if whole else "")
    return whole + tenths + (DIGITS[cents] + "分" if cents else "")


def yuan_of(fen: int) -> Decimal:
    """fen → Decimal yuan with two places.

    >>> yuan_of(123456), yuan_of(-5)
    (Decimal('1234.56'), Decimal('-0.05'))
    """
    return Decimal(int(fen)).scaleb(-2)


fen_to_decimal = yuan_of
"""The same as :func:`yuan_of` (its older name)."""


def fen_of(yuan: Decimal | int | str) -> int:
    """Decimal (or int, or yuan text) yuan → fen, exact: a value that is not a whole number of
    fen is refused (ValueError), never truncated or rounded.

    >>> fen_of(Decimal("1234.56")), fen_of(3), fen_of("-0.07")
    (123456, 300, -7)
    >>> fen_of(Decimal("0.125"))
    Traceback (most recent call last):
    ...
    ValueError: 0.125 yuan is not a whole number of fen
    """
    value = yuan if isinstance(yuan, Decimal) else Decimal(str(yuan))
    if not value.is_finite():
        raise ValueError(f"{value} is not an amount")
    fen = value.scaleb(2)
    if fen != fen.to_integral_value():
        raise ValueError(f"{value} yuan is not a whole number of fen")
    return int(fen)


def yuan_number(fen: int) -> float:
    """An amount as a JSON number (the national interface sends money as numbers): the double
    nearest the exact yuan value. Exact in text: ``fen / 100`` is correctly rounded, and a
    value of at most 15 significant digits (every amount up to :data:`MAX_YUAN`) prints back as
    its own shortest decimal text — ``json.dumps`` writes ``1234.56``, never ``1234.5599…``.

    >>> [yuan_number(f) for f in (123456, 5, -75, 10**13)]
    [1234.56, 0.05, -0.75, 100000000000.0]
    """
    return int(fen) / FEN_PER_YUAN


def _text(text: pd.Series) -> pa.StringArray:
    values = pa.array(text.astype("string"), type=pa.string())
    return pc.fill_null(pc.utf8_trim_whitespace(values), "")


def _bad_reasons(values: list[str], too_big: npt.NDArray[np.bool_]) -> npt.NDArray[np.object_]:
    """Why each of a few bad amounts was refused (computed on the bad rows only)."""
    text = pd.Series(values, dtype="string")
    reasons: npt.NDArray[np.object_] = np.select(
        [
            text.str.startswith("-").to_numpy(bool),
            text.str.fullmatch(r"[0-9]+\.[0-9]{3,}").to_numpy(bool),
            too_big,
        ],
        ["negative amount", "more than two decimals", f"above {MAX_YUAN} yuan"],
        "not an amount in yuan (e.g. 1234.56)",
    ).astype(object)
    return reasons


def parse_yuan(text: pd.Series) -> tuple[I64, I64, npt.NDArray[np.object_]]:
    """Yuan text (``"1234.5"``, ``"0.07"``) → exact fen; and the positions of bad rows, a reason each.

    Whole yuan and fen are read as two integers (never a float); only ASCII digits are digits.

    >>> fen, bad, why = parse_yuan(pd.Series(["12.75", "-1", "0.125", "abc", "3", "１２"]))
    >>> fen.tolist(), bad.tolist(), why.tolist()  # doctest: +NORMALIZE_WHITESPACE
    ([1275, 0, 0, 0, 300, 0], [1, 2, 3, 5], ['negative amount', 'more than two decimals',
      'not an amount in yuan (e.g. 1234.56)', 'not an amount in yuan (e.g. 1234.56)'])
    """
    values = _text(text)
    shaped = pc.match_substring_regex(values, _YUAN)
    parts = pc.extract_regex(pc.if_else(shaped, values, "0"), _YUAN)
    whole_text, cents_text = pc.struct_field(parts, "whole"), pc.utf8_rpad(pc.struct_field(parts, "cents"), 2, "0")
    fits = pc.utf8_length(pc.utf8_ltrim(whole_text, "0")).to_numpy(zero_copy_only=False) <= _MAX_WHOLE_DIGITS
    whole = pc.cast(pc.if_else(pa.array(fits), whole_text, "0"), pa.int64()).to_numpy(zero_copy_only=False)
    fen = whole * FEN_PER_YUAN + pc.cast(cents_text, pa.int64()).to_numpy(zero_copy_only=False)
    too_big = ~fits | (fen > MAX_YUAN * FEN_PER_YUAN)
    good = shaped.to_numpy(zero_copy_only=False) & ~too_big
    bad = np.flatnonzero(~good)
    reasons = _bad_reasons(values.take(pa.array(bad)).to_pylist(), too_big[bad])
    return np.where(good, fen, 0).astype(np.int64), bad, reasons


def parse_signed_yuan(text: pd.Series) -> tuple[I64, I64, npt.NDArray[np.object_]]:
    """Like :func:`parse_yuan`, negative amounts allowed (reversals, refunds).

    >>> fen, bad, why = parse_signed_yuan(pd.Series(["-12.75", "3", "-0.125"]))
    >>> fen.tolist(), bad.tolist(), why.tolist()
    ([-1275, 300, 0], [2], ['more than two decimals'])
    """
    values = _text(text)
    negative = pc.starts_with(values, "-").to_numpy(zero_copy_only=False)
    fen, bad, reasons = parse_yuan(pd.Series(pc.replace_substring_regex(values, "^-", "").to_pandas()))
    return np.where(negative, -fen, fen), bad, reasons
