//! The terminal table (placeholder until the writer lands).

use super::Report;
use std::io;

/// Writes `report` as a table.
pub fn write(report: &Report, _color: bool, out: &mut dyn io::Write) -> io::Result<()> {
    for a in &report.alerts {
        writeln!(out, "{} {} {}", a.level, a.id, a.host)?;
    }
    Ok(())
}
