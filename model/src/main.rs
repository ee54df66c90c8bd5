//! # `check`: the exhaustive model checker of the Raft core
//!
//! Explores every state of [`raft_model::model`] within the [`Bounds`] given
//! on the command line and reports, for each property of Figure 3 (and each
//! `Sometimes` sanity property), whether it holds, with a counterexample of
//! every violated one: for the first (or the `--bug`'s), a shortest one,
//! proven by a branch-and-bound search ([`raft_model::shortest`]).
//!
//! ```text
//! cargo run --release --bin check                       # every scenario, exhaustive (~30 s)
//! cargo run --release --bin check -- --scenario faults  # one of them
//! cargo run --release --bin check -- --max-term 1 --max-log 1
//! cargo run --release --bin check -- --crashes 1 --network ordered --lossy
//! cargo run --release --bin check -- --snapshots --values 2 --max-log 3 --timeout 600
//! cargo run --release --bin check -- --max-depth 12     # bounded depth: incomplete (exit 3)
//! cargo run --release --bin check -- --json > result.json
//! cargo run --release --bin check -- --list-bugs
//! cargo run --release --features bug-catalogue --bin check -- --bug two-votes-per-term
//! cargo run --release --bin check -- explore --addr 127.0.0.1:3000 --servers 2
//! ```
//!
//! Without any bound on the command line, `check` runs the scenarios of
//! [`raft_model::scenarios`] one after another (between them they exercise
//! every property) and ends with every property's verdict over all of them;
//! any bound (or `--bug`) runs that one configuration instead, over
//! [`Bounds::default`] for the bounds not given.
//!
//! Progress goes to stderr about once a second on a terminal (at most every
//! five seconds otherwise); results go to stdout, as text or, with `--json`,
//! as exactly one JSON object.
//!
//! Exit status: 0 every property holds and the search completed; 1 a property
//! is violated, or a `Sometimes` property was never reached in a complete
//! search (one the bounds put out of reach, such as a restart with
//! `--crashes 0`, is reported but not counted); 2 bad arguments; 3 the search was incomplete (depth or time
//! limit) without any violation. With `--bug NAME`: 1 when the violation the
//! bug causes was found, 3 when it was not.

#![deny(missing_docs)]

mod report;

use checked_raft::bugs::Bug;
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use raft_model::run::{Options, check};
use raft_model::scenarios::Scenario;
use raft_model::{Bounds, NetworkKind};
use stateright::Model as _;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::time::Duration;

/// Exit status: every property holds and the search completed.
const EXIT_OK: u8 = 0;
/// Exit status: a property is violated (or a `Sometimes` one never reached in
/// a complete search); with `--bug`, the expected violation was found.
const EXIT_VIOLATION: u8 = 1;
// Exit status 2, bad arguments, is clap's own for every usage error.
/// Exit status: the search was incomplete and found no violation.
const EXIT_INCOMPLETE: u8 = 3;

/// Exhaustively model-check the Raft core (stateright) against the
/// properties of Figure 3 of the Raft paper.
#[derive(Debug, Parser)]
#[command(
    name = "check",
    version,
    after_help = "Without any bound (or --bug), check runs every scenario of its default run \
                  (replication, elections, faults, two-servers; 30-40 s on two cores); with \
                  some, it checks that one configuration, the bounds not given taking the \
                  defaults shown.\n\n\
                  Exit status: 0 all properties hold and the search completed; 1 a property is \
                  violated, or a Sometimes property within reach of the bounds is never reached in a \
                  complete search; \
                  2 bad arguments; 3 search incomplete without a violation. With --bug NAME: \
                  1 the expected violation was found, 3 it was not."
)]
struct Cli {
    /// What to do instead of a full check.
    #[command(subcommand)]
    command: Option<Command>,
    /// The model's bounds and the checker's threads.
    #[command(flatten)]
    model: ModelArgs,
    /// Stop exploring past this depth (the search is then incomplete).
    #[arg(long, value_name = "D", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_depth: Option<usize>,
    /// Stop after this many seconds (the search is then incomplete).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    timeout: Option<u64>,
    /// Print exactly one JSON object on stdout instead of the text report.
    #[arg(long)]
    json: bool,
    /// List the bugs of the catalogue (name, property it breaks, what it
    /// does) and exit.
    #[arg(long)]
    list_bugs: bool,
    /// Run only this scenario of the default run (replication, elections,
    /// faults, two-servers), with `--bug` in a bug-catalogue build; without
    /// it and without any bound or bug, `check` runs them all.
    #[arg(long, value_name = "NAME")]
    scenario: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve stateright's Explorer (a web UI to walk the model's states by
    /// hand) on a loopback address; runs until interrupted.
    Explore {
        /// The address to listen on (loopback only).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:3000")]
        addr: SocketAddr,
    },
}

