//! The packagist ecosystem.

pub mod scanner;
pub mod version;
