//! The server that answered each operation (the history's `node`) in the
//! sim and threads backends, as the process backend records it: the
//! server's id, numbered from 1. Every `ok` completion has one, an
//! operation no server answered (a timeout) has none, and the timeline's
//! "by server" grouping has no "(no server)" lane for `ok` operations.

use jepsen_lite::harness::{
    Backend, BackendRun, Event, Kind, NemesisKind, RunOptions, Workload, sim, threads, timeline,
};
use serde_json::Value as Json;
use std::collections::BTreeSet;
use std::time::Duration;

fn options(backend: Backend, workload: Workload, seed: u64, secs: u64) -> RunOptions {
    RunOptions {
        nodes: 3,
        clients: 4,
        time: Duration::from_secs(secs),
        workload,
        nemesis: vec![NemesisKind::Kill],
        seed,
        rate: Some(100.0),
        nemesis_on: Duration::from_secs(1),
        nemesis_off: Duration::from_secs(1),
        keys: 2,
        backend,
        ..RunOptions::default()
    }
}

/// The completions of client operations.
fn completions(run: &BackendRun) -> impl Iterator<Item = &Event> {
    run.events
        .iter()
        .filter(|e| e.is_client() && e.kind != Kind::Invoke)
}

/// Every `ok` completion names a server in `1..=nodes`, and every
/// completion that timed out names none; returns the servers named.
fn answering_servers(run: &BackendRun, nodes: u64) -> BTreeSet<u64> {
    let mut seen = BTreeSet::new();
    let mut oks = 0;
    for e in completions(run) {
        match e.kind {
            Kind::Ok => {
                oks += 1;
                let node = e
                    .node
                    .unwrap_or_else(|| panic!("ok without a server: {e:?}"));
                assert!(
                    (1..=nodes).contains(&node),
                    "server {node} of {nodes}: {e:?}"
                );
                seen.insert(node);
            }
            // No server answered an indeterminate operation, nor one that
            // failed for want of an answer.
            Kind::Info => assert_eq!(e.node, None, "{e:?}"),
            Kind::Fail if e.error.as_deref() == Some("timeout") => {
                assert_eq!(e.node, None, "{e:?}")
            }
            Kind::Fail | Kind::Invoke => {}
        }
    }
    assert!(oks > 20, "only {oks} ok operations");
    seen
}

/// The timeline's operations (`#ops-data`): no `ok` operation (outcome
/// 0) without a server (node -1, which the page groups as "(no server)").
fn timeline_has_a_server_for_every_ok(run: &BackendRun) {
    let page = timeline::render("test", &run.events, &run.leaders);
    let from = page.find("id=\"ops-data\">").expect("ops data") + "id=\"ops-data\">".len();
    let to = from + page[from..].find("</script>").expect("end of the ops data");
    let data: Json = serde_json::from_str(&page[from..to]).expect("ops data is JSON");
    let ops = data["ops"].as_array().expect("ops");
    let ok: Vec<&Json> = ops.iter().filter(|op| op[2] == 0).collect();
    assert!(!ok.is_empty());
    for op in ok {
        assert!(
            op[5].as_i64() >= Some(1),
            "an ok operation without a server: {op}"
        );
    }
}

#[test]
fn the_sim_backend_records_the_server_that_answered() {
    // Kills move the leadership, so answers come from several servers;
    // the run is seeded, so the same servers every time.
    let options = options(Backend::Sim, Workload::Register, 1, 10);
    let run = sim::run(&options, &mut |_| {}).expect("the run completes");
    let seen = answering_servers(&run, 3);
    assert!(seen.len() >= 2, "answers from {seen:?} only");
    timeline_has_a_server_for_every_ok(&run);
    // The same seed, the same servers, operation by operation.
    let again = sim::run(&options, &mut |_| {}).expect("the run completes");
    let nodes = |run: &BackendRun| completions(run).map(|e| e.node).collect::<Vec<_>>();
    assert_eq!(nodes(&run), nodes(&again));
}

#[test]
fn the_threads_backend_records_the_server_that_answered() {
    if checked_raft::runtime::LOOM_BUILD {
        eprintln!("skipped in the loom build");
        return;
    }
    // Real time: which servers lead is up to the scheduler, so only the
    // numbering is checked.
    let options = options(Backend::Threads, Workload::Kv, 2, 3);
    let run = threads::run(&options, &mut |_| {}).expect("the run completes");
    answering_servers(&run, 3);
    timeline_has_a_server_for_every_ok(&run);
}
