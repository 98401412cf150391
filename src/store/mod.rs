//! Postgres repositories: the only place SQL lives. Every query on tenant data takes the
//! tenant id first.

pub mod baselines;
pub mod credentials;
pub mod detect_state;
pub mod gapfill;
pub mod inbox;
pub mod integrations;
pub mod jobs;
pub mod policies;
pub mod retention;
pub mod runtime_events;
pub mod tenants;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

pub use sqlx::PgPool as Pool;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A unique or exclusion constraint refused the write (e.g. a name already taken).
    #[error("conflicts with an existing row ({constraint})")]
    Conflict { constraint: String },
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if is_unavailable(&error) {
            return StoreError::Unavailable(error);
        }
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
                constraint: db.constraint().unwrap_or_default().to_owned(),
            },
            _ => StoreError::Database(error),
        }
    }
}

/// Errors a retry may cure: the pool has no connection, or the server went away.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 57P0x shutdown / cannot connect now, 08xxx connection, 53300 too many
            // connections, 55000 database not accepting connections, 3D000 database missing.
            code.starts_with("57P")
                || code.starts_with("08")
                || matches!(code.as_ref(), "53300" | "55000" | "3D000")
        }),
        _ => false,
    }
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// How long a failed job (an Okta job, a baseline round) waits before its next try: 5 s after
/// the first failure, doubling with each attempt already made, at most an hour.
pub fn backoff_secs(attempts: i32) -> f64 {
    (5.0 * f64::from(1u32 << attempts.clamp(0, 10))).min(3600.0)
}

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(2))
        .connect(url)
        .await?;
    Ok(pool)
}

pub async fn migrate(pool: &PgPool) -> Result<()> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// True when every migration this binary knows is applied. Checked at run time: the table is
/// the migrator's, not part of the schema `query!` is checked against.
pub async fn migrations_applied(pool: &PgPool) -> Result<bool> {
    let latest: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await?;
    let expected = MIGRATOR.iter().map(|m| m.version).max();
    Ok(latest >= expected)
}

/// Creates the database named in `url` if it does not exist (used by `demo`).
pub async fn create_database_if_missing(url: &str) -> Result<()> {
    use sqlx::migrate::MigrateDatabase;
    if !sqlx::Postgres::database_exists(url).await? {
        sqlx::Postgres::create_database(url).await?;
    }
    Ok(())
}
