//! Typed condition values: numbers, dates, booleans, IP ranges, binary.
//! The same parsers read policy values (once, at parse time) and request values (once per request).

use std::net::IpAddr;

use ipnet::IpNet;
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// A decimal number: an optional sign, digits, an optional fraction.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let well_formed = !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(digits.contains('.') && frac.is_empty() && int.is_empty());
    if !well_formed {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A date as W3C ISO 8601 (`2020-01-01T00:00:01Z`, `2020-01-01`) or epoch seconds, in
/// nanoseconds since the Unix epoch.
pub(crate) fn parse_date(text: &str) -> Option<i128> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'-') && !t[1..].contains('-')
    {
        let seconds: i64 = t.parse().ok()?;
        return Some(i128::from(seconds) * 1_000_000_000);
    }
    if let Ok(dt) = OffsetDateTime::parse(t, &Rfc3339) {
        return Some(dt.unix_timestamp_nanos());
    }
    if let Ok(dt) = OffsetDateTime::parse(t, &Iso8601::DEFAULT) {
        return Some(dt.unix_timestamp_nanos());
    }
    if let Ok(dt) = PrimitiveDateTime::parse(t, &Iso8601::DEFAULT) {
        return Some(dt.assume_offset(UtcOffset::UTC).unix_timestamp_nanos());
    }
    if let Ok(date) = Date::parse(t, &Iso8601::DEFAULT) {
        return Some(date.midnight().assume_utc().unix_timestamp_nanos());
    }
    None
}

/// `true` or `false`, in any case.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A CIDR block, or a bare address (`/32` for IPv4, `/128` for IPv6).
pub(crate) fn parse_ip_range(text: &str) -> Option<IpNet> {
    let t = text.trim();
    if let Ok(net) = t.parse::<IpNet>() {
        return Some(net.trunc());
    }
    t.parse::<IpAddr>().ok().map(IpNet::from)
}

/// Standard base64.
pub(crate) fn parse_binary(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("10"), Some(10.0));
        assert_eq!(parse_number("-1.5"), Some(-1.5));
        assert_eq!(parse_number("1e5"), None);
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number("."), None);
        assert_eq!(parse_number("NaN"), None);
    }

    #[test]
    fn dates() {
        let d = parse_date("2020-01-01T00:00:01Z").unwrap();
        assert_eq!(d, 1_577_836_801_000_000_000);
        assert_eq!(parse_date("1577836801"), Some(d));
        assert_eq!(parse_date("2020-01-01").unwrap(), 1_577_836_800_000_000_000);
        assert!(parse_date("2020-01-01T01:00:01+01:00").unwrap() == d);
        assert!(parse_date("2020-01-01T00:00:01.5Z").unwrap() > d);
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn ip_ranges() {
        assert!(parse_ip_range("203.0.113.0/24").is_some());
        assert_eq!(parse_ip_range("10.0.0.1").unwrap().prefix_len(), 32);
        assert_eq!(parse_ip_range("2001:DB8::1").unwrap().prefix_len(), 128);
        assert!(parse_ip_range("10.0.0.0/33").is_none());
        assert!(parse_ip_range("host").is_none());
    }
}
