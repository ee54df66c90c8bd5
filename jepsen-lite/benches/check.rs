//! Checking speed on porcupine's own benchmark histories, to compare with Go
//! porcupine: all 102 etcd logs in sequence, and the kv logs c10-ok and
//! c50-ok. Each is checked single-threaded (one partition at a time) and with
//! parallel partitions, without explanations (like porcupine's
//! `CheckEvents`), parsing excluded. `cargo bench -p jepsen-lite`.

use criterion::{Criterion, criterion_group, criterion_main};
use jepsen_lite::format::{jepsen_etcd, porcupine_kv};
use jepsen_lite::models::{Kv, Register};
use jepsen_lite::{CheckOptions, History, Model, Verdict, check};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

fn data(path: &str) -> (String, String) {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata/porcupine")
        .join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    (path.to_string(), text)
}

fn options(threads: usize) -> CheckOptions {
    CheckOptions {
        timeout: None,
        threads,
        explain: false,
    }
}

fn check_all<M: Model>(
    model: &M,
    histories: &[History<M::Input, M::Output>],
    threads: usize,
) -> usize {
    let options = options(threads);
    histories
        .iter()
        .filter(|h| {
            let result = check(model, &h.operations, &options).expect("valid history");
            result.verdict == Verdict::Linearizable
        })
        .count()
}

fn bench(c: &mut Criterion) {
    let etcd: Vec<_> = (0..=102)
        .filter(|&i| i != 95)
        .map(|i| {
            let (name, text) = data(&format!("jepsen/etcd_{i:03}.log"));
            jepsen_etcd::parse(&name, &text).expect("parses")
        })
        .collect();
    assert_eq!(etcd.len(), 102);
    let kv = |name: &str| {
        let (name, text) = data(&format!("kv/{name}.txt"));
        vec![porcupine_kv::parse(&name, &text).expect("parses")]
    };
    let c10 = kv("c10-ok");
    let c50 = kv("c50-ok");

    for (label, threads) in [("single-threaded", 1), ("parallel", 0)] {
        let mut group = c.benchmark_group(label);
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4));
        group.bench_function("etcd-all", |b| {
            b.iter(|| assert_eq!(check_all(&Register, black_box(&etcd), threads), 23))
        });
        group.bench_function("c10-ok", |b| {
            b.iter(|| assert_eq!(check_all(&Kv, black_box(&c10), threads), 1))
        });
        group.bench_function("c50-ok", |b| {
            b.iter(|| assert_eq!(check_all(&Kv, black_box(&c50), threads), 1))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
