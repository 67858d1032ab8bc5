//! Code the benchmark programs share.

pub mod users;
