"""Reference figures (参考数值): amounts a policy states as a multiple of a figure published each year.

National and regional rules often set an amount relative to a statistic rather than as a number:
"起付标准为上一年度居民人均可支配收入的25%", "救助限额约为上年度人均可支配收入", "临时救助为低保标准的2至10倍".
A policy declares each figure once, dated like any parameter, and writes such an amount as
``{of: <figure>, times: <factor>}``::

    reference_figures:
      per_capita_disposable_income:
        name: 上一年度全市居民人均可支配收入
        values:
          - {from: 2024-01-01, value: 40000, reference: "2023年统计公报"}
    ...
        deductible: {amount: {of: per_capita_disposable_income, times: 0.25}, per: year}

Before the policy is validated, every such amount becomes a dated list — one value per date the
figure changes, ``times × figure`` rounded half up to the fen — whose reference names the factor,
the figure and the figure's own reference (the figure's assumption stays with the figure, listed once).
So the engine, ``policy show`` and ``policy diff`` see ordinary dated amounts.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

FEN = Decimal("0.01")


class FigureError(ValueError):
    """A reference figure or a multiple of one that cannot be used; ``path`` is its key path."""

    def __init__(self, path: tuple[str, ...], reason: str) -> None:
        super().__init__(reason)
        self.path = ".".join(path)


def expand(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with every ``{of, times}`` amount replaced by its dated values (see the module text)."""
    figures = raw.get("reference_figures") or {}
    if not isinstance(figures, dict):
        raise FigureError(("reference_figures",), "a mapping of figure names to {name, values}")
    values = {name: _values(name, figure) for name, figure in figures.items()}
    out: dict[str, Any] = _walk(raw, values, ())
    return out


def _values(name: str, figure: Any) -> list[dict[str, Any]]:
    where = ("reference_figures", name)
    entries = figure.get("values") if isinstance(figure, dict) else None
    if not isinstance(entries, list) or not entries:
        raise FigureError(where, "give 'values': a list of {from, value, reference} in date order")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "from" not in entry or "value" not in entry:
            raise FigureError((*where, "values", str(i)), "each value needs 'from' (a date) and 'value'")
    return entries


def _walk(node: Any, figures: dict[str, list[dict[str, Any]]], path: tuple[str, ...]) -> Any:
    if isinstance(node, dict):
        if "of" in node and "times" in node:
            return _multiple(node, figures, path)
        return {k: _walk(v, figures, (*path, str(k))) if k != "reference_figures" else v for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(item, figures, (*path, str(i))) for i, item in enumerate(node)]
    return node


def _multiple(node: dict[str, Any], figures: dict[str, list[dict[str, Any]]], path: tuple[str, ...]) -> Any:
    extra = set(node) - {"of", "times", "reference", "assumption"}
    if extra:
        raise FigureError(path, f"unexpected {sorted(extra)} beside 'of' and 'times'")
    name = node["of"]
    if name not in figures:
        raise FigureError((*path, "of"), f"unknown reference figure {name!r}; declared: {sorted(figures)}")
    times = _factor(node["times"], (*path, "times"))
    return [_one(entry, name, times, node) for entry in figures[name]]


def _factor(raw: Any, path: tuple[str, ...]) -> Decimal:
    try:
        factor = Decimal(str(raw)) if not isinstance(raw, bool) else None
    except InvalidOperation:
        factor = None
    if factor is None or not factor.is_finite() or factor < 0:
        raise FigureError(path, f"{raw!r}: a factor is a number ≥ 0")
    return factor


def _one(entry: dict[str, Any], name: str, times: Decimal, node: dict[str, Any]) -> dict[str, Any]:
    value = entry["value"]
    amount = None if value is None else (times * Decimal(str(value))).quantize(FEN, ROUND_HALF_UP)
    source = f"{times.normalize():f} × {name} ({entry.get('reference') or 'no reference'})"
    reference = f"{node['reference']}; {source}" if node.get("reference") else source
    return {"from": entry["from"], "value": amount, "reference": reference, "assumption": node.get("assumption")}
