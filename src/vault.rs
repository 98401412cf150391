//! Credential vault: AES-256-GCM encryption of credentials at rest.
//!
//! Every encryption uses a fresh random 96-bit nonce; the associated data binds a ciphertext
//! to its (tenant id, integration id, field name), so a ciphertext copied to another row
//! fails to decrypt. Master keys come from config/env, never from the database; several key
//! ids may be configured, one of them primary (new seals use it; `reseal` moves old rows to it).

use std::collections::HashMap;
use std::fmt;

use crate::ids::{IntegrationId, TenantId};
use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretBox, SecretString};

/// Key id of the key given as `OKTA_INGEST_MASTER_KEY`.
pub const ENV_KEY_ID: &str = "env";
const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 32;
const AAD_VERSION: &str = "okta-ingest/vault/v1";

/// A 256-bit master key; zeroized on drop, never printed.
pub type MasterKey = SecretBox<[u8; KEY_LEN]>;

/// A sealed value as stored: which key, the nonce, and ciphertext with its GCM tag.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("nonce_len", &self.nonce.len())
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// Where a sealed value belongs; bound into the ciphertext as associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aad {
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
    pub field: &'static str,
}

impl Aad {
    fn bytes(&self) -> Vec<u8> {
        format!(
            "{AAD_VERSION}|{}|{}|{}",
            self.tenant_id, self.integration_id, self.field
        )
        .into_bytes()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(
        "no master key is configured: run `okta-ingest vault keygen` and set \
         OKTA_INGEST_MASTER_KEY to its output"
    )]
    MissingMasterKey,
    #[error("master key {0:?} is not valid base64: use the output of `okta-ingest vault keygen`")]
    BadBase64(String),
    #[error(
        "master key {key_id:?} is {len} bytes long, it must be 32: use the output of \
         `okta-ingest vault keygen`"
    )]
    WrongLength { key_id: String, len: usize },
    #[error("OKTA_INGEST_MASTER_KEYS entry {0} is not `id=base64` (expected \"id1=b64,id2=b64\")")]
    MalformedKeyList(usize),
    #[error("master key id {0:?} is configured twice")]
    DuplicateKeyId(String),
    #[error(
        "primary key id {0:?} is not among the configured master keys: set \
         OKTA_INGEST_PRIMARY_KEY_ID to one of their ids"
    )]
    PrimaryNotFound(String),
    #[error("several master keys are configured but no primary: set OKTA_INGEST_PRIMARY_KEY_ID")]
    NoPrimary,
    #[error(
        "the value was sealed with master key {0:?}, which is not configured: add it to \
         OKTA_INGEST_MASTER_KEYS"
    )]
    UnknownKeyId(String),
    #[error(
        "decryption failed: the ciphertext, nonce or its binding (tenant, integration, field) does not match"
    )]
    Decrypt,
    #[error("encryption failed")]
    Encrypt,
    #[error("the decrypted value is not UTF-8")]
    NotUtf8,
}

/// The configured master keys and which one seals new values.
pub struct Vault {
    keys: HashMap<String, MasterKey>,
    primary: String,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("Vault")
            .field("key_ids", &ids)
            .field("primary", &self.primary)
            .finish()
    }
}

impl Vault {
    /// A vault of `keys`; `primary` must be one of their ids.
    pub fn new(keys: Vec<(String, MasterKey)>, primary: &str) -> Result<Vault, VaultError> {
        let mut map = HashMap::with_capacity(keys.len());
        for (id, key) in keys {
            if map.insert(id.clone(), key).is_some() {
                return Err(VaultError::DuplicateKeyId(id));
            }
        }
        if map.is_empty() {
            return Err(VaultError::MissingMasterKey);
        }
        if !map.contains_key(primary) {
            return Err(VaultError::PrimaryNotFound(primary.to_string()));
        }
        Ok(Vault {
            keys: map,
            primary: primary.to_string(),
        })
    }

    /// From the configuration strings: `master_key` (base64, key id `env`), `master_keys`
    /// (`"id1=b64,id2=b64"`) and `primary_key_id` (empty: `env` if `master_key` is set, or
    /// the only key of `master_keys`).
    pub fn from_config_strings(
        master_key: &str,
        master_keys: &str,
        primary_key_id: &str,
    ) -> Result<Vault, VaultError> {
        let mut keys = Vec::new();
        let master_key = master_key.trim();
        if !master_key.is_empty() {
            keys.push((ENV_KEY_ID.to_string(), decode_key(ENV_KEY_ID, master_key)?));
        }
        keys.extend(parse_key_list(master_keys)?);
        if keys.is_empty() {
            return Err(VaultError::MissingMasterKey);
        }
        let primary = match primary_key_id.trim() {
            "" if !master_key.is_empty() => ENV_KEY_ID.to_string(),
            "" if keys.len() == 1 => keys[0].0.clone(),
            "" => return Err(VaultError::NoPrimary),
            id => id.to_string(),
        };
        Vault::new(keys, &primary)
    }

    /// A new random master key, base64 (for `okta-ingest vault keygen`).
    pub fn keygen() -> String {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.fill_bytes(key.as_mut_slice());
        BASE64.encode(key.as_slice())
    }

