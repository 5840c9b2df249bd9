//! `bytewax-wasm`: run, check and draw dataflow plans whose steps are WebAssembly components
//! or builtins, without Python.

mod check;
mod graph;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytewax_runtime::engine::{run_cluster, run_single, run_threads, ClusterLayout, RunConfig};
use bytewax_runtime::recovery::RecoveryConfig;
use bytewax_runtime::native::NativeHost;
use bytewax_runtime::plan::{parse_plan, FnRef, Plan, Step};
use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Run Bytewax dataflow plans whose steps are WebAssembly components or builtins.
///
/// A plan is the JSON a Python flow compiles to (`python -m bytewax.plan dataflow:flow`) or one
/// written by hand (docs/plan.md). Plans with Python steps run with `python -m bytewax.run`.
#[derive(Parser)]
#[command(name = "bytewax-wasm", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a plan until its inputs are exhausted.
    Run {
        /// The plan file. Component paths in it are relative to its directory; data file
        /// paths are relative to the working directory, as for Python flows.
        plan: PathBuf,
        /// Seconds between epochs. With recovery, each epoch's state is committed when it
        /// closes; a resumed run repeats at most the epoch that was in flight.
        #[arg(long, env = "BYTEWAX_EPOCH_INTERVAL", default_value_t = 10.0)]
        epoch_interval: f64,
        /// Turn on recovery: every worker snapshots into DIR/worker{i}.sqlite3 (the
        /// directory must exist). Running again with the same DIR resumes where the last
        /// run stopped, with any number of workers or processes.
        #[arg(long = "sqlite-directory", env = "BYTEWAX_SQLITE_DIRECTORY", value_name = "DIR")]
        sqlite_directory: Option<PathBuf>,
        /// Worker threads. WASM steps run without a global lock, so threads scale.
        #[arg(short = 'w', long = "workers-per-process", env = "BYTEWAX_WORKERS_PER_PROCESS", default_value_t = 1)]
        workers: usize,
        /// This process's index in a cluster of processes (with --addresses).
        #[arg(short = 'i', long = "process-id", env = "BYTEWAX_PROCESS_ID", requires = "addresses")]
        process_id: Option<usize>,
        /// Every process's host:port, joined by semicolons, in process order; each process
        /// of the cluster is started with the same list and its own --process-id.
        #[arg(short = 'a', long = "addresses", env = "BYTEWAX_ADDRESSES", requires = "process_id")]
        addresses: Option<String>,
        /// Seconds to wait for every process of the cluster to connect.
        #[arg(long, env = "BYTEWAX_CLUSTER_CONNECT_TIMEOUT", default_value_t = 60.0)]
        connect_timeout: f64,
    },
    /// Check a plan: its shape, and that every WASM step exists in its component with the right kind.
    Validate {
        /// The plan file.
        plan: PathBuf,
    },
    /// Print the plan's dataflow as a Mermaid flowchart.
    Graph {
        /// The plan file.
        plan: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { plan, epoch_interval, sqlite_directory, workers, process_id, addresses, connect_timeout } => {
            let cluster = process_id.zip(addresses).map(|(process, addresses)| (process, addresses, connect_timeout));
            config(epoch_interval, sqlite_directory).and_then(|config| run(&plan, config, workers, cluster))
        }
        Command::Validate { plan: path } => load(&path).and_then(|p| {
            check::check_components(&p).map_err(usage)?;
            println!("{}: ok ({} steps)", path.display(), p.steps.len());
            Ok(())
        }),
        Command::Graph { plan } => load(&plan).map(|p| print!("{}", graph::mermaid(&p))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("bytewax-wasm: error: {message}");
            ExitCode::from(code)
        }
    }
}

type Failure = (u8, String);

fn usage(message: impl ToString) -> Failure {
    (2, message.to_string())
}

/// Reads and validates a plan, making component paths absolute (relative to the plan file).
fn load(path: &Path) -> Result<Plan, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read plan {}: {e}", path.display())))?;
    let mut plan = parse_plan(&text).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    for step in &mut plan.steps {
        if step_has_python(step) {
            return Err(usage(format!(
                "{}: step '{}' ({}) is a Python step; run plans with Python steps with `python -m bytewax.run`",
                path.display(),
                step.step_id(),
                step.op()
            )));
        }
        for f in step.functions_mut() {
            if let FnRef::Wasm { component, .. } = f {
                let p = Path::new(component.as_str());
                if p.is_relative() {
                    *component = base.join(p).to_string_lossy().into_owned();
                }
            }
        }
    }
    Ok(plan)
}

fn step_has_python(step: &Step) -> bool {
    use bytewax_runtime::plan::{SinkSpec, SourceSpec};
    matches!(step, Step::Input { source: SourceSpec::Python { .. }, .. } | Step::Output { sink: SinkSpec::Python { .. }, .. })
        || step.functions().iter().any(|(_, f)| matches!(f, FnRef::Python { .. }))
}

/// `(process id, addresses, connect timeout in seconds)` of a cluster member.
type ClusterArgs = (usize, String, f64);

/// The run's epochs and recovery, checked.
fn config(epoch_interval: f64, sqlite_directory: Option<PathBuf>) -> Result<RunConfig, Failure> {
    if !(epoch_interval.is_finite() && epoch_interval >= 0.0) {
        return Err(usage(format!("--epoch-interval must be a non-negative number of seconds, got {epoch_interval}")));
    }
    if let Some(dir) = &sqlite_directory {
        if !dir.is_dir() {
            return Err(usage(format!("--sqlite-directory {}: no such directory; create it first", dir.display())));
        }
    }
    Ok(RunConfig {
        epoch_interval: Duration::from_secs_f64(epoch_interval),
        recovery: sqlite_directory.map(|db_dir| RecoveryConfig { db_dir }),
    })
}

fn run(path: &Path, config: RunConfig, workers: usize, cluster: Option<ClusterArgs>) -> Result<(), Failure> {
    if workers == 0 {
        return Err(usage("--workers-per-process must be at least 1"));
    }
    let plan = load(path)?;
    // A wrong export or kind is a mistake in the plan: report it before anything runs.
    check::check_components(&plan).map_err(usage)?;
    let plan = Arc::new(plan);
    let host = Arc::new(NativeHost);
    let result = match cluster {
        Some((process, addresses, timeout)) => {
            let addresses: Vec<String> = addresses.split(';').map(str::to_owned).collect();
            if process >= addresses.len() {
                return Err(usage(format!("--process-id {process} is not below the number of addresses ({})", addresses.len())));
            }
            if !(timeout.is_finite() && timeout > 0.0) {
                return Err(usage(format!("--connect-timeout must be a positive number of seconds, got {timeout}")));
            }
            let layout = ClusterLayout { process, addresses, threads: workers, connect_timeout: Duration::from_secs_f64(timeout) };
            run_cluster(plan, host, config, layout)
        }
        None if workers == 1 => run_single(plan, host, config),
        None => run_threads(plan, host, config, workers),
    };
    result.map_err(|e| (1, e.to_string()))
}