/// The bounds of the model and how the checker runs: shared by the check and
/// `explore`, and accepted before or after the subcommand.
#[derive(Debug, Args)]
struct ModelArgs {
    /// Servers in the cluster.
    #[arg(long, global = true, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=7))]
    servers: Option<usize>,
    /// No server's term exceeds T.
    #[arg(long, global = true, value_name = "T", value_parser = clap::value_parser!(u64).range(0..=16))]
    max_term: Option<u64>,
    /// Distinct client values that may be proposed.
    #[arg(long, global = true, value_name = "V", value_parser = clap::value_parser!(u8).range(0..=8))]
    values: Option<u8>,
    /// No server's log grows past index L.
    #[arg(long, global = true, value_name = "L", value_parser = clap::value_parser!(u64).range(0..=16))]
    max_log: Option<u64>,
    /// At most C servers down at once; each may crash and restart from its
    /// storage any number of times.
    #[arg(long, global = true, value_name = "C", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=7))]
    crashes: Option<usize>,
    /// Network semantics.
    #[arg(long, global = true, value_enum, value_name = "KIND")]
    network: Option<NetworkArg>,
    /// The network may also drop any message.
    #[arg(long, global = true)]
    lossy: bool,
    /// Applications snapshot; leaders send InstallSnapshot.
    #[arg(long, global = true)]
    snapshots: bool,
    /// A server's writes complete in a step of their own, as on a disk: a
    /// leader's AppendEntries leave before its own write (thesis §10.2.1),
    /// and a crash loses what is not yet written.
    #[arg(long, global = true)]
    async_writes: bool,
    /// A leader's heartbeat timer never fires: it sends AppendEntries only
    /// on winning and when new entries or replies prompt it, never
    /// retransmits from `next_index`, and followers learn a commit only
    /// with the next message it sends them. Far fewer states (most are
    /// interleavings of retransmissions), at the price of those behaviours.
    #[arg(long, global = true)]
    no_heartbeats: bool,
    /// Turn off symmetry reduction (states equal up to a permutation of
    /// server ids are then explored separately).
    #[arg(long, global = true)]
    no_symmetry: bool,
    /// Keep stale messages in flight instead of discarding them (the
    /// reduction loses no behaviour; this shows it, at a cost in states).
    #[arg(long, global = true)]
    keep_stale: bool,
    /// Keep a crashed server's last state until it restarts instead of
    /// replacing it by what it will restart with (that reduction loses no
    /// behaviour; this shows it).
    #[arg(long, global = true)]
    keep_crashed_state: bool,
    /// With --lossy --network duplicating, explore every drop as a step
    /// (drops there reach no new server state; this shows it, at a large
    /// cost in states).
    #[arg(long, global = true)]
    explicit_drops: bool,
    /// With --network duplicating, explore every state, also one whose
    /// messages in flight are a subset of those of a state already met
    /// with the same servers (such a state reaches no new server state;
    /// this shows it, at a large cost in states).
    #[arg(long, global = true)]
    no_subsume_networks: bool,
    /// With --network unordered, search that network itself instead of
    /// taking the duplicating route (by default `check` searches the
    /// duplicating network, which has every run of the unordered one, and
    /// replays each example and counterexample it finds there on the
    /// unordered network; same verdicts, far fewer states).
    #[arg(long, global = true)]
    exact_network: bool,
    /// Take the reductions' claims about the core on trust instead of
    /// checking each where it is used (stale messages delivered as no-ops,
    /// restarts as forgotten). Only to measure what the checks cost: the
    /// verdict then rests on claims nothing checked.
    #[arg(long, global = true)]
    unaudited: bool,
    /// In the search for a shortest counterexample, take every step in
    /// every order instead of letting a step sleep after a sibling at
    /// another server that it commutes with (sleep sets lose no state;
    /// this shows it, at a cost in steps).
    #[arg(long, global = true)]
    no_sleep_sets: bool,
    /// Checker threads.
    #[arg(long, global = true, value_name = "K", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
    threads: Option<usize>,
    /// Most entries one AppendEntries carries.
    #[arg(long, global = true, value_name = "E", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=8))]
    max_entries: Option<usize>,
    /// At most M copies of one message in flight, in the ordered and
    /// unordered networks.
    #[arg(long, global = true, value_name = "M", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=8))]
    max_copies: Option<usize>,
    /// Reintroduce the catalogue bug NAME in every server and search until
    /// the property it breaks is violated; the bounds default to ones that
    /// find it quickly (needs a build with `--features bug-catalogue`; see
    /// --list-bugs).
    #[arg(long, global = true, value_name = "NAME")]
    bug: Option<String>,
}