    pub fn primary_key_id(&self) -> &str {
        &self.primary
    }

    /// Encrypts under the primary key with a fresh random nonce.
    pub fn seal(&self, plaintext: &SecretString, aad: &Aad) -> Result<Sealed, VaultError> {
        self.seal_with(&self.primary, plaintext.expose_secret().as_bytes(), aad)
    }

    /// Decrypts; fails on a tampered ciphertext or nonce, or a different `aad`.
    pub fn open(&self, sealed: &Sealed, aad: &Aad) -> Result<SecretString, VaultError> {
        let plaintext = self.open_bytes(sealed, aad)?;
        let text = String::from_utf8(plaintext.to_vec()).map_err(|e| {
            // Wipe the bytes that failed to convert before they are dropped.
            drop(Zeroizing::new(e.into_bytes()));
            VaultError::NotUtf8
        })?;
        Ok(SecretString::from(text))
    }

    /// Re-encrypts under the primary key; `None` if it already is (for `vault rotate`).
    pub fn reseal(&self, sealed: &Sealed, aad: &Aad) -> Result<Option<Sealed>, VaultError> {
        if sealed.key_id == self.primary {
            return Ok(None);
        }
        let plaintext = self.open_bytes(sealed, aad)?;
        self.seal_with(&self.primary, &plaintext, aad).map(Some)
    }

