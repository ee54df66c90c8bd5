//! `cargo bench --bench disk`: the durable path, on the disk the benchmark
//! runs on (a temporary directory; `TMPDIR` picks the disk), in one run so
//! the figures compare:
//!
//! - `disk/fdatasync/128B`: append 128 bytes to a file and `fdatasync` it,
//!   the floor under any durable commit;
//! - `disk/commit_latency/3-servers`: one client in a loop on 3 servers,
//!   each on a `DiskStorage`; from `start` on the leader to the leader's
//!   applied message (a commit needs the leader's and a follower's write);
//! - `disk/throughput/<p>-proposers`: `p` concurrent proposers on the same
//!   cluster; criterion reports durable commits/s (group commit).
//!
//! `raft-bench --storage disk --dir DIR` gives the percentiles and JSON.

// In a loom build (feature `loom`) the runtime's threads are loom's: no
// benchmarks then.
#[cfg(not(feature = "loom"))]
mod benches {
    use criterion::{Criterion, Throughput, criterion_group};
    use raft_bench::{Cluster, ClusterOptions, Load, TransportKind, run};
    use std::io::Write;
    use std::time::{Duration, Instant};

    fn fdatasync(c: &mut Criterion) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut file = std::fs::File::create(dir.path().join("probe")).expect("a probe file");
        let record = [0x5a_u8; 128];
        let mut group = c.benchmark_group("disk");
        group.bench_function("fdatasync/128B", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    file.write_all(&record).expect("an append");
                    file.sync_data().expect("an fdatasync");
                }
                start.elapsed()
            })
        });
        group.finish();
    }

    fn cluster(dir: &tempfile::TempDir) -> Cluster {
        let options = ClusterOptions {
            storage: Some(dir.path().to_path_buf()),
            ..ClusterOptions::new(3, TransportKind::Channel)
        };
        Cluster::start(&options).expect("the cluster elects a leader")
    }

    fn commit(c: &mut Criterion) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let cluster = cluster(&dir);
        let mut group = c.benchmark_group("disk");
        group.bench_function("commit_latency/3-servers", |b| {
            b.iter_custom(|iters| {
                let load = Load {
                    clients: 1,
                    operations: iters,
                    batch: 1,
                    payload: 16,
                };
                run(&cluster, &load).expect("every command commits").elapsed
            })
        });
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(8));
        for proposers in [16usize, 64, 256] {
            let operations = (proposers as u64 * 200).clamp(2_000, 50_000);
            group.throughput(Throughput::Elements(operations));
            group.bench_function(format!("throughput/{proposers}-proposers"), |b| {
                b.iter_custom(|iters| {
                    let load = Load {
                        clients: proposers,
                        operations,
                        batch: 1,
                        payload: 16,
                    };
                    (0..iters)
                        .map(|_| run(&cluster, &load).expect("every command commits").elapsed)
                        .sum()
                })
            });
        }
        group.finish();
        cluster.shutdown();
    }

    criterion_group!(benches, fdatasync, commit);
}

#[cfg(not(feature = "loom"))]
criterion::criterion_main!(benches::benches);

#[cfg(feature = "loom")]
fn main() {}
