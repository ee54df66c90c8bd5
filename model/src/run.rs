//! Running an exhaustive check of the model and collecting its verdicts.

use crate::{Bounds, Msg, PROPERTIES, RaftState, Timer, model};
use stateright::actor::ActorModelAction;
use stateright::{Checker, Expectation, HasDiscoveries, Model, Path};
use std::time::{Duration, Instant};

/// How to search.
#[derive(Clone, Debug)]
pub struct Options {
    /// Identify states equal up to a permutation of server ids.
    pub symmetry: bool,
    /// Take messages the core calls stale off the network after every step
    /// ([`crate::RaftModel`] explains why this loses no behaviour).
    pub discard_stale: bool,
    /// Replace a crashed server's volatile state by what it will restart
    /// with ([`crate::RaftModel`], reduction 2).
    pub forget_crashed_state: bool,
    /// Leave out the drop steps of a lossy duplicating network, which reach
    /// no server state the network without them does not
    /// ([`crate::RaftModel`], reduction 3).
    pub subsume_drops: bool,
    /// On a duplicating network, leave out each state whose messages in
    /// flight are a subset of those of a state met before with the same
    /// servers ([`crate::subsume`], reduction 4). Used only by a search
    /// that explores every state it keeps (not one cut at a depth).
    pub subsume_networks: bool,
    /// On an unordered network, search the duplicating network, which has
    /// every run of the unordered one, and replay what it finds on the
    /// unordered network ([`crate::route`]); the unordered network itself
    /// is searched when a discovery does not replay. When the route
    /// applies ([`crate::route::applies`]).
    pub duplicating_route: bool,
    /// Check, wherever a reduction uses it, each claim it makes about the
    /// core ([`crate::audit`]). Off only to measure what the checks cost.
    pub audit: bool,
    /// Let steps sleep in the search for a shortest counterexample
    /// ([`crate::sleep`]), when the model offers it.
    pub sleep_sets: bool,
    /// Checker threads.
    pub threads: usize,
    /// Stop exploring past this depth (the search is then incomplete).
    pub max_depth: Option<usize>,
    /// Stop after this long (the search is then incomplete).
    pub timeout: Option<Duration>,
    /// Stop after generating about this many states (the search is then
    /// incomplete).
    pub max_states: Option<usize>,
    /// Stop as soon as one of these properties has a discovery; by default
    /// at the first counterexample.
    pub stop_at: Option<&'static str>,
    /// Called about once a second while the search runs.
    pub progress: Option<fn(&Progress)>,
    /// The limits of the search for a shortest counterexample
    /// ([`crate::shortest::prove_shortest`]).
    pub shortest: crate::shortest::Budget,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            symmetry: true,
            discard_stale: true,
            forget_crashed_state: true,
            subsume_drops: true,
            subsume_networks: true,
            duplicating_route: true,
            audit: true,
            sleep_sets: true,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_depth: None,
            timeout: None,
            max_states: None,
            stop_at: None,
            progress: None,
            shortest: crate::shortest::Budget {
                timeout: SHORTEST_SEARCH_TIME,
                max_states: SHORTEST_SEARCH_STATES,
            },
        }
    }
}

/// Counts while the search runs.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// States generated.
    pub states: usize,
    /// Distinct states.
    pub unique: usize,
    /// Deepest state reached (in the search for a shortest
    /// counterexample: the depth it searches to).
    pub depth: usize,
    /// Time since the start (of this search).
    pub elapsed: Duration,
    /// Whether this is the search for a shortest counterexample
    /// ([`crate::shortest::prove_shortest`]) rather than the main one.
    pub shortest: bool,
}

/// A step of the model.
pub type Action = ActorModelAction<Msg, Timer, ()>;

/// What the search concluded about one property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// An `Always` property with no counterexample in a complete search.
    Holds,
    /// An `Always` property with a counterexample.
    Violated,
    /// A `Sometimes` property with an example.
    Found,
    /// A `Sometimes` property with no example in a complete search.
    NotFound,
    /// No discovery, but the search was incomplete.
    Unknown,
}

impl Verdict {
    /// The verdict as printed.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Violated => "violated",
            Verdict::Found => "found",
            Verdict::NotFound => "not found",
            Verdict::Unknown => "unknown",
        }
    }
}

