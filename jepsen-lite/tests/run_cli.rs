//! `jepsen-lite run` on the command line: a short simulated run writes its
//! report and exits 0, a sweep of seeds, and bad arguments get a clear
//! error and exit 254.

use std::path::PathBuf;
use std::process::{Command, Output};

fn store(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("run-cli")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jepsen-lite"))
        .arg("run")
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_simulated_run_writes_its_report_and_exits_0() {
    let dir = store("sim");
    let out = run(&[
        "--backend",
        "sim",
        "--time",
        "10s",
        "--seed",
        "3",
        "--store",
        dir.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("Everything looks good!"), "{stdout}");
    assert!(stdout.contains("verdict: valid"), "{stdout}");
    let latest = dir.join("register-partition-kill-unreliable-reorder-sim/latest");
    for file in [
        "history.jsonl",
        "results.json",
        "timeline.html",
        "latency.svg",
        "rate.svg",
        "latency-quantiles.svg",
        "jepsen.log",
    ] {
        assert!(latest.join(file).is_file(), "{file} missing");
    }
    // The timeline links the plots, and results.json lists them.
    let timeline = std::fs::read_to_string(latest.join("timeline.html")).unwrap();
    for plot in ["latency.svg", "rate.svg", "latency-quantiles.svg"] {
        assert!(timeline.contains(&format!("href=\"{plot}\"")), "{plot}");
    }
    let results = std::fs::read_to_string(latest.join("results.json")).unwrap();
    assert!(results.contains("\"latency-quantiles.svg\""));
    assert!(results.contains("\"availability_definition\""));
    // The history is checkable on its own by `jepsen-lite check`.
    let check = Command::new(env!("CARGO_BIN_EXE_jepsen-lite"))
        .args(["check", "--format", "jsonl", "--model", "register"])
        .arg(latest.join("history.jsonl"))
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stdout));
}

#[test]
fn the_simulator_replays_a_seed_exactly() {
    let history = |name: &str| {
        let dir = store(name);
        let out = run(&[
            "--backend",
            "sim",
            "--time",
            "5s",
            "--nemesis-on",
            "1s",
            "--nemesis-off",
            "1s",
            "--seed",
            "8",
            "--workload",
            "kv",
            "--store",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
        std::fs::read_to_string(
            dir.join("kv-partition-kill-unreliable-reorder-sim/latest/history.jsonl"),
        )
        .unwrap()
    };
    assert_eq!(history("replay-a"), history("replay-b"));
}

#[test]
fn a_sweep_reports_every_seed_valid() {
    let dir = store("sweep");
    let out = run(&[
        "--backend",
        "sim",
        "--time",
        "5s",
        "--nemesis-on",
        "1s",
        "--nemesis-off",
        "1s",
        "--seeds",
        "1..5",
        "--store",
        dir.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("5 seeds"), "{stdout}");
    assert!(stdout.contains("Every seed valid"), "{stdout}");
}

#[test]
fn bad_arguments_exit_254_with_a_clear_error() {
    for (args, says) in [
        (&["--nemesis", "flood"][..], "unknown fault \"flood\""),
        (&["--time", "ten"][..], "is not a duration"),
        (&["--rate=-3"][..], "positive number"),
        (&["--seeds", "1..5"][..], "--backend sim"),
        (
            &["--nodes", "0", "--backend", "sim"][..],
            "--nodes must be at least 1",
        ),
        (&["--workload", "bank"][..], "invalid value 'bank'"),
        (
            &["--time", "0s", "--backend", "sim"][..],
            "--time must be positive",
        ),
        (
            &["--time", "8s", "--backend", "sim"][..],
            "shorter than one nemesis cycle",
        ),
        (
            &["--nemesis", "pause", "--backend", "sim"][..],
            "needs --backend process",
        ),
        (
            &["--backend", "process", "--workload", "kv"][..],
            // Without the process backend, that is the error.
            if cfg!(feature = "process") {
                "use --workload register"
            } else {
                "built without the process backend"
            },
        ),
    ] {
        let out = run(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
