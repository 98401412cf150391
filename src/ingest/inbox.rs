//! Writing a delivery into the inbox: one transaction, deduplicated, quarantine beside it.

use sqlx::PgConnection;

use crate::ids::{IntegrationId, TenantId};
use crate::state::Services;

use super::envelope::Batch;
use crate::store::{self, inbox::NewEvent};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub accepted: u64,
    pub duplicates: u64,
    pub quarantined: u64,
}

/// Commits the batch; when this returns Ok every accepted event is durable. The health
/// counters are updated after the commit, so deliveries to one integration do not queue on
/// its row while they wait for their commits.
pub async fn store_batch(
    services: &Services,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    batch: &Batch<'_>,
) -> store::Result<Stored> {
    let mut tx = services.pool().begin().await?;
    let stored = insert_in(&mut tx, tenant_id, integration_id, batch, false).await?;
    tx.commit().await?;
    committed(services, tenant_id, integration_id, &stored).await;
    Ok(stored)
}

/// After a batch of live events committed (by [`store_batch`], or in a caller's own
/// transaction with [`insert_in`]): wakes the workers and counts it on the integration.
pub async fn committed(
    services: &Services,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    stored: &Stored,
) {
    if stored.accepted > 0 {
        services.events_queued();
        // The events are durable: a counter that misses one delivery is no reason for Okta
        // to send it again.
        let pool = services.pool();
        let counted = store::integrations::record_received(
            pool,
            tenant_id,
            integration_id,
            stored.accepted as i64,
        )
        .await;
        if let Err(error) = counted {
            tracing::warn!(%error, %integration_id, "could not count a delivery");
        }
    }
    metrics::counter!("okta_ingest_events_total", "outcome" => "accepted")
        .increment(stored.accepted);
    metrics::counter!("okta_ingest_events_total", "outcome" => "duplicate")
        .increment(stored.duplicates);
    metrics::counter!("okta_ingest_events_total", "outcome" => "quarantined")
        .increment(stored.quarantined);
}

/// A batch's inbox writes inside the caller's transaction: nothing is durable, and no
/// worker is woken, until the caller commits (and calls `Services::events_queued`).
pub async fn insert_in(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    batch: &Batch<'_>,
    learn_only: bool,
) -> store::Result<Stored> {
    let events: Vec<NewEvent> = batch
        .accepted
        .iter()
        .map(|e| NewEvent {
            event_uuid: &e.uuid,
            published: e.published,
            event_type: &e.event_type,
            raw: e.raw,
        })
        .collect();
    let accepted =
        store::inbox::insert_batch(conn, tenant_id, integration_id, &events, learn_only).await?;
    let (reasons, raws): (Vec<&str>, Vec<&str>) = batch
        .rejected
        .iter()
        .map(|r| (r.reason.as_str(), r.raw))
        .unzip();
    store::inbox::quarantine_many(conn, tenant_id, integration_id, &reasons, &raws).await?;
    Ok(Stored {
        accepted,
        duplicates: events.len() as u64 - accepted + batch.repeated as u64,
        quarantined: batch.rejected.len() as u64,
    })
}
