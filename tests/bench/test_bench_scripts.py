"""The benchmark scripts scripts/bench runs: PyTorch's CPU baselines and the report's tables."""

import json
import pathlib
import subprocess
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"


def run(script, *args):
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *map(str, args)],
                          capture_output=True, text=True, timeout=600)


def gbench_row(name, ms, nbytes=1e6):
    return {"name": name, "run_name": name, "run_type": "iteration", "real_time": ms, "cpu_time": ms,
            "time_unit": "ms", "bytes": nbytes, "bytes_per_second": nbytes / (ms * 1e-3)}


def write_json(path, rows, **context):
    path.write_text(json.dumps({"context": context, "benchmarks": rows}), encoding="utf-8")
    return path


def table_row(report, case):
    rows = [line for line in report.splitlines() if line.startswith(f"| {case} |")]
    assert len(rows) == 1, report
    return [cell.strip() for cell in rows[0].strip("|").split("|")]


def table_header(report, group):
    lines = report.splitlines()
    start = lines.index(f"### {group}")
    return [cell.strip() for cell in lines[start + 2].strip("|").split("|")]


def test_vs_torch_is_the_fastest_complete_formulation_and_goal_10_follows(tmp_path):
    memloc = write_json(tmp_path / "host.json", [
        gbench_row("stats/B_median_N50000_U64/memloc", 4.0),
        gbench_row("stats/B_median_N50000_U64/roofline", 1.0),
        gbench_row("distances/C_D512_l2_fp32/memloc", 10.0),
    ], omp_threads="2")
    torch = write_json(tmp_path / "torch.json", [
        # torch.median is faster but computes part of the work: never the `vs torch`.
        gbench_row("stats/B_median_N50000_U64/torch_median", 1.0),
        gbench_row("stats/B_median_N50000_U64/torch_authors", 20.0),
        gbench_row("stats/B_median_N50000_U64/torch_kthvalue", 8.0),
        gbench_row("distances/C_D512_l2_fp32/torch_cdist", 9.0),
        gbench_row("distances/C_D512_l2_fp32/torch_gram", 5.0),
    ], torch_threads=2)
    result = run("report.py", memloc, torch)
    assert result.returncode == 0, result.stderr
    header = table_header(result.stdout, "stats")
    assert "vs torch" in header and "vs torch_median" not in header
    median = dict(zip(header, table_row(result.stdout, "B_median_N50000_U64")))
    assert median["vs torch"] == "2.00× (kthvalue)"
    assert median["goal 10: faster than torch"] == "met"
    assert median["% of roofline"] == "25 %"
    distances = dict(zip(table_header(result.stdout, "distances"), table_row(result.stdout, "C_D512_l2_fp32")))
    assert distances["vs torch"] == "0.50× (gram)"
    assert distances["goal 10: faster than torch"] == "missed"
    assert "warning" not in result.stderr

    each = run("report.py", "--each-torch", memloc, torch)
    assert each.returncode == 0, each.stderr
    header = table_header(each.stdout, "stats")
    assert {"vs torch_median", "vs torch_authors", "vs torch_kthvalue"} <= set(header)
    assert "vs torch" not in header


def test_report_warns_when_torch_ran_on_other_threads(tmp_path):
    memloc = write_json(tmp_path / "host.json", [gbench_row("stats/B_mean_N50000_U64/memloc", 1.0)],
                        omp_threads="2")
    torch = write_json(tmp_path / "torch.json", [gbench_row("stats/B_mean_N50000_U64/torch_eager", 2.0)],
                       torch_threads=1)
    result = run("report.py", memloc, torch)
    assert result.returncode == 0
    assert "torch ran on 1 threads, memloc on 2" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--repeats", "0"], "--repeats must be >= 1, got 0"),
    (["--scale", "2"], "--scale must be in (0, 1], got 2.0"),
    (["--threads", "-1"], "--threads must be >= 0, got -1"),
    (["--rotate-mb", "-3"], "--rotate-mb must be >= 0, got -3.0"),
    (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
    (["--only", "("], "--only must be a regular expression, got '('"),
])
def test_torch_baselines_refuses_bad_arguments(tmp_path, args, message):
    result = run("torch_baselines.py", "--out", tmp_path / "t.json", *args)
    assert result.returncode == 2
    assert message in result.stderr


B_NAMES = {"stats/B_mean_N50000_U64/torch_eager", "stats/B_median_N50000_U64/torch_authors",
           "stats/B_median_N50000_U64/torch_kthvalue", "stats/B_median_N50000_U64/torch_median"}
C_NAMES = {f"distances/C_D128_{case}/torch_{how}" for case in ("l2_fp32", "l2_bf16", "cosine_fp32")
           for how in ("cdist", "gram")}


@pytest.mark.parametrize("only, rotate_mb, names", [("_N50000_U64/", 1, B_NAMES), ("C_D128_", 0, C_NAMES)])
def test_torch_cpu_baselines_write_the_host_suites_names(tmp_path, only, rotate_mb, names):
    pytest.importorskip("torch")
    out = tmp_path / "torch.json"
    result = run("torch_baselines.py", "--device", "cpu", "--threads", 1, "--scale", 0.002, "--repeats", 1,
                 "--rotate-mb", rotate_mb, "--only", only, "--out", out)
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["context"]["shapes"] == "host" and data["context"]["torch_threads"] == 1
    assert {row["name"] for row in data["benchmarks"]} == names
    assert all(row["real_time"] > 0 and row["bytes"] > 0 for row in data["benchmarks"])
