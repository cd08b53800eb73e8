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
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How much of Zeek's stderr is kept (its end) for messages.
const STDERR_KEEP: usize = 64 * 1024;
/// How long to wait for the end of stderr once Zeek has exited.
const STDERR_GRACE: Duration = Duration::from_secs(2);
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
    find_in(&std::env::var_os("PATH")?)
}

/// `zeek` in a PATH-style list of directories (empty entries, meaning `.`, are skipped).
fn find_in(path: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
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
        self.run_in(capture, None)
    }

    /// [`ZeekRunner::run`] with the temporary directory made inside `parent` (`None`: the
    /// system's temporary directory).
    pub fn run_in(&self, capture: &Path, parent: Option<&Path>) -> anyhow::Result<ZeekOutput> {
        let capture = capture
            .canonicalize()
            .with_context(|| format!("{}: cannot open capture", capture.display()))?;
        let mut builder = tempfile::Builder::new();
        builder.prefix("captriage-zeek-");
        let dir = match parent {
            Some(p) => builder.tempdir_in(p),
            None => builder.tempdir(),
        }
        .context("cannot create a temporary directory for Zeek's logs")?;
        let mut child = Command::new(&self.program)
            .args(Self::args(&capture))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}", self.program.display()))?;
        let (tx, rx) = mpsc::channel();
        if let Some(mut err) = child.stderr.take() {
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
                let _ = tx.send(kept);
            });
        }
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
        // A grandchild still holding stderr open must not hang us: wait a little, then go on.
        let stderr = rx
            .recv_timeout(STDERR_GRACE)
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Mutex;

    /// Writing an executable while another test forks can make exec fail (ETXTBSY): the tests
    /// that write and run stand-in scripts take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    /// A stand-in `zeek` (bash) in `dir` running `body`; returns its path.
    fn stand_in(dir: &Path, body: &str) -> PathBuf {
        let p = dir.join("zeek");
        std::fs::write(&p, format!("#!/bin/bash\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// A capture path full of shell metacharacters.
    const NASTY: &str = "a b;$(touch pwned)'\"&|*.pcap";

    #[test]
    fn logs_go_to_a_directory_inside_the_one_asked_for() {
        let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let bin = tempfile::tempdir().unwrap();
        let parent = tempfile::tempdir().unwrap();
        let runner = ZeekRunner {
            program: stand_in(bin.path(), "printf '#path\\tconn\\n' > conn.log"),
            timeout: Duration::from_secs(20),
        };
        let out = runner
            .run_in(Path::new("Cargo.toml"), Some(parent.path()))
            .unwrap();
        assert_eq!(
            out.path().parent().map(Path::to_path_buf),
            Some(parent.path().to_path_buf())
        );
        assert!(out.path().join("conn.log").is_file());
        let missing = parent.path().join("missing");
        let err = format!(
            "{:#}",
            runner
                .run_in(Path::new("Cargo.toml"), Some(&missing))
                .unwrap_err()
        );
        assert!(err.contains("cannot create a temporary directory"), "{err}");
    }

    #[test]
    fn arguments_arrive_verbatim_and_nothing_is_executed() {
        let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let bin = tempfile::tempdir().unwrap();
        let cap_dir = tempfile::tempdir().unwrap();
        let capture = cap_dir.path().join(NASTY);
        std::fs::write(&capture, b"\xd4\xc3\xb2\xa1").unwrap();
        let record = bin.path().join("args.txt");
        let body = format!(
            "printf '%s\\n' \"$@\" > '{}'\npwd >> '{}'\n\
             printf '#path\\tconn\\n' > conn.log\nprintf '#path\\tdns\\n' > dns.log\n\
             echo 'warning: something' >&2",
            record.display(),
            record.display()
        );
        let runner = ZeekRunner {
            program: stand_in(bin.path(), &body),
            timeout: Duration::from_secs(20),
        };
        let out = runner.run(&capture).unwrap();
        let recorded = std::fs::read_to_string(&record).unwrap();
        let lines: Vec<&str> = recorded.lines().collect();
        let abs = capture.canonicalize().unwrap();
        assert_eq!(
            lines,
            [
                "-C",
                "-r",
                abs.to_str().unwrap(),
                "protocols/ssl/validate-certs",
                "LogAscii::use_json=F",
                out.path().canonicalize().unwrap().to_str().unwrap(),
            ]
        );
        assert!(out.path().join("conn.log").is_file());
        assert!(out.path().join("dns.log").is_file());
        assert_eq!(out.stderr, "warning: something\n");
        for dir in [bin.path(), cap_dir.path(), out.path(), Path::new(".")] {
            assert!(!dir.join("pwned").exists(), "{}", dir.display());
        }
        // The logs go away with the output.
        let logs = out.path().to_path_buf();
        drop(out);
        assert!(!logs.exists());
    }

    #[test]
    fn relative_capture_is_passed_absolute() {
        let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let bin = tempfile::tempdir().unwrap();
        let record = bin.path().join("args.txt");
        let body = format!("printf '%s\\n' \"$3\" > '{}'", record.display());
        let runner = ZeekRunner {
            program: stand_in(bin.path(), &body),
            timeout: Duration::from_secs(20),
        };
        runner.run(Path::new("Cargo.toml")).unwrap();
        let got = std::fs::read_to_string(&record).unwrap();
        let want = Path::new("Cargo.toml").canonicalize().unwrap();
        assert_eq!(got.trim_end(), want.to_str().unwrap());
    }

    #[test]
    fn non_zero_exit_is_an_error_with_the_stderr_tail() {
        let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let bin = tempfile::tempdir().unwrap();
        let body = "for i in $(seq 1 3000); do echo \"noise $i\" >&2; done\n\
                    echo 'fatal error: problem with trace file' >&2\nexit 3";
        let runner = ZeekRunner {
            program: stand_in(bin.path(), body),
            timeout: Duration::from_secs(20),
        };
        let err = format!("{:#}", runner.run(Path::new("Cargo.toml")).unwrap_err());
        assert!(err.contains("exit status: 3"), "{err}");
        assert!(
            err.ends_with("fatal error: problem with trace file"),
            "{err}"
        );
        assert!(!err.contains("noise 1\n"), "only the tail: {err}");
        assert!(err.len() < STDERR_TAIL + 500);
    }

    #[test]
    fn timeout_kills_zeek() {
        let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let bin = tempfile::tempdir().unwrap();
        let runner = ZeekRunner {
            program: stand_in(bin.path(), "echo 'starting' >&2\nsleep 30"),
            timeout: Duration::from_millis(300),
        };
        let started = Instant::now();
        let err = format!("{:#}", runner.run(Path::new("Cargo.toml")).unwrap_err());
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert!(err.contains("killed after the 300ms time limit"), "{err}");
    }

    #[test]
    fn missing_binary_and_missing_capture_are_errors() {
        let runner = ZeekRunner {
            program: PathBuf::from("/nonexistent/zeek"),
            timeout: Duration::from_secs(5),
        };
        let err = format!("{:#}", runner.run(Path::new("Cargo.toml")).unwrap_err());
        assert!(err.contains("cannot run /nonexistent/zeek"), "{err}");
        let err = format!("{:#}", runner.run(Path::new("no/such.pcap")).unwrap_err());
        assert!(err.contains("no/such.pcap: cannot open capture"), "{err}");
    }

    #[test]
    fn find_in_path_list() {
        let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let empty = tempfile::tempdir().unwrap();
        let bin = tempfile::tempdir().unwrap();
        let noexec = tempfile::tempdir().unwrap();
        std::fs::write(noexec.path().join("zeek"), "").unwrap();
        let zeek = stand_in(bin.path(), "exit 0");
        let list = std::env::join_paths([empty.path(), noexec.path(), bin.path()]).unwrap();
        assert_eq!(find_in(&list), Some(zeek));
        let list = std::env::join_paths([empty.path(), noexec.path()]).unwrap();
        assert_eq!(find_in(&list), None);
    }
}
