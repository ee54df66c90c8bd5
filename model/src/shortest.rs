//! Shortest counterexamples, whatever their depth.
//!
//! A breadth-first search finds the shortest counterexample first, but it
//! keeps its whole frontier in memory, and Figure 8's counterexample (four
//! elections among three servers) lies deeper than a frontier this machine
//! can hold. A depth-first search reaches it, by a longer path. This module
//! turns that path into a shortest one in two steps:
//!
//! 1. [`shrink`]: replay the counterexample with steps left out, one at a
//!    time, and keep every omission after which the run is still a run of
//!    the model (each step enabled, each state within the bounds) and still
//!    breaks the property. Cheap (a few thousand steps replayed), and it
//!    gives a short counterexample, but not a proof that none is shorter.
//! 2. [`prove_shortest`]: a depth-first branch-and-bound search that visits
//!    every state reachable in fewer steps than the best counterexample
//!    known, and lowers that bound each time it finds a shorter one. When
//!    it finishes, the best counterexample is a shortest one. It remembers
//!    each state with the least depth it was reached at (a fingerprint and
//!    one byte), and explores a state again when it reaches it by a shorter
//!    path: a search that remembers only *whether* it saw a state (as
//!    stateright's depth-bounded search does) can cut off a state near the
//!    bound and then skip the shorter path to it, so its "none within N
//!    steps" would not be a proof. It runs on every checker thread, which
//!    share the remembered depths and the bound and hand each other work;
//!    a state one step short of the bound is checked against the property
//!    but neither remembered nor explored (nothing after it could be
//!    shorter).
//!
//! Both step the model through [`Model::actions`] and [`Model::next_state`],
//! the same steps, reductions and audits as every other search, and identify
//! states up to symmetry as the main search does when it is on.

use crate::RaftState;
use crate::run::Action;
use crate::sleep::{Asleep, Commutation};
use dashmap::DashMap;
use stateright::actor::{ActorModelAction, Id};
use stateright::{Model, Property};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The reductions a [`prove_shortest`] search makes.
#[derive(Clone, Copy, Debug)]
pub struct Reductions {
    /// States equal up to a renaming of the servers are one (the
    /// properties and the model treat servers alike, which every search
    /// checks: [`crate::equivariance`]).
    pub symmetry: bool,
    /// Steps sleep after siblings at other servers they commute with
    /// ([`crate::sleep`]): what the model offers
    /// ([`crate::RaftModel::commutation`]), or none.
    pub sleep_sets: Option<Commutation>,
}

/// The limits of a [`prove_shortest`] search.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Give up after this long.
    pub timeout: Duration,
    /// Give up after generating this many states.
    pub max_states: usize,
}

/// What a [`prove_shortest`] search concluded.
#[derive(Clone, Debug)]
pub struct Shortest {
    /// The shortest counterexample found (the one given, when the search
    /// found none shorter).
    pub actions: Vec<Action>,
    /// Whether the search finished: then no counterexample is shorter.
    pub proven: bool,
    /// States generated.
    pub states: usize,
    /// Distinct states remembered (up to symmetry when it is on).
    pub unique: usize,
    /// How long it took.
    pub elapsed: Duration,
}

/// The `Always` property named `name` of `model`.
pub fn always_property<M: Model>(model: &M, name: &str) -> Option<Property<M>> {
    model
        .properties()
        .into_iter()
        .find(|p| p.name == name && p.expectation == stateright::Expectation::Always)
}

/// Replays `actions` from `init`; the number of steps after which the state
/// first breaks `property`, or `None` when a step is not enabled, a state
/// lies outside the bounds, or no state breaks it.
pub fn replay<M>(
    model: &M,
    property: &Property<M>,
    init: &RaftState,
    actions: &[Action],
) -> Option<usize>
where
    M: Model<State = RaftState, Action = Action>,
{
    let mut state = init.clone();
    if !(property.condition)(model, &state) {
        return Some(0);
    }
    let mut enabled = Vec::new();
    for (i, action) in actions.iter().enumerate() {
        enabled.clear();
        model.actions(&state, &mut enabled);
        let action = enabled.drain(..).find(|a| a == action)?;
        state = model.next_state(&state, action)?;
        if !model.within_boundary(&state) {
            return None;
        }
        if !(property.condition)(model, &state) {
            return Some(i + 1);
        }
    }
    None
}