    fn cipher(&self, key_id: &str) -> Result<Aes256Gcm, VaultError> {
        let key = self
            .keys
            .get(key_id)
            .ok_or_else(|| VaultError::UnknownKeyId(key_id.to_string()))?;
        Ok(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(
            key.expose_secret(),
        )))
    }

    fn seal_with(&self, key_id: &str, plaintext: &[u8], aad: &Aad) -> Result<Sealed, VaultError> {
        let cipher = self.cipher(key_id)?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = aad.bytes();
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Encrypt)?;
        Ok(Sealed {
            key_id: key_id.to_string(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    fn open_bytes(&self, sealed: &Sealed, aad: &Aad) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let cipher = self.cipher(&sealed.key_id)?;
        if sealed.nonce.len() != NONCE_LEN {
            return Err(VaultError::Decrypt);
        }
        let aad = aad.bytes();
        let payload = Payload {
            msg: &sealed.ciphertext,
            aad: &aad,
        };
        cipher
            .decrypt(Nonce::from_slice(&sealed.nonce), payload)
            .map(Zeroizing::new)
            .map_err(|_| VaultError::Decrypt)
    }
}

fn decode_key(key_id: &str, b64: &str) -> Result<MasterKey, VaultError> {
    let bytes = Zeroizing::new(
        BASE64
            .decode(b64.trim())
            .map_err(|_| VaultError::BadBase64(key_id.to_string()))?,
    );
    if bytes.len() != KEY_LEN {
        return Err(VaultError::WrongLength {
            key_id: key_id.to_string(),
            len: bytes.len(),
        });
    }
    let mut key = Box::new([0u8; KEY_LEN]);
    key.copy_from_slice(&bytes);
    Ok(SecretBox::new(key))
}

/// `"id1=b64,id2=b64"`; empty entries are ignored.
fn parse_key_list(list: &str) -> Result<Vec<(String, MasterKey)>, VaultError> {
    list.split(',')
        .map(str::trim)
        .enumerate()
        .filter(|(_, entry)| !entry.is_empty())
        .map(|(i, entry)| {
            let (id, b64) = entry
                .split_once('=')
                .ok_or(VaultError::MalformedKeyList(i + 1))?;
            let id = id.trim();
            if id.is_empty() {
                return Err(VaultError::MalformedKeyList(i + 1));
            }
            Ok((id.to_string(), decode_key(id, b64)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const SECRET: &str = "s3cr3t-client-secret-value";

    fn aad() -> Aad {
        Aad {
            tenant_id: TenantId(uuid::Uuid::from_u128(1)),
            integration_id: IntegrationId(uuid::Uuid::from_u128(2)),
            field: "client_secret",
        }
    }

    fn vault() -> Vault {
        Vault::from_config_strings(&Vault::keygen(), "", "").unwrap()
    }

    fn secret() -> SecretString {
        SecretString::from(SECRET)
    }

    #[test]
    fn round_trip() {
        let v = vault();
        let sealed = v.seal(&secret(), &aad()).unwrap();
        assert_eq!(sealed.key_id, "env");
        assert_eq!(sealed.nonce.len(), 12);
        assert!(
            !sealed
                .ciphertext
                .windows(SECRET.len())
                .any(|w| w == SECRET.as_bytes())
        );
        assert_eq!(v.open(&sealed, &aad()).unwrap().expose_secret(), SECRET);
    }

    #[test]
    fn tampered_ciphertext_or_nonce_fails() {
        type Tamper = fn(&mut Sealed);
        let tamperings: [(&str, Tamper); 4] = [
            ("flipped ciphertext bit", |s| s.ciphertext[0] ^= 1),
            ("truncated ciphertext", |s| {
                s.ciphertext.truncate(s.ciphertext.len() - 1)
            }),
            ("flipped nonce bit", |s| s.nonce[11] ^= 0x80),
            ("short nonce", |s| s.nonce.truncate(8)),
        ];
        let v = vault();
        for (what, tamper) in tamperings {
            let mut sealed = v.seal(&secret(), &aad()).unwrap();
            tamper(&mut sealed);
            let opened = v.open(&sealed, &aad());
            assert!(matches!(opened, Err(VaultError::Decrypt)), "{what}");
        }
    }

    #[test]
    fn swapped_associated_data_fails() {
        let v = vault();
        let sealed = v.seal(&secret(), &aad()).unwrap();
        let others = [
            Aad {
                tenant_id: TenantId(uuid::Uuid::from_u128(9)),
                ..aad()
            },
            Aad {
                integration_id: IntegrationId(uuid::Uuid::from_u128(9)),
                ..aad()
            },
            Aad {
                field: "client_id",
                ..aad()
            },
            // Tenant and integration swapped must not collide either.
            Aad {
                tenant_id: TenantId(aad().integration_id.0),
                integration_id: IntegrationId(aad().tenant_id.0),
                ..aad()
            },
        ];
        for other in others {
            assert!(
                matches!(v.open(&sealed, &other), Err(VaultError::Decrypt)),
                "{other:?}"
            );
        }
    }

    #[test]
    fn unknown_key_id_fails() {
        let v = vault();
        let mut sealed = v.seal(&secret(), &aad()).unwrap();
        sealed.key_id = "old".into();
        assert!(
            matches!(v.open(&sealed, &aad()), Err(VaultError::UnknownKeyId(id)) if id == "old")
        );
    }

    #[test]
    fn rotation_opens_old_and_reseals_to_new_primary() {
        let (k1, k2) = (Vault::keygen(), Vault::keygen());
        let old = Vault::from_config_strings("", &format!("k1={k1}"), "").unwrap();
        let sealed = old.seal(&secret(), &aad()).unwrap();
        assert_eq!(sealed.key_id, "k1");

        let new = Vault::from_config_strings("", &format!("k1={k1}, k2={k2}"), "k2").unwrap();
        assert_eq!(new.open(&sealed, &aad()).unwrap().expose_secret(), SECRET);
        let resealed = new.reseal(&sealed, &aad()).unwrap().expect("moved to k2");
        assert_eq!(resealed.key_id, "k2");
        assert_eq!(new.open(&resealed, &aad()).unwrap().expose_secret(), SECRET);
        assert!(new.reseal(&resealed, &aad()).unwrap().is_none());
        // The old vault no longer knows the new key.
        assert!(matches!(
            old.open(&resealed, &aad()),
            Err(VaultError::UnknownKeyId(_))
        ));
        // Resealing checks the binding too.
        let other = Aad {
            field: "other",
            ..aad()
        };
        assert!(matches!(
            new.reseal(&sealed, &other),
            Err(VaultError::Decrypt)
        ));
    }

    #[test]
    fn nonces_are_unique() {
        let v = vault();
        let nonces: HashSet<Vec<u8>> = (0..2000)
            .map(|_| v.seal(&secret(), &aad()).unwrap().nonce)
            .collect();
        assert_eq!(nonces.len(), 2000);
    }

    #[test]
    fn config_errors_say_what_to_do() {
        let key = Vault::keygen();
        let cases: Vec<(Result<Vault, VaultError>, &str)> = vec![
            (
                Vault::from_config_strings("", "", ""),
                "okta-ingest vault keygen",
            ),
            (
                Vault::from_config_strings(" ", " , ", ""),
                "OKTA_INGEST_MASTER_KEY",
            ),
            (Vault::from_config_strings("not base64!", "", ""), "base64"),
            (Vault::from_config_strings("AAAA", "", ""), "32"),
            (Vault::from_config_strings(&key, "", "k9"), "k9"),
            (
                Vault::from_config_strings("", &format!("a={key},b={key}"), ""),
                "PRIMARY",
            ),
            (
                Vault::from_config_strings("", &format!("a={key},a={key}"), "a"),
                "twice",
            ),
            (Vault::from_config_strings("", "nonsense", ""), "id=base64"),
            (
                Vault::from_config_strings("", &format!("={key}"), ""),
                "id=base64",
            ),
        ];
        for (result, needle) in cases {
            let message = result.expect_err(needle).to_string();
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            assert!(!message.contains(&key), "key leaked: {message}");
        }
    }

    #[test]
    fn nothing_secret_in_debug() {
        let key = Vault::keygen();
        let v = Vault::from_config_strings(&key, "", "").unwrap();
        let sealed = v.seal(&secret(), &aad()).unwrap();
        let debug = format!("{v:?} {sealed:?}");
        assert!(!debug.contains(&key));
        assert!(!debug.contains(SECRET));
        assert!(debug.contains("env"));
    }

    #[test]
    fn keygen_makes_distinct_32_byte_keys() {
        let (a, b) = (Vault::keygen(), Vault::keygen());
        assert_ne!(a, b);
        assert_eq!(BASE64.decode(&a).unwrap().len(), 32);
    }
}