/// One property's outcome.
#[derive(Clone, Debug)]
pub struct PropertyOutcome {
    /// The property's name.
    pub name: &'static str,
    /// What it expects.
    pub expectation: Expectation,
    /// What the search concluded.
    pub verdict: Verdict,
    /// The counterexample or example found, if any.
    pub path: Option<Path<RaftState, Action>>,
    /// Whether `path` is known to be a shortest one ([`crate::shortest`]).
    pub shortest: bool,
    /// What broke the property, in words, when no path shows it (a breach
    /// found by the audit after the search, [`crate::ledger`]).
    pub detail: Option<String>,
}

/// The result of a search.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The bounds searched.
    pub bounds: Bounds,
    /// Whether symmetry reduction was on.
    pub symmetry: bool,
    /// Whether stale messages were discarded.
    pub discard_stale: bool,
    /// Whether crashed servers' volatile state was forgotten.
    pub forget_crashed_state: bool,
    /// Whether a lossy duplicating network's drops were left out.
    pub subsume_drops: bool,
    /// How many of the states generated reduction 4 left out
    /// ([`crate::subsume`]), when the search used it: each covered by a
    /// state kept (among them, every state met again).
    pub subsumed: Option<u64>,
    /// The duplicating network's search, when `check` took that route to
    /// an unordered network's verdicts ([`crate::route`]).
    pub route: Option<crate::route::Route>,
    /// Whether the reductions' claims about the core were checked.
    pub audit: bool,
    /// What the audit's ledger held at the end ([`crate::ledger`]).
    pub ledger: crate::ledger::LedgerSize,
    /// How long the audit after the search took (part of `elapsed`).
    pub audit_time: Duration,
    /// States generated.
    pub states: usize,
    /// Distinct states (up to symmetry when it is on).
    pub unique: usize,
    /// Deepest state reached.
    pub max_depth: usize,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// Whether every reachable state within the bounds was explored.
    pub complete: bool,
    /// One outcome per property, in [`PROPERTIES`] order.
    pub properties: Vec<PropertyOutcome>,
    /// The search for a shortest counterexample, when one ran.
    pub shortest_search: Option<ShortestSearch>,
}

/// What the search for a shortest counterexample did
/// ([`crate::shortest`]).
#[derive(Clone, Copy, Debug)]
pub struct ShortestSearch {
    /// States generated.
    pub states: usize,
    /// Distinct states.
    pub unique: usize,
    /// How long it took.
    pub elapsed: Duration,
    /// Whether it finished, and the audit after it found no breach, so
    /// that no counterexample is shorter.
    pub proven: bool,
    /// Whether the audit after it found a breach of a reduction's claim
    /// (the search rests on them).
    pub breach: bool,
    /// Whether steps slept in it ([`crate::sleep`]).
    pub sleep_sets: bool,
    /// Steps of the counterexample it ended with.
    pub steps: usize,
}

impl Outcome {
    /// Whether an `Always` property is violated or a `Sometimes` one was
    /// never found in a complete search.
    pub fn failed(&self) -> bool {
        self.properties
            .iter()
            .any(|p| matches!(p.verdict, Verdict::Violated | Verdict::NotFound))
    }

    /// The outcome of the property named `name`.
    pub fn property(&self, name: &str) -> Option<&PropertyOutcome> {
        self.properties.iter().find(|p| p.name == name)
    }
}

