#!/bin/sh
# Compiles the fuzz targets under fuzz/ without running them, so that CI notices when an API
# they call changes. With cargo-fuzz installed the targets are built as libFuzzer binaries with
# coverage instrumentation (no sanitizer, so no nightly features beyond RUSTC_BOOTSTRAP's);
# without it they are type-checked and linked as plain binaries. See docs/fuzzing.md.
set -eu
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--plain" ] && command -v cargo-fuzz >/dev/null 2>&1; then
    RUSTC_BOOTSTRAP=1 exec cargo fuzz build --dev --sanitizer none
fi
exec cargo build --manifest-path fuzz/Cargo.toml --bins
