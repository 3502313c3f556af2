"""The books of cases (预警 → 申请 → 审批 → 核对): a case, its steps, the adjustments its runs made,
the recoveries recorded — one statement each, on the caller's transaction, money in fen."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.books.driver import Driver, Statement, Write, inserts
from api.books.queries import columns
from api.books.reading import as_date
from api.books.writing import now

_CASE = Statement.of(f"SELECT {', '.join(columns('reliefcase'))} FROM reliefcase WHERE id = :c")  # noqa: S608
_CASE_LOCKED = Statement(sqlite=_CASE.sqlite, postgresql=_CASE.postgresql + " FOR UPDATE")
_CASE_OF = Statement.of("SELECT id FROM reliefcase WHERE person_id = :p AND year = :y")
_CASES = Statement.of(
    f"SELECT {', '.join(columns('reliefcase'))} FROM reliefcase WHERE year = :y ORDER BY opened_at, id"  # noqa: S608
)
_STEPS = Statement.of(f"SELECT {', '.join(columns('casestep'))} FROM casestep WHERE case_id = :c ORDER BY id")  # noqa: S608
_RUN_ADJUSTMENTS = (
    "SELECT a.run_id, a.setl_id, a.person_id, a.year, a.output, a.delta, s.claim_id, s.settle_date, s.institution_id, "
    "s.medfee_sumamt FROM adjustment a JOIN settlement s ON s.setl_id = a.setl_id WHERE a.run_id IN ({runs}) "
    "ORDER BY s.seq, a.output"
)
_POST_HOC = Statement.of(
    "SELECT program, sum(paid) FROM posthocpayment WHERE person_id = :p AND year = :y GROUP BY program ORDER BY program"
)
_PERSON_ADJUSTMENTS = Statement.of("SELECT run_id, output, delta, created_at FROM adjustment WHERE person_id = :p")
_PERSON_POST_HOC = Statement.of("SELECT program, paid, created_at FROM posthocpayment WHERE person_id = :p")
_UPDATE = Statement.of(
    "UPDATE reliefcase SET state = :state, category = :category, effective_from = :effective_from, "
    "fast_track = :fast_track, identity_id = :identity_id, updated_at = :at WHERE id = :c"
)
ADJUSTMENT_FIELDS = ("run_id", "setl_id", "person_id", "year", "output", "delta", "claim_id", "settle_date",
                     "institution_id", "medfee_sumamt")  # fmt: skip


def _moment(value: Any) -> datetime:
    """A timestamp column's value (SQLite gives UTC text without the offset)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _case(row: tuple[Any, ...]) -> dict[str, Any]:
    values = dict(zip(columns("reliefcase"), row, strict=True))
    values["fast_track"] = bool(values["fast_track"])
    if values["effective_from"] is not None:
        values["effective_from"] = as_date(values["effective_from"])
    for name in ("opened_at", "updated_at"):
        values[name] = _moment(values[name])
    return values


def case(db: Driver, *, case_id: str, lock: bool = False) -> dict[str, Any] | None:
    rows = db.rows(_CASE_LOCKED if lock else _CASE, {"c": case_id})
    return _case(rows[0]) if rows else None


def case_of(db: Driver, *, person_id: str, year: int) -> str | None:
    """The id of the person-year's case, if it has one."""
    rows = db.rows(_CASE_OF, {"p": person_id, "y": year})
    return str(rows[0][0]) if rows else None


def cases(db: Driver, *, year: int) -> list[dict[str, Any]]:
    return [_case(row) for row in db.rows(_CASES, {"y": year})]


def steps(db: Driver, *, case_id: str) -> list[dict[str, Any]]:
    rows = [dict(zip(columns("casestep"), row, strict=True)) for row in db.rows(_STEPS, {"c": case_id})]
    return [{**row, "at": _moment(row["at"]), "runs": row["runs"].split()} for row in rows]


def paid_to_person_since(
    db: Driver, *, person_id: str, since: datetime, runs: set[str], programs: dict[str, str]
) -> dict[str, int]:
    """What each fund owed or paid the person after ``since`` (fen): re-settlements in the person's
    favour or not (adjustments not of ``runs``, netted) and post-hoc payments (``programs``: program → fund)."""
    totals: dict[str, int] = {}
    for run_id, output, delta, at in db.rows(_PERSON_ADJUSTMENTS, {"p": person_id}):
        if run_id not in runs and _moment(at) > since:
            totals[output] = totals.get(output, 0) + int(delta)
    for program, paid, at in db.rows(_PERSON_POST_HOC, {"p": person_id}):
        if program in programs and _moment(at) > since:
            totals[programs[program]] = totals.get(programs[program], 0) + int(paid)
    return totals


def run_adjustments(db: Driver, *, runs: list[str]) -> list[dict[str, Any]]:
    """The adjustments the runs made, with their settlements' claim, date, institution and total."""
    if not runs:
        return []
    names = {f"r{i}": run for i, run in enumerate(runs)}
    statement = Statement.of(_RUN_ADJUSTMENTS.format(runs=", ".join(f":{n}" for n in names)))
    rows = [dict(zip(ADJUSTMENT_FIELDS, row, strict=True)) for row in db.rows(statement, names)]
    return [{**row, "delta": int(row["delta"]), "settle_date": as_date(row["settle_date"])} for row in rows]


def post_hoc_paid(db: Driver, *, person_id: str, year: int) -> dict[str, int]:
    """What each post-hoc program (依申请救助 …) paid the person-year (fen)."""
    return {str(r[0]): int(r[1]) for r in db.rows(_POST_HOC, {"p": person_id, "y": year})}


def case_writes(*, case_id: str, person_id: str, year: int, state: str) -> list[Write]:
    at = now()
    row = {"id": case_id, "person_id": person_id, "year": year, "state": state, "category": None,
           "effective_from": None, "fast_track": False, "identity_id": None,
           "opened_at": at, "updated_at": at}  # fmt: skip
    return inserts("reliefcase", [row])


def case_update(found: dict[str, Any]) -> Write:
    """The case row as ``found`` now says (state, decision), dated now."""
    fields = ("state", "category", "effective_from", "fast_track", "identity_id")
    return (_UPDATE, {"c": found["id"], "at": now(), **{f: found[f] for f in fields}})


def step_writes(*, case_id: str, step: str, actor: str, note: str = "", runs: list[str] | None = None,
                output: str | None = None, amount: int | None = None) -> list[Write]:  # fmt: skip
    row = {"case_id": case_id, "step": step, "at": now(), "actor": actor, "note": note, "runs": " ".join(runs or []),
           "output": output, "amount": amount}  # fmt: skip
    return inserts("casestep", [row])
