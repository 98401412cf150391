//! Random secrets we hand out and only ever store hashed: tenant API tokens and the auth
//! header Okta sends with each delivery. One place generates, hashes and compares them
//! (SHA-256, constant-time), in the spirit of svix's `core/cryptography.rs`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 32 random bytes, URL-safe base64, after a readable prefix (`oki_` tokens, `ohs_` hook
/// secrets).
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a token or secret.
pub fn sha256(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

/// The value Okta sends in the `Authorization` header of our hook: sent to Okta once, then
/// kept only as its hash.
pub struct HookSecret(SecretString);

impl HookSecret {
    pub fn generate() -> Self {
        HookSecret(SecretString::from(random_token("ohs_")))
    }

    /// For the Event Hooks API call that gives it to Okta.
    pub fn secret(&self) -> &SecretString {
        &self.0
    }

    pub fn hash(&self) -> Vec<u8> {
        sha256(self.0.expose_secret())
    }
}

/// The stored hashes of an integration's hook secret: the current one, and during a
/// rotation's overlap window the previous one.
#[derive(Debug, Clone, Default)]
pub struct HookSecretHashes {
    pub current: Option<Vec<u8>>,
    pub previous: Option<Vec<u8>>,
    pub previous_until: Option<DateTime<Utc>>,
}

impl HookSecretHashes {
    /// Whether the presented header is the current secret, or the previous one while its
    /// overlap lasts. Both are compared, in constant time, whatever the first gives.
    pub fn matches(&self, presented: &[u8], now: DateTime<Utc>) -> bool {
        let presented = Sha256::digest(presented);
        let equal = |hash: &Option<Vec<u8>>| {
            hash.as_deref()
                .is_some_and(|h| bool::from(h.ct_eq(presented.as_slice())))
        };
        let previous_valid = self.previous_until.is_some_and(|until| until > now);
        equal(&self.current) | (previous_valid & equal(&self.previous))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_secret_is_accepted_only_during_the_overlap() {
        let (old, new) = (HookSecret::generate(), HookSecret::generate());
        let now = Utc::now();
        let hashes = HookSecretHashes {
            current: Some(new.hash()),
            previous: Some(old.hash()),
            previous_until: Some(now + chrono::Duration::seconds(60)),
        };
        let header = |s: &HookSecret| s.secret().expose_secret().as_bytes().to_vec();
        assert!(hashes.matches(&header(&new), now));
        assert!(hashes.matches(&header(&old), now));
        assert!(!hashes.matches(&header(&old), now + chrono::Duration::seconds(61)));
        assert!(!hashes.matches(b"ohs_wrong", now));
        assert!(!HookSecretHashes::default().matches(&header(&new), now));
    }
}
