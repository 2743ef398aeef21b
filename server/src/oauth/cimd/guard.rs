//! The address guard: fetching a URL a stranger chose is an SSRF hazard, so a URL must
//! have the draft's shape (§3), and every address it resolves to must be outside the
//! special-use space (RFC 6890). The resolver hands the connector only the addresses it
//! checked, so DNS cannot rebind between the check and the connect.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use super::CimdError;

/// Which URLs and addresses Lanyard may fetch from.
#[derive(Debug, Clone, Copy)]
pub struct AddressGuard {
    /// Lets tests host documents on loopback (over plain http). Never in production: it
    /// opens the SSRF hole that the block list closes.
    allow_loopback: bool,
}

impl AddressGuard {
    pub fn new(allow_loopback: bool) -> Self {
        Self { allow_loopback }
    }

    /// Whether `client_id` has the shape of a metadata document URL at all.
    pub fn is_candidate(&self, client_id: &str) -> bool {
        client_id.starts_with("https://")
            || (self.allow_loopback && client_id.starts_with("http://"))
    }

    /// The URL rules of the draft's §3: https, a path, no fragment, no credentials, no dot
    /// segments; and a host that is not a blocked address literal.
    pub fn check_url(&self, raw: &str) -> Result<Url, CimdError> {
        let url = Url::parse(raw).map_err(|_| CimdError::BadUrl("not a URL"))?;
        let loopback_ok = self.allow_loopback && url.scheme() == "http" && is_loopback_host(&url);
        if url.scheme() != "https" && !loopback_ok {
            return Err(CimdError::BadUrl("must use https"));
        }
        if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err(CimdError::BadUrl(
                "must not contain a fragment or credentials",
            ));
        }
        if url.path() == "/" || url.path().is_empty() {
            return Err(CimdError::BadUrl("must contain a path"));
        }
        // The parser resolves dot segments, `%2e%2e` and backslashes on its way; the draft
        // forbids them in the text the client sent. So the path and query as sent must be
        // exactly what the parser made of them.
        let sent = raw.splitn(4, '/').nth(3).unwrap_or_default();
        let parsed = &url[url::Position::BeforePath..];
        if parsed.strip_prefix('/') != Some(sent) {
            return Err(CimdError::BadUrl(
                "must not contain dot segments or other non-canonical path forms",
            ));
        }
        let literal = match url.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(Host::Domain(_)) => None,
            None => return Err(CimdError::BadUrl("must have a host")),
        };
        if literal.is_some_and(|ip| self.blocked(ip)) {
            return Err(CimdError::BadUrl("host is a special-use address"));
        }
        Ok(url)
    }

    /// RFC 6890 special-use space, plus the cloud metadata ranges that sit inside it.
    pub fn blocked(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => self.blocked_v4(v4),
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return self.blocked_v4(v4);
                }
                if v6.is_loopback() {
                    return !self.allow_loopback;
                }
                let s = v6.segments();
                v6.is_unspecified()
                    || v6.is_multicast()
                    || (s[0] & 0xfe00) == 0xfc00 // unique local
                    || (s[0] & 0xffc0) == 0xfe80 // link local
                    || (s[0] & 0xffc0) == 0xfec0 // site local (deprecated, still routed)
                    || s[..6] == [0; 6] // IPv4-compatible ::/96 (deprecated)
                    || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                    || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64
                    || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments, Teredo
                    || s[0] == 0x2002 // 6to4
                    || v6 == Ipv6Addr::UNSPECIFIED
            }
        }
    }

    fn blocked_v4(&self, ip: Ipv4Addr) -> bool {
        if ip.is_loopback() {
            return !self.allow_loopback;
        }
        let o = ip.octets();
        ip.is_private()
            || ip.is_link_local()
            || ip.is_unspecified()
            || ip.is_broadcast()
            || ip.is_multicast()
            || ip.is_documentation()
            || o[0] == 0
            || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64/10
            || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
            || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
            || o[0] >= 240 // reserved
    }
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Resolves with the system resolver, then drops every special-use address, so the
/// connector can only reach addresses that passed the check.
impl Resolve for AddressGuard {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = *self;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !guard.blocked(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err("no permitted address for host".into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_use_addresses_are_blocked() {
        let strict = AddressGuard::new(false);
        for ip in [
            "10.0.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "192.168.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "fec0::1",
            "::10.0.0.1",
            "::8.8.8.8",
        ] {
            assert!(strict.blocked(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111"] {
            assert!(!strict.blocked(ip.parse().unwrap()), "{ip}");
        }
        let loopback = AddressGuard::new(true);
        assert!(!loopback.blocked("127.0.0.1".parse().unwrap()));
        assert!(loopback.blocked("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn url_rules() {
        let g = AddressGuard::new(false);
        assert!(g.check_url("https://app.example/client.json").is_ok());
        assert_eq!(
            g.check_url("https://app.example/").unwrap_err(),
            CimdError::BadUrl("must contain a path")
        );
        assert_eq!(
            g.check_url("http://app.example/c.json").unwrap_err(),
            CimdError::BadUrl("must use https")
        );
        for sneaky in [
            "https://app.example/a/../c.json",
            "https://app.example/a/%2e%2e/c.json",
            "https://app.example/a/%2E./c.json",
            "https://app.example/a\\..\\c.json",
            "https://app.example/a/./c.json",
        ] {
            assert_eq!(
                g.check_url(sneaky).unwrap_err(),
                CimdError::BadUrl(
                    "must not contain dot segments or other non-canonical path forms"
                ),
                "{sneaky}"
            );
        }
        assert!(g.check_url("https://app.example/c.json?v=1").is_ok());
        assert!(g.check_url("https://u:p@app.example/c.json").is_err());
        assert!(g.check_url("https://10.0.0.1/c.json").is_err());
        assert!(g.check_url("http://127.0.0.1:9/c.json").is_err());
        assert!(
            AddressGuard::new(true)
                .check_url("http://127.0.0.1:9/c.json")
                .is_ok()
        );
    }
}
