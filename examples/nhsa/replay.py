"""Replay the sample messages of this folder as one hospital's day on the national interface.

    python examples/nhsa/replay.py --url http://127.0.0.1:8000 --key "$HOSPITAL_KEY" --admin-key "$ADMIN_KEY"

For the demo hospital of ``medrelief serve --demo-keys`` on a fresh database. With ``--admin-key``
the civil-affairs side first registers the patient (NHSA-P001, 低保 from 2025-01-01, with her ID
number) and the hospital's tier (DEMO-HOSPITAL, tier 2). Then, in this order: 9001 sign-in, 1101
person, 2303/2304 an admission pre-settled and settled, 5203 and 5206, 2206/2207 an outpatient
visit whose answer is "lost" and 2601 undoes it by its msgid, 3201/3202 the month's inpatient
totals (they balance), 2305 the admission reversed, 9002. Ids from earlier answers (``setl_id``,
``sign_no``) are filled in. Each message keeps its ``msgid``: run again, the settlements replay.
Exit 1 if any step answers other than expected.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent
FLOW = ("9001-sign-in", "1101-person", "2303-pre-settle", "2304-settle", "5203-query", "5206-accumulators",
        "2206-pre-settle", "2207-settle", "2601-recall", "3201-totals", "3202-detail", "2305-reversal")  # fmt: skip
PERSON = {"person_id": "NHSA-P001", "name": "张三", "id_number": "110101199001011234",
          "identities": [{"category": "dibao", "valid_from": "2025-01-01"}]}  # fmt: skip


def message(name: str, filled: dict[str, str]) -> dict[str, Any]:
    """A sample with the placeholders (``SETL_ID_FROM_2304``, …) and the sign-in number filled in."""
    text = (HERE / f"{name}.json").read_text(encoding="utf-8")
    for placeholder, value in filled.items():
        text = text.replace(placeholder, value)
    body: dict[str, Any] = json.loads(text)
    body["sign_no"] = filled.get("SIGN_NO", "")
    return body


def register(client: httpx.Client) -> None:
    """The civil-affairs side's registrations (an admin key): the patient, the hospital's tier."""
    person = client.post("/v1/persons", json=PERSON)
    if person.status_code not in (201, 409):
        sys.exit(f"registering {PERSON['person_id']}: {person.status_code} {person.text}")
    tier = client.put("/v1/institutions/DEMO-HOSPITAL", json={"name": "示范医院", "hospital_tier": "2",
                                                               "admdvs": "320600"})  # fmt: skip
    if tier.status_code != 200:
        sys.exit(f"registering DEMO-HOSPITAL: {tier.status_code} {tier.text}")


def summary(output: dict[str, Any]) -> str:
    """The figures of an answer a person checks."""
    info = output.get("setlinfo") or output.get("stmtinfo") or output.get("signinoutb") or output.get("baseinfo")
    keys = ("setl_id", "medfee_sumamt", "fund_pay_sumamt", "psn_part_amt", "stmt_rslt_dscr", "sign_no", "psn_name")
    return (
        ", ".join(f"{k} {info[k]}" for k in keys if info and k in info) or json.dumps(output, ensure_ascii=False)[:120]
    )


def replay(client: httpx.Client) -> bool:
    filled: dict[str, str] = {}
    ok = True
    for name in FLOW:
        answer = client.post("/nhsa", json=message(name, filled)).json()
        output = answer.get("output") or {}
        good = answer["infcode"] == 0
        if name.startswith(("3201", "3202")):
            good = good and output["stmtinfo"]["stmt_rslt"] == "0"
        print(f"{'✓' if good else '✗'} {name}: {answer['err_msg'] or summary(output)}")
        if answer.get("warn_msg"):
            print(f"    warn_msg: {answer['warn_msg']}")
        ok = ok and good
        if name == "9001-sign-in" and good:
            filled["SIGN_NO"] = output["signinoutb"]["sign_no"]
        if name in ("2304-settle", "2207-settle") and good:
            filled[f"SETL_ID_FROM_{name[:4]}"] = output["setlinfo"]["setl_id"]
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", required=True, help="the demo hospital's API key")
    parser.add_argument("--admin-key", help="an admin key: register the patient and the hospital's tier first")
    args = parser.parse_args()
    if args.admin_key:
        with httpx.Client(base_url=args.url, headers={"Authorization": f"Bearer {args.admin_key}"}) as admin:
            register(admin)
    with httpx.Client(base_url=args.url, headers={"Authorization": f"Bearer {args.key}"}, timeout=60) as hospital:
        sys.exit(0 if replay(hospital) else 1)


if __name__ == "__main__":
    main()
