//! The `run-agent` binary: parse, build the runtime only for commands that need it, run.

use std::process::ExitCode;

use run_agent::cli::Cli;

fn main() -> ExitCode {
    if let Some(code) = Cli::try_fast_path() {
        return code;
    }
    let cli = Cli::parse_args();
    if !cli.needs_runtime() {
        return cli.run_sync();
    }
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(cli.run_async()),
        Err(e) => {
            eprintln!("run-agent: error: cannot start the async runtime: {e}");
            ExitCode::from(1)
        }
    }
}
