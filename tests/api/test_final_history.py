"""The service after retroactive changes equals the batch engine on the final history, to the fen.

Persons are registered (some with two identities), their claims posted in an order that is not
their dates', identities granted and revoked after the fact, claims reversed; then each standing
claim's effective payments (settlement + every adjustment) are compared with ``medrelief settle
--identities`` on the standing claims (in arrival order) and the identity periods as they now
stand. Reversed claims net to zero in every fund, and ``medrelief db check`` is green.
"""

from __future__ import annotations

import os
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from tests.api.helpers import claim, new_id
from tests.api.servers import Server, medrelief

OUTPUTS = ("hifp_pay", "hifmi_pay", "maf_pay", "supp_pay")
CATEGORY_MIX = [[], ["dibao"], ["dibao", "illness_poverty"], ["tekun"], ["dibao_edge", "fanpin"], ["monitored"]]


def _fen(text: str) -> int:
    return int(Decimal(text) * 100)


def _effective(client: httpx.Client, setl_id: str) -> dict[str, int]:
    body = client.get(f"/v1/settlements/{setl_id}").json()
    paid = {o: _fen(body[o]) for o in OUTPUTS}
    for adjustment in body["adjustments"]:
        paid[adjustment["output"]] += _fen(adjustment["delta"])
    return paid


def _claims(rng: random.Random, person: str, years: tuple[int, ...]) -> list[dict[str, Any]]:
    made = []
    for _ in range(rng.randint(2, 6)):
        med = rng.choice(["21", "21", "14", "11"])
        total = rng.choice([900, 4_000, 26_000, 80_000, 210_000]) + rng.randint(0, 9_999) / 100
        made.append(
            claim(
                person,
                med_type=med,
                hospital_level=rng.randint(1, 3),
                settle_date=f"{_year(rng, years)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                diagnosis=rng.choice(["C50.1", "J18.9", "I63.9", "S72.0"]),
                accident=rng.random() < 0.1,
                medfee_sumamt=f"{total:.2f}",
                fulamt_ownpay_amt=f"{total * rng.choice([0, 0.05, 0.2]):.2f}",
            )
        )
    return made


def _year(rng: random.Random, years: tuple[int, ...]) -> int:
    """One of ``years`` (one year alone draws nothing: the scenario of a seed stays as it was)."""
    return years[0] if len(years) == 1 else rng.choice(years)


def _history(
    server: Server, seed: int, years: tuple[int, ...] = (2024,)
) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, dict[str, int]]]:
    """Post, grant, revoke and reverse: the claims in arrival order, their settlement ids, and the
    reversed settlements with what their reversal took back per fund."""
    rng = random.Random(seed)  # noqa: S311  (a reproducible scenario, not a secret)
    posted: list[dict[str, Any]] = []
    ids: dict[str, str] = {}
    reversed_: dict[str, dict[str, int]] = {}
    with server.client("admin") as admin, server.client() as hospital:
        persons = []
        for held in CATEGORY_MIX:
            person = new_id("F")
            periods = [{"category": c, "valid_from": "2024-01-01"} for c in held]
            assert admin.post("/v1/persons", json={"person_id": person, "identities": periods}).status_code == 201
            persons.append(person)
        pending = [c for p in persons for c in _claims(rng, p, years)]
        rng.shuffle(pending)  # arrival order: not the dates' order
        for i, body in enumerate(pending):
            answer = hospital.post("/v1/settlements", json=body)
            assert answer.status_code == 201, answer.text
            posted.append(body)
            ids[body["claim_id"]] = answer.json()["setl_id"]
            if i % 5 == 3:  # a grant back-dated to the start of the year
                person = rng.choice(persons)
                category = rng.choice(["dibao", "tekun", "illness_poverty", "dibao_edge"])
                grant = {"category": category, "valid_from": f"2024-0{rng.randint(1, 6)}-01"}
                assert admin.post(f"/v1/persons/{person}/identities", json=grant).status_code == 201
            if i % 7 == 5:  # a revocation of a standing identity
                person = rng.choice(persons)
                held_now = [x for x in admin.get(f"/v1/persons/{person}").json()["identities"] if not x["revoked"]]
                if held_now:
                    gone = rng.choice(held_now)["id"]
                    assert admin.post(f"/v1/persons/{person}/identities/{gone}/revocation").status_code == 200
            if i % 6 == 4:  # a reversal of an earlier claim
                victim = rng.choice([c for c in posted if ids[c["claim_id"]] not in reversed_])
                setl_id = ids[victim["claim_id"]]
                reversal = hospital.post(f"/v1/settlements/{setl_id}/reversal")
                assert reversal.status_code == 201, reversal.text
                reversed_[setl_id] = {o: _fen(reversal.json()[o]) for o in OUTPUTS}
    return posted, ids, reversed_


