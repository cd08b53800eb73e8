//! Enrichment of names and addresses beyond what a capture shows (issue 5): character-pair
//! frequency scores ([`freq`]), registrable domains ([`psl`]), passive DNS in the Common Output
//! Format ([`pdns`]), the embedded state store under `--state DIR` ([`state`]), the `domain`
//! command's answer ([`domain`]) and its read-only HTTP API ([`serve`]). Rules and CLI wiring live
//! elsewhere; these modules hold the data and the lookups.

pub mod domain;
pub mod freq;
pub mod online;
pub mod pdns;
pub mod psl;
pub mod serve;
pub mod state;
