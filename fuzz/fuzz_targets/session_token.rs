//! Session-token opening. The first byte picks how the rest is used:
//! 0: the rest as a token, as a request's `X-Amz-Security-Token` (must be refused);
//! 1: the rest sealed under the master key and opened, so the claims' JSON parser sees any
//!    text behind an intact seal;
//! otherwise: a real token with the bytes of the rest XORed in at positions they name (a
//!    changed token must never open).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_iam::model::Secret;
use portcullis_iam::seal::MasterKey;
use portcullis_iam::session::{SessionClaims, SessionPrincipal, TokenError};

const NOW: i64 = 1_800_000_000;

fn claims() -> SessionClaims {
    SessionClaims {
        account_id: "111122223333".into(),
        access_key_id: "ASIAEXAMPLE000000001".into(),
        secret_access_key: Secret::new("secret".into()),
        principal: SessionPrincipal::AssumedRole {
            role_name: "R".into(),
            role_path: "/".into(),
            role_id: "AROAEXAMPLE".into(),
            session_name: "s".into(),
        },
        issued_at: NOW - 10,
        expires_at: NOW + 3600,
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

fuzz_target!(|data: &[u8]| {
    let key = MasterKey::from_bytes([7; 32]);
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        0 => {
            let token = String::from_utf8_lossy(rest);
            assert!(SessionClaims::open(&token, &key, NOW).is_err());
        }
        1 => {
            let text = String::from_utf8_lossy(rest);
            let token = format!("PCS1{}", key.seal(&text));
            let _ = SessionClaims::open(&token, &key, NOW);
        }
        _ => {
            let mut token = claims().seal(&key).into_bytes();
            let mut changed = false;
            for pair in rest.chunks_exact(2) {
                let i = usize::from(pair[0]) * token.len() / 256;
                if pair[1] != 0 {
                    token[i] ^= pair[1];
                    changed = true;
                }
            }
            let token = String::from_utf8_lossy(&token);
            let opened = SessionClaims::open(&token, &key, NOW);
            let original = claims().seal(&key);
            if changed && token != original {
                assert!(
                    matches!(opened, Err(TokenError::Invalid)) || opened == Ok(claims()),
                    "an altered token opened: {opened:?}"
                );
            }
        }
    }
});
