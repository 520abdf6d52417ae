//! The python ecosystem.

pub mod scanner;
pub mod version;
