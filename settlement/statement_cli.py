"""``medrelief statement``: a period's settlement rows as the totals a fund checks (CSV/Parquet) and
the statement it sends (an A4 page)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from settlement.cli import _load, app
from settlement.terminal import console, fail, out

if TYPE_CHECKING:
    import pandas as pd


@app.command("statement")
def statement_command(
    settlements: Annotated[Path, typer.Argument(help="Settlement rows (medrelief export settlements).")],
    out_path: Annotated[Path, typer.Option("--out", help="Totals (.csv or .parquet).")],
    html_path: Annotated[Path | None, typer.Option("--html", help="Also the statement as a page to send (A4).")] = None,
    title: Annotated[str, typer.Option(help="Title of the page.")] = "结算对账单",
    issuer: Annotated[str | None, typer.Option(help="Who issues it (default: the policy's region).")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD); rows before are left out.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD); rows after are left out.")] = None,
    policy: Annotated[
        str | None, typer.Option(help="Name funds and visit types as this policy does (bundled name or YAML file).")
    ] = None,
) -> None:
    """Totals per fund, insurance type, visit type and hospital; settlements, reversals and adjustments apart."""
    from settlement import io
    from settlement.money import yuan_grouped
    from settlement.statement import by_kind, monthly, named, totals
    from settlement.statement import money as money_columns
    from settlement.statement_page import Heading, render_statement

    frame = _statement_rows(settlements, start, end)
    result = totals(frame)
    loaded = _load(policy) if policy is not None else None
    if loaded is not None:
        from tiers.vocabulary import Names

        result = named(result, Names(loaded))
    io.write_table(result, out_path, money_columns(frame))
    if html_path:
        first, last = _period(frame, start, end)
        stated = issuer or (loaded.region if loaded else "（未注明 not stated）")
        heading = Heading(title, stated, first, last, loaded.name if loaded else "")
        html_path.write_text(render_statement(result, by_kind(frame), monthly(frame), heading), encoding="utf-8")
    grand = result[result["dimension"] == "all"]
    out.print(
        f"{int(grand['settlements'].iloc[0]):,} settlements, {int(grand['reversals'].iloc[0]):,} reversals, "
        f"{int(grand['adjustments'].iloc[0]):,} adjustments; funds paid "
        f"{yuan_grouped(int(grand['fund_pay_sumamt'].iloc[0]))} yuan",
        highlight=False,
        soft_wrap=True,
    )
    console.print("wrote " + ", ".join(str(p) for p in (out_path, html_path) if p))


def _statement_rows(path: Path, start: str | None, end: str | None) -> pd.DataFrame:
    """The settlement rows of a statement, money in fen, within ``start``–``end`` when given."""
    import pandas as pd

    from settlement import io
    from settlement.money import parse_signed_yuan
    from settlement.statement import money as money_columns

    try:
        frame = io.read_text_table(path)
        for column in money_columns(frame):
            fen, bad, reasons = parse_signed_yuan(frame[column])
            if len(bad):
                raise io.TableFileError(f"row {bad[0] + 2}: {column}: {reasons[0]}")
            frame[column] = fen
        days = pd.to_datetime(frame["settle_date"], format="%Y-%m-%d")
    except (io.TableFileError, KeyError, ValueError) as exc:
        raise fail(f"{path}: {exc}") from exc
    first, last = (_day(text, option) for text, option in ((start, "--from"), (end, "--to")))
    inside = (days >= first if first else days.notna()) & (days <= last if last else days.notna())
    kept: pd.DataFrame = frame[inside]
    if not len(kept):
        raise fail(f"{path}: no settlement rows from {start or 'the first'} to {end or 'the last'}")
    return kept.reset_index(drop=True)


def _day(text: str | None, option: str) -> pd.Timestamp | None:
    import pandas as pd

    try:
        return pd.Timestamp(date.fromisoformat(text)) if text else None
    except ValueError as exc:
        raise fail(f"{option} {text!r}: expected a date YYYY-MM-DD") from exc


def _period(frame: pd.DataFrame, start: str | None, end: str | None) -> tuple[str, str]:
    from settlement.statement import period

    first, last = period(frame)
    return start or first, end or last
