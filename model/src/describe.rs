//! States and actions in words, for counterexamples.

use super::*;

/// A server's log as the terms of its entries, e.g. `1 1 2`.
pub fn log_terms(node: &Node) -> String {
    let terms: Vec<String> = node
        .log()
        .entries()
        .iter()
        .map(|e| e.term.0.to_string())
        .collect();
    terms.join(" ")
}

/// One line per server: role, term, vote, log (as terms), commit index.
pub fn describe_servers(state: &RaftState) -> Vec<String> {
    state
        .actor_states
        .iter()
        .zip(&state.crashed)
        .map(|(server, &crashed)| {
            let node = &server.node;
            let role = match node.role() {
                Role::Follower => "follower",
                Role::Candidate { .. } => "candidate",
                Role::Leader { .. } => "LEADER",
            };
            let snapshot = node.log().snapshot_index();
            format!(
                "{}: {:<9} term {} voted_for {:<4} log [{}{}] commit {}{}",
                node.id(),
                if crashed { "CRASHED" } else { role },
                node.current_term().0,
                node.voted_for().map_or("-".to_string(), |v| v.to_string()),
                if snapshot > LogIndex(0) {
                    format!("snap@{} ", snapshot.0)
                } else {
                    String::new()
                },
                log_terms(node),
                node.commit_index().0,
                server
                    .disk
                    .history
                    .violation()
                    .map_or(String::new(), |v| format!("  ({v})")),
            )
        })
        .collect()
}

/// One line for an action of the model.
pub fn describe_action(action: &stateright::actor::ActorModelAction<Msg, Timer, ()>) -> String {
    use stateright::actor::ActorModelAction as A;
    let name = |id: &Id| node_id(usize::from(*id)).to_string();
    match action {
        A::Deliver { src, dst, msg } => format!(
            "deliver {} -> {}: {}",
            name(src),
            name(dst),
            checked_raft::sim::describe(&msg.0)
        ),
        A::Drop(Envelope { src, dst, msg }) => format!(
            "drop {} -> {}: {}",
            name(src),
            name(dst),
            checked_raft::sim::describe(&msg.0)
        ),
        A::Timeout(id, Timer::Propose(v)) => format!("{} client proposes value {v}", name(id)),
        A::Timeout(id, Timer::Snapshot) => format!("{} application snapshots", name(id)),
        A::Timeout(id, timer) => format!("{} {timer:?} timeout", name(id)),
        A::Crash(id) => format!("{} crashes", name(id)),
        A::Recover(id) => format!("{} restarts from storage", name(id)),
        A::SelectRandom { actor, .. } => format!("{} random choice", name(actor)),
    }
}
