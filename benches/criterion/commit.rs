//! `cargo bench`: commit latency and throughput of the thread runtime.
//!
//! - `commit_latency/<transport>/<n>-servers/<payload>`: one client in a
//!   loop; each iteration is one command, from `start` on the leader to the
//!   leader's applied message for its index. 1, 3 and 5 servers; 0 B, 16 B
//!   and 4 KiB commands.
//! - `throughput/<transport>/<p>-proposers`: `p` concurrent proposers (each
//!   with one command in flight) on 3 servers; criterion reports commits/s.
//!
//! Transports: `channel` (in-process, no serialization: openraft's
//! benchmark's condition) and `network` (the emulated network, reliable,
//! no delays, every message serialized). `raft-bench` gives the latency
//! percentiles.

// In a loom build (feature `loom`) the runtime's threads are loom's: no
// benchmarks then.
#[cfg(not(feature = "loom"))]
mod benches {
    use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
    use raft_bench::{Cluster, ClusterOptions, Load, TransportKind, run};
    use std::time::Duration;

    const TRANSPORTS: [TransportKind; 2] = [TransportKind::Channel, TransportKind::Network];

    fn commit_latency(c: &mut Criterion) {
        let mut group = c.benchmark_group("commit_latency");
        for transport in TRANSPORTS {
            for members in [1, 3, 5] {
                let cluster = Cluster::start(&ClusterOptions::new(members, transport))
                    .expect("the cluster elects a leader");
                for payload in [0, 16, 4096] {
                    let id = BenchmarkId::new(
                        format!("{transport}/{members}-servers"),
                        format!("{payload}B"),
                    );
                    group.bench_function(id, |b| {
                        b.iter_custom(|iters| {
                            let load = Load {
                                clients: 1,
                                operations: iters,
                                batch: 1,
                                payload,
                            };
                            run(&cluster, &load).expect("every command commits").elapsed
                        })
                    });
                }
                cluster.shutdown();
            }
        }
        group.finish();
    }

    fn throughput(c: &mut Criterion) {
        let mut group = c.benchmark_group("throughput");
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(8));
        for transport in TRANSPORTS {
            let cluster = Cluster::start(&ClusterOptions::new(3, transport))
                .expect("the cluster elects a leader");
            for proposers in [1usize, 16, 64, 256] {
                // Enough commands that a run is mostly steady state.
                let operations = (proposers as u64 * 800).clamp(2_000, 200_000);
                group.throughput(Throughput::Elements(operations));
                let id = BenchmarkId::new(transport.to_string(), format!("{proposers}-proposers"));
                group.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let load = Load {
                            clients: proposers,
                            operations,
                            batch: 1,
                            payload: 0,
                        };
                        (0..iters)
                            .map(|_| run(&cluster, &load).expect("every command commits").elapsed)
                            .sum()
                    })
                });
            }
            cluster.shutdown();
        }
        group.finish();
    }

    criterion_group!(benches, commit_latency, throughput);
}

#[cfg(not(feature = "loom"))]
criterion::criterion_main!(benches::benches);

#[cfg(feature = "loom")]
fn main() {}
