//! The npm ecosystem.

pub mod scanner;
pub mod version;
