//! One stream of stop requests (signals to the runner, `--timeout`) that every running
//! job watches, in the style of nextest's signal handler.

use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// Why the runner is stopping its agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// A signal to the runner (SIGINT, SIGTERM, SIGHUP): exit 128 + n.
    Signal(i32),
    /// `--timeout` ran out: exit 124.
    Timeout,
}

impl StopReason {
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Self::Signal(n) => (128 + n).clamp(0, 255) as u8,
            Self::Timeout => 124,
        }
    }

    pub(crate) fn describe(self) -> String {
        match self {
            Self::Signal(n) => format!(
                "stopped: run-agent received {}",
                nix::sys::signal::Signal::try_from(n)
                    .map_or_else(|_| format!("signal {n}"), |s| s.as_str().to_owned())
            ),
            Self::Timeout => "stopped: --timeout reached".to_owned(),
        }
    }
}

/// The current request: keep going, stop gracefully, or kill now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    Run,
    Stop(StopReason),
    /// A second Ctrl-C: SIGKILL at once, no grace.
    Kill(StopReason),
}

impl Request {
    pub(crate) fn reason(self) -> Option<StopReason> {
        match self {
            Self::Run => None,
            Self::Stop(r) | Self::Kill(r) => Some(r),
        }
    }
}

/// Listens for signals (and an optional deadline) and publishes the current [`Request`].
pub(crate) struct Shutdown {
    tx: watch::Sender<Request>,
}

impl Shutdown {
    /// Installs the signal handlers; must be called inside the tokio runtime.
    pub(crate) fn install(timeout: Option<Duration>) -> std::io::Result<Self> {
        let (tx, _) = watch::channel(Request::Run);
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut hup = signal(SignalKind::hangup())?;
        let sender = tx.clone();
        tokio::spawn(async move {
            loop {
                let (n, is_int) = tokio::select! {
                    _ = int.recv() => (libc_sig::INT, true),
                    _ = term.recv() => (libc_sig::TERM, false),
                    _ = hup.recv() => (libc_sig::HUP, false),
                };
                sender.send_modify(|req| {
                    *req = match *req {
                        Request::Run => Request::Stop(StopReason::Signal(n)),
                        // A second Ctrl-C means "now": SIGKILL without waiting for grace.
                        Request::Stop(r) if is_int => Request::Kill(r),
                        other => other,
                    }
                });
            }
        });
        if let Some(limit) = timeout {
            let sender = tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(limit).await;
                sender.send_modify(|req| {
                    if *req == Request::Run {
                        *req = Request::Stop(StopReason::Timeout);
                    }
                });
            });
        }
        Ok(Self { tx })
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Request> {
        self.tx.subscribe()
    }

    pub(crate) fn current(&self) -> Request {
        *self.tx.borrow()
    }
}

/// Signal numbers, named once so the select above reads plainly.
mod libc_sig {
    pub(super) const HUP: i32 = nix::sys::signal::Signal::SIGHUP as i32;
    pub(super) const INT: i32 = nix::sys::signal::Signal::SIGINT as i32;
    pub(super) const TERM: i32 = nix::sys::signal::Signal::SIGTERM as i32;
}
