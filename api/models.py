"""The service's tables (SQLModel). Money columns are int64 fen (BIGINT).

Settlements and their lines are never updated after insert except ``status``/``reversed_by``
of a reversed settlement; reversals and re-settlements add rows (a reversal row with negated
amounts, :class:`Adjustment` deltas), so history is never rewritten. :class:`Accumulator` holds
each person's year-to-date use of each cap bucket; Σ settlements + Σ adjustments == accumulators.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

STANDING = "kind = 'settlement' AND status = 'settled'"
"""A settlement that stands: not reversed, not a reversal."""
PERSON_YEAR_SUMS = ("psn_part_amt", "fulamt_ownpay_amt", "inscp_scp_amt", "fund_pay_sumamt")
"""What the reading sums over a person-year's settlements (early warning's burden)."""


def now() -> datetime:
    return datetime.now(UTC)


def _money() -> int:
    return Field(default=0, sa_type=BigInteger)  # type: ignore[no-any-return]


class Institution(SQLModel, table=True):
    """A hospital, insurer, actuary office or administrator that holds API keys."""

    id: str = Field(primary_key=True, max_length=64)
    name: str
    kind: str = Field(max_length=16)  # hospital | insurer | actuary | admin | civil_affairs
    hospital_tier: str | None = Field(default=None, max_length=8)  # the policy's tier code (hosp_lv)
    admdvs: str = Field(default="", max_length=6)  # 医保区划 of the institution
    active_from: date | None = None  # 定点 from (None: always)
    active_to: date | None = None  # 定点 until, inclusive (None: open)
    created_at: datetime = Field(default_factory=now)


class Visit(SQLModel, table=True):
    """A visit (就诊) registered by a hospital on the national interface: 2201 门诊挂号 or 2401 入院,
    completed by 2203 / 2402 (visit type, diagnosis, times); a settlement of its ``mdtrt_id`` takes
    what its message omits from here."""

    institution_id: str = Field(primary_key=True, max_length=64)
    mdtrt_id: str = Field(primary_key=True, max_length=30)
    person_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)  # outpatient | inpatient
    med_type: str = Field(default="", max_length=8)
    begntime: datetime | None = Field(default=None, sa_type=DateTime)  # local time, as the message says
    endtime: datetime | None = Field(default=None, sa_type=DateTime)
    diagnosis: str = Field(default="", max_length=32)  # 主诊断 (ICD-10, 医保版)
    status: str = Field(max_length=16)  # open | discharged | cancelled
    created_at: datetime = Field(default_factory=now)


class ApiKey(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(unique=True, index=True, max_length=32)
    secret_hash: str = Field(max_length=64)  # sha256 hex of the secret part
    institution_id: str = Field(foreign_key="institution.id", index=True)
    scopes: str  # space-separated
    created_at: datetime = Field(default_factory=now)
    revoked_at: datetime | None = None


class Person(SQLModel, table=True):
    person_id: str = Field(primary_key=True, max_length=64)
    name: str = ""
    id_number: str = Field(default="", max_length=32)  # 身份证号; masked in responses and logs
    created_at: datetime = Field(default_factory=now)


class Identity(SQLModel, table=True):
    """A dated relief identity (救助身份) of a person, from a source (民政, 乡村振兴, …)."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: str = Field(foreign_key="person.person_id", index=True)
    category: str = Field(max_length=32)
    valid_from: date
    valid_to: date | None = None
    source: str = ""
    created_at: datetime = Field(default_factory=now)
    revoked_at: datetime | None = None  # revoked retroactively (e.g. 容缺审批 not confirmed)


