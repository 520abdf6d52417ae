//! The maven ecosystem.

pub mod scanner;
pub mod version;
