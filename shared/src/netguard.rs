//! The SSRF guard for every URL the platform fetches or calls on a user's behalf (media URLs,
//! webhook endpoints): which addresses count as public, a DNS resolver for reqwest that drops
//! the others, and a redirect policy that refuses to be bounced to a private address.
//!
//! Resolution is where the guard sits, not a one-off check of the URL: a hostname that
//! resolves to a public address when it is saved and to `127.0.0.1` when it is called (DNS
//! rebinding) is still refused, because reqwest connects only to what this resolver returns.

use std::net::{IpAddr, SocketAddr};

/// Whether an address is reachable from the public internet (the SSRF guard's test).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
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
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15 benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local
                || (seg[0] & 0xffc0) == 0xfe80 // link local
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)) // documentation
        }
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
                return Err(format!("{host} does not resolve to a public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
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
}
