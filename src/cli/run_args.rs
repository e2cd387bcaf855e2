//! Arguments shared by `task` and `job`, and their validation into a prepared run.

use std::path::PathBuf;
use std::time::SystemTime;

use clap::Args;

use super::context::{
    env_nonempty, prompt_from_args, read_prompt_file, working_dir, Context, Nesting,
};
use crate::agents::resolve::{resolve, AgentSpec};
use crate::error::Error;
use crate::runner::preamble::role_prompt;
use crate::storage::atomic::write_atomic;
use crate::storage::ids::{new_task_id, validate_id};
use crate::storage::layout::TaskPaths;

/// Which task, which agent, which prompt.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Project id [default: $JRUN_PROJECT_ID]
    #[arg(long, value_name = "ID")]
    pub(crate) project: Option<String>,
    /// Task id [default: generated from the date and the prompt's first words]
    #[arg(long, value_name = "ID")]
    pub(crate) task: Option<String>,
    /// Agent: shell, claude, codex, gemini or a name from the config; a comma list
    /// (claude,codex) takes turns on restarts [default: inside a run the parent's agent
    /// ($JRUN_AGENT), else the config's default_agent, else shell]
    #[arg(long, value_name = "NAME")]
    pub(crate) agent: Option<String>,
    /// Run this command as the agent (split like a shell would); prompt on stdin and in
    /// $JRUN_PROMPT_FILE
    #[arg(long, value_name = "CMD")]
    pub(crate) agent_cmd: Option<String>,
    /// The task prompt as text
    #[arg(long, value_name = "TEXT", conflicts_with = "prompt_file")]
    pub(crate) prompt: Option<String>,
    /// The task prompt from a file
    #[arg(long, value_name = "FILE")]
    pub(crate) prompt_file: Option<PathBuf>,
    /// Put the role prompt NAME (built in, or <root>/<project>/prompts/NAME.md) before the task
    #[arg(long, value_name = "NAME")]
    pub(crate) role: Option<String>,
    /// The agent's working directory [default: the current directory]
    #[arg(long, value_name = "DIR")]
    pub(crate) cwd: Option<PathBuf>,
}

/// A validated run: nothing has been written yet.
pub(crate) struct Prepared {
    pub(crate) ctx: Context,
    pub(crate) task: TaskPaths,
    /// The agents, in turn order (one unless `--agent a,b`).
    pub(crate) agents: Vec<AgentSpec>,
    pub(crate) prompt: String,
    /// Whether the prompt came from the command line (and so belongs in TASK.md).
    pub(crate) prompt_is_new: bool,
    pub(crate) role: Option<String>,
    pub(crate) nesting: Nesting,
    pub(crate) cwd: PathBuf,
}

/// Where the task id comes from when `--task` is not given.
pub(crate) enum TaskDefault {
    /// `task`: a new id from the date and prompt (a sub-task is a task of its own).
    Generate,
    /// `job`: the calling run's task ($JRUN_TASK_ID), else a new id.
    InheritOrGenerate,
}

impl RunArgs {
    /// Checks everything that can be checked before writing: ids, prompt, agent, role,
    /// depth. Every failure here is exit 2 (or 1 for the depth limit), with nothing
    /// written.
    pub(crate) fn prepare(
        &self,
        ctx: Context,
        default_task: TaskDefault,
        explicit_parent: Option<&str>,
    ) -> Result<Prepared, Error> {
        let project = self
            .project
            .clone()
            .or_else(|| env_nonempty("JRUN_PROJECT_ID"))
            .ok_or_else(|| {
                Error::Usage("no project: pass --project ID (or run inside a run, where $JRUN_PROJECT_ID is set)".to_owned())
            })?;
        validate_id("project", &project)?;
        let given = prompt_from_args(self.prompt.as_deref(), self.prompt_file.as_deref())?;
        let task_id = match (&self.task, default_task) {
            (Some(t), _) => t.clone(),
            (None, TaskDefault::InheritOrGenerate) if env_nonempty("JRUN_TASK_ID").is_some() => {
                env_nonempty("JRUN_TASK_ID").unwrap_or_default()
            }
            (None, _) => match &given {
                Some(text) => new_task_id(SystemTime::now(), text),
                None => {
                    return Err(Error::Usage(
                        "no prompt: pass --prompt TEXT or --prompt-file FILE (or --task ID of a task whose TASK.md holds the prompt)".to_owned(),
                    ))
                }
            },
        };
        let task = ctx.layout.task(&project, &task_id)?;
        let (prompt, prompt_is_new) = match given {
            Some(text) => (text, true),
            None if task.task_md.exists() => (read_prompt_file(&task.task_md, "TASK.md")?, false),
            None => {
                return Err(Error::Usage(format!(
                    "no prompt: pass --prompt or --prompt-file, or write the task prompt to {}",
                    task.task_md.display()
                )))
            }
        };
        if task.task_md.is_dir() {
            return Err(Error::Usage(format!(
                "cannot use TASK.md at {}: it is a directory (remove it; run-agent writes the task prompt there)",
                task.task_md.display()
            )));
        }
        let nesting = Nesting::from_env(explicit_parent, ctx.max_depth())?;
        // Inside a run, a child started without --agent runs the same kind of agent as
        // its parent (an orchestrator's sub-agent prompt is prose, not a shell script).
        let inherited = match (&self.agent, &self.agent_cmd) {
            (None, None) => env_nonempty("JRUN_AGENT"),
            _ => None,
        };
        let agents = match self.agent.as_deref().or(inherited.as_deref()) {
            Some(list) if list.contains(',') => list
                .split(',')
                .map(|name| resolve(Some(name.trim()), self.agent_cmd.as_deref(), &ctx.config))
                .collect::<Result<Vec<_>, _>>()?,
            name => vec![resolve(name, self.agent_cmd.as_deref(), &ctx.config)?],
        };
        let role = match &self.role {
            Some(name) => Some(role_prompt(&task.project_dir, name)?),
            None => None,
        };
        let cwd = working_dir(self.cwd.as_deref())?;
        Ok(Prepared {
            ctx,
            task,
            agents,
            prompt,
            prompt_is_new,
            role,
            nesting,
            cwd,
        })
    }
}

impl Prepared {
    /// Creates the project and task folders and writes TASK.md: the given prompt for a
    /// task; for a job only when the task has no TASK.md yet.
    pub(crate) fn create_task(&self, overwrite_task_md: bool) -> Result<(), Error> {
        self.ctx.layout.create_task_dirs(&self.task)?;
        let write = self.prompt_is_new && (overwrite_task_md || !self.task.task_md.exists());
        if write {
            let unchanged =
                std::fs::read_to_string(&self.task.task_md).is_ok_and(|t| t == self.prompt);
            if !unchanged {
                write_atomic(&self.task.task_md, self.prompt.as_bytes())
                    .map_err(Error::io("write", &self.task.task_md))?;
            }
        }
        Ok(())
    }
}
