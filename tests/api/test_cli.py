"""`medrelief serve`, `medrelief keys create|revoke` and `medrelief db check`, run as a user would."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import httpx

from tests.api.conftest import database_url
from tests.api.servers import MEDRELIEF, ROOT, Postgres, free_port, medrelief


def test_keys_create_revoke_and_db_check(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}", "COLUMNS": "200"}
    created = medrelief(env, "keys", "create", "--institution", "H-CLI", "--kind", "hospital", "--name", "CLI 医院")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert re.fullmatch(r"mr_[0-9a-f]{12}_\S+", key)
    bad = medrelief(env, "keys", "create", "--institution", "H-CLI", "--kind", "wizard")
    assert bad.returncode == 2
    assert "unknown institution kind" in bad.stderr
    assert medrelief(env, "keys", "revoke", key.split("_")[1]).returncode == 0
    assert medrelief(env, "keys", "revoke", key.split("_")[1]).returncode == 2
    checked = medrelief(env, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "books consistent" in checked.stdout


def test_serve_prints_a_demo_key_that_works(tmp_path: Path) -> None:
    """Demo keys only when asked for (``--demo-keys``), on an empty database."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "COLUMNS": "200"}
    process = subprocess.Popen(
        [*MEDRELIEF, "serve", "--port", str(port), "--demo-keys"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        key = re.search(r"demo hospital key: (\S+)", line)
        assert key, line
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/v1/policies", headers={"X-API-Key": key.group(1)})
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert response.status_code == 200
        assert {p["id"] for p in response.json()} >= {"demo", "beijing", "nantong"}
    finally:
        os.killpg(process.pid, 15)
        process.wait(20)
    again = medrelief(env, "serve", "--port", str(port), "--demo-keys")
    assert again.returncode == 2
    assert "demo keys only on an empty one" in again.stderr
    assert "key" not in again.stdout


def test_demo_posts_sample_claims_and_matches_the_batch_engine() -> None:
    done = medrelief({**os.environ, "COLUMNS": "200"}, "demo", "--persons", "8")
    assert done.returncode == 0, done.stdout + done.stderr
    agreed = re.search(r"on the same claims: (\d+)/(\d+)", done.stdout)
    assert agreed, done.stdout
    assert agreed.group(1) == agreed.group(2) != "0"
    assert "hifmi_pay" in done.stdout
    saved = re.search(r"a settlement slip: (\S+slip\.html)", done.stdout)  # usable after the service stopped
    assert saved, done.stdout
    assert "结算单" in Path(saved.group(1)).read_text(encoding="utf-8")


def test_db_upgrade_does_not_print_the_database_password(postgres: Postgres | str, tmp_path: Path) -> None:
    url = database_url("postgresql", postgres, tmp_path).replace("postgres@", "postgres:s3cret-pw@")
    upgraded = medrelief({**os.environ, "DATABASE_URL": url, "COLUMNS": "200"}, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert "s3cret-pw" not in upgraded.stdout + upgraded.stderr
    assert "postgres:***@127.0.0.1" in upgraded.stdout


def test_configuration_errors_are_one_line_before_anything_is_created(tmp_path: Path) -> None:
    """A misspelt policy, an unknown kind of database, a read-only database file, a database that
    does not exist for a read-only command: one line naming the setting, exit 2, nothing created."""
    database = tmp_path / "m.db"
    base = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "COLUMNS": "80"}
    cases = [
        ({"MEDRELIEF_POLICY": "demoo"}, ["serve"], "MEDRELIEF_POLICY: demoo: no such policy file or bundled policy"),
        (
            {"DATABASE_URL": "postgres://u:secret@127.0.0.1/x"},
            ["db", "upgrade"],
            "DATABASE_URL: 127.0.0.1/x: unknown kind",
        ),
        ({}, ["db", "check"], "DATABASE_URL: no database at sqlite:///"),
        ({}, ["export", "settlements", "--out", str(tmp_path / "o.csv")], "DATABASE_URL: no database at"),
    ]
    for extra, args, expected in cases:
        done = medrelief({**base, **extra}, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert expected in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "secret" not in done.stderr
        assert not database.exists()
    read_only = tmp_path / "ro"
    read_only.mkdir()
    assert medrelief({**base, "DATABASE_URL": f"sqlite:///{read_only / 'r.db'}"}, "db", "upgrade").returncode == 0
    (read_only / "r.db").chmod(0o444)
    read_only.chmod(0o555)
    try:
        refused = medrelief({**base, "DATABASE_URL": f"sqlite:///{read_only / 'r.db'}"}, "keys", "create",
                            "--institution", "H", "--kind", "hospital")  # fmt: skip
    finally:
        read_only.chmod(0o755)
    if os.geteuid() != 0:  # root writes read-only files anyway
        assert refused.returncode == 2, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database, only bytes" * 100)
    broken = medrelief({**base, "DATABASE_URL": f"sqlite:///{garbage}"}, "serve", "--port", "1")
    assert broken.returncode == 2
    assert broken.stderr.strip().splitlines() == [f"error: DATABASE_URL: sqlite:///{garbage}: file is not a database"]