class Settlement(SQLModel, table=True):
    """One settlement (or the reversal of one: ``kind='reversal'``, amounts negated)."""

    # A claim is looked up by (institution, claim_id) on every settlement: one index for both
    # (with only single-column ones SQLite walked all of the institution's settlements), unique
    # over the standing claims: one institution's claim is settled once, whatever races.
    __table_args__ = (
        Index(
            "ux_settlement_standing_claim",
            "institution_id",
            "claim_id",
            unique=True,
            sqlite_where=text(STANDING),
            postgresql_where=text(STANDING),
        ),
        # Every settlement reads the person's last arrival number and what the person-year's
        # settlements add up to (api.books.reading: the person's part, 全自费, the in-policy
        # amount, the funds' payments). The index holds all of it: the person's entries are read
        # from an index page or two, not a table row per settlement (a page read apiece once the
        # table outgrows the cache, so settling grew slower with every claim of the person's).
        Index("ix_settlement_person_year", "person_id", "year", "seq", *PERSON_YEAR_SUMS),
    )

    setl_id: str = Field(primary_key=True, max_length=40)
    seq: int = Field(sa_type=BigInteger)  # arrival order (per person)
    kind: str = Field(default="settlement", max_length=16)
    reverses: str | None = Field(default=None, max_length=40)
    status: str = Field(default="settled", max_length=16)  # settled | reversed
    reversed_by: str | None = Field(default=None, max_length=40)
    claim_id: str = Field(max_length=64)
    institution_id: str = Field(foreign_key="institution.id")
    person_id: str = Field(foreign_key="person.person_id")
    year: int
    settle_date: date
    admission_date: date | None = None
    med_type: str = Field(max_length=4)
    hospital_level: int
    diagnosis: str = ""
    accident: bool = False
    out_of_area: bool = False
    out_of_province: bool = False
    referral: bool = False
    emergency: bool = False
    category: str = Field(max_length=32)
    policy_id: str
    request_hash: str = Field(default="", max_length=64)
    medfee_sumamt: int = _money()
    fulamt_ownpay_amt: int = _money()
    overlmt_selfpay: int = _money()
    preselfpay_amt: int = _money()
    inscp_scp_amt: int = _money()
    act_pay_dedc: int = _money()
    hifp_pay: int = _money()
    hifmi_pay: int = _money()
    maf_pay: int = _money()
    supp_pay: int = _money()
    fund_pay_sumamt: int = _money()
    psn_part_amt: int = _money()
    created_at: datetime = Field(default_factory=now)


class SettlementLine(SQLModel, table=True):
    """One layer of one settlement, with its explanation (amounts in fen; -1: no cap)."""

    id: int | None = Field(default=None, primary_key=True)
    setl_id: str = Field(foreign_key="settlement.setl_id", index=True, max_length=40)
    layer: str
    output: str
    fund_pay_type: str = ""
    rule: str = ""
    bucket: str = ""
    version: str = ""
    bands: str = ""
    base: int = _money()
    cum_before: int = _money()
    cum_after: int = _money()
    deductible: int = _money()
    deductible_applied: int = _money()
    raw_amount: int = _money()
    cap: int = _money()
    cap_used_before: int = _money()
    paid: int = _money()
    cap_left: int = _money()
    claim_cap: int = Field(default=-1, sa_type=BigInteger)
    """单次限额 of the rule (fen; -1: none)."""


class Accumulator(SQLModel, table=True):
    person_id: str = Field(primary_key=True, foreign_key="person.person_id", max_length=64)
    year: int = Field(primary_key=True)
    layer: str = Field(primary_key=True, max_length=64)
    bucket: str = Field(primary_key=True, max_length=64)
    base_cum: int = _money()
    paid_cum: int = _money()
    claims: int = 0


class Adjustment(SQLModel, table=True):
    """A per-fund delta from re-settling a person-year (never a rewrite of the settlement)."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True, max_length=40)
    setl_id: str = Field(foreign_key="settlement.setl_id", index=True, max_length=40)
    person_id: str = Field(index=True, max_length=64)
    year: int
    output: str
    delta: int = _money()
    reason: str = ""
    created_at: datetime = Field(default_factory=now)


class IdempotencyRecord(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("institution_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    institution_id: str = Field(max_length=64)
    key: str = Field(max_length=128)
    request_hash: str = Field(max_length=64)
    status_code: int
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=now)


class AuditLog(SQLModel, table=True):
    """Append-only: who did what to which entity (ID numbers masked)."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=now, index=True)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=32)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    detail: str = ""


