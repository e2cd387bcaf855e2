//! `run-agent completions <shell>`: shell completion scripts from the clap definitions.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::args::Cli;
use crate::error::Error;

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to write completions for
    #[arg(value_enum)]
    pub(crate) shell: Shell,
}

pub(crate) fn run(args: CompletionsArgs) -> Result<u8, Error> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "run-agent", &mut out);
    super::output::raw(&out)?;
    Ok(0)
}
