//! Builds hosts in code for the model's own tests: the router of
//! kernel-notes.md's lab (r0 10.0.1.1/24, r1 10.0.2.1/24) and helpers to ask
//! it `ip route get` questions.

use std::net::Ipv4Addr;

use crate::core::fib_rules::{FibRule, FibRuleAction};
use crate::ipv4::devinet::{IfaFlags, InIfaddr};
use crate::ipv4::rtnetlink::{RouteGetError, RouteGetReply, RouteGetRequest, inet_rtm_getroute};
use crate::netns::{IfIndex, NetDevice, Netns, NexthopSpec, RouteSpec};
use crate::trace::{NoTrace, Recorder};
use crate::uapi::{DevFlags, LinkType, RouteType, RtScope, RtnhFlags};

/// A namespace being built.
pub struct HostBuilder {
    /// The namespace.
    pub ns: Netns,
}

impl HostBuilder {
    /// A fresh namespace with `lo` up and the default rules.
    pub fn new() -> Self {
        let mut ns = Netns::with_loopback();
        ns.fib_default_rules_init();
        HostBuilder { ns }
    }

    /// The lab router: r0 10.0.1.1/24 (ifindex 2), r1 10.0.2.1/24 (ifindex 3).
    pub fn router() -> Self {
        Self::new()
            .dev("r0", "10.0.1.1/24")
            .dev("r1", "10.0.2.1/24")
    }

    /// Adds an up veth-like device with one address (`""` for none).
    pub fn dev(mut self, name: &str, addr: &str) -> Self {
        let ifindex = self.ns.next_ifindex();
        let d = NetDevice {
            name: name.into(),
            ifindex,
            flags: DevFlags(
                DevFlags::IFF_UP.0
                    | DevFlags::IFF_BROADCAST.0
                    | DevFlags::IFF_MULTICAST.0
                    | DevFlags::IFF_LOWER_UP.0,
            ),
            mtu: 1500,
            dev_addr: [2, 0, 0, 0, 0, ifindex.0 as u8],
            broadcast: [0xff; 6],
            link_type: LinkType::Ether,
            group: 0,
            carrier: true,
            ip_ptr: None,
            kind: Default::default(),
            master: None,
            brport: None,
        };
        self.ns.register_netdev(d).unwrap();
        if !addr.is_empty() {
            self = self.addr(name, addr);
        }
        self
    }

    /// Takes the carrier of a device down (its next hops become `linkdown`).
    pub fn no_carrier(mut self, dev: &str) -> Self {
        let i = self.ns.dev_by_name(dev).unwrap().ifindex;
        self.ns.dev_mut(i).unwrap().carrier = false;
        self
    }

    /// Adds an address `A/len` to a device, with the kernel's routes.
    pub fn addr(mut self, dev: &str, addr: &str) -> Self {
        let (a, l) = addr.split_once('/').unwrap();
        let a: Ipv4Addr = a.parse().unwrap();
        let ifindex = self.ns.dev_by_name(dev).unwrap().ifindex;
        let ifa = InIfaddr {
            ifa_local: a,
            ifa_address: a,
            ifa_prefixlen: l.parse().unwrap(),
            ifa_broadcast: Ipv4Addr::UNSPECIFIED,
            ifa_scope: RtScope::RT_SCOPE_UNIVERSE,
            ifa_flags: IfaFlags::IFA_F_PERMANENT,
            ifa_label: None,
            ifa_rt_priority: 0,
        };
        self.ns.inet_insert_ifa(ifindex, ifa, true).unwrap();
        self
    }

    /// `sysctl -w KEY=VALUE`.
    pub fn sysctl(mut self, key: &str, v: i64) -> Self {
        self.ns.sysctl_write(key, v).unwrap();
        self
    }

    /// `ip route add TYPE DST/LEN [via GW] [dev DEV] [table T] [metric M] [tos TOS]`.
    #[allow(clippy::too_many_arguments)]
    pub fn route(
        mut self,
        rt_type: RouteType,
        dst: &str,
        gw: Option<&str>,
        dev: Option<&str>,
        table: u32,
        metric: u32,
        tos: u8,
    ) -> Self {
        let (a, l) = dst.split_once('/').unwrap();
        let mut spec = RouteSpec::new(rt_type, a.parse().unwrap(), l.parse().unwrap());
        spec.table = table;
        spec.priority = metric;
        spec.tos = tos;
        if gw.is_some() || dev.is_some() {
            spec.nexthops.push(NexthopSpec {
                gw: gw.map(|g| g.parse().unwrap()),
                dev: dev.map(|d| self.ns.dev_by_name(d).unwrap().ifindex),
                weight: 1,
                flags: RtnhFlags(0),
            });
        }
        self.ns.fib_table_insert(&spec, false).unwrap();
        self
    }