class PostHocPayment(SQLModel, table=True):
    """A year-end post-hoc assistance payment (倾斜救助, 依申请救助) to a person, with why."""

    __table_args__ = (UniqueConstraint("program", "person_id", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True, max_length=40)
    program: str = Field(max_length=64)
    person_id: str = Field(foreign_key="person.person_id", index=True, max_length=64)
    year: int
    rule: str = ""
    bucket: str = ""
    base: int = _money()
    paid: int = _money()
    cap: int = _money()  # -1: no cap
    cap_left: int = _money()
    created_at: datetime = Field(default_factory=now)


class ReliefCase(SQLModel, table=True):
    """A person-year followed from a warning to a decision (one per person and year; reopened, not
    repeated): warned → applied → approved (category, effective date, 容缺 fast-track) → verified,
    or declined, or revoked (the identity it granted revoked, what it paid recovered)."""

    __table_args__ = (UniqueConstraint("person_id", "year"),)

    id: str = Field(primary_key=True, max_length=40)
    person_id: str = Field(index=True, max_length=64)
    year: int
    state: str = Field(max_length=16)
    category: str | None = Field(default=None, max_length=32)
    effective_from: date | None = None
    fast_track: bool = False
    identity_id: int | None = None  # the identity its approval granted
    opened_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)


class CaseStep(SQLModel, table=True):
    """One dated step of a case, by whom, with the re-settlement runs it made (their adjustments are
    the money it moved) or, for a recovery (追回到账), the fund and amount recorded."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="reliefcase.id", index=True, max_length=40)
    step: str = Field(max_length=16)
    at: datetime = Field(default_factory=now)
    actor: str = Field(max_length=64)
    note: str = ""
    runs: str = ""  # space-separated re-settlement run ids
    output: str | None = Field(default=None, max_length=32)
    amount: int | None = Field(default=None, sa_type=BigInteger)


class CatalogueItem(SQLModel, table=True):
    """One dated version of a list code of the region's medical-insurance catalogue (医保目录):
    收费项目等级, 先行自付比例 (1/10,000), 限价 (fen; -1: none) — ``medrelief catalogue load``."""

    id: int | None = Field(default=None, primary_key=True)
    list_code: str = Field(index=True, max_length=64)
    name: str = ""
    chrgitm_lv: str = Field(max_length=2)
    selfpay: int = 0
    uplmt: int = Field(default=-1, sa_type=BigInteger)
    begndate: date
    enddate: date | None = None
    med_chrgitm_type: str = Field(default="", max_length=8)


class FeeDetail(SQLModel, table=True):
    """A fee detail row of a visit (2204 门诊 / 2301 住院 明细上传), as classified on upload (fen)."""

    institution_id: str = Field(primary_key=True, max_length=64)
    mdtrt_id: str = Field(primary_key=True, max_length=30)
    feedetl_sn: str = Field(primary_key=True, max_length=64)
    person_id: str = Field(max_length=64)
    chrg_bchno: str = Field(default="", max_length=64)
    list_code: str = Field(default="", max_length=64)
    medins_list_codg: str = Field(default="", max_length=64)
    fee_ocur_time: datetime = Field(sa_type=DateTime)
    cnt: str = Field(max_length=24)  # exact decimal text, as sent
    pric: str = Field(max_length=24)  # yuan per unit, exact decimal text, as sent
    amount: int = _money()
    fulamt_ownpay_amt: int = _money()
    overlmt_amt: int = _money()
    preselfpay_amt: int = _money()
    inscp_scp_amt: int = _money()
    chrgitm_lv: str = Field(default="", max_length=2)
    selfpay: int = 0
    uplmt: int = Field(default=-1, sa_type=BigInteger)
    med_chrgitm_type: str = Field(default="", max_length=8)
    status: str = Field(max_length=16)  # active | cancelled
    created_at: datetime = Field(default_factory=now)


class NhsaFile(SQLModel, table=True):
    """A file exchanged on the national interface: a hospital's 9101 upload (a 3202 detail file) or a
    3202 result, downloaded with 9102 — kept as its bytes (a zip)."""

    file_qury_no: str = Field(primary_key=True, max_length=40)
    institution_id: str = Field(index=True, max_length=64)
    filename: str = Field(max_length=128)
    body: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(default_factory=now)


class SubmittedDocument(SQLModel, table=True):
    """A document a client submitted with its settlement, as it came (a FHIR Claim): read back by
    the client, and the coverage it named echoed by the ExplanationOfBenefit."""

    setl_id: str = Field(primary_key=True, foreign_key="settlement.setl_id", max_length=40)
    protocol: str = Field(max_length=16)
    body: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(default_factory=now)
