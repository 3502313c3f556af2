"""``medrelief catalogue load FILE``: the region's medical-insurance catalogue (医保目录) into
``DATABASE_URL``'s books — the one fee details (2204 / 2301) are classified against. The file is a CSV
or Parquet in our columns or the platform's (:mod:`settlement.catalogue`); loading replaces the
catalogue as a whole, in one transaction: a bad row is named and nothing changes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli_books import books
from settlement.terminal import fail, out

catalogue_app = typer.Typer(help="The medical-insurance catalogue (医保目录) fee details are classified against.",
                            no_args_is_help=True)  # fmt: skip


@catalogue_app.command("load")
def load(
    path: Annotated[Path, typer.Argument(help="The catalogue (.csv or .parquet): list_code, name, chrgitm_lv, "
                                              "selfpay_prop, pric_uplmt_amt, begndate, enddate, med_chrgitm_type")],
) -> None:  # fmt: skip
    """Replace the catalogue with FILE's rows (dated versions of list codes)."""
    from api.books import details
    from settlement import io
    from settlement.catalogue import CatalogueError, read_catalogue

    try:
        catalogue = read_catalogue(io.read_text_table(path), str(path))
    except (CatalogueError, io.TableFileError) as exc:
        raise fail(str(exc)) from exc
    with books() as db:
        db.commit(details.catalogue_writes(catalogue))
        versions, codes = details.catalogue_size(db)
    out.print(f"catalogue: {versions:,} versions of {codes:,} list codes from {path}", highlight=False, soft_wrap=True)


@catalogue_app.command("show")
def show() -> None:
    """How many list codes and versions the catalogue holds."""
    from api.books import details

    with books(migrated=False) as db:
        versions, codes = details.catalogue_size(db)
    out.print(f"catalogue: {versions:,} versions of {codes:,} list codes", highlight=False)
