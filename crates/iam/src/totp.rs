//! Time-based one-time passwords (RFC 6238) as AWS's virtual MFA devices use them: HMAC-SHA-1,
//! 6 digits, 30-second steps, a 20-byte random seed shown to the user in Base32. The HOTP
//! computation is `totp-rs`'s; this module adds the searches over time steps that
//! EnableMFADevice, ResyncMFADevice and MFA sign-in need, comparing codes in constant time.

use std::ops::RangeInclusive;

use rand::Rng;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret as TotpSecret, TOTP};

/// Seconds per time step.
pub const STEP_SECONDS: u64 = 30;
/// Digits of a code.
pub const DIGITS: usize = 6;
/// Bytes of a new seed (160 bits, as RFC 4226 recommends).
pub const SEED_BYTES: usize = 20;

/// A new random seed, Base32-encoded (RFC 4648, no padding: 32 characters).
pub fn new_seed_base32() -> String {
    let bytes: [u8; SEED_BYTES] = rand::rng().random();
    match TotpSecret::Raw(bytes.to_vec()).to_encoded() {
        TotpSecret::Encoded(text) => text,
        TotpSecret::Raw(_) => unreachable!("to_encoded always encodes"),
    }
}

/// The time step of unix time `now` (times before 1970 count as step 0).
pub fn step_of(now_unix: i64) -> u64 {
    u64::try_from(now_unix).unwrap_or(0) / STEP_SECONDS
}

/// A generator of codes for one seed.
pub struct Generator {
    totp: TOTP,
}

impl Generator {
    /// A 6-digit SHA-1 generator for a Base32 seed; `None` when the seed is not Base32.
    pub fn from_base32(seed: &str) -> Option<Generator> {
        let bytes = TotpSecret::Encoded(seed.to_owned()).to_bytes().ok()?;
        Some(Generator::new(bytes, DIGITS))
    }

    /// A SHA-1 generator of `digits`-digit codes for raw seed bytes.
    pub fn new(seed: Vec<u8>, digits: usize) -> Generator {
        Generator {
            // Unchecked: our seeds are 160 bits; the RFC's test seeds are too.
            totp: TOTP::new_unchecked(Algorithm::SHA1, digits, 0, STEP_SECONDS, seed),
        }
    }

    /// The code of time step `step`.
    pub fn code_at_step(&self, step: u64) -> String {
        self.totp.generate(step.saturating_mul(STEP_SECONDS))
    }

    /// The code at unix time `unix`.
    pub fn code_at(&self, unix: u64) -> String {
        self.totp.generate(unix)
    }

    /// The steps of `steps` whose code is `code`, earliest first. Every candidate is computed
    /// and compared in constant time, so the time taken says nothing about which matched.
    pub fn matching_steps(&self, code: &str, steps: RangeInclusive<u64>) -> Vec<u64> {
        let mut found = Vec::new();
        for step in steps {
            let expected = self.code_at_step(step);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
                found.push(step);
            }
        }
        found
    }

    /// The first step `s` of `steps` such that `code1` is the code of `s` and `code2` the code
    /// of `s + 1`: two consecutive codes, as a device shows them 30 seconds apart.
    pub fn consecutive_pair(
        &self,
        code1: &str,
        code2: &str,
        steps: RangeInclusive<u64>,
    ) -> Option<u64> {
        let mut found = None;
        for step in steps {
            let first = self.code_at_step(step).as_bytes().ct_eq(code1.as_bytes());
            let second = self
                .code_at_step(step.saturating_add(1))
                .as_bytes()
                .ct_eq(code2.as_bytes());
            if bool::from(first & second) && found.is_none() {
                found = Some(step);
            }
        }
        found
    }
}

/// Whether `code` has the shape of an authentication code: exactly six ASCII digits.
pub fn is_well_formed(code: &str) -> bool {
    code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())
}

/// The `otpauth://totp/{name}@{account}?secret={seed}` URI an authenticator app scans, as AWS
/// documents it for `QRCodePNG`; the label's parts are percent-encoded (RFC 3986 unreserved
/// characters kept).
pub fn otpauth_uri(name: &str, account: &str, seed_base32: &str) -> String {
    format!(
        "otpauth://totp/{}@{}?secret={seed_base32}",
        percent_encode(name),
        percent_encode(account)
    )
}

fn percent_encode(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows: the seed "12345678901234567890", 8 digits.
    #[test]
    fn rfc6238_sha1_test_vectors() {
        let totp = Generator::new(b"12345678901234567890".to_vec(), 8);
        for (time, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp.code_at(time), code, "T = {time}");
        }
        // Six digits are the last six of the eight (the same truncation, modulo 10^6).
        let six = Generator::new(b"12345678901234567890".to_vec(), 6);
        assert_eq!(six.code_at(59), "287082");
        assert_eq!(six.code_at(1_111_111_109), "081804");
    }

    #[test]
    fn seeds_are_random_base32_of_20_bytes() {
        let a = new_seed_base32();
        let b = new_seed_base32();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))
        );
        let generator = Generator::from_base32(&a).unwrap();
        assert_eq!(generator.code_at_step(1).len(), 6);
        assert!(Generator::from_base32("not base32!").is_none());
    }

    #[test]
    fn searches_over_steps() {
        let g = Generator::from_base32(&new_seed_base32()).unwrap();
        let (c10, c11) = (g.code_at_step(10), g.code_at_step(11));
        assert!(g.matching_steps(&c10, 5..=15).contains(&10));
        assert!(g.matching_steps(&c10, 11..=15).iter().all(|s| *s != 10));
        assert_eq!(g.consecutive_pair(&c10, &c11, 0..=20), Some(10));
        assert_eq!(g.consecutive_pair(&c11, &c10, 0..=20), None);
        assert_eq!(g.consecutive_pair(&c10, &c11, 11..=20), None);
        assert!(is_well_formed("012345"));
        assert!(!is_well_formed("12345"));
        assert!(!is_well_formed("12345a"));
        assert!(!is_well_formed("١٢٣٤٥٦"));
    }

    #[test]
    fn otpauth_uri_encodes_the_label() {
        assert_eq!(
            otpauth_uri("ann+phone", "111122223333", "ABC"),
            "otpauth://totp/ann%2Bphone@111122223333?secret=ABC"
        );
    }
}
