//! A simulated server's disk: the real [`DiskStorage`] on a [`CrashFs`],
//! so that whole simulated clusters run the write-ahead log's own code and
//! crash in the middle of it (issue 21 part 4, the cluster half).
//!
//! [`Servers`](crate::sim::Servers) keeps, for each server, the state its
//! acknowledged writes describe ([`Stored`]: every batch whose
//! `persist_batch` returned); this keeps the disk under it. A write that
//! the file system's crash point stops leaves the machine stopped: the
//! server crashes with that batch in flight. At a crash the disk reboots
//! to what the [`CrashMode`] keeps of what was not synced, and the next
//! start reopens the log there and must find exactly the acknowledged
//! state, or that state plus the batch in flight: nothing acknowledged
//! lost, nothing invented. Every other property is the simulator's.

use crate::consensus::{Persist, Stored};
use crate::runtime::Persister;
use crate::storage::{CrashFs, CrashMode, DiskOptions, DiskStorage};
use std::path::Path;
use std::sync::Arc;

/// Where each simulated disk keeps its log.
const DIR: &str = "/data";

/// What a write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// The batch is durable.
    Durable,
    /// The machine stopped at the crash point, in the middle of it.
    Stopped,
}

/// What opening the log at a start found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opened {
    /// The recovered state (the acknowledged one, or it and the batch that
    /// was in flight), and whether a torn tail was cut off.
    Recovered {
        /// What the log holds.
        stored: Stored,
        /// A torn or unsynced tail was repaired.
        repaired: bool,
    },
    /// The machine stopped again while recovering (the crash point fell in
    /// the recovery's own writes).
    Stopped,
}

/// One server's disk.
pub struct SimDisk {
    options: DiskOptions,
    /// The disk as it is now (replaced by a reboot at each crash).
    fs: CrashFs,
    /// The open log, while the server is up.
    storage: Option<DiskStorage>,
    /// The batch the machine stopped in, until the next start checks it.
    in_flight: Option<Vec<Persist>>,
    /// File-system operations of the disks before the last reboot.
    operations_before: u64,
    /// The crash point, counted over every incarnation of the disk.
    crash_at: Option<u64>,
    /// Whether a start checks what the log recovered.
    check_recovery: bool,
}

impl std::fmt::Debug for SimDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDisk")
            .field("operations", &self.operations())
            .field("open", &self.storage.is_some())
            .field("in_flight", &self.in_flight.is_some())
            .field("crash_at", &self.crash_at)
            .finish()
    }
}

impl SimDisk {
    /// An empty disk; the log is created at the first start. With
    /// `check_recovery` off, what the log recovers is trusted (to show
    /// that the cluster's other checks catch a log that loses writes).
    pub fn new(options: DiskOptions, check_recovery: bool) -> SimDisk {
        SimDisk {
            check_recovery,
            options,
            fs: CrashFs::new(),
            storage: None,
            in_flight: None,
            operations_before: 0,
            crash_at: None,
        }
    }

    /// Stops the machine at its file-system operation number `at`, counted
    /// from 1 over the whole run (across reboots).
    pub fn crash_at(&mut self, at: u64) {
        self.crash_at = Some(at);
        self.arm();
    }

    fn arm(&self) {
        if let Some(at) = self.crash_at.filter(|&at| at > self.operations_before) {
            self.fs.crash_at(at - self.operations_before);
        }
    }

    /// File-system operations so far (each a crash point), over the run.
    pub fn operations(&self) -> u64 {
        self.operations_before + self.fs.operations()
    }

    /// Opens the log (at a start) and checks what it recovered against
    /// `acknowledged`, the state the writes that returned describe.
    pub fn open(&mut self, acknowledged: &Stored) -> Result<Opened, String> {
        let fs = Arc::new(self.fs.clone());
        let storage = match DiskStorage::open_with(fs, Path::new(DIR), self.options.clone()) {
            Ok(storage) => storage,
            Err(_) if self.fs.has_crashed() => return Ok(Opened::Stopped),
            Err(e) => return Err(format!("reopening the log failed: {e}")),
        };
        let stored = storage
            .load()
            .map_err(|e| format!("loading the log failed: {e}"))?;
        let mut with_in_flight = acknowledged.clone();
        let in_flight = self.in_flight.take();
        let in_flight_fits = in_flight.as_ref().is_some_and(|batch| {
            batch
                .iter()
                .try_for_each(|op| with_in_flight.apply(op))
                .is_ok()
        });
        if self.check_recovery
            && stored != *acknowledged
            && !(in_flight_fits && stored == with_in_flight)
        {
            let describe = |s: &Stored| {
                format!(
                    "last index {}, snapshot through {}, term {}, vote {:?}",
                    s.last_index(),
                    s.snapshot_meta().last_included_index,
                    s.hard_state.current_term,
                    s.hard_state.voted_for,
                )
            };
            return Err(format!(
                "the log recovered a state that is neither the acknowledged one ({}){}: {}",
                describe(acknowledged),
                match in_flight_fits {
                    true => format!(
                        " nor it with the batch in flight ({})",
                        describe(&with_in_flight)
                    ),
                    false => String::new(),
                },
                describe(&stored),
            ));
        }
        let repaired = !storage.repairs().is_empty();
        self.storage = Some(storage);
        Ok(Opened::Recovered { stored, repaired })
    }

