//! The SSRF guard for every URL the platform fetches or calls on a user's behalf (media URLs,
//! webhook endpoints): which addresses count as public, a DNS resolver for reqwest that drops
//! the others, and a redirect policy that refuses to be bounced to a private address.
//!
//! Resolution is where the guard sits, not a one-off check of the URL: a hostname that
//! resolves to a public address when it is saved and to `127.0.0.1` when it is called (DNS
//! rebinding) is still refused, because reqwest connects only to what this resolver returns.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub use body::{Capped, read_capped};

mod body;

/// Whether an address is reachable from the public internet (the SSRF guard's test). An
/// IPv6 address that carries an IPv4 address (mapped, translated, IPv4-compatible, NAT64,
/// 6to4, Teredo) is judged by the IPv4 address it leads to as well, so `::ffff:127.0.0.1`,
/// `64:ff9b::a9fe:a9fe` or `2002:7f00:1::` cannot reach what `127.0.0.1` or
/// `169.254.169.254` would.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10 carrier-grade NAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24 protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15 benchmarking
        || o[0] >= 240)
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    let seg = v6.segments();
    if v6.is_loopback()
        || v6.is_unspecified()
        || v6.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local
        || (seg[0] & 0xffc0) == 0xfe80 // fe80::/10 link local
        || (seg[0] & 0xffc0) == 0xfec0 // fec0::/10 site local (deprecated, still routed inside)
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // 2001:db8::/32 documentation
        || (seg[0] == 0x0100 && seg[1..4] == [0, 0, 0]) // 100::/64 discard
        || (seg[0] == 0x0064 && seg[1] == 0xff9b && seg[2] == 0x0001)
    // 64:ff9b:1::/48 local-use NAT64: translated by a local gateway, to anything
    {
        return false;
    }
    embedded_v4(v6).is_none_or(|(v4s, _)| v4s.iter().all(|v4| is_public_v4(*v4)))
}

/// How an IPv6 address carries IPv4 addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    /// `::ffff:0:0/96` (RFC 4291).
    Mapped,
    /// `::ffff:0:0:0/96`, SIIT (RFC 6052 / 7915).
    Translated,
    /// `::/96`, deprecated IPv4-compatible (RFC 4291).
    Compatible,
    /// `64:ff9b::/96`, the well-known NAT64 prefix (RFC 6052).
    Nat64,
    /// `2002::/16`, 6to4 (RFC 3056): the relay's IPv4 address in bits 16–47.
    SixToFour,
    /// `2001::/32`, Teredo (RFC 4380): the server's IPv4 address, and the client's, stored
    /// with every bit inverted in the last 32 bits.
    Teredo,
}

/// The IPv4 addresses an IPv6 address leads to, if it embeds any, and how. `::` and `::1` are
/// not IPv4-compatible addresses (they are the unspecified and loopback addresses).
pub fn embedded_v4(v6: Ipv6Addr) -> Option<(Vec<Ipv4Addr>, Embedding)> {
    let seg = v6.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let last = low(seg[6], seg[7]);
    match seg {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some((vec![last], Embedding::Mapped)),
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some((vec![last], Embedding::Translated)),
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some((vec![last], Embedding::Compatible)),
        [0x0064, 0xff9b, 0, 0, 0, 0, _, _] => Some((vec![last], Embedding::Nat64)),
        [0x2002, hi, lo, ..] => Some((vec![low(hi, lo)], Embedding::SixToFour)),
        [0x2001, 0, server_hi, server_lo, _, _, hi, lo] => Some((
            vec![low(server_hi, server_lo), low(!hi, !lo)],
            Embedding::Teredo,
        )),
        _ => None,
    }
}

/// The IP address a URL names literally (`http://10.0.0.1/`, `http://[::1]/`), if it does.
/// Such URLs never reach the resolver, so callers check them themselves.
pub fn literal_ip(url: &reqwest::Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// The guard's refusal at connect time, in the source chain of the request's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host} does not resolve to a public address")]
pub struct NotPublic {
    pub host: String,
}

/// DNS resolution that drops non-public addresses, so a hostname cannot smuggle a request
/// to an internal service (including by DNS rebinding between check and connect).
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(
                    Box::new(NotPublic { host }) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The one way to build a client for tenant-controlled URLs (webhook endpoints, media URLs,
/// audio to transcribe, WhatsApp media hosts named by a message): connect-time SSRF guard
/// (unless `allow_private`), connect and total timeouts, at most 5 redirects that may not
/// land on a literal private address, and never an environment proxy. A proxy from
/// `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY` would resolve and connect on our behalf, out of the
/// guard's reach (and an internal proxy reaches internal hosts), so it is ignored here; it
/// still applies to the platform's own calls (AI providers, object storage).
///
/// Callers add what is theirs (user agent, pool sizes, a stricter redirect policy). Literal
/// IP addresses in a URL never reach the resolver: check them with [`check_url`] or
/// [`literal_ip`] first.
pub fn client_builder(
    allow_private: bool,
    connect_timeout: Duration,
    timeout: Duration,
) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(connect_timeout)
        .timeout(timeout);
    if allow_private {
        builder.redirect(reqwest::redirect::Policy::limited(5))
    } else {
        builder
            .redirect(redirect_policy(5))
            .dns_resolver(Arc::new(GuardedResolver))
    }
}

/// Follows up to `max` redirects, refusing any that lands on a literal private address
/// (hostnames are covered by [`GuardedResolver`]).
pub fn redirect_policy(max: usize) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= max {
            attempt.error("too many redirects")
        } else if literal_ip(attempt.url()).is_some_and(|ip| !is_public(ip)) {
            attempt.error("redirected to a private address")
        } else {
            attempt.follow()
        }
    })
}

