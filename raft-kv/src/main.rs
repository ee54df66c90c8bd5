//! `raft-kv`: run a server of a cluster (`serve`), or talk to one (`put`,
//! `get`, `cas`, `delete`, `bench`).

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use raft_kv::bench::{self, BenchConfig};
use raft_kv::client::Client;
use raft_kv::config::ServeArgs;
use raft_kv::node::Node;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "raft-kv",
    version,
    about = "A replicated key/value store on checked-raft"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Endpoints {
    /// The servers' client addresses (any of them; followers redirect to
    /// the leader).
    #[arg(
        long,
        env = "RAFT_KV_ENDPOINTS",
        value_delimiter = ',',
        default_value = "127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003"
    )]
    endpoints: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Runs one server of a cluster until SIGTERM or Ctrl-C.
    Serve(Box<ServeArgs>),
    /// Sets KEY to VALUE.
    Put {
        /// The key.
        key: String,
        /// Its value.
        value: String,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Prints KEY's value (exit 1 if it has none).
    Get {
        /// The key.
        key: String,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Removes KEY.
    Delete {
        /// The key.
        key: String,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Sets KEY to NEW if its value is OLD (`cas KEY OLD NEW`; with
    /// `--absent`, `cas KEY NEW --absent`: if it has none); exit 1 if it
    /// was not.
    Cas {
        /// The key.
        key: String,
        /// OLD NEW, or NEW with --absent.
        #[arg(num_args = 1..=2, required = true, value_names = ["OLD", "NEW"])]
        values: Vec<String>,
        /// Swap only if the key has no value.
        #[arg(long)]
        absent: bool,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// A closed-loop put load: throughput and latency percentiles.
    Bench {
        /// Concurrent clients.
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Puts in all.
        #[arg(long, default_value_t = 10_000)]
        ops: usize,
        /// Distinct keys.
        #[arg(long, default_value_t = 1000)]
        keys: usize,
        /// Bytes per value.
        #[arg(long, default_value_t = 100)]
        value_size: usize,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        endpoints: Endpoints,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: stopping"),
    }
}

async fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Serve(args) => {
            let config = args.resolve()?;
            let listen = config.client_listen;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen for clients on {listen}"))?;
            let node = tokio::task::spawn_blocking(move || Node::start(config)).await??;
            tracing::info!(clients = %listen, "serving clients");
            raft_kv::http::serve(node, listener, stop_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Put {
            key,
            value,
            endpoints,
        } => {
            Client::new(&endpoints.endpoints).put(&key, &value).await?;
            println!("OK");
            Ok(ExitCode::SUCCESS)
        }
        Command::Get { key, endpoints } => match Client::new(&endpoints.endpoints).get(&key).await?
        {
            Some(value) => {
                println!("{value}");
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!("{key}: no value");
                Ok(ExitCode::from(1))
            }
        },
        Command::Delete { key, endpoints } => {
            let existed = Client::new(&endpoints.endpoints).delete(&key).await?;
            println!("{}", if existed { "deleted" } else { "no value" });
            Ok(ExitCode::SUCCESS)
        }
        Command::Cas {
            key,
            values,
            absent,
            endpoints,
        } => {
            let (old, new) = match (values.as_slice(), absent) {
                ([old, new], false) => (Some(old.clone()), new.clone()),
                ([new], true) => (None, new.clone()),
                (_, false) => bail!("cas needs OLD and NEW (or NEW with --absent)"),
                (_, true) => bail!("with --absent, cas takes NEW only"),
            };
            let outcome = Client::new(&endpoints.endpoints)
                .cas(&key, old.as_deref(), &new)
                .await?;
            if outcome.swapped {
                println!("OK");
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "not swapped: the value is {}",
                    outcome
                        .found
                        .as_deref()
                        .map_or("absent".to_owned(), |v| format!("{v:?}"))
                );
                Ok(ExitCode::from(1))
            }
        }
        Command::Bench {
            clients,
            ops,
            keys,
            value_size,
            json,
            endpoints,
        } => {
            if clients == 0 || ops == 0 {
                bail!("--clients and --ops must be at least 1");
            }
            let report = bench::run(&BenchConfig {
                endpoints: endpoints.endpoints,
                clients,
                ops,
                keys,
                value_size,
            })
            .await;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "{} clients: {} puts in {:.2} s = {:.0} puts/s; latency p50 {} µs, p90 {} µs, p99 {} µs, max {} µs; {} failed",
                    report.clients,
                    report.ops,
                    report.seconds,
                    report.ops_per_sec,
                    report.p50_us,
                    report.p90_us,
                    report.p99_us,
                    report.max_us,
                    report.failed
                );
            }
            Ok(match report.failed {
                0 => ExitCode::SUCCESS,
                _ => ExitCode::from(1),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