    /// Writes `batch` durably (one write and one `fdatasync`, as the
    /// runtime's group commit does), or stops at the crash point.
    pub fn write(&mut self, batch: &[Persist]) -> Result<Written, String> {
        let storage = self
            .storage
            .as_ref()
            .ok_or("a write to a disk whose log is not open")?;
        match storage.persist_batch(batch) {
            Ok(()) => Ok(Written::Durable),
            Err(_) if self.fs.has_crashed() => {
                self.in_flight = Some(batch.to_vec());
                Ok(Written::Stopped)
            }
            Err(e) => Err(format!("the log refused a write: {e}")),
        }
    }

    /// The machine crashes: the log closes, and the disk becomes what a
    /// reboot finds, keeping what `mode` keeps of what was not synced
    /// (chosen with `seed`).
    pub fn crash(&mut self, mode: CrashMode, seed: u64) {
        self.storage = None;
        self.operations_before += self.fs.operations();
        self.fs = self.fs.reboot(mode, seed);
        self.arm();
    }

    /// Whether the crash point has been reached.
    pub fn stopped_at_crash_point(&self) -> bool {
        self.crash_at.is_some_and(|at| self.operations() >= at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::{HardState, NodeId, Term};

    fn vote(term: u64) -> Vec<Persist> {
        vec![Persist::HardState(HardState {
            current_term: Term(term),
            voted_for: Some(NodeId(1)),
        })]
    }

    fn stored_after(batches: &[Vec<Persist>]) -> Stored {
        let mut stored = Stored::default();
        for op in batches.iter().flatten() {
            stored.apply(op).unwrap();
        }
        stored
    }

    fn opened(stored: Stored) -> Opened {
        Opened::Recovered {
            stored,
            repaired: false,
        }
    }

    #[test]
    fn a_crash_keeps_what_was_acknowledged() {
        let mut disk = SimDisk::new(DiskOptions::default(), true);
        assert_eq!(disk.open(&Stored::default()), Ok(opened(Stored::default())));
        assert_eq!(disk.write(&vote(1)), Ok(Written::Durable));
        disk.crash(CrashMode::LoseUnsynced, 0);
        let acknowledged = stored_after(&[vote(1)]);
        assert_eq!(disk.open(&acknowledged), Ok(opened(acknowledged)));
    }

    #[test]
    fn a_crash_point_stops_a_write_and_the_batch_in_flight_may_survive() {
        for (mode, survives) in [(CrashMode::LoseUnsynced, false), (CrashMode::KeepAll, true)] {
            let mut disk = SimDisk::new(DiskOptions::default(), true);
            disk.open(&Stored::default()).unwrap();
            disk.write(&vote(1)).unwrap();
            // The next write's append, then its fdatasync: stop at the sync.
            disk.crash_at(disk.operations() + 2);
            assert_eq!(disk.write(&vote(2)), Ok(Written::Stopped));
            assert!(disk.stopped_at_crash_point());
            disk.crash(mode, 0);
            let acknowledged = stored_after(&[vote(1)]);
            let expected = match survives {
                true => stored_after(&[vote(1), vote(2)]),
                false => acknowledged.clone(),
            };
            assert_eq!(disk.open(&acknowledged), Ok(opened(expected)), "{mode:?}");
        }
    }

    #[test]
    fn a_log_that_lost_an_acknowledged_write_is_caught() {
        let mut disk = SimDisk::new(DiskOptions::default(), true);
        disk.open(&Stored::default()).unwrap();
        disk.write(&vote(1)).unwrap();
        disk.crash(CrashMode::LoseUnsynced, 0);
        // The servers believe a later write was acknowledged too.
        let believed = stored_after(&[vote(1), vote(2)]);
        let caught = disk.open(&believed).unwrap_err();
        assert!(caught.contains("neither the acknowledged one"), "{caught}");
        // Unchecked, the log is trusted.
        let mut trusting = SimDisk::new(DiskOptions::default(), false);
        trusting.open(&Stored::default()).unwrap();
        trusting.write(&vote(1)).unwrap();
        trusting.crash(CrashMode::LoseUnsynced, 0);
        assert_eq!(
            trusting.open(&believed),
            Ok(opened(stored_after(&[vote(1)])))
        );
    }

    #[test]
    fn a_crash_point_in_recovery_stops_the_start() {
        let mut disk = SimDisk::new(DiskOptions::default(), true);
        // The first start creates the log: stop at its first operation.
        disk.crash_at(1);
        assert_eq!(disk.open(&Stored::default()), Ok(Opened::Stopped));
        disk.crash(CrashMode::KeepAll, 0);
        assert_eq!(disk.open(&Stored::default()), Ok(opened(Stored::default())));
    }
}
