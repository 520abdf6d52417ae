//! The rubygems ecosystem.

pub mod scanner;
pub mod version;