/// A counterexample no step of which can be left out: `actions` (which must
/// break `property` from `init`) with steps omitted, latest first, for as
/// long as an omission leaves a run that still breaks it, and cut at the
/// first state that breaks it.
pub fn shrink<M>(
    model: &M,
    property: &Property<M>,
    init: &RaftState,
    actions: &[Action],
) -> Vec<Action>
where
    M: Model<State = RaftState, Action = Action>,
{
    let mut best: Vec<Action> = match replay(model, property, init, actions) {
        Some(end) => actions[..end].to_vec(),
        None => return actions.to_vec(),
    };
    loop {
        let before = best.len();
        let mut i = best.len();
        while i > 0 {
            i -= 1;
            let mut candidate = best.clone();
            candidate.remove(i);
            if let Some(end) = replay(model, property, init, &candidate) {
                candidate.truncate(end);
                best = candidate;
                i = i.min(best.len());
            }
        }
        if best.len() == before {
            return best;
        }
    }
}

/// One state on a branch-and-bound search's stack.
struct Frame {
    state: RaftState,
    /// The action that led here (none for the state the search began at).
    action: Option<Action>,
    /// Actions still to try from here.
    actions: Vec<Action>,
    /// The steps asleep here ([`crate::sleep`]): not taken.
    sleep: Vec<Arc<Asleep>>,
    /// The steps tried here so far that may sleep after the later ones.
    done: Vec<Arc<Asleep>>,
}

/// A piece of the search a thread can take: a state reached by `path`
/// (its least depth: every piece is claimed in `seen` at that depth), the
/// actions still to try from it, and the steps asleep there or already
/// tried there that may sleep after them.
struct Piece {
    state: RaftState,
    path: Vec<Action>,
    actions: Vec<Action>,
    sleep: Vec<Arc<Asleep>>,
    done: Vec<Arc<Asleep>>,
}

/// What the search remembers of a state it explored: the least depth it
/// was reached at, and the steps that slept in it at that depth every
/// time it was explored there (by key, up to symmetry): the steps not yet
/// taken from it at that depth.
struct Seen {
    depth: u8,
    sleep: Box<[u64]>,
}

/// What a thread that reached a state does with it ([`Shared::claim`]).
enum Claim {
    /// Nothing: it was explored at this depth or less, with no more
    /// steps asleep than now.
    Skip,
    /// Take every step not asleep now.
    All,
    /// Take only these steps (by key): asleep when it was explored at this
    /// depth, and awake now (Godefroid's rule for sleep sets with a state
    /// cache, 1996, §5.4).
    Only(Vec<u64>),
}

/// What the threads of a [`prove_shortest`] search share.
struct Shared {
    /// Each state's least depth reached so far, and what slept in it
    /// (fingerprint, up to symmetry when it is on -> what was seen).
    seen: DashMap<u64, Seen, ahash::RandomState>,
    /// The length of the best counterexample known: only states that can
    /// extend to a shorter one are explored.
    bound: AtomicUsize,
    /// The best counterexample known.
    best: Mutex<Vec<Action>>,
    /// Pieces no thread has taken yet.
    pieces: Mutex<Vec<Piece>>,
    /// Threads waiting for a piece; when every thread waits, the search is
    /// over.
    idle: AtomicUsize,
    /// States generated.
    states: AtomicUsize,
    /// Set when the budget ran out.
    out_of_budget: AtomicBool,
}

impl Shared {
    /// Records `path` as the best counterexample if it is shorter.
    fn offer(&self, path: Vec<Action>) {
        let mut best = self.best.lock().expect("no thread panics holding it");
        if path.len() < best.len() {
            self.bound.store(path.len(), Ordering::SeqCst);
            *best = path;
        }
    }

    /// Claims the state with fingerprint `key` at `depth` with the steps
    /// keyed `sleep` asleep: what to explore of it. Everything awake when
    /// no path of `depth` steps or fewer reached it before; at the same
    /// depth, the steps that slept then and are awake now (and it
    /// remembers what slept both times); nothing otherwise.
    fn claim(&self, key: u64, depth: usize, sleep: &[u64]) -> Claim {
        let depth = u8::try_from(depth).unwrap_or(u8::MAX);
        let fresh = || Seen {
            depth,
            sleep: sleep.into(),
        };
        match self.seen.entry(key) {
            dashmap::Entry::Vacant(seen) => {
                seen.insert(fresh());
                Claim::All
            }
            dashmap::Entry::Occupied(mut seen) => {
                let was = seen.get_mut();
                if was.depth < depth {
                    return Claim::Skip;
                }
                if was.depth > depth {
                    *was = fresh();
                    return Claim::All;
                }
                let asleep = |k: &u64| sleep.contains(k);
                let woken: Vec<u64> = was.sleep.iter().copied().filter(|k| !asleep(k)).collect();
                if woken.is_empty() {
                    return Claim::Skip;
                }
                was.sleep = was.sleep.iter().copied().filter(asleep).collect();
                Claim::Only(woken)
            }
        }
    }
}

