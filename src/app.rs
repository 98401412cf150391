//! Startup.
