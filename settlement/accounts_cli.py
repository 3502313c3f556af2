"""``medrelief second-payout`` and ``medrelief post-hoc``: the year's accounts from a claims file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from settlement.cli import app
from settlement.terminal import console, fail, fitted, out

if TYPE_CHECKING:
    from rich.table import Table

    from settlement.claims import ClaimTable
    from settlement.supplementary import YearAccount
    from tiers.schema import Layer, Policy


def _funded_layer(policy: Policy) -> Layer:
    from settlement.supplementary import funded_layer
    from tiers.loader import PolicyError

    layer = funded_layer(policy)
    if layer is None:
        raise PolicyError(policy.id, "layers", "no supplementary layer (output supp_pay) with a funding block")
    return layer


def _claim_table(claims: Path, policy: Policy) -> ClaimTable:
    """The claims of a file, read as ``policy`` reads them (its visit types, categories, dating)."""
    from settlement import io
    from settlement.claims import from_frame

    frame = io.read_text_table(claims)
    return from_frame(frame, settles_as=policy.settles_as(), categories=policy.categories(), dated_by=policy.dated_by)


@app.command("second-payout")
def second_payout_command(
    claims: Annotated[Path, typer.Argument(help="The year's claims (.csv or .parquet) in the claim contract.")],
    insured: Annotated[int, typer.Option(min=1, help="Insured persons of the supplementary policy that year.")],
    out_path: Annotated[Path, typer.Option("--out", help="Per-person second payouts (.csv or .parquet).")],
    policy: Annotated[str, typer.Option(help="Bundled policy name or a policy YAML file.")] = "nantong",
) -> None:
    """Premium, first payouts, loss ratio and the 二次赔付 due per year, allocated to persons."""
    import numpy as np
    import pandas as pd

    from settlement import io
    from settlement.claims import ClaimValidationError
    from settlement.engine import settle
    from settlement.supplementary import account, insured_categories, remaining_selfpay, year_terms
    from tiers.loader import PolicyError, load_policy
    from tiers.tables import compile_policy

    try:
        loaded = load_policy(policy)
        layer = _funded_layer(loaded)
        table = _claim_table(claims, loaded)
        result = settle(table, compile_policy(loaded))
    except (ClaimValidationError, PolicyError, io.TableFileError) as exc:
        raise fail(str(exc)) from exc
    covered = insured_categories(layer)
    category = np.asarray(loaded.categories(), dtype=object)[result.category]
    frame = result.frame().assign(person_id=table.persons[table.person], year=table.year, category=category)
    allocation = layer.funding.allocation if layer.funding else "remaining_self_pay"
    mine = frame if covered is None else frame[frame["category"].isin(covered)]
    people = remaining_selfpay(mine, allocation, layer.output)
    accounts, parts = [], []
    for year in sorted(set(frame["year"].tolist())):
        mine = people[people["year"] == year]
        per_person, floor = year_terms(layer, year)
        paid = int(frame.loc[frame["year"] == year, layer.output].sum())
        remaining = np.maximum(mine["remaining"].to_numpy(np.int64), 0)
        year_account, shares = account(year, insured, per_person, floor, paid, remaining, allocation)
        accounts.append(year_account)
        parts.append(mine.assign(second_payout=shares))
    shared = pd.concat(parts, ignore_index=True)[["person_id", "year", "remaining", "paid", "second_payout"]]
    io.write_table(
        shared.rename(columns={"paid": "first_payout"}), out_path, ("remaining", "first_payout", "second_payout")
    )
    out.print(fitted(_accounts_table(accounts, layer.name)))
    console.print(f"wrote {out_path} ({len(shared):,} persons)")


def _accounts_table(accounts: list[YearAccount], name: str) -> Table:
    from rich.table import Table

    from settlement.money import yuan_grouped

    table = Table(title=f"{name}: premium, payouts and the second payout (yuan)")
    columns = ("year", "insured", "premium", "first payouts", "loss ratio", "floor", "second payout", "allocated",
               "undistributed")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    for a in accounts:
        money = [yuan_grouped(v) for v in (a.premium, a.paid)]
        tail = [yuan_grouped(v) for v in (a.due, a.allocated, a.undistributed)]
        ratio = f"{a.loss_ratio * 100:.2f}%"
        table.add_row(str(a.year), f"{a.insured:,}", *money, ratio, f"{a.floor * 100:.0f}%", *tail)
    return table


@app.command("post-hoc")
def post_hoc_command(
    claims: Annotated[Path, typer.Argument(help="A year's claims (.csv or .parquet) in the claim contract.")],
    out_path: Annotated[Path, typer.Option("--out", help="Payments per program, person and year (.csv/.parquet).")],
    policy: Annotated[str, typer.Option(help="Bundled policy name or a policy YAML file.")] = "beijing",
    applicants: Annotated[
        Path | None,
        typer.Option(
            help="Who applied and was approved (person_id, year; .csv/.parquet): programs on application pay them only."
        ),
    ] = None,
) -> None:
    """Post-hoc assistance (倾斜救助, 依申请救助) over each person-year's settlements."""
    import pandas as pd
    from rich.table import Table

    from settlement import io
    from settlement.claims import ClaimValidationError
    from settlement.engine import settle
    from settlement.money import yuan_grouped
    from settlement.posthoc import (
        ApplicantsError,
        applicants_of,
        applied,
        person_years,
        settle_program,
        year_categories,
    )
    from tiers.loader import PolicyError, load_policy
    from tiers.tables import compile_policy

    try:
        loaded = load_policy(policy)
        if not loaded.post_hoc:
            raise PolicyError(loaded.id, "post_hoc", "the policy defines no post-hoc assistance")
        table = _claim_table(claims, loaded)
        settled = settle(table, compile_policy(loaded))
        held = year_categories(settled)
        applied_ = None if applicants is None else applicants_of(io.read_text_table(applicants), str(applicants))
        paid = pd.concat(
            [settle_program(p, loaded, applied(p, person_years(settled, p.counts), applied_), held)
             for p in loaded.post_hoc],
            ignore_index=True,
        )  # fmt: skip
    except ApplicantsError as exc:
        raise fail(f"--applicants: {exc}") from exc
    except (ClaimValidationError, PolicyError, io.TableFileError) as exc:
        raise fail(str(exc)) from exc
    io.write_table(paid, out_path, ("base", "deductible_applied", "paid", "cap", "cap_left"))
    table_out = Table(title=f"Post-hoc assistance under {loaded.id}")
    for column in ("program", "year", "persons paid", "paid (yuan)"):
        table_out.add_column(column, justify="right", no_wrap=True)
    summary = paid[paid["paid"] > 0].groupby(["program", "year"], as_index=False)["paid"].agg(["count", "sum"])
    for program, year, count, total in zip(*(summary[c].tolist() for c in summary.columns), strict=True):
        table_out.add_row(str(program), str(year), f"{count:,}", yuan_grouped(int(total)))
    out.print(fitted(table_out))
    console.print(f"wrote {out_path} ({len(paid):,} rows)")
