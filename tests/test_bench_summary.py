"""bench/summary.py: benchmark TSVs of a run become one row per rule (seconds, peak memory)."""

from __future__ import annotations

import importlib.util

from helpers.workflow import REPO

spec = importlib.util.spec_from_file_location("bench_summary", REPO / "bench" / "summary.py")
summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary)

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(path, seconds, rss):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t90\t{seconds}\n")


def test_benchmarks_are_summed_per_rule_with_the_peak_memory(tmp_path, capsys):
    rule_file = tmp_path / "stage.smk"
    rule_file.write_text(
        'rule train_gan:\n    output:\n        "x"\n    benchmark:\n'
        '        "benchmarks/gan/{gan}.tsv"\n    script:\n        "s.py"\n\n'
        'rule synthesize:\n    output:\n        "y"\n    benchmark:\n'
        '        "benchmarks/synthesis/{gan}_batch{k}.tsv"\n'
    )
    _bench(tmp_path / "benchmarks/gan/cyclegan.tsv", 10.0, 500.0)
    _bench(tmp_path / "benchmarks/gan/dcgan.tsv", 4.0, 900.0)
    _bench(tmp_path / "benchmarks/synthesis/dcgan_batch2.tsv", 1.5, 100.0)
    _bench(tmp_path / "benchmarks/old/stale.tsv", 1.0, 1.0)
    rules, jobs = summary.summarize(tmp_path, [rule_file])
    by_rule = {r["rule"]: r for r in rules}
    assert by_rule["train_gan"]["jobs"] == 2
    assert by_rule["train_gan"]["total_s"] == 14.0 and by_rule["train_gan"]["max_s"] == 10.0
    assert by_rule["train_gan"]["peak_rss_mb"] == 900.0
    assert by_rule["synthesize"]["jobs"] == 1
    assert "? old/stale" in by_rule  # a file no rule declares is shown, not dropped
    table = summary.markdown(rules, jobs)
    assert table.splitlines()[0].startswith("| rule | jobs | seconds (total)")
    assert "| train_gan | 2 | 14.0 | 10.0 | 900 |" in table


def test_the_projects_benchmark_patterns_are_all_found():
    rule_files = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]
    declared = sum(f.read_text().count("    benchmark:") for f in rule_files)
    assert len(summary.benchmark_patterns(rule_files)) == declared