/// How many pieces the search is cut into, per thread, before the threads
/// start: breadth-first levels are expanded until there are this many.
/// Few: the threads hand work to each other as they go, and the more of
/// the search is cut into pieces up front, the more often a state is first
/// reached by a longer path and explored again (Figure 8's proof generates
/// 25.9 M states uncut, 27.6 M cut into 8 pieces, 28.5 M into 64).
const PIECES_PER_THREAD: usize = 4;

/// A shortest counterexample to `property` of `model`: a branch-and-bound
/// depth-first search for one shorter than `known` (a counterexample from
/// the model's initial state, as [`shrink`] returns) over every state
/// reachable in fewer steps, on `threads` threads, within `budget`, with
/// `reductions`. `progress`, when given, is called about once a second
/// while it runs.
///
/// Why it is a proof, with any number of threads: a state is explored
/// (its actions tried) by the thread that claims it, and a thread claims a
/// state reached in `d` steps unless some thread already claimed it at `d`
/// or fewer. So, by induction on depth, every state whose least depth `d`
/// could still extend to a shorter counterexample is explored at depth `d`
/// by some thread, and each of its successors is checked against the
/// property. With sleep sets, a step asleep in a state is not taken, and
/// the state reached by taking it is reached instead by a run of the same
/// length that takes it earlier ([`crate::sleep`]); a state met again at
/// the same depth is explored again for the steps that slept the first
/// time and are awake now (Godefroid's rule), so the induction still
/// holds. Which of several shortest counterexamples is reported can
/// depend on the threads' timing; its length cannot.
pub fn prove_shortest<M>(
    model: &M,
    property: &Property<M>,
    known: Vec<Action>,
    reductions: Reductions,
    budget: Budget,
    threads: usize,
    progress: Option<fn(&crate::run::Progress)>,
) -> Shortest
where
    M: Model<State = RaftState, Action = Action> + Sync,
{
    let started = Instant::now();
    let hasher = ahash::RandomState::with_seeds(1, 2, 3, 4);
    let keys = Keys {
        symmetry: reductions.symmetry,
        commutation: reductions.sleep_sets,
        hasher: &hasher,
    };
    let threads = threads.max(1);
    let shared = Shared {
        seen: DashMap::with_hasher(ahash::RandomState::with_seeds(5, 6, 7, 8)),
        bound: AtomicUsize::new(known.len()),
        best: Mutex::new(known),
        pieces: Mutex::new(Vec::new()),
        idle: AtomicUsize::new(0),
        states: AtomicUsize::new(0),
        out_of_budget: AtomicBool::new(false),
    };
    // Breadth-first, level by level, until there are pieces enough for the
    // threads (every state here is claimed at its least depth).
    let mut level: Vec<(RaftState, Vec<Action>)> = Vec::new();
    for init in model.init_states() {
        if !(property.condition)(model, &init) {
            shared.offer(Vec::new());
        }
        if !matches!(shared.claim(keys.state(&init), 0, &[]), Claim::Skip) {
            level.push((init, Vec::new()));
        }
    }
    let mut depth = 0;
    while !level.is_empty()
        && level.len() < PIECES_PER_THREAD * threads
        && depth + 1 < shared.bound.load(Ordering::SeqCst)
    {
        let mut next_level = Vec::new();
        for (state, path) in &level {
            let mut actions = Vec::new();
            model.actions(state, &mut actions);
            for action in actions {
                let Some(next) = model.next_state(state, action.clone()) else {
                    continue;
                };
                if !model.within_boundary(&next) {
                    continue;
                }
                shared.states.fetch_add(1, Ordering::Relaxed);
                let mut next_path = path.clone();
                next_path.push(action);
                if !(property.condition)(model, &next) {
                    shared.offer(next_path);
                } else if !matches!(shared.claim(keys.state(&next), depth + 1, &[]), Claim::Skip) {
                    next_level.push((next, next_path));
                }
            }
        }
        level = next_level;
        depth += 1;
    }
    *shared.pieces.lock().expect("not yet shared") = level
        .into_iter()
        .map(|(state, path)| {
            let mut actions = Vec::new();
            model.actions(&state, &mut actions);
            Piece {
                state,
                path,
                actions,
                sleep: Vec::new(),
                done: Vec::new(),
            }
        })
        .collect();
    let finished = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                work(model, property, &shared, &keys, threads, started, budget);
                finished.fetch_add(1, Ordering::SeqCst);
            });
        }
        let mut reported = Instant::now();
        while finished.load(Ordering::SeqCst) < threads {
            std::thread::sleep(Duration::from_millis(20));
            if let Some(report) = progress.filter(|_| reported.elapsed() >= Duration::from_secs(1))
            {
                reported = Instant::now();
                report(&crate::run::Progress {
                    states: shared.states.load(Ordering::Relaxed),
                    unique: shared.seen.len(),
                    depth: shared.bound.load(Ordering::Relaxed).saturating_sub(1),
                    elapsed: started.elapsed(),
                    shortest: true,
                });
            }
        }
    });
    let best = shared.best.into_inner().expect("no thread panicked");
    Shortest {
        actions: best,
        proven: !shared.out_of_budget.load(Ordering::SeqCst),
        states: shared.states.load(Ordering::SeqCst),
        unique: shared.seen.len(),
        elapsed: started.elapsed(),
    }
}

