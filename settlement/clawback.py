"""Who owes whom after a re-settlement, per fund, and what the policy asks back (追回) — pure functions.

A re-settlement (an identity granted or revoked after the fact, a reversal) adjusts each claim's
payment per fund (:mod:`settlement.personyear`). Per person, year and fund the adjustments net to
what the fund paid too much (the person now owes it: ``owed_by_person``) or too little (the fund owes
the person: ``owed_to_person``). What is asked back of the person is the policy's choice in force on
the day of the act (:mod:`tiers.clawback`): all of it (``recover``), nothing (``hold_harmless``: the
fund bears it) or all of it netted against later payments (``net_against_later``: what the fund
later owes or pays the person is kept against it, :func:`netted`, until nothing is outstanding).

The service previews any re-settlement with these numbers before committing it (a dry run), and a
clawback statement adds up, per fund, to what the re-settlement took back. Vectorised.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from tiers.clawback import ClawbackRule, rule_on

ADJUSTMENT_COLUMNS = ("person_id", "year", "output", "delta")
BALANCE_COLUMNS = ("person_id", "year", "output", "net", "owed_by_person", "owed_to_person", "mode", "due",
                   "borne_by_fund")  # fmt: skip
"""Per person-year and fund (fen): the adjustments' net, what the person owes the fund and the fund
the person, the policy's mode, what is asked back (``due``) and what the fund bears instead."""


class ClawbackError(ValueError):
    """A policy with no clawback rule in force on the day of the act."""


def mode_on(rules: tuple[ClawbackRule, ...], day: date) -> str:
    """The policy's mode on ``day``; refused when it declares none (the region must choose)."""
    rule = rule_on(rules, day)
    if rule is None:
        raise ClawbackError(f"the policy declares no clawback rule in force on {day} (recover, hold_harmless …)")
    return rule.mode


def balances(adjustments: pd.DataFrame, mode: str) -> pd.DataFrame:
    """:data:`BALANCE_COLUMNS` from adjustments (:data:`ADJUSTMENT_COLUMNS`, fen) under ``mode``."""
    keys = ["person_id", "year", "output"]
    net = adjustments.groupby(keys, sort=True)["delta"].sum().astype(np.int64).reset_index(name="net")
    owed = np.maximum(-net["net"].to_numpy(np.int64), 0)
    due = owed if mode != "hold_harmless" else np.zeros_like(owed)
    frame = net.assign(owed_by_person=owed, owed_to_person=np.maximum(net["net"].to_numpy(np.int64), 0), mode=mode,
                       due=due, borne_by_fund=owed - due)  # fmt: skip
    return frame[list(BALANCE_COLUMNS)]


def netted(nettable: pd.Series, later: pd.Series) -> pd.Series:
    """Per fund (index ``output``): what is netted against later payments — the part still to be
    recovered under ``net_against_later`` (``nettable``), up to what the fund later owed or paid the
    person (``later``: re-settlements in the person's favour, post-hoc payments), fen.

    >>> netted(pd.Series({"maf_pay": 919_440, "hifmi_pay": 488_800}), pd.Series({"maf_pay": 100_000})).to_dict()
    {'maf_pay': 100000, 'hifmi_pay': 0}
    """
    owed = later.reindex(nettable.index, fill_value=0).clip(lower=0).astype(np.int64)
    return pd.Series(np.minimum(nettable.to_numpy(np.int64), owed.to_numpy()), index=nettable.index, dtype=np.int64)


def fund_totals(balances_: pd.DataFrame) -> pd.DataFrame:
    """Per fund (``output``): owed by persons, owed to persons, due and borne (fen)."""
    money = ["owed_by_person", "owed_to_person", "due", "borne_by_fund"]
    return balances_.groupby("output", sort=True)[money].sum().astype(np.int64).reset_index()
