//! The built-in agents as data: program, default arguments, model flag, token variable
//! and output format. The per-agent facts live in `claude.rs`, `codex.rs`, `gemini.rs`.

use super::stream::OutputFormat;

/// How to start one built-in agent CLI and read what it prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backend {
    /// The agent's name in the config and on the command line.
    pub(crate) name: &'static str,
    /// The program looked up on `PATH`.
    pub(crate) program: &'static str,
    /// Arguments that make the CLI run headless, read the prompt from stdin and print
    /// JSON lines.
    pub(crate) args: &'static [&'static str],
    /// Arguments that must stay last (Codex's `-`, "read the prompt from stdin"), so
    /// the model flag and extra args go before them.
    pub(crate) trailing_args: &'static [&'static str],
    /// The flag that takes a model name.
    pub(crate) model_flag: &'static str,
    /// The environment variable that carries the API token.
    pub(crate) token_env: &'static str,
    pub(crate) output: OutputFormat,
}

impl Backend {
    /// The full argv: program, default args, `<model_flag> <model>` when a model is
    /// configured, the configured extra args, then the trailing args.
    pub(crate) fn argv(&self, model: Option<&str>, extra_args: &[String]) -> Vec<String> {
        let mut argv = Vec::with_capacity(
            1 + self.args.len() + 2 + extra_args.len() + self.trailing_args.len(),
        );
        argv.push(self.program.to_string());
        argv.extend(self.args.iter().map(|a| (*a).to_string()));
        if let Some(model) = model {
            argv.push(self.model_flag.to_string());
            argv.push(model.to_string());
        }
        argv.extend(extra_args.iter().cloned());
        argv.extend(self.trailing_args.iter().map(|a| (*a).to_string()));
        argv
    }
}

/// Every built-in JSON-speaking agent, in the order `validate` lists them.
pub(crate) const BUILTINS: [&Backend; 3] = [
    &super::claude::BACKEND,
    &super::codex::BACKEND,
    &super::gemini::BACKEND,
];

/// The built-in agent called `name`.
pub(crate) fn builtin(name: &str) -> Option<&'static Backend> {
    BUILTINS.into_iter().find(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_matches_the_spec_table() {
        let line = |name: &str| builtin(name).unwrap().argv(None, &[]).join(" ");
        assert_eq!(
            line("claude"),
            "claude -p --input-format text --output-format stream-json --verbose \
             --permission-mode bypassPermissions"
        );
        assert_eq!(
            line("codex"),
            "codex exec --dangerously-bypass-approvals-and-sandbox --json -"
        );
        assert_eq!(
            line("gemini"),
            "gemini --approval-mode yolo --output-format stream-json"
        );
        assert!(builtin("shell").is_none());
    }

    #[test]
    fn model_and_extra_args_go_before_trailing_args() {
        let codex = builtin("codex").unwrap();
        let argv = codex.argv(Some("gpt-5-codex"), &["--skip-git-repo-check".to_string()]);
        assert_eq!(
            argv.join(" "),
            "codex exec --dangerously-bypass-approvals-and-sandbox --json \
             --model gpt-5-codex --skip-git-repo-check -"
        );
        let claude = builtin("claude").unwrap().argv(Some("sonnet"), &[]);
        assert_eq!(&claude[claude.len() - 2..], ["--model", "sonnet"]);
    }

    #[test]
    fn token_variables_and_formats() {
        let facts: Vec<_> = BUILTINS.iter().map(|b| (b.token_env, b.output)).collect();
        assert_eq!(
            facts,
            [
                ("ANTHROPIC_API_KEY", OutputFormat::ClaudeJson),
                ("OPENAI_API_KEY", OutputFormat::CodexJson),
                ("GEMINI_API_KEY", OutputFormat::GeminiJson),
            ]
        );
    }
}
