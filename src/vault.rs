//! Credential vault.
