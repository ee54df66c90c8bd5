//! The `sim` backend's tests: reproducibility, the histories' shape, and
//! linearizable runs under every fault.

use super::*;
use crate::format::jsonl;
use crate::harness::event::{to_jsonl, windows};
use crate::harness::{Backend, NemesisKind, Workload};
use crate::models::{Kv, Register};
use crate::{CheckOptions, Verdict, check};

fn options(seed: u64, nemesis: &[NemesisKind], secs: u64) -> RunOptions {
    RunOptions {
        time: Duration::from_secs(secs),
        nemesis: nemesis.to_vec(),
        seed,
        nemesis_on: Duration::from_secs(1),
        nemesis_off: Duration::from_secs(1),
        backend: Backend::Sim,
        ..RunOptions::default()
    }
}

fn run_quietly(options: &RunOptions) -> BackendRun {
    run(options, &mut |_| {}).unwrap_or_else(|e| panic!("{e:#}"))
}

/// The checker's verdict on a run's history, read back from its JSON
/// lines as `jepsen-lite check` would.
fn verdict(options: &RunOptions, run: &BackendRun) -> Verdict {
    let text = to_jsonl(&run.events);
    let check_options = CheckOptions {
        timeout: Some(Duration::from_secs(60)),
        threads: 1,
        explain: false,
    };
    match options.workload {
        Workload::Register => {
            let history = jsonl::parse_register("sim", &text).unwrap();
            check(&Register, &history.operations, &check_options)
                .unwrap()
                .verdict
        }
        Workload::Kv | Workload::Append => {
            let history = jsonl::parse_kv("sim", &text).unwrap();
            check(&Kv, &history.operations, &check_options)
                .unwrap()
                .verdict
        }
        Workload::ListAppend => {
            let txns = crate::elle::parse_jsonl(&text).unwrap();
            let report = crate::elle::check(&txns, &Default::default()).unwrap();
            if report.valid {
                Verdict::Linearizable
            } else {
                Verdict::NotLinearizable
            }
        }
    }
}

fn count(run: &BackendRun, kind: Kind) -> usize {
    run.events
        .iter()
        .filter(|e| e.is_client() && e.kind == kind)
        .count()
}

