//! Settings that keep one tenant from taking more than its share: quotas, the tenant-wide
//! request budget, the bound on concurrent password checks, and the proxies whose
//! `X-Forwarded-For` entries are trusted.

use std::net::IpAddr;

/// Tenant limits and the login bound (`ZAPINI_QUOTA_*`, `ZAPINI_TENANT_RATE_LIMIT_REQUESTS`,
/// `ZAPINI_LOGIN_CONCURRENCY`, `ZAPINI_TRUSTED_PROXIES`). A quota of 0 means unlimited;
/// a tenant may have its own values (`control-plane tenant set-quota`).
#[derive(Debug, Clone)]
pub struct TenancySettings {
    /// Instances per tenant.
    pub quota_instances: u32,
    /// Active (not revoked) `sk_` tokens per tenant.
    pub quota_instance_tokens: u32,
    /// Bytes of media stored per tenant (uploads and kept received media).
    pub quota_media_bytes: u64,
    /// Requests per rate-limit window for all of a tenant's tokens together; 0: no
    /// tenant-wide budget (only the per-token one).
    pub tenant_rate_limit_requests: u32,
    /// Password checks (argon2) running at once; logins beyond it are refused with 503.
    pub login_concurrency: usize,
    /// Our own proxies: with `trust_forwarded_for`, `X-Forwarded-For` is read from the right,
    /// skipping these, and the first other address is the client.
    pub trusted_proxies: Vec<ProxyNet>,
}

impl TenancySettings {
    /// Parses a `ZAPINI_TRUSTED_PROXIES` value (`10.0.0.1, 10.1.0.0/16, ::1`).
    pub fn parse_trusted(text: &str) -> Result<Vec<ProxyNet>, String> {
        parse_proxies(text)
    }
}

/// An address or network (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet {
    addr: IpAddr,
    prefix: u8,
}

impl ProxyNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
            if prefix == 0 {
                0
            } else {
                bits >> (width - prefix)
            }
        }
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), 32, self.prefix)
                    == masked(u32::from(ip).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), 128, self.prefix)
                    == masked(u128::from(ip), 128, self.prefix)
            }
            (IpAddr::V4(_), IpAddr::V6(ip)) => ip
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(IpAddr::V4(v4))),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

/// `10.0.0.1, 10.1.0.0/16, ::1` -> networks; `Err` names the bad entry.
pub(super) fn parse_proxies(text: &str) -> Result<Vec<ProxyNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| {
            let bad = || format!("`{part}` is not an IP address or CIDR network");
            let (ip, prefix) = match part.split_once('/') {
                Some((ip, len)) => (ip, Some(len.parse::<u8>().map_err(|_| bad())?)),
                None => (part, None),
            };
            let addr: IpAddr = ip.parse().map_err(|_| bad())?;
            let width = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = prefix.unwrap_or(width);
            if prefix > width {
                return Err(bad());
            }
            Ok(ProxyNet { addr, prefix })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_parse_and_match() {
        let nets = parse_proxies("10.0.0.0/8, 192.168.1.7 ,fd00::/8").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(nets[0].contains(ip("10.200.3.4")));
        assert!(!nets[0].contains(ip("11.0.0.1")));
        assert!(nets[0].contains(ip("::ffff:10.0.0.9")));
        assert!(nets[1].contains(ip("192.168.1.7")));
        assert!(!nets[1].contains(ip("192.168.1.8")));
        assert!(nets[2].contains(ip("fd12::1")));
        assert!(!nets[2].contains(ip("10.0.0.1")));
        assert!(parse_proxies("").unwrap().is_empty());
        assert!(parse_proxies("0.0.0.0/0").unwrap()[0].contains(ip("8.8.8.8")));
        assert!(parse_proxies("10.0.0.0/33").is_err());
        assert!(parse_proxies("proxy.local").is_err());
    }
}
