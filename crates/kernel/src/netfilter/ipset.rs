//! Models the ipset sets rules match with `-m set` (net/netfilter/ipset):
//! `hash:ip`, `hash:net`, `hash:ip,port`, `hash:net,port`, `bitmap:port`,
//! as `ipset save` writes them.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// A set's type and members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpSetKind {
    /// `hash:ip`.
    HashIp(HashSet<u32>),
    /// `hash:net`: members by prefix length, looked up longest first.
    HashNet(Vec<Ipv4Net>),
    /// `hash:ip,port`: (address, protocol, port).
    HashIpPort(HashSet<(u32, u8, u16)>),
    /// `hash:net,port`.
    HashNetPort(Vec<(Ipv4Net, u8, u16)>),
    /// `bitmap:port`.
    BitmapPort(HashSet<u16>),
    /// A type the model does not have: never matches, the rule is marked.
    Unsupported(String),
}

/// One set (`create NAME TYPE ...` plus its `add` lines).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpSet {
    /// Its name.
    pub name: String,
    /// Its type and members.
    pub kind: IpSetKind,
}

/// The fields of a packet a set can look at, per direction.
#[derive(Clone, Copy, Debug)]
pub struct SetKey {
    /// The address.
    pub addr: Ipv4Addr,
    /// The L4 protocol.
    pub proto: u8,
    /// The port of that direction.
    pub port: u16,
}

impl IpSet {
    /// Whether the set holds the key (`ip_set_test`); `first` is the first
    /// dimension's direction, `second` the second's.
    pub fn test(&self, first: SetKey, second: SetKey) -> Option<bool> {
        let a = u32::from(first.addr);
        Some(match &self.kind {
            IpSetKind::HashIp(s) => s.contains(&a),
            IpSetKind::HashNet(v) => v.iter().any(|n| n.contains(&first.addr)),
            IpSetKind::HashIpPort(s) => s.contains(&(a, second.proto, second.port)),
            IpSetKind::HashNetPort(v) => v.iter().any(|(n, p, port)| {
                n.contains(&first.addr) && *p == second.proto && *port == second.port
            }),
            IpSetKind::BitmapPort(s) => s.contains(&first.port),
            IpSetKind::Unsupported(_) => return None,
        })
    }
}
