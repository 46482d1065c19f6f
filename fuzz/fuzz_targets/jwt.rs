//! Web identity tokens, verified up to fetching the provider's keys (header, algorithm,
//! unverified claims, issuer → provider). The first byte picks the form: 0: the rest is the
//! token; otherwise the rest is `header NUL claims NUL signature`, each base64url-encoded into
//! a JWT so that the JSON parsers are reached at once. Must answer with AWS's codes, never
//! panic, and never accept a token.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = if mode == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let mut parts = rest.splitn(3, |b| *b == 0);
        let header = parts.next().unwrap_or_default();
        let claims = parts.next().unwrap_or_default();
        let signature = parts.next().unwrap_or_default();
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims),
            URL_SAFE_NO_PAD.encode(signature)
        )
    };
    let _ = portcullis_server::fuzzing::web_identity_token(&token, 1_800_000_000);
});
