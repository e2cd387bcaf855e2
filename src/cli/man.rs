//! `run-agent man`: man pages (roff) from the clap definitions: the main page on stdout,
//! or one page per command written to a folder with `--dir`.

use std::path::PathBuf;

use clap::{Args, CommandFactory};

use super::args::Cli;
use crate::error::Error;

#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write run-agent.1 and run-agent-<command>.1 into this folder instead of printing
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
}

fn render(cmd: clap::Command) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| Error::Failed(format!("cannot render the man page: {e}")))?;
    Ok(out)
}

pub(crate) fn run(args: ManArgs) -> Result<u8, Error> {
    let cmd = Cli::command();
    let Some(dir) = args.dir else {
        super::output::raw(&render(cmd)?)?;
        return Ok(0);
    };
    std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
    let mut pages = vec![("run-agent.1".to_owned(), render(cmd.clone())?)];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("run-agent-{}", sub.get_name());
        let page = render(sub.clone().name(name.clone()).display_name(name.clone()))?;
        pages.push((format!("{name}.1"), page));
    }
    for (file, page) in pages {
        let path = dir.join(&file);
        std::fs::write(&path, page).map_err(Error::io("write", &path))?;
        super::output::line(&path.display().to_string())?;
    }
    Ok(0)
}