def _final_identities(server: Server, persons: set[str]) -> pd.DataFrame:
    rows = []
    with server.client("admin") as admin:
        for person in sorted(persons):
            for identity in admin.get(f"/v1/persons/{person}").json()["identities"]:
                if not identity["revoked"]:
                    end = identity["valid_to"] or ""
                    rows.append([person, identity["category"], identity["valid_from"], end])
    return pd.DataFrame(rows, columns=["person_id", "category", "valid_from", "valid_to"])


def test_service_equals_the_batch_on_the_final_history(server: Server, tmp_path: Path) -> None:
    same_as_the_batch(server, tmp_path, seed=20261205)


def same_as_the_batch(server: Server, tmp_path: Path, seed: int, years: tuple[int, ...] = (2024,)) -> None:
    """The history of :func:`_history` through ``server``, then ``medrelief settle --identities``
    (under the server's policy) on the final history: equal to the fen; ``db check`` green."""
    posted, ids, reversed_ = _history(server, seed, years)
    standing = [c for c in posted if ids[c["claim_id"]] not in reversed_]
    frame = pd.DataFrame(
        [
            {**{k: str(v) for k, v in c.items() if k != "accident"}, "accident": "1" if c["accident"] else "0"}
            | {"arrival": str(posted.index(c))}
            for c in standing
        ]
    )
    claims_file, identities_file, result_file = tmp_path / "c.csv", tmp_path / "i.csv", tmp_path / "r.csv"
    frame.to_csv(claims_file, index=False)
    _final_identities(server, set(frame["person_id"])).to_csv(identities_file, index=False)
    policy = server.env.get("MEDRELIEF_POLICY", "demo")
    args = ["settle", str(claims_file), "--identities", str(identities_file), "--out", str(result_file)]
    done = medrelief({**os.environ}, *args, "--policy", policy)
    assert done.returncode == 0, done.stderr
    batch = pd.read_csv(result_file, dtype=str).set_index("claim_id")
    adjusted = 0
    with server.client() as hospital:
        for body in standing:
            expected = {o: _fen(batch.loc[body["claim_id"], o]) for o in OUTPUTS}
            assert _effective(hospital, ids[body["claim_id"]]) == expected, body["claim_id"]
            adjusted += bool(hospital.get(f"/v1/settlements/{ids[body['claim_id']]}").json()["adjustments"])
        for setl_id, taken_back in reversed_.items():  # a reversed claim nets zero in every fund
            assert hospital.get(f"/v1/settlements/{setl_id}").json()["status"] == "reversed"
            assert {o: -v for o, v in taken_back.items()} == _effective(hospital, setl_id)
    assert len(reversed_) >= 2
    assert adjusted >= 3  # the grants, revocations and reversals did change earlier claims
    assert batch["category"].nunique() >= 3  # and the persons settled under several identities
    env = {**os.environ, "DATABASE_URL": server.database_url, "MEDRELIEF_POLICY": policy}
    checked = medrelief(env, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
