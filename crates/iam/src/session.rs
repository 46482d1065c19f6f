//! Temporary credentials: self-contained, sealed session tokens.
//!
//! A token carries everything needed to authenticate and authorize a request made with the
//! temporary credentials (who the session is, its secret, when it expires, its session policies
//! and tags, how MFA was used), sealed with XChaCha20-Poly1305 under the master key. Issuing one
//! writes nothing to the store; a token cannot be forged or altered without the key.
//! Revocation works as in AWS: the role's own policies are read at each request (so deleting
//! the role or its policies takes effect at once), and `aws:TokenIssueTime` lets a policy deny
//! sessions issued before a given time.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::model::{Secret, Tag};
use crate::seal::MasterKey;

/// Marks our tokens (and their format version) ahead of the sealed body. `PCS1` tokens were
/// sealed without associated data; they no longer open.
const TOKEN_PREFIX: &str = "PCS2";

/// The associated data of a session token's seal: a token opens only as a token (never as a
/// secret sealed at rest or an authorization message).
const TOKEN_CONTEXT: &[u8] = b"portcullis/v1/session-token";

/// Who a session acts as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum SessionPrincipal {
    /// A role session (AssumeRole, AssumeRoleWithWebIdentity).
    AssumedRole {
        role_name: String,
        role_path: String,
        /// The role's unique id when the session began: a role deleted and re-created under
        /// the same name does not inherit old sessions.
        role_id: String,
        session_name: String,
    },
    /// A GetSessionToken session of an IAM user (or the root user when `user_name` is None).
    User {
        user_name: Option<String>,
        user_id: String,
    },
    /// A GetFederationToken session.
    FederatedUser {
        name: String,
        /// The IAM user whose credentials made it.
        federating_user: String,
        /// That user's unique id: a user deleted and re-created under the same name does not
        /// inherit the old user's federation tokens (a token without it opens as no user).
        #[serde(default)]
        federating_user_id: String,
    },
}

/// What a session token carries.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    pub account_id: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub principal: SessionPrincipal,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Session policies (inline documents' text), combined with OR.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Managed session policy ARNs.
    #[serde(default)]
    pub policy_arns: Vec<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub transitive_tag_keys: Vec<String>,
    #[serde(default)]
    pub source_identity: Option<String>,
    /// Unix seconds of the MFA authentication, when MFA was used.
    #[serde(default)]
    pub mfa_authenticated_at: Option<i64>,
    /// Made by a role session assuming another role.
    #[serde(default)]
    pub chained: bool,
    /// Condition keys the session carries into every request it signs, as AWS sets them for
    /// the credentials it delivers to an instance (`ec2:RoleDelivery`,
    /// `ec2:SourceInstanceARN`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<(String, String)>,
}

impl std::fmt::Debug for SessionClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("SessionClaims")
            .field("account_id", &self.account_id)
            .field("access_key_id", &self.access_key_id)
            .field("principal", &self.principal)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

/// Why a token could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not one of ours, damaged, or altered.
    Invalid,
    /// Valid, but past its expiry.
    Expired,
}

impl SessionClaims {
    /// Seals the claims into a session token.
    pub fn seal(&self, key: &MasterKey) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        let sealed = key.seal_bytes(json.as_bytes(), TOKEN_CONTEXT);
        format!("{TOKEN_PREFIX}{}", STANDARD.encode(sealed))
    }

    /// Opens a token; checks it is intact and unexpired at `now` (unix seconds).
    pub fn open(token: &str, key: &MasterKey, now: i64) -> Result<SessionClaims, TokenError> {
        let sealed = token
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(TokenError::Invalid)?;
        let bytes = STANDARD.decode(sealed).map_err(|_| TokenError::Invalid)?;
        let json = key
            .open_bytes(&bytes, TOKEN_CONTEXT)
            .map_err(|_| TokenError::Invalid)?;
        let claims: SessionClaims =
            serde_json::from_slice(&json).map_err(|_| TokenError::Invalid)?;
        if now >= claims.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> SessionClaims {
        SessionClaims {
            account_id: "111122223333".into(),
            access_key_id: "ASIAEXAMPLE000000001".into(),
            secret_access_key: Secret::new("s3cr3t".into()),
            principal: SessionPrincipal::AssumedRole {
                role_name: "R".into(),
                role_path: "/".into(),
                role_id: "AROAEXAMPLE".into(),
                session_name: "s".into(),
            },
            issued_at: 1_000,
            expires_at: 4_600,
            policies: vec![],
            policy_arns: vec![],
            tags: vec![],
            transitive_tag_keys: vec![],
            source_identity: None,
            mfa_authenticated_at: None,
            chained: false,
            context: Vec::new(),
        }
    }

    #[test]
    fn round_trip_expiry_and_tampering() {
        let key = MasterKey::from_bytes([3; 32]);
        let token = claims().seal(&key);
        assert!(!token.contains("s3cr3t"));
        assert_eq!(SessionClaims::open(&token, &key, 2_000).unwrap(), claims());
        assert_eq!(
            SessionClaims::open(&token, &key, 4_600),
            Err(TokenError::Expired)
        );
        let mut tampered = token.clone().into_bytes();
        let i = tampered.len() / 2;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            SessionClaims::open(&tampered, &key, 2_000),
            Err(TokenError::Invalid)
        );
        let other = MasterKey::from_bytes([4; 32]);
        assert_eq!(
            SessionClaims::open(&token, &other, 2_000),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            SessionClaims::open("FwoGZXIvYXdzE", &key, 2_000),
            Err(TokenError::Invalid)
        );
    }
}
