//! Where a command's output goes: a file named by `--output`, or standard output. A failed write
//! to a file names the file, and a partial regular file is removed rather than left for a later
//! step to read as a whole report. A reader that goes away from standard output (`| head`) is
//! not an error: [`is_broken_pipe`] tells the caller, which keeps its own exit code.

use anyhow::{Context, Result};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Creates `path`, runs `write` on it (buffered) and flushes. On a failed write or flush the
/// error names the file, and the file is removed when it is a regular file.
pub fn to_file<T, E: Into<anyhow::Error>>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T, E>,
) -> Result<T> {
    let file = File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut w = BufWriter::new(file);
    let outcome = write(&mut w).map_err(Into::into).and_then(|v| {
        w.flush()?;
        Ok(v)
    });
    drop(w);
    outcome.map_err(|err| {
        let regular = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
        if regular && std::fs::remove_file(path).is_ok() {
            err.context(format!(
                "cannot write {} (the partial file was removed)",
                path.display()
            ))
        } else {
            err.context(format!("cannot write {}", path.display()))
        }
    })
}

/// Runs `write` on standard output (buffered, locked) and flushes; an error says where it
/// went wrong.
pub fn to_stdout<T, E: Into<anyhow::Error>>(
    write: impl FnOnce(&mut dyn Write) -> Result<T, E>,
) -> Result<T> {
    let stdout = io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    let v = write(&mut w)
        .map_err(Into::into)
        .context("cannot write to standard output")?;
    w.flush().context("cannot write to standard output")?;
    Ok(v)
}

/// Writes one line on standard error. A standard error that cannot be written (a closed pipe,
/// `2>&1 | head`) is ignored: `eprintln!` would panic there, and there is nowhere left to say so.
pub fn stderr_line(args: std::fmt::Arguments<'_>) {
    // A failed write is dropped on purpose: nothing can be reported on a standard error
    // that is gone.
    let _ = writeln!(io::stderr().lock(), "{args}");
}

/// `eprintln!` that never panics: see [`output::stderr_line`](crate::output::stderr_line).
#[macro_export]
macro_rules! stderr_line {
    ($($arg:tt)*) => {
        $crate::output::stderr_line(format_args!($($arg)*))
    };
}

/// The outcome of writing output whose reader may stop early: a broken pipe is success, so
/// the exit code a command decides afterwards (or has decided) is the one the caller sees.
pub fn unless_reader_gone(written: Result<()>) -> Result<()> {
    match written {
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

/// Whether `err` comes from writing to a pipe whose reader has gone (`captriage ... | head`).
/// The I/O error may be wrapped by the csv or serde_json writer that met it.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        let kind = if let Some(io) = e.downcast_ref::<io::Error>() {
            Some(io.kind())
        } else if let Some(c) = e.downcast_ref::<csv::Error>() {
            match c.kind() {
                csv::ErrorKind::Io(io) => Some(io.kind()),
                _ => None,
            }
        } else {
            e.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
        };
        kind == Some(io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_names_the_file_and_removes_the_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, "an earlier report").unwrap();
        let err = to_file(&path, |w| -> Result<()> {
            w.write_all(b"{\"half\":")?;
            w.flush()?;
            Err(io::Error::new(io::ErrorKind::StorageFull, "disk full").into())
        })
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("the partial file was removed"), "{text}");
        assert!(text.contains("disk full"), "{text}");
        assert!(!path.exists());
    }

    #[test]
    fn a_good_write_is_flushed_and_returns_its_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let n = to_file(&path, |w| -> Result<usize> {
            w.write_all(b"abc")?;
            Ok(3)
        })
        .unwrap();
        assert_eq!(n, 3);
        assert_eq!(std::fs::read(&path).unwrap(), b"abc");
    }

    #[test]
    fn a_broken_pipe_is_recognised_through_context() {
        let err = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("writing the report");
        assert!(is_broken_pipe(&err));
        let other = anyhow::Error::from(io::Error::from(io::ErrorKind::StorageFull));
        assert!(!is_broken_pipe(&other));
        let from_csv = csv::Error::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&anyhow::Error::from(from_csv)));
        let from_json = serde_json::Error::io(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&anyhow::Error::from(from_json)));
    }

    #[test]
    fn only_a_reader_gone_is_forgiven() {
        let gone = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(unless_reader_gone(Err(gone)).is_ok());
        let full = anyhow::Error::from(io::Error::from(io::ErrorKind::StorageFull));
        assert!(unless_reader_gone(Err(full)).is_err());
    }
}