/// How the search names states and steps in its records.
struct Keys<'a> {
    symmetry: bool,
    /// Which steps commute, with sleep sets.
    commutation: Option<Commutation>,
    hasher: &'a ahash::RandomState,
}

/// A state's key, with the renaming to its representative under symmetry.
struct Named {
    key: u64,
    plan: Option<crate::symmetry::Plan>,
}

impl Keys<'_> {
    /// A state's fingerprint, up to symmetry when it is on, and the
    /// renaming that gives it (computed once for the state and its steps).
    fn name(&self, state: &RaftState) -> Named {
        if self.symmetry {
            let (representative, plan) = crate::symmetry::canonical_with_plan(state);
            Named {
                key: self.hasher.hash_one(representative),
                plan: Some(plan),
            }
        } else {
            Named {
                key: self.hasher.hash_one(state),
                plan: None,
            }
        }
    }

    /// A state's fingerprint, up to symmetry when it is on.
    fn state(&self, state: &RaftState) -> u64 {
        self.name(state).key
    }

    /// The keys of `actions` taken from the state `named` names: with
    /// symmetry, each renamed as the state is renamed to its
    /// representative, so that a step and its image in a renamed state
    /// have one key.
    fn actions<'s>(&self, named: &Named, actions: impl Iterator<Item = &'s Action>) -> Vec<u64> {
        match &named.plan {
            None => actions
                .map(|a| action_key(self.hasher, a, |id| id))
                .collect(),
            Some(plan) => actions
                .map(|a| action_key(self.hasher, a, |id| plan.rewrite(&id)))
                .collect(),
        }
    }
}

/// The key of `action` with its servers renamed by `rename` (messages
/// carry no server ids: [`crate::Msg`]'s renaming leaves them alone).
fn action_key(hasher: &ahash::RandomState, action: &Action, rename: impl Fn(Id) -> Id) -> u64 {
    match action {
        ActorModelAction::Deliver { src, dst, msg } => {
            hasher.hash_one((0u8, rename(*src), rename(*dst), msg))
        }
        ActorModelAction::Timeout(id, timer) => hasher.hash_one((1u8, rename(*id), timer)),
        ActorModelAction::Crash(id) => hasher.hash_one((2u8, rename(*id))),
        ActorModelAction::Recover(id) => hasher.hash_one((3u8, rename(*id))),
        ActorModelAction::Drop(envelope) => hasher.hash_one((
            4u8,
            rename(envelope.src),
            rename(envelope.dst),
            &envelope.msg,
        )),
        ActorModelAction::SelectRandom { actor, key, .. } => {
            hasher.hash_one((5u8, rename(*actor), key))
        }
    }
}

