//! The client's IP: the socket's peer, unless that peer is a configured proxy, in which
//! case the right-most `X-Forwarded-For` entry that is not itself a trusted proxy. A
//! forged header from anyone else is ignored.
//!
//! Entries are read from the right, the end the trusted proxies write; the first one
//! that cannot be read (a form no parser here knows) stops the walk — everything to its
//! left came from the client and proves nothing — and the request counts as the last
//! proxy's. Ports (`1.2.3.4:5678`, `[2001:db8::1]:443`) and IPv6 zone ids are dropped,
//! and IPv4-mapped IPv6 addresses are the IPv4 address, for proxies too.

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;

pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = canonical(req.peer_addr()?.ip());
    let is_trusted = |ip: IpAddr| trusted.iter().any(|t| canonical(*t) == ip);
    if !is_trusted(peer) {
        return Some(peer);
    }
    let header: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    let mut last_proxy = peer;
    for entry in header.iter().rev().flat_map(|v| v.rsplit(',')) {
        match entry_ip(entry) {
            Some(ip) if is_trusted(ip) => last_proxy = ip,
            Some(ip) => return Some(ip),
            None => break,
        }
    }
    Some(last_proxy)
}

/// One `X-Forwarded-For` entry as an address, if it is one (with or without a port).
fn entry_ip(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim().trim_matches('"');
    let ip = match entry.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => match entry.parse::<SocketAddr>() {
            Ok(addr) => addr.ip(),
            // `fe80::1%eth0`, or `[fe80::1%eth0]:443`: the zone names a local link.
            Err(_) => {
                let bare = entry.trim_start_matches('[');
                let bare = bare.split(['%', ']']).next()?;
                bare.parse::<IpAddr>().ok()?
            }
        },
    };
    Some(canonical(ip))
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The network one client holds: an IPv4 address itself (an IPv4-mapped IPv6 address
/// as IPv4), an IPv6 address's /64 — the block one subscriber usually gets, so rotating
/// through it does not make a client new. Rate limits and sign-in counters key by it.
pub fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_read_with_ports_zones_and_mapped_forms() {
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        assert_eq!(entry_ip(" 203.0.113.7 "), ip("203.0.113.7"));
        assert_eq!(entry_ip("203.0.113.7:5678"), ip("203.0.113.7"));
        assert_eq!(entry_ip("[2001:db8::1]:443"), ip("2001:db8::1"));
        assert_eq!(entry_ip("fe80::1%eth0"), ip("fe80::1"));
        assert_eq!(entry_ip("[fe80::1%eth0]:443"), ip("fe80::1"));
        assert_eq!(entry_ip("::ffff:192.0.2.1"), ip("192.0.2.1"));
        assert_eq!(entry_ip("unknown"), None);
        assert_eq!(entry_ip("_hidden"), None);
    }

    fn from(peer: &str, header: &[&str], trusted: &[&str]) -> Option<IpAddr> {
        let mut req = actix_web::test::TestRequest::default().peer_addr(
            format!("{peer}:40000")
                .parse()
                .unwrap_or_else(|_| unreachable!("test address")),
        );
        for h in header {
            req = req.append_header(("x-forwarded-for", *h));
        }
        let trusted: Vec<IpAddr> = trusted.iter().filter_map(|t| t.parse().ok()).collect();
        client_ip(&req.to_http_request(), &trusted)
    }

    #[test]
    fn only_what_the_trusted_proxies_wrote_is_believed() {
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        // Not from a proxy: the header is ignored.
        assert_eq!(
            from("198.51.100.1", &["203.0.113.9"], &["10.0.0.1"]),
            ip("198.51.100.1")
        );
        // From the proxy: its entry, even with a port, and not the client's forgery.
        assert_eq!(
            from("10.0.0.1", &["203.0.113.66, 192.0.2.7:5678"], &["10.0.0.1"]),
            ip("192.0.2.7")
        );
        // An entry that cannot be read stops the walk: the forgery to its left is not used.
        assert_eq!(
            from("10.0.0.1", &["203.0.113.66, garbage"], &["10.0.0.1"]),
            ip("10.0.0.1")
        );
        // Chained proxies are skipped; several header lines read from the last.
        assert_eq!(
            from(
                "10.0.0.1",
                &["203.0.113.66", "192.0.2.7, 10.0.0.2"],
                &["10.0.0.1", "10.0.0.2"]
            ),
            ip("192.0.2.7")
        );
        // A proxy seen through a dual-stack socket is still the proxy.
        assert_eq!(
            from("[::ffff:10.0.0.1]", &["192.0.2.7"], &["10.0.0.1"]),
            ip("192.0.2.7")
        );
    }
}
