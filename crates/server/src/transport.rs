//! Where a request came from and whether it came over TLS: `aws:SourceIp` and
//! `aws:SecureTransport`.
//!
//! Without trusted proxies these are the TCP peer and whether this server speaks TLS. When the
//! peer is inside a `--trusted-proxy` CIDR, `X-Forwarded-For` and `X-Forwarded-Proto` are
//! believed: the source is the right-most address of `X-Forwarded-For` that is not itself a
//! trusted proxy (addresses to its left were written by a client, and could be anything), and
//! the transport is secure when every `X-Forwarded-Proto` entry is `https`. From any other peer
//! those headers are ignored.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// How this server is reached.
#[derive(Debug, Clone, Default)]
pub struct Transport {
    /// This server speaks TLS.
    pub tls: bool,
    /// Peers whose forwarding headers are believed.
    pub trusted_proxies: Vec<IpNet>,
}

/// The client of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    pub secure: bool,
}

/// Parses a `--trusted-proxy` value: a CIDR (`10.0.0.0/8`, `fd00::/8`) or one address.
pub fn parse_trusted_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| format!("{text} is not a CIDR (such as 10.0.0.0/8) or an IP address"))
}

impl Transport {
    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// Whether `peer` is one of the trusted proxies.
    pub fn is_trusted_peer(&self, peer: SocketAddr) -> bool {
        self.trusted(peer.ip().to_canonical())
    }

    /// The client of a request that arrived from `peer` with `headers`.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> Client {
        let peer_ip = peer.ip().to_canonical();
        let direct = Client {
            ip: peer_ip,
            secure: self.tls,
        };
        if !self.trusted(peer_ip) {
            return direct;
        }
        Client {
            ip: self.forwarded_for(peer_ip, headers),
            secure: forwarded_proto(headers).unwrap_or(self.tls),
        }
    }

    /// Walks `X-Forwarded-For` from the right, past trusted proxies. An entry that is not an
    /// address ends the walk at the last trusted hop: nothing to its left can be believed.
    fn forwarded_for(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev() {
            let Some(ip) = parse_forwarded_address(entry) else {
                return client;
            };
            client = ip;
            if !self.trusted(ip) {
                break;
            }
        }
        client
    }
}

/// `X-Forwarded-Proto`: `Some(true)` when every entry is `https`, `Some(false)` when any is
/// something else, `None` when the header is absent. (A proxy that appends records each hop;
/// one `http` hop, or a value a client forged to the left of it, is not secure.)
fn forwarded_proto(headers: &HeaderMap) -> Option<bool> {
    let mut seen = false;
    let mut secure = true;
    for value in headers.get_all("x-forwarded-proto") {
        let Ok(text) = value.to_str() else {
            return Some(false);
        };
        for entry in text.split(',') {
            seen = true;
            secure &= entry.trim().eq_ignore_ascii_case("https");
        }
    }
    seen.then_some(secure)
}

/// An `X-Forwarded-For` entry: an address, or an address with a port (`1.2.3.4:80`,
/// `[::1]:80`), as some proxies write it.
fn parse_forwarded_address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn behind(proxies: &[&str]) -> Transport {
        Transport {
            tls: false,
            trusted_proxies: proxies
                .iter()
                .map(|p| parse_trusted_proxy(p).unwrap())
                .collect(),
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    const PEER: &str = "10.0.0.5:40000";

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let t = behind(&["192.168.0.0/16"]);
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-proto", "https"),
        ]);
        let c = t.client(PEER.parse().unwrap(), &h);
        assert_eq!(
            c,
            Client {
                ip: ip("10.0.0.5"),
                secure: false
            }
        );
        let tls = Transport { tls: true, ..t };
        assert!(tls.client(PEER.parse().unwrap(), &h).secure);
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_address_is_the_client() {
        let t = behind(&["10.0.0.0/8"]);
        let peer: SocketAddr = PEER.parse().unwrap();
        let cases = [
            ("203.0.113.7", "203.0.113.7"),
            // A client's forged entries stand to the left of its real address.
            ("1.1.1.1, 203.0.113.7", "203.0.113.7"),
            // Trusted hops are skipped.
            ("203.0.113.7, 10.1.1.1, 10.2.2.2", "203.0.113.7"),
            // Ports and IPv6, as some proxies write them; IPv4-mapped IPv6 is IPv4.
            ("203.0.113.7:4711", "203.0.113.7"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("::ffff:203.0.113.7", "203.0.113.7"),
            // Garbage ends the walk at the last trusted hop.
            ("203.0.113.7, nonsense, 10.1.1.1", "10.1.1.1"),
            ("nonsense", "10.0.0.5"),
            ("", "10.0.0.5"),
            // Only trusted hops: the left-most of them.
            ("10.9.9.9, 10.1.1.1", "10.9.9.9"),
        ];
        for (xff, want) in cases {
            let got = t.client(peer, &headers(&[("x-forwarded-for", xff)]));
            assert_eq!(got.ip, ip(want), "{xff}");
        }
        // Several header lines are one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.7, 10.1.1.1"),
        ]);
        assert_eq!(t.client(peer, &h).ip, ip("203.0.113.7"));
        assert_eq!(t.client(peer, &HeaderMap::new()).ip, ip("10.0.0.5"));
    }

    #[test]
    fn behind_a_trusted_proxy_forwarded_proto_decides_secure_transport() {
        let peer: SocketAddr = PEER.parse().unwrap();
        for tls in [false, true] {
            let t = Transport {
                tls,
                ..behind(&["10.0.0.5"])
            };
            let secure = |proto: &str| {
                t.client(peer, &headers(&[("x-forwarded-proto", proto)]))
                    .secure
            };
            assert!(secure("https"));
            assert!(secure("HTTPS"));
            assert!(secure("https, https"));
            assert!(!secure("http"));
            assert!(!secure("https, http"));
            assert!(!secure("http, https"));
            assert!(!secure("wss"));
            // Absent: how the proxy reached us.
            assert_eq!(t.client(peer, &HeaderMap::new()).secure, tls);
        }
    }

    #[test]
    fn trusted_proxies_parse_as_cidrs_or_addresses() {
        assert_eq!(
            parse_trusted_proxy("127.0.0.1").unwrap().to_string(),
            "127.0.0.1/32"
        );
        assert_eq!(
            parse_trusted_proxy("10.1.2.3/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            parse_trusted_proxy("fd00::/8").unwrap().to_string(),
            "fd00::/8"
        );
        assert!(parse_trusted_proxy("10.0.0.0/33").is_err());
        assert!(parse_trusted_proxy("proxy.local").is_err());
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:9".parse().unwrap();
        let t = behind(&["127.0.0.1/32"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(t.client(mapped, &h).ip, ip("203.0.113.7"));
    }
}
