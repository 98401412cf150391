//! The Okta simulator.
