//! Encrypted credential rows (the vault's [`Sealed`] output); plaintext never reaches this
//! module.

use crate::ids::{IntegrationId, TenantId};
use crate::vault::Sealed;
use sqlx::{PgConnection, PgPool};

use super::Result;

pub async fn put(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    field: &str,
    sealed: &Sealed,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO credentials (tenant_id, integration_id, field, key_id, nonce, ciphertext)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, integration_id, field) DO UPDATE
         SET key_id = EXCLUDED.key_id, nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext, updated_at = now()",
        tenant_id as _,
        integration_id as _,
        field,
        sealed.key_id,
        sealed.nonce,
        sealed.ciphertext,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    field: &str,
) -> Result<Option<Sealed>> {
    Ok(sqlx::query_as!(
        Sealed,
        "SELECT key_id, nonce, ciphertext FROM credentials
         WHERE tenant_id = $1 AND integration_id = $2 AND field = $3",
        tenant_id as _,
        integration_id as _,
        field,
    )
    .fetch_optional(pool)
    .await?)
}

pub async fn delete_all(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> Result<()> {
    sqlx::query!(
        "DELETE FROM credentials WHERE tenant_id = $1 AND integration_id = $2",
        tenant_id as _,
        integration_id as _,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One stored credential, for `vault rotate`.
#[derive(Debug, Clone)]
pub struct CredentialRef {
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
    pub field: String,
    pub sealed: Sealed,
}

pub async fn all(pool: &PgPool) -> Result<Vec<CredentialRef>> {
    let rows = sqlx::query!(
        r#"SELECT tenant_id AS "tenant_id: TenantId", integration_id AS "integration_id: IntegrationId",
               field, key_id, nonce, ciphertext
           FROM credentials ORDER BY integration_id, field"#,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| CredentialRef {
            tenant_id: row.tenant_id,
            integration_id: row.integration_id,
            field: row.field,
            sealed: Sealed {
                key_id: row.key_id,
                nonce: row.nonce,
                ciphertext: row.ciphertext,
            },
        })
        .collect())
}

/// Replaces a row only if it still holds the ciphertext that was re-encrypted (no lost update).
pub async fn replace_if_unchanged(
    pool: &PgPool,
    old: &CredentialRef,
    new: &Sealed,
) -> Result<bool> {
    let done = sqlx::query!(
        "UPDATE credentials SET key_id = $5, nonce = $6, ciphertext = $7, updated_at = now()
         WHERE tenant_id = $1 AND integration_id = $2 AND field = $3 AND ciphertext = $4",
        old.tenant_id as _,
        old.integration_id as _,
        old.field,
        old.sealed.ciphertext,
        new.key_id,
        new.nonce,
        new.ciphertext,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
