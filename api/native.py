"""The native JSON API's bodies: a settlement (or reversal, or pre-settlement) as
:class:`~api.schemas.SettlementOut` — money as yuan strings — from the books' rows (fen).

A new settlement's reply is written straight from its values (:func:`settlement_json`, the same
bytes pydantic would write: property-tested), the hot path's rendering for the desk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json

from api.claims import SETTLEMENT_MONEY
from api.desk import Settled
from api.schemas import AdjustmentOut, EarlyWarningOut, LineOut, SettlementOut
from settlement.money import yuan_of, yuan_text

LINE_MONEY = ("base", "deductible", "deductible_applied", "raw_amount", "cap_used_before", "paid")
LINE_CAPS = ("cap", "cap_left", "claim_cap")  # -1 stored: no such cap (null)
LINE_TEXTS = ("layer", "output", "fund_pay_type", "rule", "bucket", "version", "bands")


def _line_values(get: dict[str, Any], money: Callable[[int], Any]) -> dict[str, Any]:
    values: dict[str, Any] = {f: str(get[f]) for f in LINE_TEXTS}
    values.update({f: money(int(get[f])) for f in LINE_MONEY})
    values.update({f: (None if int(get[f]) < 0 else money(int(get[f]))) for f in LINE_CAPS})
    return values


def line_out(line: dict[str, Any]) -> LineOut:
    return LineOut.model_construct(**_line_values(line, yuan_of))  # our own values: no validation to pay for


def _settlement_values(values: dict[str, Any], money: Callable[[int], Any]) -> dict[str, Any]:
    kind = values["kind"] if values["setl_id"] else "pre_settlement"
    fields = ("reverses", "claim_id", "person_id", "institution_id", "category", "policy_id", "settle_date")
    return {
        "setl_id": values["setl_id"] or None,
        "kind": kind,
        "status": values["status"],
        "med_type": values["med_type"],
        "hospital_level": values["hospital_level"],
        **{f: values[f] for f in fields},
        **{f: money(values[f]) for f in SETTLEMENT_MONEY},
    }


def settlement_out(
    row: dict[str, Any], lines: list[dict[str, Any]], adjustments: list[dict[str, Any]]
) -> SettlementOut:
    """The response body of a settlement, a reversal or (``setl_id`` empty) a pre-settlement."""
    out = _settlement_values(row, yuan_of)
    out["funds"] = {str(line["output"]): yuan_of(int(line["paid"])) for line in lines}
    out["lines"] = [line_out(line) for line in lines]
    out["adjustments"] = [
        AdjustmentOut.model_construct(
            run_id=a["run_id"], setl_id=a["setl_id"], output=a["output"], delta=yuan_of(a["delta"]), reason=a["reason"]
        )
        for a in adjustments
    ]  # fmt: skip
    return SettlementOut.model_construct(**out)  # our own values: no validation to pay for


def settlement_json(
    values: dict[str, Any],
    lines: list[dict[str, Any]],
    warnings: Sequence[str] = (),
    early_warning: EarlyWarningOut | None = None,
) -> bytes:
    """``settlement_out(values, lines, []).model_dump_json()`` (with ``warnings`` and
    ``early_warning``), the same bytes (property-tested), written from the values directly: a new
    settlement's response, without building the models."""
    fields = _settlement_values(values, _quoted_yuan)
    fields["funds"] = (
        "{" + ",".join(f'{_label_json(str(li["output"]))}:"{yuan_text(int(li["paid"]))}"' for li in lines) + "}"
    )
    fields["lines"] = "[" + ",".join(_line_json(line) for line in lines) + "]"
    fields["adjustments"] = "[]"
    fields["warnings"] = to_json(list(warnings)).decode()
    fields["early_warning"] = "null" if early_warning is None else early_warning.model_dump_json()
    for name in _SETTLEMENT_TEXTS:
        fields[name] = _text_json(fields[name])
    fields["settle_date"] = f'"{fields["settle_date"].isoformat()}"'
    fields["hospital_level"] = str(int(fields["hospital_level"]))
    return (_SETTLEMENT_FORMAT % tuple(fields[name] for name in SettlementOut.model_fields)).encode()


def _format(model: type[BaseModel]) -> str:
    """``{"field":%s,…}`` in the model's field order (what pydantic writes, without spaces)."""
    return "{" + ",".join(f'"{name}":%s' for name in model.model_fields) + "}"


_SETTLEMENT_FORMAT, _LINE_FORMAT = _format(SettlementOut), _format(LineOut)
_SETTLEMENT_TEXTS = (
    "setl_id", "kind", "status", "reverses", "claim_id", "person_id", "institution_id", "category", "policy_id",
    "med_type",
)  # fmt: skip


def _text_json(value: str | None) -> str:
    """A string (or None) as pydantic writes it in JSON."""
    return "null" if value is None else to_json(value).decode()


@lru_cache(maxsize=4096)
def _label_json(value: str) -> str:
    """A label of the policy (layer, rule, bucket, version, bands: few, repeated) as JSON."""
    return to_json(value).decode()


def _quoted_yuan(fen: int) -> str:
    return f'"{yuan_text(fen)}"'


def _line_json(line: dict[str, Any]) -> str:
    values = _line_values(line, _quoted_yuan)
    values.update({f: _label_json(values[f]) for f in LINE_TEXTS})
    values.update({f: "null" for f in LINE_CAPS if values[f] is None})
    return _LINE_FORMAT % tuple(values[f] for f in LineOut.model_fields)


def render(settled: Settled) -> bytes:
    """The native reply of a settlement or a reversal (what its Idempotency-Key replays)."""
    return settlement_json(settled.values, settled.lines, settled.warnings, early_warning_out(settled.early_warning))


def early_warning_out(found: dict[str, Any] | None) -> EarlyWarningOut | None:
    """A settlement's early warning (fen) as answered (yuan)."""
    if found is None:
        return None
    money = {m: yuan_of(int(found[m])) for m in ("burden", "threshold")}
    return EarlyWarningOut(group=found["group"], group_name=found["group_name"], crossed=found["crossed"], **money)
