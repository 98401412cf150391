//! okta-ingest: connects Okta organizations to a threat-detection platform.
//!
//! Dependencies point down this map; nothing imports upward.
//!
//! ```text
//! main.rs, cli, rules_cli, demo      binaries' edges: commands, files, anyhow
//! app                                boot: run(config, listener) → API + background tasks
//! api/        console                axum routers and the one problem+json error | the
//!                                    web console's embedded files (calls only api/v1)
//! service/   ingest/                 peers: the wizard, credentials, hooks, policies, status,
//!                                    tokens, baseline | hook envelope, inbox, worker,
//!                                    gap fill, baselines
//! state                              Services: pool, config, vault, Okta client (shared)
//! store/  okta/  vault  detect/      SQL | Okta's APIs and types | credential encryption |
//!                                    rule engine (no I/O, no SQL, no HTTP)
//! ids  secrets  config  telemetry    typed ids | random secrets and their hashes | settings
//! sim/                               an Okta simulator (depends only on Okta's types)
//! ```

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod console;
pub mod demo;
pub mod detect;
pub mod ids;
pub mod ingest;
pub mod okta;
pub mod rules_cli;
pub mod secrets;
pub mod service;
pub mod sim;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod vault;
