//! The `captriage` binary (placeholder until the CLI lands).

fn main() {}