/// One thread of [`prove_shortest`]: takes pieces and searches each
/// depth-first, handing half of its shallowest unexplored actions back
/// when another thread has nothing to do, until no piece is left and every
/// thread is idle, or the budget runs out.
fn work<M>(
    model: &M,
    property: &Property<M>,
    shared: &Shared,
    keys: &Keys,
    threads: usize,
    started: Instant,
    budget: Budget,
) where
    M: Model<State = RaftState, Action = Action>,
{
    let mut stack: Vec<Frame> = Vec::new();
    // States generated since they were last added to the shared count.
    let mut uncounted = 0usize;
    'pieces: loop {
        let piece = shared
            .pieces
            .lock()
            .expect("no thread panics holding it")
            .pop();
        let Some(piece) = piece else {
            // Nothing to take: wait until another thread hands a piece
            // back, or every thread is idle (then none ever will).
            shared.idle.fetch_add(1, Ordering::SeqCst);
            loop {
                if shared.out_of_budget.load(Ordering::SeqCst)
                    || shared.idle.load(Ordering::SeqCst) == threads
                {
                    break 'pieces;
                }
                if !shared
                    .pieces
                    .lock()
                    .expect("no thread panics holding it")
                    .is_empty()
                {
                    shared.idle.fetch_sub(1, Ordering::SeqCst);
                    break;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            continue;
        };
        let prefix = piece.path;
        stack.push(Frame {
            state: piece.state,
            action: None,
            actions: piece.actions,
            sleep: piece.sleep,
            done: piece.done,
        });
        while !stack.is_empty() {
            // Explore only what could lead to a shorter counterexample: a
            // state at depth d can extend to one of d + 1 steps, which must
            // be shorter than the best.
            let depth = prefix.len() + stack.len() - 1;
            let bound = shared.bound.load(Ordering::Relaxed);
            let frame = stack.last_mut().expect("not empty");
            if depth + 1 >= bound {
                stack.pop();
                continue;
            }
            let Some(action) = frame.actions.pop() else {
                stack.pop();
                continue;
            };
            let Some(next) = model.next_state(&frame.state, action.clone()) else {
                continue;
            };
            if !model.within_boundary(&next) {
                continue;
            }
            uncounted += 1;
            if uncounted == 1024 {
                uncounted = 0;
                let states = shared.states.fetch_add(1024, Ordering::Relaxed) + 1024;
                if states >= budget.max_states || started.elapsed() >= budget.timeout {
                    shared.out_of_budget.store(true, Ordering::SeqCst);
                }
                if shared.out_of_budget.load(Ordering::SeqCst) {
                    break 'pieces;
                }
                if shared.idle.load(Ordering::SeqCst) > 0 {
                    hand_back(&mut stack, &prefix, shared);
                }
            }
            let next_depth = depth + 1;
            let path = || {
                prefix
                    .iter()
                    .cloned()
                    .chain(stack.iter().filter_map(|f| f.action.clone()))
                    .chain(std::iter::once(action.clone()))
                    .collect::<Vec<_>>()
            };
            if !(property.condition)(model, &next) {
                // Shorter than the best (the bound above): the new best.
                shared.offer(path());
                continue;
            }
            // Whatever happens to `next` below, the step was taken here (or
            // needs no taking: nothing after it could be shorter), so it
            // may sleep after its later siblings.
            let frame = stack.last_mut().expect("not empty");
            let asleep = keys
                .commutation
                .and_then(|c| c.asleep(&action, &frame.state, &next));
            // A state that cannot extend to a shorter counterexample needs
            // neither remembering nor exploring.
            if next_depth + 1 >= bound {
                frame.done.extend(asleep);
                continue;
            }
            let sleep = match keys.commutation {
                Some(c) => c.carry(
                    frame.sleep.iter().chain(&frame.done).cloned(),
                    &action,
                    &frame.state,
                    &next,
                ),
                None => Vec::new(),
            };
            frame.done.extend(asleep);
            let mut actions = Vec::new();
            let named = keys.name(&next);
            let sleep_keys = if sleep.is_empty() {
                Vec::new()
            } else {
                keys.actions(&named, sleep.iter().map(|t| &t.action))
            };
            match shared.claim(named.key, next_depth, &sleep_keys) {
                Claim::Skip => continue,
                Claim::All => {
                    model.actions(&next, &mut actions);
                    actions.retain(|a| !sleep.iter().any(|t| t.action == *a));
                }
                Claim::Only(woken) => {
                    model.actions(&next, &mut actions);
                    let keyed = keys.actions(&named, actions.iter());
                    let mut keyed = keyed.into_iter();
                    actions.retain(|_| woken.contains(&keyed.next().expect("one key per action")));
                }
            }
            stack.push(Frame {
                state: next,
                action: Some(action),
                actions,
                sleep,
                done: Vec::new(),
            });
        }
    }
    // The states generated since the last count.
    shared.states.fetch_add(uncounted, Ordering::Relaxed);
}

/// Hands half of the actions still to try at the shallowest state of
/// `stack` that has two or more back to the shared pieces.
fn hand_back(stack: &mut [Frame], prefix: &[Action], shared: &Shared) {
    let mut path = prefix.to_vec();
    for frame in stack.iter_mut() {
        if let Some(action) = &frame.action {
            path.push(action.clone());
        }
        if frame.actions.len() >= 2 {
            let half = frame.actions.len() / 2;
            let actions = frame.actions.split_off(half);
            shared
                .pieces
                .lock()
                .expect("no thread panics holding it")
                .push(Piece {
                    state: frame.state.clone(),
                    path,
                    actions,
                    sleep: frame.sleep.clone(),
                    done: frame.done.clone(),
                });
            return;
        }
    }
}
