//! okta-ingest: connects Okta organizations to a threat-detection platform.
//!
//! Layers (dependencies point down): `api` → `service` / `ingest` → `store` / `okta` /
//! `vault` / `detect`. `sim` is an Okta simulator for tests, the demo and benchmarks.
//! `cli` and `rules_cli` (the offline `rules check|test` tools: files and `anyhow`) serve
//! `main.rs`, so `detect` stays free of I/O.

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod detect;
pub mod ingest;
pub mod okta;
pub mod rules_cli;
pub mod service;
pub mod sim;
pub mod store;
pub mod telemetry;
pub mod vault;
