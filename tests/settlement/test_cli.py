"""The ``medrelief`` command as a user runs it (a real subprocess for settle, typer's runner elsewhere)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from typer.testing import CliRunner

from settlement.cli import app
from tests.helpers import CASES

runner = CliRunner()
CLAIMS = CASES / "demo-claims.csv"


def _medrelief(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from settlement.cli import app; app()", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[2],
    )


def test_settle_writes_the_contract_and_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "result.csv"
    done = _medrelief("settle", str(CLAIMS), "--policy", "demo", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "Settled 159 claims under policy demo" in done.stdout
    assert out.read_text().replace("\r", "") == (CASES / "demo-expected.csv").read_text().replace("\r", "")


def test_bad_claims_exit_2_and_write_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    frame = pd.read_csv(CLAIMS, dtype=str, keep_default_na=False)
    frame.loc[3, "category"] = "rich"
    frame.to_csv(bad, index=False)
    out = tmp_path / "result.csv"
    done = _medrelief("settle", str(bad), "--out", str(out), "--closing", str(tmp_path / "c.csv"))
    assert done.returncode == 2
    assert f"claim {frame['claim_id'].iloc[3]!s}: category: unknown value" in done.stderr
    assert list(tmp_path.iterdir()) == [bad]


def test_header_only_file_settles_to_empty_outputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text(CLAIMS.read_text().splitlines()[0] + "\n")
    outs = [tmp_path / name for name in ("r.csv", "c.csv", "e.parquet")]
    args = ["settle", str(empty), "--out", str(outs[0]), "--closing", str(outs[1]), "--explain", str(outs[2])]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert pd.read_csv(outs[0]).empty
    assert pd.read_csv(outs[1]).empty
    assert pq.read_table(outs[2]).num_rows == 0


def test_parquet_output_is_exact_decimal(tmp_path: Path) -> None:
    out = tmp_path / "result.parquet"
    result = runner.invoke(app, ["settle", str(CLAIMS), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert str(table.schema.field("hifp_pay").type) == "decimal128(18, 2)"
    expected = pd.read_csv(CASES / "demo-expected.csv", dtype=str)
    got = table.to_pandas()
    assert [f"{v:.2f}" for v in got["psn_part_amt"]] == expected["psn_part_amt"].tolist()


def test_parquet_input(tmp_path: Path) -> None:
    source = tmp_path / "claims.parquet"
    pd.read_csv(CLAIMS, dtype=str, keep_default_na=False).to_parquet(source)
    out = tmp_path / "result.csv"
    assert runner.invoke(app, ["settle", str(source), "--out", str(out)]).exit_code == 0
    assert out.read_text() == (CASES / "demo-expected.csv").read_text().replace("\r", "")


def test_opening_and_closing_continue_a_year(tmp_path: Path) -> None:
    frame = pd.read_csv(CLAIMS, dtype=str, keep_default_na=False).sort_values(["settle_date", "claim_id"])
    first, second = frame.iloc[:80], frame.iloc[80:]
    first.to_csv(tmp_path / "a.csv", index=False)
    second.to_csv(tmp_path / "b.csv", index=False)
    closing = tmp_path / "closing.csv"
    assert (
        runner.invoke(
            app, ["settle", str(tmp_path / "a.csv"), "--out", str(tmp_path / "ra.csv"), "--closing", str(closing)]
        ).exit_code
        == 0
    )
    assert (
        runner.invoke(
            app, ["settle", str(tmp_path / "b.csv"), "--out", str(tmp_path / "rb.csv"), "--opening", str(closing)]
        ).exit_code
        == 0
    )
    both = pd.concat([pd.read_csv(tmp_path / "ra.csv", dtype=str), pd.read_csv(tmp_path / "rb.csv", dtype=str)])
    expected = pd.read_csv(CASES / "demo-expected.csv", dtype=str).set_index("claim_id")
    assert both.set_index("claim_id").sort_index().equals(expected.sort_index())


def test_explain_file(tmp_path: Path) -> None:
    explain = tmp_path / "explain.csv"
    result = runner.invoke(app, ["settle", str(CLAIMS), "--out", str(tmp_path / "r.csv"), "--explain", str(explain)])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(explain, dtype=str, keep_default_na=False)
    assert len(rows) == 159 * 4
    row = rows[(rows.claim_id == "C5-000114") & (rows.layer == "critical_illness")].iloc[0]
    assert row["bands"] == "7500.00–50000.00 @ 65%; 50000.00–100000.00 @ 75%; 100000.00– @ 85%"
    assert (row["paid"], row["cap"], row["version"], row["policy"]) == ("29092.34", "", "2024-07-01", "demo")
    basic = rows[(rows.claim_id == "C5-000114") & (rows.layer == "basic")].iloc[0]
    assert (basic["cap"], basic["cap_left"]) == ("250000.00", "23929.18")


def test_bad_opening_file_is_refused(tmp_path: Path) -> None:
    opening = tmp_path / "opening.csv"
    opening.write_text("person_id,year,layer,bucket,base_cum,paid_cum,claims\nP1,2024,basic,dental,1.00,1.00,1\n")
    result = runner.invoke(app, ["settle", str(CLAIMS), "--out", str(tmp_path / "r.csv"), "--opening", str(opening)])
    assert result.exit_code == 2
    assert "unknown layer/bucket" in result.output


def test_policies_and_policy_show() -> None:
    listed = runner.invoke(app, ["policies"])
    assert listed.exit_code == 0
    assert "beijing" in listed.output
    assert "nantong" in listed.output
    shown = runner.invoke(app, ["policy", "show", "demo", "--date", "2024-07-01"])
    assert shown.exit_code == 0
    assert "L3 72%" in shown.output
    assert "25,000.00" in shown.output
    early = runner.invoke(app, ["policy", "show", "demo", "--date", "2020-01-01"])
    assert early.exit_code == 2
    assert "in force from 2023-01-01" in early.output


def test_policy_check_prints_what_a_file_assumes_and_refuses_a_broken_one(tmp_path: Path) -> None:
    checked = runner.invoke(app, ["policy", "check", "beijing"], env={"COLUMNS": "300"})
    assert checked.exit_code == 0, checked.output
    assert "ok beijing" in checked.output
    assert "layers.1.rules.0.tilts.0: mapping 城乡低收入家庭救助人员 to dibao_edge" in checked.output
    assert "Assumptions (12)" in checked.output  # Art. 20 is no longer one; 学生儿童 as an age band: two
    assert "age band children (学生儿童 (under 18)): 0–17 on the claim's day (birth_date)" in checked.output
    assert "age_bands.children: 学生儿童 is a group of the insured" in checked.output
    assert "clawback.0: the Beijing texts in hand say nothing of an identity revoked" in checked.output
    assert "visit types: 11 门（急）诊, 14 门诊特殊病, 21 住院, 13 急诊留观 → 21" in checked.output
    figures = runner.invoke(app, ["policy", "check", "sanming"], env={"COLUMNS": "300"})
    assert (
        "reference figure per_capita_disposable_income (上年度全市居民人均可支配收入): 40,000.00 from 2025-01-01"
        in (figures.output)
    )
    broken = tmp_path / "mine.yaml"
    broken.write_text("extends: demo\nid: mine\nlayers:\n  - {id: basic, rules: [{id: inpatient, cap: -1}]}\n")
    refused = runner.invoke(app, ["policy", "check", str(broken)], env={"COLUMNS": "300"})
    assert refused.exit_code == 2
    assert "mine.yaml: layers.0.rules.0.cap" in refused.output


def test_policy_diff_between_two_dates_and_two_policies() -> None:
    dates = runner.invoke(app, ["policy", "diff", "demo", "demo", "--date", "2024-01-01", "--date", "2024-07-01"],
                          env={"COLUMNS": "300"})  # fmt: skip
    assert dates.exit_code == 0, dates.output
    assert "2 change(s)" in dates.output
    assert "basic → hifp_pay / inpatient bands: from deductible: L1 85% / L2 80% / L3 70% → " in dates.output
    assert "assistance → maf_pay / dibao_other cap: 20,000.00 → 25,000.00" in dates.output
    regions = runner.invoke(app, ["policy", "diff", "demo", "guangde", "--date", "2025-01-01"], env={"COLUMNS": "300"})
    assert regions.exit_code == 0, regions.output
    assert "supplementary → supp_pay / major_or_accident rule removed" in regions.output
    assert "assistance → maf_pay / fanpin rule added" in regions.output
    one_date = runner.invoke(app, ["policy", "diff", "demo", "demo"])
    assert one_date.exit_code == 2


def test_policy_show_and_diff_include_post_hoc_programs() -> None:
    shown = runner.invoke(app, ["policy", "show", "xianyang", "--date", "2025-01-01"], env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    assert "second_round (post-hoc, base: after assistance) → maf_pay" in shown.output
    assert "second_and_third_class: category dibao,fanpin,illness_poverty" in shown.output
    changed = runner.invoke(app, ["policy", "diff", "demo", "yichang", "--date", "2025-01-01"], env={"COLUMNS": "300"})
    assert "tilted (post-hoc, base: after assistance) → maf_pay / dibao rule added" in changed.output


def test_help_pages_name_arguments_as_shells_do() -> None:
    """Usage lines write required arguments as ``CLAIMS`` (typer would write ``{claims}``)."""
    for command, usage in (
        (["settle", "--help"], "[OPTIONS] CLAIMS"),
        (["reconcile", "--help"], "[OPTIONS] OURS THEIRS"),
    ):
        shown = runner.invoke(app, command, env={"COLUMNS": "100"})
        assert shown.exit_code == 0, shown.output
        line = next(text for text in shown.output.splitlines() if "Usage:" in text)
        assert line.rstrip().endswith(usage), line
        assert "{" not in line
