//! Typed identifiers: a tenant id cannot be passed where an integration id is expected.
//!
//! Each is a `Uuid` in Postgres and in JSON (transparent), and prints as one; in the OpenAPI
//! document each is a `string` of format `uuid`.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            sqlx::Type, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                $name(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(text).map($name)
            }
        }
    };
}

uuid_id!(
    /// A customer of the service; every row of tenant data carries one.
    TenantId
);
uuid_id!(
    /// One connected Okta org of a tenant.
    IntegrationId
);
uuid_id!(
    /// A detection policy: managed (fixed ids shipped in the binary) or custom.
    PolicyId
);
uuid_id!(
    /// An API token (its id, never the token itself).
    TokenId
);

/// The random path segment of an integration's hook URL (`/hooks/okta/{key}`): it names the
/// integration to Okta without revealing its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct HookKey(String);

impl HookKey {
    pub fn generate() -> Self {
        HookKey(crate::secrets::random_token(""))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for HookKey {
    fn from(key: String) -> Self {
        HookKey(key)
    }
}

impl fmt::Display for HookKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
