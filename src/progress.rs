//! A spinner on stderr for slow runs: shown only when stderr is a terminal and the work has
//! taken longer than [`DELAY`], so quick runs, pipes, CI logs and pre-commit hooks never see it.

use std::io::IsTerminal;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long work runs before the spinner appears.
pub const DELAY: Duration = Duration::from_secs(1);

/// A spinner that appears after [`DELAY`] and is cleared when dropped.
pub struct Spinner {
    inner: Option<(ProgressBar, mpsc::Sender<()>, JoinHandle<()>)>,
}

impl Spinner {
    /// Start a spinner with `message`, if `wanted` and stderr is a terminal.
    pub fn start(message: impl Into<String>, wanted: bool) -> Spinner {
        if !wanted || !std::io::stderr().is_terminal() {
            return Spinner { inner: None };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(message.into());
        let (tx, rx) = mpsc::channel::<()>();
        let shown = bar.clone();
        let handle = std::thread::spawn(move || {
            // Finished early (a message, or the sender dropped): never drawn.
            if rx.recv_timeout(DELAY) == Err(mpsc::RecvTimeoutError::Timeout) {
                shown.set_draw_target(ProgressDrawTarget::stderr());
                shown.enable_steady_tick(Duration::from_millis(100));
            }
        });
        Spinner {
            inner: Some((bar, tx, handle)),
        }
    }

    /// Change the message (shown once the spinner is visible).
    pub fn set_message(&self, message: impl Into<String>) {
        if let Some((bar, _, _)) = &self.inner {
            bar.set_message(message.into());
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some((bar, tx, handle)) = self.inner.take() {
            let _ = tx.send(());
            let _ = handle.join();
            bar.finish_and_clear();
        }
    }
}
