//! captriage: offline threat triage of network captures and Zeek logs.
//!
//! The pipeline: `config` builds a validated configuration from the flags; `input` streams Zeek
//! logs or captures into `model` records; `facts` aggregates them and `resolve` maps addresses
//! to names; `rules` turn the facts into alerts (`alert`); `report` renders them. `app` runs the
//! pipeline and `commands` the other subcommands. See `../shared/STYLE.md`.
pub mod alert;
pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod enrich;
pub mod enrichment;
pub mod facts;
pub mod input;
pub mod intel;
pub mod model;
pub mod names;
pub mod output;
pub mod progress;
pub mod report;
pub mod resolve;
pub mod rules;
pub mod settings;

/// Hash maps and sets keyed by values from the input (foldhash: fast; their iteration order
/// never shows, as everything written is sorted).
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// See [`FastMap`].
pub(crate) type FastSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
