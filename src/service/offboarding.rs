//! Tenant offboarding: every hook removed from Okta (or queued while Okta is down), every
//! credential destroyed, every row of the tenant deleted.

use std::collections::BTreeMap;

use serde::Serialize;

use super::error::IntegrationError;
use crate::ids::TenantId;
use crate::state::Services;
use crate::store::{self, integrations};

#[derive(Debug, Serialize)]
pub struct OffboardReport {
    pub tenant_id: TenantId,
    pub integrations: usize,
    /// Hooks still to be removed by the background job (Okta was unreachable); their
    /// integrations' credentials go when their job is done, the tenant row with the last.
    pub hook_removals_queued: i64,
    pub deleted_rows: BTreeMap<&'static str, u64>,
}

impl Services {
    pub async fn offboard_tenant(
        &self,
        tenant_id: TenantId,
    ) -> Result<OffboardReport, IntegrationError> {
        if !store::tenants::tenant_exists(self.pool(), tenant_id).await? {
            return Err(IntegrationError::NotFound);
        }
        let live = integrations::list(self.pool(), tenant_id).await?;
        for integration in &live {
            self.delete(tenant_id, integration.org.id).await?;
        }
        let mut tx = self.pool().begin().await?;
        store::tenants::mark_offboarded(&mut tx, tenant_id).await?;
        let deleted = store::tenants::delete_tenant_data(&mut tx, tenant_id).await?;
        let queued = store::jobs::pending_for_tenant(&mut tx, tenant_id).await?;
        tx.commit().await?;
        tracing::info!(%tenant_id, integrations = live.len(), queued, "tenant offboarded");
        Ok(OffboardReport {
            tenant_id,
            integrations: live.len(),
            hook_removals_queued: queued,
            deleted_rows: deleted.into_iter().collect(),
        })
    }
}
