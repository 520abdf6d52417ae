//! The nuget ecosystem.

pub mod scanner;
pub mod version;