/// `--network`: the values of [`NetworkKind`] on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum NetworkArg {
    /// FIFO channels between each pair of servers.
    Ordered,
    /// Any in-flight message may be delivered next, each once.
    Unordered,
    /// Any message ever sent may be delivered again, any number of times.
    Duplicating,
}

impl From<NetworkArg> for NetworkKind {
    fn from(network: NetworkArg) -> NetworkKind {
        match network {
            NetworkArg::Ordered => NetworkKind::Ordered,
            NetworkArg::Unordered => NetworkKind::Unordered,
            NetworkArg::Duplicating => NetworkKind::Duplicating,
        }
    }
}

/// Everything the command line resolves to, before searching.
#[derive(Debug)]
struct Setup {
    /// The bounds to explore, flags applied over the defaults.
    bounds: Bounds,
    /// The catalogue bug reintroduced, if any (always `None` in a build
    /// without the `bug-catalogue` feature).
    bug: Option<Bug>,
    /// How the checker searches.
    options: Options,
}

/// A usage error in clap's format; exits with status 2 when `exit`ed.
fn usage_error(kind: ErrorKind, message: impl std::fmt::Display) -> clap::Error {
    Cli::command().error(kind, message)
}

/// The catalogue bug named `name`, or a usage error listing the valid names.
#[cfg(feature = "bug-catalogue")]
fn resolve_bug(name: Option<&str>) -> Result<Option<Bug>, clap::Error> {
    let Some(name) = name else { return Ok(None) };
    Bug::from_name(name).map(Some).ok_or_else(|| {
        let names: Vec<&str> = Bug::ALL.iter().map(|b| b.name()).collect();
        usage_error(
            ErrorKind::InvalidValue,
            format!(
                "no bug named '{name}' in the catalogue; valid names: {}",
                names.join(", ")
            ),
        )
    })
}

/// Without the `bug-catalogue` feature there are no switches to turn on.
#[cfg(not(feature = "bug-catalogue"))]
fn resolve_bug(name: Option<&str>) -> Result<Option<Bug>, clap::Error> {
    match name {
        None => Ok(None),
        Some(_) => Err(usage_error(
            ErrorKind::InvalidValue,
            "this build has no bug switches; run: \
             cargo run --release --features bug-catalogue --bin check -- --bug NAME",
        )),
    }
}

/// The default bounds: [`raft_model::bug_bounds`] when a bug is chosen, the
/// smallest within which the checker finds it.
#[cfg(feature = "bug-catalogue")]
fn default_bounds(bug: Option<Bug>) -> Bounds {
    match bug {
        Some(bug) => raft_model::bug_bounds(bug),
        None => Bounds::default(),
    }
}

/// The default bounds (this build has no bugs to choose from).
#[cfg(not(feature = "bug-catalogue"))]
fn default_bounds(_: Option<Bug>) -> Bounds {
    Bounds::default()
}

