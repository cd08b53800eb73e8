//! Enrichment of names and addresses beyond what a capture shows (issue 5): character-pair
//! frequency scores ([`freq`]), registrable domains ([`psl`]), passive DNS in the Common Output
//! Format ([`pdns`]), the embedded state store under `--state DIR` ([`state`]), the `domain`
//! command's answer ([`domain`]) and its read-only HTTP API ([`serve`]), opt-in online lookups
//! ([`online`]) and GeoIP ([`geoip`]). Rules and CLI wiring live elsewhere; these modules hold
//! the data and the lookups. Only [`online`] and [`serve`] touch the network, and only when the
//! caller builds them.

pub mod domain;
pub mod freq;
pub mod geoip;
pub mod online;
pub mod pdns;
pub mod psl;
pub mod serve;
pub mod state;
