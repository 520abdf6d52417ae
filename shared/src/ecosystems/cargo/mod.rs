//! The cargo ecosystem.

pub mod scanner;
pub mod version;
