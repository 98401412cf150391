//! Periodic work of every replica: hook deprovisioning jobs, gap fill, learned baselines
//! (`baseline.rs`), hook secret rotation, inbox partitions and retention. Each piece is safe
//! to run on several replicas at once.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use crate::service::IntegrationError;
use crate::state::Services;
use crate::store;

const TICK: Duration = Duration::from_secs(5);
const HOUSEKEEPING_EVERY: u32 = 720; // ticks: one hour

pub fn spawn(services: Services, cancel: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        // Baselines read for minutes under Okta's rate limits: a task of their own, so the
        // rounds below keep their pace.
        crate::ingest::baseline::spawn(services.clone(), cancel.clone()),
        tokio::spawn(run(services, cancel)),
    ]
}

async fn run(services: Services, cancel: CancellationToken) {
    let mut tick: u32 = 0;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(TICK) => {}
        }
        guarded("deprovision", run_jobs(&services)).await;
        if services.config().gapfill_interval_secs > 0 {
            guarded("gap_fill", async {
                if let Err(error) = crate::ingest::gapfill::run_due(&services).await {
                    tracing::warn!(%error, "gap fill round failed");
                }
            })
            .await;
        }
        if tick.is_multiple_of(12) {
            guarded("hook_secret_rotation", rotate_hook_secrets(&services)).await;
        }
        if tick.is_multiple_of(HOUSEKEEPING_EVERY) {
            guarded("housekeeping", housekeeping(&services)).await;
        }
        tick = tick.wrapping_add(1);
    }
}

/// Runs one job of a round. A panic in it (a bug) is logged and counted, and the job runs
/// again next round, instead of ending every background job of the replica for good while
/// its probes still say ready.
pub async fn guarded(job: &'static str, run: impl Future<Output = ()>) {
    if AssertUnwindSafe(run).catch_unwind().await.is_err() {
        tracing::error!(job, "background job panicked; it runs again next round");
        metrics::counter!("okta_ingest_background_panics_total", "job" => job).increment(1);
    }
}

/// Runs due deprovisioning jobs until none is left.
pub async fn run_jobs(services: &Services) {
    loop {
        match services.run_deprovision_job().await {
            Ok(true) => continue,
            Ok(false) => return,
            Err(error) => {
                tracing::warn!(%error, "deprovisioning job failed");
                return;
            }
        }
    }
}

async fn rotate_hook_secrets(services: &Services) {
    let every = services.config().hook_secret_rotation_secs;
    if every == 0 {
        return;
    }
    let due = match store::integrations::due_for_secret_rotation(services.pool(), every as i64)
        .await
    {
        Ok(due) => due,
        Err(error) => return tracing::warn!(%error, "cannot list hooks due for secret rotation"),
    };
    for org in due {
        match services.rotate_hook_secret(&org).await {
            Ok(()) => {}
            // A wizard step or another replica holds the integration: due again next time.
            Err(IntegrationError::Busy) => {}
            Err(error) => {
                tracing::warn!(integration_id = %org.id, %error, "hook secret rotation failed");
            }
        }
    }
}

pub async fn housekeeping(services: &Services) {
    let pool = services.pool();
    let config = services.config();
    if let Err(error) = store::retention::ensure_partitions(pool, 3).await {
        tracing::warn!(%error, "cannot create inbox partitions");
    }
    match store::retention::drop_raw_older_than(pool, config.raw_event_retention_days).await {
        Ok(dropped) if dropped > 0 => tracing::info!(dropped, "old inbox partitions dropped"),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "inbox retention failed"),
    }
    match store::retention::delete_runtime_events_older_than(
        pool,
        config.runtime_event_retention_days,
    )
    .await
    {
        Ok(deleted) if deleted > 0 => tracing::info!(deleted, "old runtime events deleted"),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "runtime event retention failed"),
    }
    let cutoff = chrono::Utc::now()
        - chrono::Duration::days(i64::from(config.detection_state_retention_days));
    let pruned = match pool.acquire().await {
        Ok(mut conn) => store::detect_state::prune(&mut conn, cutoff).await,
        Err(error) => Err(error.into()),
    };
    if let Err(error) = pruned {
        tracing::warn!(%error, "detection state pruning failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_that_panics_ends_itself_not_the_loop() {
        guarded("test", async { panic!("a bug") }).await;
        let mut ran = false;
        guarded("test", async { ran = true }).await;
        assert!(ran);
    }
}
