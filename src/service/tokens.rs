//! Tenants and their API tokens: random bearer tokens, stored as sha256 only.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::store::Result;
use crate::store::tenants::{self, Role};

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A fresh random secret of 32 bytes, URL-safe base64, with a readable prefix.
pub fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub async fn create_token(pool: &PgPool, tenant_id: Uuid, role: Role) -> Result<String> {
    let token = random_secret("oki_");
    tenants::insert_token(pool, tenant_id, &hash_token(&token), role).await?;
    Ok(token)
}

/// Creates a tenant with a first admin token; returns (tenant id, token).
pub async fn create_tenant(pool: &PgPool, name: &str) -> Result<(Uuid, String)> {
    let id = Uuid::new_v4();
    tenants::create_tenant(pool, id, name).await?;
    let token = create_token(pool, id, Role::Admin).await?;
    Ok((id, token))
}

pub async fn create_token_for(
    pool: &PgPool,
    tenant_id: Uuid,
    role: Role,
) -> Result<Option<String>> {
    if !tenants::tenant_exists(pool, tenant_id).await? {
        return Ok(None);
    }
    create_token(pool, tenant_id, role).await.map(Some)
}
