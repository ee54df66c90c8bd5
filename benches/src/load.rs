//! Closed-loop clients: each has one request outstanding at a time (one
//! command, or a batch of them), and sends its next as soon as the leader
//! has applied the last. A request's latency runs from its `start` on the
//! leader to the moment the leader's applied message for its (last) index
//! reaches the client.
//!
//! The clients are multiplexed on the calling thread, as openraft's
//! benchmark runs its client tasks on one client worker thread: `c`
//! clients are `c` requests in flight, not `c` OS threads.

use crate::cluster::Cluster;
use anyhow::{Context, bail};
use bytes::Bytes;
use checked_raft::runtime::ApplyMsg;
use checked_raft::runtime::apply_queue::{RecvTimeoutError, TryRecvError};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long the clients wait for any commit before giving up.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The load to offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Load {
    /// Concurrent clients (at least 1).
    pub clients: usize,
    /// Commands in all; rounded down, as openraft does, to a whole number
    /// of requests per client (at least one each).
    pub operations: u64,
    /// Commands per request: 1 proposes with `start`, more with
    /// `start_batch` (openraft's `client_write_many`).
    pub batch: usize,
    /// Bytes per command.
    pub payload: usize,
}

/// What one run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// From the first request to the last commit.
    pub elapsed: Duration,
    /// Commands committed.
    pub operations: u64,
    /// Every request's latency, in the order they completed.
    pub latencies: Vec<Duration>,
}

/// One client's request in flight: the last index it occupies, whose
/// client, and when it was started.
struct InFlight {
    last_index: u64,
    client: usize,
    started: Instant,
}

/// Offers `load` to `cluster`'s leader and waits until every command has
/// been applied by the leader. Fails if the leader loses its office or
/// nothing commits for [`STALL_TIMEOUT`].
pub fn run(cluster: &Cluster, load: &Load) -> anyhow::Result<Run> {
    if load.clients == 0 || load.batch == 0 {
        bail!("clients and batch must be at least 1");
    }
    let per_request = load.batch as u64;
    let requests_per_client = (load.operations / load.clients as u64 / per_request).max(1);
    let total_requests = requests_per_client * load.clients as u64;
    let payload = Bytes::from(vec![0x5a; load.payload]);
    let leader = cluster.leader();
    let applied = cluster.applied();
    // Anything left from an earlier run belongs to no client of this one.
    while applied.try_recv().is_ok() {}

    let propose = |client: usize, in_flight: &mut VecDeque<InFlight>| -> anyhow::Result<()> {
        let started = Instant::now();
        let (index, _) = if load.batch == 1 {
            leader.start(payload.clone())
        } else {
            leader.start_batch(vec![payload.clone(); load.batch])
        }
        .context("the leader refused a proposal")?;
        in_flight.push_back(InFlight {
            last_index: index.0,
            client,
            started,
        });
        Ok(())
    };

    let mut remaining = vec![requests_per_client; load.clients];
    let mut in_flight = VecDeque::with_capacity(load.clients);
    let mut latencies = Vec::with_capacity(total_requests.min(1 << 24) as usize);
    let mut ready = Vec::with_capacity(load.clients);
    let begin = Instant::now();
    for (client, left) in remaining.iter_mut().enumerate() {
        *left -= 1;
        propose(client, &mut in_flight)?;
    }
    let mut completed = 0;
    while completed < total_requests {
        let mut next = match applied.recv_timeout(STALL_TIMEOUT) {
            Ok(message) => Some(message),
            Err(RecvTimeoutError::Timeout) => {
                bail!("nothing committed for {STALL_TIMEOUT:?}")
            }
            Err(RecvTimeoutError::Disconnected) => bail!("the leader stopped"),
        };
        let now = Instant::now();
        while let Some(message) = next {
            if let ApplyMsg::Command { index, .. } = message {
                // The leader's application snapshots as the followers' do.
                let every = cluster.snapshot_every();
                if every > 0 && index.0.is_multiple_of(every) {
                    leader.snapshot(index, Bytes::new())?;
                }
                while in_flight.front().is_some_and(|f| f.last_index <= index.0) {
                    let Some(done) = in_flight.pop_front() else {
                        break;
                    };
                    latencies.push(now - done.started);
                    completed += 1;
                    if remaining[done.client] > 0 {
                        remaining[done.client] -= 1;
                        ready.push(done.client);
                    }
                }
            }
            next = match applied.try_recv() {
                Ok(message) => Some(message),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => bail!("the leader stopped"),
            };
        }
        for client in ready.drain(..) {
            propose(client, &mut in_flight)?;
        }
    }
    Ok(Run {
        elapsed: begin.elapsed(),
        operations: total_requests * per_request,
        latencies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{ClusterOptions, TransportKind};

    #[test]
    fn every_command_commits_and_each_request_has_a_latency() {
        for transport in [TransportKind::Channel, TransportKind::Network] {
            let cluster = Cluster::start(&ClusterOptions::new(3, transport)).unwrap();
            for (clients, batch) in [(1, 1), (8, 1), (4, 5)] {
                let load = Load {
                    clients,
                    operations: 200,
                    batch,
                    payload: 16,
                };
                let run = run(&cluster, &load).unwrap();
                let requests = 200 / clients as u64 / batch as u64 * clients as u64;
                assert_eq!(run.latencies.len() as u64, requests, "{transport} {load:?}");
                assert_eq!(run.operations, requests * batch as u64);
                assert!(run.latencies.iter().all(|&l| l <= run.elapsed));
            }
            let committed = cluster.leader().with_node(|n| n.commit_index().0);
            assert!(committed >= 600, "{transport}: {committed}");
            cluster.shutdown();
        }
    }
}
