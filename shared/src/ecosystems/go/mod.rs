//! The go ecosystem.

pub mod scanner;
pub mod version;
