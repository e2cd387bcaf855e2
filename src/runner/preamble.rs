//! The text an agent is given: restart line, preamble (from the built-in THE_PROMPT.md),
//! optional role prompt, then the task prompt.

use std::path::Path;

use crate::agents::resolve::AgentKind;
use crate::storage::layout::{RunPaths, TaskPaths};

/// The working method, built in so a run started outside this repository gets it too.
const THE_PROMPT: &str = include_str!("../../THE_PROMPT.md");

/// The line that opens every attempt after the first.
pub(crate) const RESTART_LINE: &str = "Continue working on the following:";

/// Built-in role prompts, by name (`--role NAME`).
const ROLES: &[(&str, &str)] = &[
    ("implementer", include_str!("../../prompts/implementer.md")),
    ("monitor", include_str!("../../prompts/monitor.md")),
    (
        "orchestrator",
        include_str!("../../prompts/orchestrator.md"),
    ),
    ("researcher", include_str!("../../prompts/researcher.md")),
    ("reviewer", include_str!("../../prompts/reviewer.md")),
    ("tester", include_str!("../../prompts/tester.md")),
];

/// A `--role` that could not be found.
#[derive(Debug, thiserror::Error)]
#[error("unknown role {name:?}: no {} and no built-in role of that name (built in: {})", override_path.display(), builtin_roles())]
pub(crate) struct UnknownRole {
    pub(crate) name: String,
    pub(crate) override_path: std::path::PathBuf,
}

fn builtin_roles() -> String {
    ROLES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// The role prompt `NAME`: `<project>/prompts/NAME.md` if present, else the built-in one.
pub(crate) fn role_prompt(project_dir: &Path, name: &str) -> Result<String, UnknownRole> {
    let override_path = project_dir.join("prompts").join(format!("{name}.md"));
    let valid_name = crate::storage::ids::validate_id("role", name).is_ok();
    if valid_name {
        if let Ok(text) = std::fs::read_to_string(&override_path) {
            return Ok(text);
        }
        if let Some((_, text)) = ROLES.iter().find(|(n, _)| *n == name) {
            return Ok((*text).to_owned());
        }
    }
    Err(UnknownRole {
        name: name.to_owned(),
        override_path,
    })
}

/// Everything that goes into `prompt.md`.
pub(crate) struct PromptParts<'a> {
    pub(crate) task: &'a TaskPaths,
    pub(crate) run: &'a RunPaths,
    pub(crate) attempt: u32,
    pub(crate) kind: AgentKind,
    pub(crate) role: Option<&'a str>,
    pub(crate) prompt: &'a str,
}

/// Builds the prompt. For the `shell` agent the preamble is `#` comment lines so the task
/// prompt still runs as a script unchanged; it then carries only the folder header, as
/// the working method is written for language models, not scripts.
pub(crate) fn build(p: &PromptParts<'_>) -> String {
    let mut pre = String::new();
    if p.attempt > 1 {
        pre.push_str(RESTART_LINE);
        pre.push_str("\n\n");
    }
    pre.push_str(&header(p));
    if p.kind != AgentKind::Shell {
        pre.push('\n');
        pre.push_str(THE_PROMPT.trim_end());
        pre.push('\n');
        if let Some(role) = p.role {
            pre.push('\n');
            pre.push_str(role.trim_end());
            pre.push('\n');
        }
        pre.push_str("\n## Your task\n\n");
        pre.push_str(p.prompt);
        return pre;
    }
    if let Some(role) = p.role {
        pre.push('\n');
        pre.push_str(role.trim_end());
        pre.push('\n');
    }
    let mut out = String::with_capacity(pre.len() * 2 + p.prompt.len());
    for line in pre.lines() {
        out.push('#');
        if !line.is_empty() {
            out.push(' ');
            out.push_str(line);
        }
        out.push('\n');
    }
    out.push_str(p.prompt);
    out
}

fn header(p: &PromptParts<'_>) -> String {
    format!(
        "run-agent run {run_id} (attempt {attempt}) of task {project}/{task}\n\
         Task folder: {task_dir}\n\
         Task prompt: {task_md}\n\
         Task state: {task_state}\n\
         Run folder: {run_dir}\n\
         Message bus: {bus}\n\
         Project bus: {project_bus}\n\
         Write your final result to: {output}\n\
         When the whole task is finished and verified, create: {done}\n",
        run_id = p.run.run_id,
        attempt = p.attempt,
        project = p.task.project_id,
        task = p.task.task_id,
        task_dir = p.task.dir.display(),
        task_md = p.task.task_md.display(),
        task_state = p.task.task_state.display(),
        run_dir = p.run.dir.display(),
        bus = p.task.bus.display(),
        project_bus = p.task.project_bus.display(),
        output = p.run.output.display(),
        done = p.task.done.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::layout::Layout;

    fn parts<'a>(
        task: &'a TaskPaths,
        run: &'a RunPaths,
        kind: AgentKind,
        attempt: u32,
    ) -> PromptParts<'a> {
        PromptParts {
            task,
            run,
            attempt,
            kind,
            role: None,
            prompt: "echo hi\n",
        }
    }

    #[test]
    fn shell_preamble_is_comments_and_the_script_is_unchanged() {
        let l = Layout::new(Path::new("/r")).unwrap();
        let t = l.task("p", "t").unwrap();
        let r = t.run("x");
        let text = build(&parts(&t, &r, AgentKind::Shell, 2));
        assert!(
            text.starts_with("# Continue working on the following:\n"),
            "{text}"
        );
        assert!(text.ends_with("\necho hi\n"));
        for line in text.lines().take_while(|l| *l != "echo hi") {
            assert!(line.starts_with('#'), "{line:?}");
        }
        assert!(text.contains("/r/p/t/DONE"));
    }

    #[test]
    fn model_prompt_has_method_then_task() {
        let l = Layout::new(Path::new("/r")).unwrap();
        let t = l.task("p", "t").unwrap();
        let r = t.run("x");
        let text = build(&parts(&t, &r, AgentKind::Command, 1));
        assert!(!text.starts_with(RESTART_LINE));
        let method = text.find("# How to work in a run-agent run").unwrap();
        let task = text.find("echo hi").unwrap();
        assert!(text.find("Run folder: /r/p/t/runs/x").unwrap() < method && method < task);
    }
}
