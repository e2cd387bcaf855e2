//! What every command shares: logging, config and runs root, prompt input, the process
//! environment of a run, and the mapping of results to exit codes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::args::GlobalArgs;
use crate::config::file::Config;
use crate::error::Error;
use crate::storage::layout::Layout;

/// Default depth limit: a run at this depth may not start children.
pub(crate) const DEFAULT_MAX_DEPTH: u32 = 16;

/// Logs go to stderr, warnings only unless `-v` or `RUST_LOG` asks for more. The filter
/// machinery is only built when asked for, to keep quick commands quick.
pub(crate) fn init_logging(global: &GlobalArgs) {
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false);
    match std::env::var("RUST_LOG") {
        Ok(filter) if !filter.is_empty() => {
            let _ = builder
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .try_init();
        }
        _ => {
            let level = match global.verbose {
                0 => tracing::Level::WARN,
                1 => tracing::Level::INFO,
                2 => tracing::Level::DEBUG,
                _ => tracing::Level::TRACE,
            };
            let _ = builder.with_max_level(level).try_init();
        }
    }
}

/// The one place results become exit codes; errors are printed once, on stderr.
pub(crate) fn finish(result: Result<u8, Error>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Error::BrokenPipe) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("run-agent: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Config and runs root, resolved in the order of SPEC §2.
pub(crate) struct Context {
    pub(crate) config: Config,
    pub(crate) layout: Layout,
}

impl Context {
    pub(crate) fn load(global: &GlobalArgs) -> Result<Self, Error> {
        let config = Config::discover(global.config.as_deref())?;
        let root = global
            .root
            .clone()
            .or_else(|| env_nonempty("JRUN_ROOT").map(PathBuf::from))
            .or_else(|| config.file.root.as_deref().map(|r| config.resolve_path(r)))
            .unwrap_or_else(|| PathBuf::from("runs"));
        let layout = Layout::new(&root).map_err(Error::io("resolve runs root", &root))?;
        Ok(Self { config, layout })
    }

    /// The depth limit from the config, else the default.
    pub(crate) fn max_depth(&self) -> u32 {
        self.config.file.max_depth.unwrap_or(DEFAULT_MAX_DEPTH)
    }
}

/// An environment variable, treating empty as unset.
pub(crate) fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Where a new run sits: its parent (if started inside a run) and its depth. Refuses to
/// go past the depth limit.
pub(crate) struct Nesting {
    pub(crate) parent_run_id: String,
    pub(crate) depth: u32,
}

impl Nesting {
    pub(crate) fn from_env(explicit_parent: Option<&str>, max_depth: u32) -> Result<Self, Error> {
        let parent_depth = match env_nonempty("JRUN_DEPTH") {
            Some(d) => Some(d.trim().parse::<u32>().map_err(|_| {
                Error::Usage(format!(
                    "invalid JRUN_DEPTH {d:?} in the environment (it must be a whole number)"
                ))
            })?),
            None => None,
        };
        if let Some(d) = parent_depth {
            if d >= max_depth {
                return Err(Error::Failed(format!(
                    "depth limit reached: this run is at depth {d} and the limit is {max_depth}, so it may not start another agent (raise max_depth in the config if the nesting is intended)"
                )));
            }
        }
        let parent_run_id = explicit_parent
            .map(str::to_owned)
            .or_else(|| env_nonempty("JRUN_ID"))
            .unwrap_or_default();
        let depth = match (&parent_run_id.is_empty(), parent_depth) {
            (true, _) => 0,
            (false, Some(d)) => d + 1,
            (false, None) => 1,
        };
        Ok(Self {
            parent_run_id,
            depth,
        })
    }
}

/// The task prompt from `--prompt` or `--prompt-file`, refusing empty text and naming
/// the file that could not be read. `None` when neither was given.
pub(crate) fn prompt_from_args(
    prompt: Option<&str>,
    prompt_file: Option<&Path>,
) -> Result<Option<String>, Error> {
    if let Some(text) = prompt {
        if text.trim().is_empty() {
            return Err(Error::Usage(
                "the prompt given with --prompt is empty (write the task in it or use --prompt-file)".to_owned(),
            ));
        }
        return Ok(Some(text.to_owned()));
    }
    match prompt_file {
        Some(path) => read_prompt_file(path, "--prompt-file").map(Some),
        None => Ok(None),
    }
}

/// Reads a prompt file; `what` says where the path came from, for the message.
pub(crate) fn read_prompt_file(path: &Path, what: &str) -> Result<String, Error> {
    if path.is_dir() {
        return Err(Error::Usage(format!(
            "cannot read {what} at {}: it is a directory (give the path of a file holding the task prompt)",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Usage(format!(
            "cannot read {what} at {}: {e} (check the path, or pass --prompt)",
            path.display()
        ))
    })?;
    if text.trim().is_empty() {
        return Err(Error::Usage(format!(
            "cannot read {what} at {}: file is empty (write the task prompt there or pass --prompt)",
            path.display()
        )));
    }
    Ok(text)
}

/// The agent's working directory: `--cwd`, else ours; always absolute.
pub(crate) fn working_dir(cwd: Option<&Path>) -> Result<PathBuf, Error> {
    let here = std::env::current_dir().map_err(Error::io("read the current directory", "."))?;
    let dir = match cwd {
        Some(d) => here.join(d),
        None => here,
    };
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "--cwd {} is not a directory",
            dir.display()
        )));
    }
    Ok(dir)
}