/// Applies the command line over the defaults.
fn setup(cli: &Cli) -> Result<Setup, clap::Error> {
    let args = &cli.model;
    let bug = resolve_bug(args.bug.as_deref())?;
    let mut bounds = default_bounds(bug);
    if let Some(servers) = args.servers {
        bounds.servers = servers;
    }
    if let Some(max_term) = args.max_term {
        bounds.max_term = max_term;
    }
    if let Some(values) = args.values {
        bounds.values = values;
    }
    if let Some(max_log) = args.max_log {
        bounds.max_log = max_log;
    }
    if let Some(crashes) = args.crashes {
        bounds.crashes = crashes;
    }
    if let Some(network) = args.network {
        bounds.network = network.into();
    }
    bounds.lossy |= args.lossy;
    bounds.snapshots |= args.snapshots;
    bounds.async_writes |= args.async_writes;
    bounds.heartbeats &= !args.no_heartbeats;
    if let Some(max_entries) = args.max_entries {
        bounds.max_entries = max_entries;
    }
    if let Some(max_copies) = args.max_copies {
        bounds.max_copies = max_copies;
    }
    if bounds.crashes > bounds.servers {
        return Err(usage_error(
            ErrorKind::ValueValidation,
            format!(
                "--crashes {} exceeds the number of servers ({})",
                bounds.crashes, bounds.servers
            ),
        ));
    }
    let defaults = Options::default();
    let options = Options {
        symmetry: !args.no_symmetry,
        discard_stale: !args.keep_stale,
        forget_crashed_state: !args.keep_crashed_state,
        subsume_drops: !args.explicit_drops,
        subsume_networks: !args.no_subsume_networks,
        duplicating_route: !args.exact_network,
        audit: !args.unaudited,
        sleep_sets: !args.no_sleep_sets,
        threads: args.threads.unwrap_or(defaults.threads),
        max_depth: cli.max_depth,
        timeout: cli.timeout.map(Duration::from_secs),
        stop_at: bug.map(raft_model::bug_property),
        progress: Some(report::progress_reporter()),
        ..defaults
    };
    Ok(Setup {
        bounds,
        bug,
        options,
    })
}

/// Whether the command line sets any bound, which (like `--bug` without
/// `--scenario`) makes the check one configuration instead of the default
/// run's scenarios.
fn bounds_given(args: &ModelArgs) -> bool {
    let ModelArgs {
        servers,
        max_term,
        values,
        max_log,
        crashes,
        network,
        lossy,
        snapshots,
        async_writes,
        no_heartbeats,
        no_symmetry: _,
        keep_stale: _,
        keep_crashed_state: _,
        explicit_drops: _,
        no_subsume_networks: _,
        exact_network: _,
        unaudited: _,
        no_sleep_sets: _,
        threads: _,
        max_entries,
        max_copies,
        bug: _,
    } = args;
    servers.is_some()
        || max_term.is_some()
        || values.is_some()
        || max_log.is_some()
        || crashes.is_some()
        || network.is_some()
        || *lossy
        || *snapshots
        || *async_writes
        || *no_heartbeats
        || max_entries.is_some()
        || max_copies.is_some()
}

/// The scenarios to run: the one `--scenario` names, or all of them; a
/// usage error when bounds are given too, or the name is unknown.
fn scenarios_to_run(cli: &Cli) -> Result<Vec<Scenario>, clap::Error> {
    let Some(name) = cli.scenario.as_deref() else {
        return Ok(raft_model::scenarios::scenarios());
    };
    if bounds_given(&cli.model) {
        return Err(usage_error(
            ErrorKind::ArgumentConflict,
            "--scenario sets the bounds itself: give either a scenario or bounds",
        ));
    }
    raft_model::scenarios::scenario(name)
        .ok_or_else(|| {
            let names: Vec<&str> = raft_model::scenarios::scenarios()
                .iter()
                .map(|s| s.name)
                .collect();
            usage_error(
                ErrorKind::InvalidValue,
                format!(
                    "no scenario named '{name}'; valid names: {}",
                    names.join(", ")
                ),
            )
        })
        .map(|scenario| vec![scenario])
}

/// Runs each scenario with the command line's search options and reports
/// them together.
fn run_scenarios(cli: &Cli, scenarios: Vec<Scenario>) -> ExitCode {
    let mut runs = Vec::new();
    for scenario in scenarios {
        let mut setup = match setup(cli) {
            Ok(setup) => setup,
            Err(e) => e.exit(),
        };
        setup.bounds = Bounds {
            // `--scenario NAME --bug BUG`: the scenario with the bug in.
            #[cfg(feature = "bug-catalogue")]
            bug: setup.bug,
            ..scenario.bounds.clone()
        };
        if !cli.json {
            eprintln!(
                "scenario {}: checking {}",
                scenario.name,
                report::header(&setup)
            );
        }
        let outcome = check(&setup.bounds, &setup.options);
        report::end_progress();
        runs.push(report::ScenarioRun {
            scenario,
            setup,
            outcome,
        });
    }
    if cli.json {
        emit(&format!("{}\n", report::suite_json(&runs)));
    } else {
        emit(&report::suite_human(&runs));
    }
    ExitCode::from(report::suite_exit_status(&runs))
}

