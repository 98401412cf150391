//! The project's Okta simulator on its own, over real HTTP: the token endpoint, the Event
//! Hooks API and verification, the delivery engine, the System Log API, faults and the
//! `/sim/…` control API.
//!
//! One test binary (`cargo test --test sim`); each file below was once its own binary.

mod support;

mod api;
mod delivery;
mod faults;
mod logs;
mod realism;
