//! Devices an account signs in from, so a sign-in from a new one can be flagged. A device is
//! its browser (user agent) on its network (IPv4 /24, IPv6 /64): coarse enough that a DHCP
//! renewal is not a new device, fine enough that another browser or another site is.

use std::net::IpAddr;

use super::Client;

/// How many devices an account remembers; the least recently used is forgotten first.
pub const REMEMBERED: usize = 20;

/// The network part of an address: IPv4 /24 or IPv6 /64; "unknown" without an address.
fn network(ip: Option<&str>) -> String {
    match ip
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
    {
        Some(IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        Some(IpAddr::V6(v6)) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
        None => "unknown".to_owned(),
    }
}

/// SHA-256 of the user agent and the client network, in hex.
pub fn fingerprint(client: &Client) -> String {
    let mut input = client.user_agent.clone().unwrap_or_default().into_bytes();
    // A separator that cannot occur in a header value keeps the two parts apart.
    input.push(0);
    input.extend_from_slice(network(client.ip.as_deref()).as_bytes());
    crate::crypto::sha256(&input)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Marks `device` as used now; true when it was not among `known`. `known` runs from least
/// to most recently used and keeps the last [`REMEMBERED`].
pub fn remember(known: &mut Vec<String>, device: String) -> bool {
    let new = match known.iter().position(|d| *d == device) {
        Some(at) => {
            known.remove(at);
            false
        }
        None => true,
    };
    known.push(device);
    let excess = known.len().saturating_sub(REMEMBERED);
    known.drain(..excess);
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(ip: &str, agent: &str) -> Client {
        Client {
            ip: Some(ip.into()),
            user_agent: Some(agent.into()),
        }
    }

    #[test]
    fn same_browser_on_same_network_is_one_device() {
        let a = fingerprint(&client("192.0.2.10", "Firefox"));
        assert_eq!(a, fingerprint(&client("192.0.2.200", "Firefox")));
        assert_eq!(a, fingerprint(&client("::ffff:192.0.2.7", "Firefox")));
        assert_ne!(a, fingerprint(&client("192.0.3.10", "Firefox")));
        assert_ne!(a, fingerprint(&client("192.0.2.10", "Chrome")));
        let b = fingerprint(&client("2001:db8:1:2::1", "Firefox"));
        assert_eq!(b, fingerprint(&client("2001:db8:1:2:ffff::9", "Firefox")));
        assert_ne!(b, fingerprint(&client("2001:db8:1:3::1", "Firefox")));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn remembers_the_most_recent_twenty() {
        let mut known = Vec::new();
        assert!(remember(&mut known, "first".into()));
        assert!(!remember(&mut known, "first".into()));
        for i in 0..REMEMBERED - 1 {
            assert!(remember(&mut known, format!("d{i}")));
        }
        // "first" is used again, so the oldest is now d0.
        assert!(!remember(&mut known, "first".into()));
        assert!(remember(&mut known, "one more".into()));
        assert_eq!(known.len(), REMEMBERED);
        assert!(known.contains(&"first".to_owned()));
        assert!(remember(&mut known, "d0".into()), "d0 was forgotten");
    }
}
