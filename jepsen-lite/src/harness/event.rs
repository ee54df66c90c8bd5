//! The events of a harness run, as written to `history.jsonl`: client
//! invocations and completions, and the nemesis's fault windows.
//!
//! Each event serializes to one line of the project's JSON-lines history
//! format ([`crate::format::jsonl`]), so a run's history is checked by the
//! same parser as any other (`jepsen-lite check history.jsonl --format
//! jsonl --model register|kv`). Fields the checker does not read (`index`,
//! `error`) are ignored by it.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value as Json;

/// Who an event belongs to: a client process, or the nemesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    /// A client process. As in Jepsen, a client whose operation ended
    /// indeterminately (`info`) continues as a new process.
    Client(u64),
    /// The fault injector.
    Nemesis,
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(p) => serializer.serialize_u64(*p),
            Process::Nemesis => serializer.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Process, D::Error> {
        match Json::deserialize(deserializer)? {
            Json::String(s) if s == "nemesis" => Ok(Process::Nemesis),
            Json::Number(n) => n
                .as_u64()
                .map(Process::Client)
                .ok_or_else(|| de::Error::custom(format!("bad process {n}"))),
            other => Err(de::Error::custom(format!(
                "bad process {other}: expected an integer or \"nemesis\""
            ))),
        }
    }
}

/// The `type` of an event, with Jepsen's meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A client calls an operation.
    Invoke,
    /// The operation happened, with the value shown.
    Ok,
    /// The operation certainly did not happen (a read that timed out, a
    /// CAS that found another value).
    Fail,
    /// The operation may or may not have happened (a write that timed
    /// out); for the nemesis, a fault starting or stopping.
    Info,
}

/// One line of the history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the history, from 0.
    pub index: u64,
    /// Who.
    pub process: Process,
    /// Invoke, ok, fail or info.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The function: `read`, `write`, `cas` (register workload), `get`,
    /// `put`, `append` (kv and append workloads), or for the nemesis
    /// `start-<fault>` / `stop-<fault>`.
    pub f: String,
    /// The key the operation is on (client events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The operation's argument or result (see [`crate::format::jsonl`]);
    /// for the nemesis, a description of the fault.
    pub value: Json,
    /// Monotonic nanoseconds since the run began (virtual time in the
    /// simulator).
    pub time: u64,
    /// Why an operation failed or is indeterminate (e.g. `timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The id of the server that answered a completed operation (servers
    /// are numbered from 1), when one did: the process backend reads it
    /// from the `x-raft-kv-member` header, the sim backend from the
    /// simulated reply, the threads backend from the clerk. `None` for an
    /// operation no server answered (a timeout) and for nemesis events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<u64>,
}

impl Event {
    /// True for a client event.
    pub fn is_client(&self) -> bool {
        matches!(self.process, Process::Client(_))
    }
}

/// A fault window of the nemesis: from its `start-<fault>` event to the
/// matching `stop-<fault>` (or the end of the history).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// The fault's name, e.g. `partition`, `kill`.
    pub fault: String,
    /// The start event's description, e.g. `halves [0 1] [2 3 4]`.
    pub description: String,
    /// When it started, in nanoseconds.
    pub start: u64,
    /// When it stopped (`None`: still on at the end of the history).
    pub end: Option<u64>,
}

/// The nemesis windows of a history, in order of start: each
/// `start-<fault>` paired with the next `stop-<fault>` of the same fault.
pub fn windows(events: &[Event]) -> Vec<Window> {
    let mut done = Vec::new();
    let mut open: Vec<Window> = Vec::new();
    for event in events.iter().filter(|e| e.process == Process::Nemesis) {
        if let Some(fault) = event.f.strip_prefix("start-") {
            open.push(Window {
                fault: fault.to_string(),
                description: match &event.value {
                    Json::String(s) => s.clone(),
                    Json::Null => String::new(),
                    other => other.to_string(),
                },
                start: event.time,
                end: None,
            });
        } else if let Some(fault) = event.f.strip_prefix("stop-")
            && let Some(i) = open.iter().position(|w| w.fault == fault)
        {
            let mut window = open.remove(i);
            window.end = Some(event.time);
            done.push(window);
        }
    }
    done.extend(open);
    done.sort_by_key(|w| w.start);
    done
}

/// The time to record an event at, given the previous event's: the clock
/// reading `now`, or 1 ns after the previous event if the clock has not
/// moved past it.
///
/// Events are recorded in the order they happen (under one lock in real
/// time; one at a time in the simulator), so strictly increasing times
/// state that order. Equal times would not: the checker takes intervals as
/// closed, so a client's next invocation recorded at the very instant its
/// previous operation returned would count as concurrent with it, and a
/// chain of such operations would let the checker reorder a client's own
/// operations, an exponential search for nothing.
pub fn next_time(previous: Option<u64>, now: u64) -> u64 {
    match previous {
        Some(p) if now <= p => p.saturating_add(1),
        _ => now,
    }
}

/// Writes events as JSON lines.
pub fn to_jsonl(events: &[Event]) -> String {
    let mut out = String::new();
    for event in events {
        // An event is plain data: serializing it cannot fail.
        out.push_str(&serde_json::to_string(event).unwrap_or_default());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nemesis(index: u64, f: &str, value: &str, time: u64) -> Event {
        Event {
            index,
            process: Process::Nemesis,
            kind: Kind::Info,
            f: f.into(),
            key: None,
            value: Json::String(value.into()),
            time,
            error: None,
            node: None,
        }
    }

    #[test]
    fn events_round_trip_through_json_lines() {
        let events = vec![
            Event {
                index: 0,
                process: Process::Client(3),
                kind: Kind::Invoke,
                f: "cas".into(),
                key: Some("7".into()),
                value: serde_json::json!([1, 2]),
                time: 10,
                error: None,
                node: None,
            },
            nemesis(1, "start-kill", "kill [2]", 20),
        ];
        let text = to_jsonl(&events);
        assert_eq!(
            text.lines().next().unwrap(),
            r#"{"index":0,"process":3,"type":"invoke","f":"cas","key":"7","value":[1,2],"time":10}"#
        );
        let back: Vec<Event> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(back, events);
    }

    #[test]
    fn recorded_times_strictly_increase() {
        assert_eq!(next_time(None, 0), 0);
        assert_eq!(next_time(Some(5), 9), 9);
        assert_eq!(next_time(Some(9), 9), 10);
        assert_eq!(next_time(Some(9), 3), 10);
    }

    #[test]
    fn windows_pair_starts_with_stops_of_the_same_fault() {
        let events = vec![
            nemesis(0, "start-partition", "halves [0] [1 2]", 5),
            nemesis(1, "start-kill", "kill [1]", 6),
            nemesis(2, "stop-partition", "", 9),
            nemesis(3, "stop-kill", "", 12),
            nemesis(4, "start-unreliable", "", 20),
        ];
        let w = windows(&events);
        assert_eq!(w.len(), 3);
        assert_eq!(
            (w[0].fault.as_str(), w[0].start, w[0].end),
            ("partition", 5, Some(9))
        );
        assert_eq!(w[0].description, "halves [0] [1 2]");
        assert_eq!((w[1].fault.as_str(), w[1].end), ("kill", Some(12)));
        assert_eq!((w[2].fault.as_str(), w[2].end), ("unreliable", None));
    }
}
