//! The integration tests, one module per concern, in one binary (so the
//! host is linked once): each starts the real `summer` binary on a free
//! port with the real built components. The fault suite, which stops the
//! shared database servers, is a binary of its own (`database_faults.rs`),
//! so that it never runs beside these.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod admin;
mod api_contract;
mod bad_clients;
mod capabilities;
mod compose;
mod fleet;
mod hot_swap;
mod injection;
mod interop;
mod isolation;
mod limits;
mod loading;
mod observability;
mod openapi;
mod outages;
mod registry;
mod request_fuzz;
mod restart;
mod reuse;
mod sandbox;
mod scaffold;
mod scaling;
mod seed;
mod tls;
mod traces;
mod users_api;
mod variables;
mod walkthroughs;
