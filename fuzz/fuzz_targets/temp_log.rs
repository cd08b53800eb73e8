//! Shared by the differential targets: the fuzz input written to a log file of a given name in
//! this process's own temporary directory, since the readers under test open files by path.

use std::path::PathBuf;

/// Writes `data` to `name` in a directory of this process's own; `None` if that fails.
pub fn write(name: &str, data: &[u8]) -> Option<PathBuf> {
    let dir = std::env::temp_dir().join(format!("captriage-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(name);
    std::fs::write(&path, data).ok()?;
    Some(path)
}
