//! Postgres state store (todo)