    /// `ip rule add ... pref P` with an action.
    pub fn rule(mut self, pref: u32, f: impl FnOnce(&mut FibRule)) -> Self {
        let mut r = FibRule::lookup(pref, 0);
        r.protocol = crate::uapi::RtProt::RTPROT_BOOT;
        f(&mut r);
        if r.action == FibRuleAction::FR_ACT_TO_TBL && r.table == 0 {
            r.table = 254;
        }
        self.ns.fib_rule_add(r, Some(pref)).unwrap();
        self
    }

    /// The namespace.
    pub fn build(self) -> Netns {
        self.ns
    }
}

impl Default for HostBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// `ip route get DST from SRC iif DEV [tos] [mark]` on the model.
pub fn get(
    ns: &mut Netns,
    dst: &str,
    src: &str,
    iif: &str,
    tos: u8,
    mark: u32,
) -> Result<RouteGetReply, RouteGetError> {
    let mut req = RouteGetRequest::new(dst.parse().unwrap());
    req.src = src.parse().unwrap();
    req.iif = Some(ns.dev_by_name(iif).unwrap().ifindex);
    req.tos = tos;
    req.mark = mark;
    let mut buf = [0; 28];
    let a = inet_rtm_getroute(ns, &req, &mut buf, &mut NoTrace);
    // The traced walk must reach the same answer.
    let mut rec = Recorder::new();
    let b = inet_rtm_getroute(ns, &req, &mut buf, &mut rec);
    assert_eq!(a, b, "traced and untraced answers differ");
    a
}

/// The device name of an ifindex.
pub fn name(ns: &Netns, i: IfIndex) -> &str {
    ns.dev_name(i)
}

/// The client and server MACs of the lab (c0 behind r0, s0 behind r1).
pub const C0_MAC: [u8; 6] = [2, 0, 0, 0, 1, 2];
/// The server's MAC.
pub const S0_MAC: [u8; 6] = [2, 0, 0, 0, 2, 2];

impl HostBuilder {
    /// A permanent ARP entry: `ip neigh add IP lladdr MAC dev DEV nud permanent`.
    pub fn neigh(mut self, dev: &str, ip: &str, mac: [u8; 6]) -> Self {
        let dev = self.ns.dev_by_name(dev).unwrap().ifindex;
        self.ns.neigh.push(crate::core::neighbour::Neighbour::new(
            dev,
            ip.parse().unwrap(),
            Some(mac),
            crate::core::neighbour::NudState::NUD_PERMANENT,
        ));
        self
    }

    /// The lab router with the client (10.0.1.2) and server (10.0.2.2) known.
    pub fn lab_router() -> Self {
        Self::router()
            .neigh("r0", "10.0.1.2", C0_MAC)
            .neigh("r1", "10.0.2.2", S0_MAC)
    }
}

/// An Ethernet frame from the client to `dst_mac` carrying an ICMP echo
/// request from `src` to `dst` with `ttl` and `payload` bytes of data.
pub fn echo_frame(dst_mac: [u8; 6], src: &str, dst: &str, ttl: u8, payload: usize) -> Vec<u8> {
    let src: Ipv4Addr = src.parse().unwrap();
    let dst: Ipv4Addr = dst.parse().unwrap();
    let b = etherparse::PacketBuilder::ethernet2(C0_MAC, dst_mac)
        .ipv4(src.octets(), dst.octets(), ttl)
        .icmpv4_echo_request(7, 1);
    let data = vec![0xabu8; payload];
    let mut out = Vec::with_capacity(b.size(data.len()));
    b.write(&mut out, &data).unwrap();
    out
}

/// Rewrites the IPv4 header checksum of a frame after a test changed a field.
pub fn fix_csum(frame: &mut [u8]) {
    let ihl = (frame[14] & 0xf) as usize * 4;
    frame[24..26].copy_from_slice(&[0, 0]);
    let c = crate::ipv4::ip_hdr::ip_compute_csum(&frame[14..14 + ihl]);
    frame[24..26].copy_from_slice(&c.to_be_bytes());
}
