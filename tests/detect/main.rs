//! The detection engine on its own: the rule language, stateful rules (in memory and on
//! Postgres), the managed policies against their cases, hostile policies, the `rules` CLI,
//! and random conditions against a reference interpreter.
//!
//! One test binary (`cargo test --test detect`); each file below was once its own binary.

mod support;

mod cli;
mod corpus;
mod differential;
mod extensions;
mod fuzz_regressions;
mod hostile;
mod language;
mod managed;
mod pg;
mod proptests;
mod stateful;
