//! Run an installed Zeek on a capture, safely.
//!
//! No shell is involved: Zeek gets an argument vector (`-C -r CAPTURE` plus the certificate
//! validation policy), runs in a fresh temporary directory where it writes its logs, has its
//! stderr captured and is killed when it overruns its time limit. Any failure (missing binary,
//! non-zero exit, signal, timeout) is an error carrying the tail of Zeek's stderr. Reading the
//! logs it wrote is left to the Zeek log reader; this module only produces the directory.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How much of Zeek's stderr is kept (its end) for messages.
const STDERR_KEEP: usize = 64 * 1024;
/// How much of the stderr tail goes into an error message.
const STDERR_TAIL: usize = 2000;

/// Where Zeek is and how long it may run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZeekRunner {
    pub program: PathBuf,
    pub timeout: Duration,
}

/// The logs of one Zeek run: a temporary directory (removed on drop) and Zeek's stderr.
#[derive(Debug)]
pub struct ZeekOutput {
    pub dir: tempfile::TempDir,
    /// Zeek's stderr (its last 64 KiB), lossily decoded; warnings live here.
    pub stderr: String,
}

impl ZeekOutput {
    /// The directory holding conn.log, dns.log, ssl.log, x509.log, http.log, ...
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// `zeek` on PATH, if any (an executable regular file).
pub fn find_zeek() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join("zeek"))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

impl ZeekRunner {
    /// Zeek from PATH with the given time limit.
    pub fn from_path(timeout: Duration) -> Option<Self> {
        find_zeek().map(|program| ZeekRunner { program, timeout })
    }

    /// The argument vector for one capture (an absolute path).
    pub fn args(capture: &Path) -> Vec<std::ffi::OsString> {
        vec![
            "-C".into(),
            "-r".into(),
            capture.as_os_str().to_owned(),
            "protocols/ssl/validate-certs".into(),
            "LogAscii::use_json=F".into(),
        ]
    }

    /// Run Zeek on `capture`; its logs end up in the returned temporary directory.
    pub fn run(&self, capture: &Path) -> anyhow::Result<ZeekOutput> {
        let capture = capture
            .canonicalize()
            .with_context(|| format!("{}: cannot open capture", capture.display()))?;
        let dir = tempfile::Builder::new()
            .prefix("captriage-zeek-")
            .tempdir()
            .context("cannot create a temporary directory for Zeek's logs")?;
        let mut child = Command::new(&self.program)
            .args(Self::args(&capture))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}", self.program.display()))?;
        let stderr_reader = child.stderr.take().map(|mut err| {
            thread::spawn(move || {
                let mut kept: Vec<u8> = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    match err.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            kept.extend_from_slice(chunk.get(..n).unwrap_or_default());
                            if kept.len() > 2 * STDERR_KEEP {
                                kept.drain(..kept.len() - STDERR_KEEP);
                            }
                        }
                    }
                }
                if kept.len() > STDERR_KEEP {
                    kept.drain(..kept.len() - STDERR_KEEP);
                }
                kept
            })
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().context("waiting for Zeek")? {
                break Some(status);
            }
            if started.elapsed() >= self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            thread::sleep(Duration::from_millis(20));
        };
        let stderr = stderr_reader
            .and_then(|h| h.join().ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let what = format!("{} on {}", self.program.display(), capture.display());
        match status {
            None => bail!(
                "{what}: killed after the {:?} time limit{}",
                self.timeout,
                tail(&stderr)
            ),
            Some(s) if !s.success() => bail!("{what}: {s}{}", tail(&stderr)),
            Some(_) => Ok(ZeekOutput { dir, stderr }),
        }
    }
}

/// The end of Zeek's stderr for an error message (empty if there was none).
fn tail(stderr: &str) -> String {
    let t = stderr.trim_end();
    if t.is_empty() {
        return String::new();
    }
    let mut start = t.len().saturating_sub(STDERR_TAIL);
    while !t.is_char_boundary(start) {
        start += 1;
    }
    format!(
        "; Zeek's stderr ends with:\n{}",
        t.get(start..).unwrap_or(t)
    )
}