/// Explores every state within `bounds` (depth-first, which keeps only
/// fingerprints and the current path in memory; on an unordered network,
/// by the duplicating route of [`crate::route`] when it applies). If an `Always` property is
/// violated (the `stop_at` one, when given) by a path not known to be a
/// shortest, makes it one ([`crate::shortest`]): steps are left out of it
/// while it still breaks the property, then a branch-and-bound search over
/// every state reachable in fewer steps proves that none is shorter or
/// finds one that is. That search gives up past [`SHORTEST_SEARCH_STATES`]
/// states or [`SHORTEST_SEARCH_TIME`] (by default: [`Options::shortest`]); the counterexample is then the
/// shortest it found, marked as not necessarily the shortest.
pub fn check(bounds: &Bounds, options: &Options) -> Outcome {
    let mut outcome = match options.stop_at {
        None if crate::route::applies(bounds, options) => crate::route::check(bounds, options),
        None => search(bounds, options, Strategy::DepthFirst),
        Some(_) => hunt(bounds, options),
    };
    let violated = options
        .stop_at
        .into_iter()
        .chain(outcome.properties.iter().map(|p| p.name))
        .find(|name| {
            outcome
                .property(name)
                .is_some_and(|p| p.verdict == Verdict::Violated)
        });
    let Some(name) = violated else {
        return outcome;
    };
    if outcome
        .property(name)
        .is_some_and(|p| p.shortest || p.path.is_none())
    {
        // Already a shortest path, or a breach the audit found after the
        // search, which no path shows.
        return outcome;
    }
    let Some(ours) = outcome.properties.iter_mut().find(|p| p.name == name) else {
        return outcome;
    };
    let Some(path) = ours.path.clone() else {
        return outcome;
    };
    let model = build_model(bounds, options);
    let Some(property) = crate::shortest::always_property(&model, name) else {
        return outcome;
    };
    let steps = path.into_vec();
    let init = steps[0].0.clone();
    let actions: Vec<Action> = steps.iter().filter_map(|(_, a)| a.clone()).collect();
    let shrunk = crate::shortest::shrink(&model, &property, &init, &actions);
    let commutation = model.commutation().filter(|_| options.sleep_sets);
    let shortest = crate::shortest::prove_shortest(
        &model,
        &property,
        shrunk,
        crate::shortest::Reductions {
            symmetry: options.symmetry,
            sleep_sets: commutation,
        },
        options.shortest,
        options.threads,
        options.progress,
    );
    // The search may have found one from another initial state.
    let rebuilt = model
        .init_states()
        .into_iter()
        .find_map(|init| Path::from_actions(&model, init, &shortest.actions));
    // The proof's steps rest on the reductions' claims (and sleep sets on
    // the stale-message one): the audit after it checks the steps it took.
    let breaches = model.final_audit();
    let breach = !breaches.is_empty();
    let proven = shortest.proven && !breach;
    if let Some(path) = rebuilt {
        ours.path = Some(path);
        ours.shortest = proven;
    }
    record_breaches(&mut outcome.properties, breaches);
    outcome.shortest_search = Some(ShortestSearch {
        states: shortest.states,
        unique: shortest.unique,
        elapsed: shortest.elapsed,
        proven,
        breach,
        sleep_sets: commutation.is_some(),
        steps: shortest.actions.len(),
    });
    outcome
}

/// Looks for a violation of the one property `name` (a catalogue bug):
/// breadth-first first, which finds shallow counterexamples soonest and
/// shallowest, up to [`BREADTH_FIRST_STATES`] states (its frontier lives in
/// memory); then, if that found nothing, depth-first for the rest of the
/// time, which reaches deep counterexamples (Figure 8's four elections)
/// that the breadth-first frontier cannot hold.
fn hunt(bounds: &Bounds, options: &Options) -> Outcome {
    let started = Instant::now();
    let breadth_first = search(
        bounds,
        &Options {
            max_states: Some(BREADTH_FIRST_STATES),
            ..options.clone()
        },
        Strategy::BreadthFirst,
    );
    let name = options.stop_at.unwrap_or_default();
    let found = breadth_first
        .property(name)
        .is_some_and(|p| p.verdict == Verdict::Violated);
    let remaining = options.timeout.map(|t| t.saturating_sub(started.elapsed()));
    if found || breadth_first.complete || remaining.is_some_and(|r| r.is_zero()) {
        return breadth_first;
    }
    let mut depth_first = search(
        bounds,
        &Options {
            timeout: remaining,
            ..options.clone()
        },
        Strategy::DepthFirst,
    );
    depth_first.elapsed = started.elapsed();
    depth_first
}

/// How many states the breadth-first search of a bug hunt may generate
/// before it goes on depth-first. Every path the hunt finds is made a
/// shortest one afterwards, so the breadth-first part only has to catch
/// the shallow bugs, whose proof is cheapest from a shallow path (all but
/// two of the catalogue fall to it within 0.8 M states, or to the audit
/// after it); its frontier lives in memory (0.7 GB at this count on
/// Figure 8's bounds, 2.5 GB at the 4 M it was before).
pub const BREADTH_FIRST_STATES: usize = 1_000_000;