/// The per-step check the simulator relies on (`check_after_step`)
/// judges every step of key/value runs under every fault as the full
/// `check_invariants` does, and leaves the same history.
#[test]
fn the_narrowed_check_agrees_with_the_full_check() {
    for seed in 0..6 {
        let options = RunOptions {
            workload: [Workload::Register, Workload::Kv, Workload::Append][seed as usize % 3],
            ..options(seed, &NemesisKind::ALL, 20)
        };
        let mut sim = Sim::new(&options).unwrap();
        sim.servers.audit_narrowed_checks();
        if let Err(e) = sim.run(&mut |_| {}) {
            panic!("seed {seed}: {e:#}");
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_history() {
    let options = options(7, &NemesisKind::ALL, 4);
    let (a, b) = (run_quietly(&options), run_quietly(&options));
    assert_eq!(to_jsonl(&a.events), to_jsonl(&b.events));
    assert_eq!(a.log, b.log);
    let other = run_quietly(&RunOptions { seed: 8, ..options });
    assert_ne!(to_jsonl(&a.events), to_jsonl(&other.events));
}

#[test]
fn histories_are_in_time_order_with_paired_windows_and_final_reads() {
    for workload in [Workload::Register, Workload::Kv, Workload::Append] {
        let options = RunOptions {
            workload,
            ..options(3, &NemesisKind::ALL, 6)
        };
        let mut reports = Vec::new();
        let run = run(&options, &mut |p| reports.push(p.clone())).unwrap();
        for (i, event) in run.events.iter().enumerate() {
            assert_eq!(event.index, i as u64);
        }
        assert!(run.events.windows(2).all(|w| w[0].time <= w[1].time));
        let faults = windows(&run.events);
        assert!(faults.len() >= 2, "{faults:?}");
        assert!(faults.iter().all(|w| w.end.is_some()), "{faults:?}");
        let last_fault = faults.iter().filter_map(|w| w.end).max().unwrap_or(0);
        let final_reads = run
            .events
            .iter()
            .filter(|e| {
                e.kind == Kind::Ok && e.time > last_fault && matches!(e.f.as_str(), "read" | "get")
            })
            .count();
        assert!(
            final_reads >= options.keys,
            "{workload:?}: {final_reads} final reads"
        );
        assert!(
            count(&run, Kind::Ok) > 500,
            "{workload:?}: {} ok",
            count(&run, Kind::Ok)
        );
        assert_eq!(
            count(&run, Kind::Invoke),
            run.events.iter().filter(|e| e.is_client()).count() / 2
        );
        assert_eq!(reports.last().map(|p| p.phase), Some("final reads"));
        assert!(reports.iter().any(|p| p.nemesis.is_some()));
        assert_eq!(
            reports.last().map(|p| p.ops),
            Some(count(&run, Kind::Invoke) as u64)
        );
        assert!(
            run.log
                .iter()
                .any(|l| l.contains("recovered: a write committed")),
            "{:#?}",
            run.log
        );
    }
}

#[test]
fn runs_under_every_fault_are_linearizable() {
    let kinds: Vec<Vec<NemesisKind>> = vec![
        vec![],
        vec![NemesisKind::Partition],
        vec![NemesisKind::Kill],
        vec![NemesisKind::Unreliable],
        vec![NemesisKind::Reorder],
        NemesisKind::ALL.to_vec(),
    ];
    for nemesis in &kinds {
        for seed in 0..3 {
            let options = options(seed, nemesis, 5);
            let run = run_quietly(&options);
            assert!(
                count(&run, Kind::Ok) > 300,
                "{nemesis:?} seed {seed}: {:#?}",
                run.log
            );
            assert_eq!(
                verdict(&options, &run),
                Verdict::Linearizable,
                "{nemesis:?} seed {seed}"
            );
        }
    }
    // The kv workload too. Not the append workload: its indeterminate
    // appends on keys never read again can make a history too costly
    // to check.
    for seed in 0..2 {
        let options = RunOptions {
            workload: Workload::Kv,
            ..options(seed, &NemesisKind::ALL, 5)
        };
        let run = run_quietly(&options);
        assert_eq!(
            verdict(&options, &run),
            Verdict::Linearizable,
            "kv seed {seed}"
        );
    }
    // And list-append transactions, judged by the Elle-style checker.
    for seed in 0..3 {
        let options = RunOptions {
            workload: Workload::ListAppend,
            ..options(seed, &NemesisKind::ALL, 5)
        };
        let run = run_quietly(&options);
        assert!(count(&run, Kind::Ok) > 300, "list-append seed {seed}");
        assert_eq!(
            verdict(&options, &run),
            Verdict::Linearizable,
            "list-append seed {seed}"
        );
    }
}

#[test]
fn kills_on_simulated_disks_are_valid() {
    // Each server on the real write-ahead log on a simulated disk;
    // each kill reboots the disk to a random crash mode.
    for seed in 0..2 {
        let options = RunOptions {
            workload: Workload::Kv,
            storage: Storage::Disk,
            ..options(seed, &[NemesisKind::Kill], 10)
        };
        let run = run_quietly(&options);
        let mentions = |what: &str| run.log.iter().filter(|l| l.contains(what)).count();
        assert!(mentions("killed") > 0 && mentions("restarts from its storage") > 0);
        assert_eq!(mentions("found exactly what was acknowledged"), 1);
        assert_eq!(
            verdict(&options, &run),
            Verdict::Linearizable,
            "seed {seed}"
        );
    }
}

#[test]
fn kills_restart_servers_and_snapshots_travel() {
    let options = options(1, &[NemesisKind::Kill], 20);
    let run = run_quietly(&options);
    let mentions = |what: &str| run.log.iter().filter(|l| l.contains(what)).count();
    assert!(mentions("killed") > 0 && mentions("restarts from its storage") > 0);
    // The summary: "... N snapshots taken, M installed; ..."
    let installed = run
        .log
        .iter()
        .find_map(|l| l.split(" snapshots taken, ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    assert!(installed > Some(0), "{:#?}", run.log);
    assert_eq!(verdict(&options, &run), Verdict::Linearizable);
}

#[cfg(feature = "bug-catalogue")]
#[test]
fn local_reads_are_caught() {
    let found = (0..5).any(|seed| {
        let options = RunOptions {
            bug: Some(crate::harness::ServiceBug::LocalReads),
            ..options(seed, &[NemesisKind::Partition], 5)
        };
        verdict(&options, &run_quietly(&options)) == Verdict::NotLinearizable
    });
    assert!(found, "no stale read found in 5 runs with local reads");
}

#[test]
fn one_server_and_no_rate_work_too() {
    let options = RunOptions {
        nodes: 1,
        clients: 3,
        rate: None,
        ..options(2, &[NemesisKind::Kill, NemesisKind::Reorder], 3)
    };
    let run = run_quietly(&options);
    assert!(count(&run, Kind::Ok) > 100);
    assert_eq!(verdict(&options, &run), Verdict::Linearizable);
}

#[test]
fn bad_options_are_an_error() {
    let options = RunOptions {
        nodes: 0,
        ..options(0, &[], 1)
    };
    assert!(run(&options, &mut |_| {}).is_err());
}

/// `cargo test --release -p jepsen-lite --lib harness::sim::tests::an_hour -- --ignored --nocapture`
#[test]
#[ignore = "a measurement: an hour of virtual time at the default options"]
fn an_hour_of_virtual_time() {
    let options = RunOptions {
        time: Duration::from_secs(3600),
        backend: Backend::Sim,
        ..RunOptions::default()
    };
    let start = std::time::Instant::now();
    let run = run_quietly(&options);
    println!(
        "{:.1} s for {} events",
        start.elapsed().as_secs_f64(),
        run.events.len()
    );
    for line in run.log.iter().rev().take(6).rev() {
        println!("{line}");
    }
}
