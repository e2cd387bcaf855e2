//! The live status line shown at the bottom of a terminal by `watch`, `task` and `wait`: attempt, elapsed time, running children, cost so far. Shown only
//! when stdout is a terminal, `--json` is off and `CI` is unset; colored unless
//! `NO_COLOR` is set.

use std::io::{IsTerminal, Write};
use std::time::Duration;

/// What the line shows; absent parts are left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Snapshot {
    /// A label in front, such as `watch` or the task name.
    pub(crate) label: String,
    pub(crate) attempt: Option<u32>,
    pub(crate) elapsed: Duration,
    pub(crate) running: usize,
    pub(crate) cost_usd: Option<f64>,
}

/// Whether to show a live line, from the facts that decide it (testable without a tty).
pub(crate) fn wanted(stdout_is_tty: bool, json: bool, ci: bool) -> bool {
    stdout_is_tty && !json && !ci
}

/// Whether to color: not when `NO_COLOR` is set to a non-empty value (no-color.org).
pub(crate) fn color_wanted(no_color: Option<&str>) -> bool {
    no_color.is_none_or(str::is_empty)
}

/// The line's text.
pub(crate) fn render(s: &Snapshot, color: bool) -> String {
    let mut parts = Vec::new();
    if let Some(a) = s.attempt {
        parts.push(format!("attempt {a}"));
    }
    parts.push(format!(
        "{} elapsed",
        humantime::format_duration(Duration::from_secs(s.elapsed.as_secs()))
    ));
    parts.push(format!("{} running", s.running));
    if let Some(c) = s.cost_usd {
        parts.push(crate::agents::usage::usd(c));
    }
    let body = parts.join(" · ");
    if color {
        format!("\x1b[2m{}\x1b[0m \x1b[36m{body}\x1b[0m", s.label)
    } else {
        format!("{} {body}", s.label)
    }
}

/// A status line drawn on stdout below the streamed lines. Every print goes through it so
/// the line can be cleared before and redrawn after.
pub(crate) struct StatusLine {
    enabled: bool,
    color: bool,
    shown: bool,
}

impl StatusLine {
    /// Decides from the environment: stdout a terminal, not `--json`, `CI` unset.
    pub(crate) fn detect(json: bool) -> Self {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
        Self {
            enabled: wanted(std::io::stdout().is_terminal(), json, ci),
            color: color_wanted(std::env::var("NO_COLOR").ok().as_deref()),
            shown: false,
        }
    }

    #[cfg(test)]
    pub(crate) fn disabled() -> Self {
        Self {
            enabled: false,
            color: false,
            shown: false,
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether human output may use color.
    pub(crate) fn color(&self) -> bool {
        self.color && self.enabled
    }

    /// Erases the line (before printing something else).
    pub(crate) fn clear(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        if self.shown {
            out.write_all(b"\r\x1b[2K")?;
            self.shown = false;
        }
        Ok(())
    }

    /// Erases whatever line another drawer left, when the line is enabled at all.
    pub(crate) fn erase(&self, out: &mut impl Write) -> std::io::Result<()> {
        if self.enabled {
            out.write_all(b"\r\x1b[2K")?;
            out.flush()?;
        }
        Ok(())
    }

    /// Draws the line (no newline, so the next clear removes it).
    pub(crate) fn draw(&mut self, out: &mut impl Write, s: &Snapshot) -> std::io::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        self.clear(out)?;
        out.write_all(render(s, self.color).as_bytes())?;
        out.flush()?;
        self.shown = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_only_on_a_terminal_without_json_or_ci() {
        assert!(wanted(true, false, false));
        assert!(!wanted(false, false, false));
        assert!(!wanted(true, true, false));
        assert!(!wanted(true, false, true));
    }

    #[test]
    fn no_color_turns_color_off() {
        assert!(color_wanted(None));
        assert!(color_wanted(Some("")));
        assert!(!color_wanted(Some("1")));
    }

    #[test]
    fn renders_the_parts_it_has() {
        let s = Snapshot {
            label: "demo/t1".into(),
            attempt: Some(3),
            elapsed: Duration::from_millis(65_400),
            running: 2,
            cost_usd: Some(1.25),
        };
        assert_eq!(
            render(&s, false),
            "demo/t1 attempt 3 · 1m 5s elapsed · 2 running · $1.25"
        );
        assert!(render(&s, true).contains("\x1b["));
        let bare = Snapshot {
            label: "watch".into(),
            ..Snapshot::default()
        };
        assert_eq!(render(&bare, false), "watch 0s elapsed · 0 running");
    }

    #[test]
    fn a_disabled_line_draws_nothing() {
        let mut line = StatusLine::disabled();
        let mut out = Vec::new();
        line.draw(&mut out, &Snapshot::default()).unwrap();
        line.clear(&mut out).unwrap();
        assert!(out.is_empty());
    }
}
