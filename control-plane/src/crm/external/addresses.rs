//! Who may call a function: `allowed_ips`, addresses and CIDR ranges (IPv4 and IPv6; an
//! IPv4-mapped IPv6 address counts as its IPv4 address), matched against the client address
//! the rate limiter uses. An empty list allows every address.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;

use crate::automation::functions::model::FieldErrors;

pub const MAX_ALLOWED_IPS: usize = 100;

/// `allowed_ips`: addresses or CIDR networks, each normalised (`10.0.0.1/32` reads as
/// `10.0.0.1`). Each bad entry is named (`allowed_ips.2`).
pub fn parse_allowed_ips(e: &mut FieldErrors, v: Value) -> Option<Vec<String>> {
    let items = match v {
        Value::Null => return Some(Vec::new()),
        Value::Array(items) if items.len() <= MAX_ALLOWED_IPS => items,
        _ => {
            e.add(
                "allowed_ips",
                format!("The allowed_ips must be an array of at most {MAX_ALLOWED_IPS} addresses or CIDR ranges."),
            );
            return None;
        }
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match item.as_str().and_then(|s| parse_net(s.trim())) {
            Some(net) => {
                let shown = if net.prefix_len() == net.max_prefix_len() {
                    net.addr().to_string()
                } else {
                    net.to_string()
                };
                if !out.contains(&shown) {
                    out.push(shown);
                }
            }
            None => {
                ok = false;
                e.add(
                    &format!("allowed_ips.{i}"),
                    format!("The allowed_ips.{i} must be an IP address or a CIDR range (203.0.113.10, 10.0.0.0/8, 2001:db8::/32)."),
                );
            }
        }
    }
    ok.then_some(out)
}

/// An address (a one-address network) or a CIDR network, its host bits cleared.
fn parse_net(s: &str) -> Option<IpNet> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(IpNet::from(ip.to_canonical()));
    }
    s.parse::<IpNet>().ok().map(|n| n.trunc())
}

/// Whether `client` (as the rate limiter sees it) may call a function allowing `allowed`
/// (empty: every address). An address that does not parse is allowed only by an empty list.
pub fn ip_allowed(allowed: &[String], client: &str) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Ok(ip) = client.parse::<IpAddr>() else {
        return false;
    };
    let ip = ip.to_canonical();
    allowed
        .iter()
        .filter_map(|a| parse_net(a))
        .any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn allowed_addresses_and_networks() {
        let mut e = FieldErrors::default();
        let ips = parse_allowed_ips(
            &mut e,
            json!([
                "203.0.113.10",
                "10.1.2.3/8",
                "2001:db8::/32",
                "::ffff:192.0.2.1",
                "203.0.113.10/32"
            ]),
        )
        .unwrap();
        assert_eq!(
            ips,
            ["203.0.113.10", "10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]
        );
        assert!(ip_allowed(&ips, "203.0.113.10"));
        assert!(ip_allowed(&ips, "10.200.0.1"));
        assert!(ip_allowed(&ips, "::ffff:10.0.0.1"));
        assert!(ip_allowed(&ips, "2001:db8::5"));
        assert!(ip_allowed(&ips, "192.0.2.1"));
        assert!(!ip_allowed(&ips, "203.0.113.11"));
        assert!(!ip_allowed(&ips, "unknown"));
        assert!(ip_allowed(&[], "unknown"));
        let mut e = FieldErrors::default();
        assert!(parse_allowed_ips(&mut e, json!(["1.2.3.4", "nope", "10.0.0.0/33"])).is_none());
        let body = e.into_result().unwrap_err();
        assert!(
            body.details["allowed_ips.1"].is_array() && body.details["allowed_ips.2"].is_array()
        );
    }
}
