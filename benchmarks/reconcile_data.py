"""Synthetic reconciliation inputs: our settlements and an insurer's payout file with ~1% differences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from settlement.money import fen_to_yuan_text

THEIR_NAMES = {"setl_id": "结算ID", "supp_pay": "othfund_pay", "psn_part_amt": "cash_payamt"}
MAPPING = "key: 结算ID\ncolumns:\n  othfund_pay: supp_pay\n  cash_payamt: psn_part_amt\n"


def _amounts(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    total = rng.integers(1_000, 10_000_000, n)
    parts = {"hifp_pay": total * 6 // 10, "hifmi_pay": total // 10, "maf_pay": total // 10, "supp_pay": total // 20}
    return {"medfee_sumamt": total, **parts, "psn_part_amt": total - sum(parts.values())}


def _write(path: Path, keys: np.ndarray, money: dict[str, np.ndarray], names: dict[str, str]) -> None:
    columns = {"setl_id": keys, "refd_setl_flag": np.zeros(len(keys), np.int64).astype(str)}
    columns |= {c: fen_to_yuan_text(v) for c, v in money.items()}
    table = pa.table({names.get(c, c): pa.array(v) for c, v in columns.items()})
    pcsv.write_csv(table, path)


def write_pair(n: int, folder: Path, seed: int = 3) -> tuple[Path, Path, Path]:
    """``ours.csv``, ``theirs.csv`` (insurer names) and ``mapping.yaml``: ``n`` rows each; 1% of the
    common rows differ in hifmi_pay by a fen, 0.2% of ours are missing on their side and as many of
    theirs on ours."""
    rng = np.random.default_rng(seed)
    money = _amounts(rng, n)
    keys = np.char.add("S", np.arange(n).astype(str))
    ours, theirs, mapping = folder / "ours.csv", folder / "theirs.csv", folder / "mapping.yaml"
    _write(ours, keys, money, {})
    keep = rng.random(n) >= 0.002
    extra = int((~keep).sum())
    changed = rng.random(n) < 0.01
    their_money = {c: np.concatenate([v[keep], _amounts(rng, extra)[c]]) for c, v in money.items()}
    their_money["hifmi_pay"][: int(keep.sum())] += changed[keep]
    their_keys = np.concatenate([keys[keep], np.char.add("X", np.arange(extra).astype(str))])
    _write(theirs, their_keys, their_money, THEIR_NAMES)
    mapping.write_text(MAPPING, encoding="utf-8")
    return ours, theirs, mapping