/// Why a URL is not acceptable as a target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    #[error("must be a valid URL")]
    Invalid,
    #[error("must be an https URL")]
    NotHttps,
    #[error("must be an http or https URL")]
    Scheme,
    #[error("must not point to a private, loopback, link-local or metadata address")]
    Private,
}

/// Parses a target URL and applies the static part of the guard: http(s) only (https only
/// unless `allow_http`), a host present, and no literal non-public address unless
/// `allow_private`. Hostnames are checked again at connect time by [`GuardedResolver`].
pub fn check_url(
    raw: &str,
    allow_http: bool,
    allow_private: bool,
) -> Result<reqwest::Url, UrlRefused> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|_| UrlRefused::Invalid)?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err(UrlRefused::NotHttps),
        _ => return Err(UrlRefused::Scheme),
    }
    let Some(host) = url.host_str() else {
        return Err(UrlRefused::Invalid);
    };
    if !allow_private {
        if literal_ip(&url).is_some_and(|ip| !is_public(ip)) {
            return Err(UrlRefused::Private);
        }
        let lower = host.to_ascii_lowercase();
        if lower == "localhost"
            || lower.ends_with(".localhost")
            || lower == "metadata.google.internal"
        {
            return Err(UrlRefused::Private);
        }
    }
    Ok(url)
}

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "172.16.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "fec0::1",
            "100::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn check_url_rules() {
        assert!(check_url("https://example.com/hook", false, false).is_ok());
        assert_eq!(
            check_url("http://example.com/hook", false, false),
            Err(UrlRefused::NotHttps)
        );
        assert!(check_url("http://example.com/hook", true, false).is_ok());
        assert_eq!(
            check_url("ftp://example.com/", true, true),
            Err(UrlRefused::Scheme)
        );
        assert_eq!(check_url("not a url", true, true), Err(UrlRefused::Invalid));
        for private in [
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.7/",
            "https://localhost:8443/",
        ] {
            assert_eq!(
                check_url(private, false, false),
                Err(UrlRefused::Private),
                "{private}"
            );
            assert!(check_url(private, false, true).is_ok(), "{private}");
        }
    }

    /// Each IPv6 form that carries an IPv4 address is refused when that address is not
    /// public, and allowed when it is.
    #[test]
    fn ipv6_addresses_embedding_ipv4_are_judged_by_it() {
        let cases: [(&str, &str, Embedding); 12] = [
            ("::ffff:10.0.0.1", "::ffff:8.8.8.8", Embedding::Mapped),
            ("::ffff:a9fe:a9fe", "::ffff:1.1.1.1", Embedding::Mapped),
            (
                "::ffff:0:127.0.0.1",
                "::ffff:0:8.8.8.8",
                Embedding::Translated,
            ),
            ("::127.0.0.1", "::8.8.8.8", Embedding::Compatible),
            ("::169.254.169.254", "::1.1.1.1", Embedding::Compatible),
            ("64:ff9b::127.0.0.1", "64:ff9b::8.8.8.8", Embedding::Nat64),
            ("64:ff9b::a9fe:a9fe", "64:ff9b::101:101", Embedding::Nat64),
            ("64:ff9b::192.168.0.1", "64:ff9b::8.8.4.4", Embedding::Nat64),
            ("2002:7f00:1::", "2002:808:808::", Embedding::SixToFour),
            (
                "2002:a9fe:a9fe:1::5",
                "2002:101:101:1::5",
                Embedding::SixToFour,
            ),
            // Teredo: server 65.54.227.120, client 127.0.0.1 / 8.8.8.8 with its bits inverted.
            (
                "2001:0:4136:e378:8000:63bf:80ff:fffe",
                "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
                Embedding::Teredo,
            ),
            // Teredo with a private server.
            (
                "2001:0:a00:1:8000:63bf:f7f7:f7f7",
                "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
                Embedding::Teredo,
            ),
        ];
        for (private, public, how) in cases {
            let private: Ipv6Addr = private.parse().unwrap();
            let public: Ipv6Addr = public.parse().unwrap();
            assert_eq!(embedded_v4(private).map(|(_, e)| e), Some(how), "{private}");
            assert_eq!(embedded_v4(public).map(|(_, e)| e), Some(how), "{public}");
            assert!(!is_public(IpAddr::V6(private)), "{private} is refused");
            assert!(is_public(IpAddr::V6(public)), "{public} is allowed");
        }
        let teredo: Ipv6Addr = "2001:0:4136:e378:8000:63bf:80ff:fffe".parse().unwrap();
        assert_eq!(
            embedded_v4(teredo).unwrap().0,
            [Ipv4Addr::new(65, 54, 227, 120), Ipv4Addr::new(127, 0, 0, 1)]
        );
        // Not embeddings: the unspecified and loopback addresses, ordinary global ones.
        for ip in ["::", "::1", "2606:4700:4700::1111", "2a00:1450:4001::200e"] {
            assert_eq!(embedded_v4(ip.parse().unwrap()), None, "{ip}");
        }
        // Local-use NAT64 translates to whatever the local gateway chooses.
        assert!(!is_public("64:ff9b:1::808:808".parse().unwrap()));
        // URLs naming them literally are refused by the static check too.
        for url in [
            "https://[::ffff:7f00:1]/x",
            "https://[64:ff9b::a9fe:a9fe]/latest/meta-data",
            "https://[2002:a00:1::]/",
            "https://[::10.0.0.1]/",
        ] {
            assert_eq!(
                check_url(url, false, false),
                Err(UrlRefused::Private),
                "{url}"
            );
        }
    }
}
