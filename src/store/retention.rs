//! Time partitions of the raw inbox and retention of old data.

use chrono::{Days, NaiveDate, Utc};
use sqlx::PgPool;

use super::Result;

fn partition_name(day: NaiveDate) -> String {
    format!("okta_events_{}", day.format("%Y%m%d"))
}

/// Creates the daily partitions from today to `ahead` days on (idempotent).
pub async fn ensure_partitions(pool: &PgPool, ahead: u64) -> Result<()> {
    let today = Utc::now().date_naive();
    for offset in 0..=ahead {
        let Some(day) = today.checked_add_days(Days::new(offset)) else {
            continue;
        };
        let Some(next) = day.checked_add_days(Days::new(1)) else {
            continue;
        };
        let name = partition_name(day);
        let exists = sqlx::query_scalar!("SELECT 1 AS one FROM pg_class WHERE relname = $1", name)
            .fetch_optional(pool)
            .await?;
        if exists.is_some() {
            continue;
        }
        // DDL names a table, so it is built at run time; names and bounds come from dates
        // we computed, never from input.
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {name} PARTITION OF okta_events FOR VALUES FROM ('{day}') TO ('{next}')"
        );
        if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(ddl)).execute(pool).await {
            // The default partition may already hold rows of that day (partitions were late):
            // those stay in the default partition until retention deletes them.
            tracing::warn!(partition = %name, %error, "could not create inbox partition");
        }
    }
    Ok(())
}

/// Drops daily partitions older than `days`, deletes older rows of the default partition and
/// dedup keys; returns the number of partitions dropped.
pub async fn drop_raw_older_than(pool: &PgPool, days: u32) -> Result<u64> {
    let cutoff = Utc::now().date_naive() - Days::new(u64::from(days));
    let partitions = sqlx::query_scalar!(
        r#"SELECT c.relname::text AS "name!" FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'okta_events'::regclass AND c.relname ~ '^okta_events_[0-9]{8}$'"#,
    )
    .fetch_all(pool)
    .await?;
    let mut dropped = 0;
    for name in partitions {
        let day = NaiveDate::parse_from_str(name.trim_start_matches("okta_events_"), "%Y%m%d");
        if day.is_ok_and(|day| day < cutoff) {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {name}")))
                .execute(pool)
                .await?;
            dropped += 1;
        }
    }
    let cutoff_ts = cutoff.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    sqlx::query!(
        "DELETE FROM okta_events_default WHERE received_at < $1",
        cutoff_ts,
    )
    .execute(pool)
    .await?;
    sqlx::query!(
        "DELETE FROM okta_event_keys WHERE received_at < $1",
        cutoff_ts,
    )
    .execute(pool)
    .await?;
    sqlx::query!(
        "DELETE FROM quarantined_events WHERE received_at < $1",
        cutoff_ts,
    )
    .execute(pool)
    .await?;
    Ok(dropped)
}

pub async fn delete_runtime_events_older_than(pool: &PgPool, days: u32) -> Result<u64> {
    let done = sqlx::query!(
        "DELETE FROM runtime_events WHERE created_at < now() - make_interval(days => $1)",
        days as i32,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
