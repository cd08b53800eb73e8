//! A progress bar on stderr for long inputs: bytes read of the total.
//!
//! Shown only when stderr is a terminal, `--quiet` is off, and the run has lasted longer than
//! [`DELAY`], so short runs and pipelines never see it. Cheap to call from the reading loop: `inc`
//! is an atomic add until the bar is drawn, and indicatif rate-limits drawing. Readers never see
//! this type; the pipeline counts bytes and calls it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a run goes before the bar appears.
pub const DELAY: Duration = Duration::from_millis(700);

/// Progress of a run in bytes.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    /// Whether the bar may ever be drawn.
    visible: bool,
    shown: AtomicBool,
    start: Instant,
}

impl Progress {
    /// A bar for `total_bytes`, hidden when `quiet` or when stderr is not a terminal.
    pub fn new(total_bytes: u64, quiet: bool) -> Progress {
        Progress::with_visibility(total_bytes, !quiet && std::io::stderr().is_terminal())
    }

    /// A bar for `total_bytes` that is drawn (after [`DELAY`]) only when `visible`.
    pub fn with_visibility(total_bytes: u64, visible: bool) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} [{wide_bar}] {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress {
            bar,
            visible,
            shown: AtomicBool::new(false),
            start: Instant::now(),
        }
    }

    /// Records `n` more bytes read.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        if self.visible
            && !self.shown.load(Ordering::Relaxed)
            && self.start.elapsed() >= DELAY
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    /// Bytes recorded so far.
    pub fn position(&self) -> u64 {
        self.bar.position()
    }

    /// Whether the bar has been drawn.
    pub fn is_shown(&self) -> bool {
        self.shown.load(Ordering::Relaxed)
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_bytes_and_stays_hidden_when_quiet_or_not_visible() {
        let quiet = Progress::new(100, true);
        quiet.inc(40);
        quiet.inc(2);
        assert_eq!(quiet.position(), 42);
        let p = Progress::with_visibility(10, false);
        std::thread::sleep(DELAY);
        p.inc(10);
        assert!(!p.is_shown());
        assert!(!quiet.is_shown());
        p.finish();
        quiet.finish();
    }
}
