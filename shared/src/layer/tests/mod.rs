//! Tests for the layer reader and the coalescer. Layers are built in memory with the `tar` crate (or raw
//! headers, for what the tar crate refuses to write) and compressed with flate2/zstd; the package files
//! inside are real samples from `../testdata` (see `testdata/SOURCE.md`).

mod coalesce;
mod fixtures;
mod reader;
mod reference;
