//! Lucid's core library. The four Lambda functions and the `lucid` CLI are thin shells around it: they
//! adapt an event or a command line to a call in here, so a deployed stack and a local run execute the
//! same code. See `ARCHITECTURE.md` at the repository root for the map.

pub mod allocator;
pub mod api;
pub mod aws;
pub mod blob;
pub mod config;
pub mod ecosystems;
pub mod embedded;
pub mod feeds;
pub mod fuzzing;
pub mod image;
pub mod indexer;
pub mod layer;
pub mod matcher;
pub mod model;
pub mod notifier;
pub mod queue;
pub mod report_format;
pub mod scan;
pub mod scanner;
pub mod services;
pub mod store;

/// An error and its causes on one line (`outer: cause: root cause`): HTTP and database client errors
/// display only their outermost layer ("error sending request", "db error").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}