/// `check explore`: serves stateright's Explorer until interrupted.
fn explore(setup: Setup, addr: SocketAddr) -> Result<(), clap::Error> {
    if !addr.ip().is_loopback() {
        return Err(usage_error(
            ErrorKind::ValueValidation,
            format!("--addr {addr}: only loopback addresses (127.0.0.1, ::1) are allowed"),
        ));
    }
    // Fail with a message rather than the Explorer's panic when the port is
    // taken; the probe listener closes before the Explorer binds.
    drop(TcpListener::bind(addr).map_err(|e| {
        usage_error(
            ErrorKind::ValueValidation,
            format!("cannot listen on {addr}: {e}"),
        )
    })?);
    eprintln!("Explorer for {}", setup.bounds);
    eprintln!("serving on http://{addr}/ (Ctrl-C to stop)");
    let model = raft_model::run::build_model(&setup.bounds, &setup.options);
    model.checker().threads(setup.options.threads).serve(addr);
    Ok(())
}

/// The command, with each bound's help ending in its default, taken from
/// [`Bounds::default`] and [`Options::default`] so that the two never drift.
fn command() -> clap::Command {
    let bounds = Bounds::default();
    let defaults = [
        ("servers", bounds.servers.to_string()),
        ("max_term", bounds.max_term.to_string()),
        ("values", bounds.values.to_string()),
        ("max_log", bounds.max_log.to_string()),
        ("crashes", bounds.crashes.to_string()),
        ("network", bounds.network.name().to_string()),
        ("max_entries", bounds.max_entries.to_string()),
        ("max_copies", bounds.max_copies.to_string()),
        (
            "threads",
            format!("available cores, {}", Options::default().threads),
        ),
    ];
    defaults
        .into_iter()
        .fold(Cli::command(), |command, (id, default)| {
            command.mut_arg(id, |arg| {
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                arg.help(format!("{help} [default: {default}]"))
            })
        })
}

/// Parses the command line (exits with status 2 on a usage error).
fn parse() -> Cli {
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Writes `text` to stdout; a closed pipe (`check | head`) is no error.
fn emit(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// The checker clones, permutes and drops millions of small states from two
/// threads; mimalloc serves that about a fifth faster than the system
/// allocator (docs/model-checking.md, "What has been verified").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Parses the command line, runs the search and reports it.
fn main() -> ExitCode {
    let cli = parse();
    if cli.list_bugs {
        emit(&report::bug_list());
        return ExitCode::from(EXIT_OK);
    }
    let setup = match setup(&cli) {
        Ok(setup) => setup,
        Err(e) => e.exit(),
    };
    if let Some(Command::Explore { addr }) = &cli.command {
        if cli.json || cli.max_depth.is_some() || cli.timeout.is_some() || cli.scenario.is_some() {
            usage_error(
                ErrorKind::ArgumentConflict,
                "--json, --max-depth, --timeout and --scenario apply to a check, not to explore",
            )
            .exit();
        }
        return match explore(setup, *addr) {
            Ok(()) => ExitCode::from(EXIT_OK),
            Err(e) => e.exit(),
        };
    }
    let default_run = !bounds_given(&cli.model) && cli.model.bug.is_none();
    if cli.command.is_none() && (cli.scenario.is_some() || default_run) {
        return match scenarios_to_run(&cli) {
            Ok(scenarios) => run_scenarios(&cli, scenarios),
            Err(e) => e.exit(),
        };
    }
    if !cli.json {
        eprintln!("checking {}", report::header(&setup));
    }
    let outcome = check(&setup.bounds, &setup.options);
    report::end_progress();
    if cli.json {
        emit(&format!("{}\n", report::json(&setup, &outcome)));
    } else {
        emit(&report::human(&setup, &outcome));
    }
    ExitCode::from(report::exit_status(&setup, &outcome))
}
