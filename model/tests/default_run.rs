//! `check` without bounds runs the scenarios of `raft_model::scenarios`,
//! which between them exercise every property; `--scenario NAME` runs one.
//! These run the `check` binary itself.

mod common;

use common::run_check;
use raft_model::scenarios::scenarios;
use serde_json::Value;

/// The combined result the default run's JSON gives the property `name`.
fn result<'a>(json: &'a Value, name: &str) -> &'a str {
    json["properties"]
        .as_array()
        .expect("properties")
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["result"].as_str())
        .unwrap_or_else(|| panic!("no property {name}"))
}

#[test]
fn one_scenario_runs_to_completion_and_reports_what_it_reaches() {
    let (status, stdout) = run_check(&["--scenario", "faults", "--json"]);
    assert_eq!(status, Some(0), "{stdout}");
    let json: Value = serde_json::from_str(&stdout).expect("one JSON object");
    let runs = json["scenarios"].as_array().expect("scenarios");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["scenario"], "faults");
    assert_eq!(runs[0]["complete"], true);
    assert_eq!(runs[0]["bounds"]["network"], "duplicating");
    assert_eq!(runs[0]["bounds"]["crashes"], 1);
    assert_eq!(json["complete"], true);
    for name in [
        "Election Safety",
        "State Machine Safety",
        "Stale messages are no-ops",
        "Crashed servers restart as forgotten",
    ] {
        assert_eq!(result(&json, name), "holds", "{name}");
    }
    for name in [
        "a restarted server rejoins and applies",
        "a snapshot is installed by InstallSnapshot",
    ] {
        assert_eq!(result(&json, name), "found", "{name}");
    }
    // Out of this scenario's reach, and so no failure.
    assert_eq!(
        result(&json, "a leader is elected in term >= 2"),
        "not found"
    );
}

#[test]
fn without_bounds_every_scenario_runs() {
    // A second each: enough to show the scenarios run, not to finish them.
    let (status, stdout) = run_check(&["--timeout", "1", "--json"]);
    let json: Value = serde_json::from_str(&stdout).expect("one JSON object");
    let names: Vec<&str> = json["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .map(|run| run["scenario"].as_str().expect("a name"))
        .collect();
    let expected: Vec<&str> = scenarios().iter().map(|s| s.name).collect();
    assert_eq!(names, expected);
    // The replication scenario alone takes seconds: the run is incomplete.
    assert_eq!(json["complete"], false);
    assert_eq!(status, Some(3), "{stdout}");
    assert_eq!(json["exit_status"], 3);
}

#[test]
fn a_bound_runs_one_configuration_and_a_scenario_refuses_bounds() {
    let (status, stdout) = run_check(&["--max-term", "1", "--max-log", "0", "--json"]);
    assert_eq!(status, Some(0), "{stdout}");
    let json: Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert!(json.get("scenarios").is_none(), "one configuration: {json}");
    assert_eq!(json["bounds"]["max_log"], 0);
    assert_eq!(
        run_check(&["--scenario", "faults", "--max-term", "2"]).0,
        Some(2)
    );
    assert_eq!(run_check(&["--scenario", "no-such"]).0, Some(2));
}

/// `--no-heartbeats` reaches `Bounds::heartbeats`: the same bounds without
/// the leader's heartbeat (and so without retransmissions) have far fewer
/// states, still hold, and still elect a leader and commit an entry (on
/// the unordered network searched itself, whose counts are the bounds').
#[test]
fn no_heartbeats_leaves_out_the_retransmissions() {
    let unique = |args: &[&str]| {
        let (status, stdout) = run_check(args);
        assert_eq!(status, Some(0), "{args:?}: {stdout}");
        let json: Value = serde_json::from_str(&stdout).expect("one JSON object");
        assert_eq!(json["complete"], true, "{args:?}");
        for name in ["a leader is elected", "an entry commits"] {
            assert_eq!(result(&json, name), "found", "{args:?}: {name}");
        }
        (
            json["bounds"]["heartbeats"].as_bool().expect("heartbeats"),
            json["unique_states"].as_u64().expect("unique states"),
        )
    };
    let (on, with) = unique(&["--max-log", "1", "--exact-network", "--json"]);
    let (off, without) = unique(&[
        "--max-log",
        "1",
        "--no-heartbeats",
        "--exact-network",
        "--json",
    ]);
    assert!(on && !off);
    assert!(
        without * 4 < with,
        "{without} unique states, {with} with heartbeats"
    );
}