/// How many states the search for a shortest counterexample
/// ([`crate::shortest::prove_shortest`]) may generate by default before it
/// gives up. It keeps a fingerprint and a depth per distinct state (about
/// 30 bytes; Figure 8's proof generates 27 M states, 5.0 M distinct).
pub const SHORTEST_SEARCH_STATES: usize = 200_000_000;

/// How long the search for a shortest counterexample may take by default.
pub const SHORTEST_SEARCH_TIME: Duration = Duration::from_secs(300);

/// The order in which states are explored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Little memory; counterexamples are not the shortest.
    DepthFirst,
    /// Shallow counterexamples first (within a level of the shortest);
    /// keeps the whole frontier in memory.
    BreadthFirst,
}

/// The model for `bounds` with the reductions `options` turn on.
pub fn build_model(bounds: &Bounds, options: &Options) -> crate::RaftModel {
    let mut model = model(bounds.clone());
    if !options.discard_stale {
        model = model.keeping_stale();
    }
    if !options.forget_crashed_state {
        model = model.keeping_crashed_state();
    }
    if !options.subsume_drops {
        model = model.with_explicit_drops();
    }
    if !options.audit {
        model = model.unaudited();
    }
    if !options.symmetry {
        model = model.without_symmetry();
    }
    model
}

/// One search of the model, without the second, shortest-path search.
pub fn search(bounds: &Bounds, options: &Options, strategy: Strategy) -> Outcome {
    search_until(bounds, options, strategy, &[])
}

