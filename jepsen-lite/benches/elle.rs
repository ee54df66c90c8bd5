//! The Elle-style list-append checker on generated Jepsen-shaped histories
//! (1-4 micro-ops per transaction, 10 clients, 32 writes per key), strict
//! serializable and serializable, generation excluded.
//! `cargo bench -p jepsen-lite --bench elle`.

use criterion::{Criterion, criterion_group, criterion_main};
use jepsen_lite::elle::generate::{Workload, generate};
use jepsen_lite::elle::{ConsistencyModel, ElleOptions, check};
use std::hint::black_box;

fn elle(c: &mut Criterion) {
    let mut group = c.benchmark_group("elle");
    group.sample_size(10);
    for txns in [30_000, 300_000] {
        let history = generate(&Workload {
            txns,
            ..Workload::default()
        });
        for model in [
            ConsistencyModel::StrictSerializable,
            ConsistencyModel::Serializable,
        ] {
            let options = ElleOptions {
                model,
                ..ElleOptions::default()
            };
            group.bench_function(format!("{txns} txns, {}", model.name()), |b| {
                b.iter(|| {
                    let report = check(black_box(&history), &options).expect("checkable");
                    assert!(report.valid);
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, elle);
criterion_main!(benches);
