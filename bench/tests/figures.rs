//! `lodge-bench` end to end: each benchmark, small, on both engines, prints one JSON object per
//! engine whose figures are there and whose ratios are what they say.

use std::process::Command;

use lodge_eventlog::testing::postgres_server_url;
use serde_json::Value;

/// Runs `lodge-bench <args> --json` on both engines and returns its figures, one object per
/// engine, after checking that each has `bench`, every one of `positive` above zero, and `ratio`
/// equal to `numerator / denominator`.
fn bench_figures(args: &[&str], positive: &[&str], (ratio, numerator, denominator): (&str, &str, &str)) -> Vec<Value> {
    let folder = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lodge-bench"))
        .current_dir(folder.path())
        .env("LODGE_BENCH_POSTGRES_URL", postgres_server_url())
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let figures: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let engines: Vec<&str> = figures.iter().map(|f| f["engine"].as_str().unwrap()).collect();
    assert_eq!(engines, ["sqlite", "postgres"]);
    for figure in &figures {
        assert_eq!(figure["bench"], args[0]);
        for key in positive {
            assert!(figure[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {figure}");
        }
        let expected = figure[numerator].as_f64().unwrap() / figure[denominator].as_f64().unwrap();
        assert!(
            (expected - figure[ratio].as_f64().unwrap()).abs() < 1e-9,
            "{ratio} in {figure}"
        );
    }
    figures
}

#[test]
fn the_append_benchmark_prints_one_json_object_per_engine() {
    bench_figures(
        &["append", "--appends", "16", "--read-events", "200"],
        &[
            "append_1w_eps",
            "insert_1w_rps",
            "ratio_1w",
            "append_8w_eps",
            "insert_8w_rps",
            "ratio_8w",
            "append_batch10_eps",
            "read_all_eps",
        ],
        ("ratio_1w", "append_1w_eps", "insert_1w_rps"),
    );
}

#[test]
fn the_rebuild_benchmark_prints_one_json_object_per_engine() {
    // A debug build's projectors, beside the other tests, fell more than 10 s behind the
    // benchmark's default 200 appends a second on PostgreSQL in one CI run.
    let figures = bench_figures(
        &["rebuild", "--events", "1000", "--invites", "100", "--load", "50"],
        &[
            "rebuild_eps",
            "read_all_eps",
            "ratio",
            "peak_rss_mib",
            "visible_p50_ms",
            "visible_p99_ms",
        ],
        ("ratio", "rebuild_eps", "read_all_eps"),
    );
    for figure in &figures {
        // Every invite's history is written whole, so the log holds at least the events asked for.
        assert!(figure["events"].as_u64().is_some_and(|n| n >= 1000), "{figure}");
    }
}
