//! Everything that boots the service: the real service on port 0 against a fresh database
//! (`#[sqlx::test]`), with the project's Okta simulator as the Okta org. Also the Okta
//! client against the simulator, and the `okta-ingest` binary's start-up refusals.
//!
//! One test binary (`cargo test --test service`); each file below was once its own binary.
//! `secrets` installs the binary's only tracing subscriber, so no other test may install one.

mod support;

mod baseline;
mod concurrency;
mod console;
mod coverage;
mod crash;
mod fairness;
mod feed;
mod hostile;
mod ingest;
mod isolation;
mod okta_client;
mod okta_fixtures;
mod openapi_contract;
mod operations;
mod policies;
mod replicas;
mod same_org;
mod schema;
mod secrets;
mod wizard;
