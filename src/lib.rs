//! captriage: offline threat triage of network captures and Zeek logs.
//!
//! The pipeline: `config` builds a validated configuration from the flags; `input` streams Zeek
//! logs or captures into `model` records; `resolve` maps addresses to names; `rules` turn the
//! aggregated records into alerts (`alert`); `report` renders them. See `../shared/STYLE.md`.

pub mod alert;
pub mod input;
pub mod intel;
pub mod model;
pub mod names;
pub mod report;