/// [`search`], stopping once each of the `Sometimes` properties `until`
/// has an example, when it names any (the duplicating route's search for
/// examples on the unordered network, [`crate::route`]).
pub(crate) fn search_until(
    bounds: &Bounds,
    options: &Options,
    strategy: Strategy,
    until: &[&'static str],
) -> Outcome {
    let started = Instant::now();
    let mut model = build_model(bounds, options);
    // Reduction 4 needs every state kept to be explored: not past a depth.
    let subsuming = options.subsume_networks
        && options.max_depth.is_none()
        && bounds.network == crate::NetworkKind::Duplicating;
    if subsuming {
        model = model.subsuming_networks(options.symmetry);
    }
    let mut builder =
        model
            .checker()
            .threads(options.threads.max(1))
            .finish_when(match options.stop_at {
                _ if !until.is_empty() => HasDiscoveries::AllOf(until.iter().copied().collect()),
                Some(name) => HasDiscoveries::AnyOf([name].into_iter().collect()),
                None => HasDiscoveries::AnyFailures,
            });
    // Reduction 4 already looks states up under their canonical names.
    if options.symmetry && !subsuming {
        builder = builder.symmetry_fn(crate::symmetry::canonical);
    }
    if let Some(depth) = options.max_depth {
        builder = builder.target_max_depth(depth);
    }
    if let Some(timeout) = options.timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(states) = options.max_states {
        builder = builder.target_state_count(states);
    }
    match strategy {
        Strategy::DepthFirst => collect(builder.spawn_dfs(), bounds, options, started, until),
        Strategy::BreadthFirst => collect(builder.spawn_bfs(), bounds, options, started, until),
    }
}

/// The states the search generated within the bounds: with reduction 4,
/// also those it left out, which the checker never sees.
fn generated(checker: &impl Checker<crate::RaftModel>) -> usize {
    let left_out = checker.model().networks_left_out().unwrap_or(0);
    checker.state_count() + usize::try_from(left_out).unwrap_or(usize::MAX)
}

fn collect(
    checker: impl Checker<crate::RaftModel>,
    bounds: &Bounds,
    options: &Options,
    started: Instant,
    until: &[&'static str],
) -> Outcome {
    let mut reported = Instant::now();
    while !checker.is_done() {
        if let Some(report) = options
            .progress
            .filter(|_| reported.elapsed() >= Duration::from_secs(1))
        {
            reported = Instant::now();
            report(&Progress {
                states: generated(&checker),
                unique: checker.unique_state_count(),
                depth: checker.max_depth(),
                elapsed: started.elapsed(),
                shortest: false,
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let checker = checker.join();
    let elapsed = started.elapsed();
    let mut discoveries = checker.discoveries();
    let depth_cut = options.max_depth.is_some_and(|d| checker.max_depth() >= d);
    let timed_out = options.timeout.is_some_and(|t| elapsed >= t)
        || options
            .max_states
            .is_some_and(|n| checker.state_count() >= n);
    let stopped_early = match options.stop_at {
        _ if !until.is_empty() => until.iter().all(|name| discoveries.contains_key(name)),
        Some(name) => discoveries.contains_key(name),
        None => PROPERTIES
            .iter()
            .any(|(e, n)| *e == Expectation::Always && discoveries.contains_key(n)),
    };
    let complete = !depth_cut && !timed_out && !stopped_early;
    let model = checker.model();
    let conditions = model.properties();
    let properties = PROPERTIES
        .iter()
        .map(|(expectation, name)| {
            let path = discoveries.remove(name).map(|path| {
                match conditions.iter().find(|p| p.name == *name) {
                    Some(property) if *expectation == Expectation::Always => {
                        first_violation(model, property, path)
                    }
                    _ => path,
                }
            });
            let verdict = match (expectation, path.is_some(), complete) {
                (Expectation::Sometimes, true, _) => Verdict::Found,
                (_, true, _) => Verdict::Violated,
                (_, false, false) => Verdict::Unknown,
                (Expectation::Sometimes, false, true) => Verdict::NotFound,
                (_, false, true) => Verdict::Holds,
            };
            PropertyOutcome {
                name,
                expectation: expectation.clone(),
                verdict,
                path,
                // Not even breadth-first: stateright keeps the last
                // violating state it visits before it stops, which can lie
                // a level deeper. `check` proves a shortest one.
                shortest: false,
                detail: None,
            }
        })
        .collect();
    let audit_started = Instant::now();
    let mut properties: Vec<PropertyOutcome> = properties;
    record_breaches(&mut properties, model.final_audit());
    let ledger = model.ledger_size();
    let audit_time = audit_started.elapsed();
    let elapsed = started.elapsed();
    Outcome {
        bounds: bounds.clone(),
        symmetry: options.symmetry,
        discard_stale: options.discard_stale,
        forget_crashed_state: options.forget_crashed_state,
        subsume_drops: options.subsume_drops,
        subsumed: model.networks_left_out(),
        route: None,
        audit: options.audit,
        ledger,
        audit_time,
        states: generated(&checker),
        unique: checker.unique_state_count(),
        max_depth: checker.max_depth(),
        elapsed,
        complete,
        properties,
        shortest_search: None,
    }
}

/// Marks the property each of `breaches` (found by the audit after a
/// search) breaks as violated, with the breach as its detail, unless a
/// counterexample already shows it violated.
fn record_breaches(properties: &mut [PropertyOutcome], breaches: Vec<crate::audit::Breach>) {
    for breach in breaches {
        if let Some(p) = properties
            .iter_mut()
            .find(|p| p.name == breach.claim.property())
            && p.verdict != Verdict::Violated
        {
            p.verdict = Verdict::Violated;
            p.detail = Some(breach.detail);
        }
    }
}

/// The prefix of `path` that ends at its first state violating the `Always`
/// property `property`. stateright records the last violating state it
/// visits, and a violation recorded in a ghost history (a server's, or the
/// model's audit) stays in every later state, so the path it keeps may run
/// past the step that broke the property.
fn first_violation(
    model: &crate::RaftModel,
    property: &stateright::Property<crate::RaftModel>,
    path: Path<RaftState, Action>,
) -> Path<RaftState, Action> {
    let steps = path.clone().into_vec();
    let Some(end) = steps
        .iter()
        .position(|(state, _)| !(property.condition)(model, state))
    else {
        return path;
    };
    let actions: Vec<Action> = steps[..end].iter().filter_map(|(_, a)| a.clone()).collect();
    Path::from_actions(model, steps[0].0.clone(), &actions).unwrap_or(path)
}
