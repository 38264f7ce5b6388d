//! A random router configuration for the packet lab: forwarding per device,
//! the devinet knobs of the input path (rp_filter, accept_local,
//! send_redirects, shared_media, accept_source_route, route_localnet,
//! drop_unicast_in_l2_multicast, bc_forwarding), the ICMP knobs
//! (icmp_ratelimit, icmp_ratemask, icmp_echo_ignore_broadcasts,
//! icmp_errors_use_inbound_ifaddr), r1's MTU, reject routes, a route back
//! out r0 through another client-side gateway (redirects), an optional
//! default route, and sometimes rules.
//!
//! The fixed part of every router (see [`crate::packet::lab`]) is the
//! topology, the neighbours, and the route `10.200.0.0/16 via 10.0.1.2 dev
//! r0` that carries the ICMP answers to the per-frame source addresses of
//! [`crate::packet::frames`].

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Which devices forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forwarding {
    /// `net.ipv4.ip_forward=1` (every device).
    All,
    /// `ip_forward=1`, then `conf.r1.forwarding=0`.
    AllButR1,
    /// Only `conf.r0.forwarding=1`.
    R0Only,
    /// Only `conf.r1.forwarding=1` (nothing from the client is forwarded).
    R1Only,
    /// Nothing forwards.
    Off,
}

/// The reject routes of the router, each a prefix of 192.0.2.0/24 when
/// present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RejectRoutes {
    /// `blackhole P`.
    pub blackhole: Option<Ipv4Net>,
    /// `unreachable P`.
    pub unreachable: Option<Ipv4Net>,
    /// `prohibit P`.
    pub prohibit: Option<Ipv4Net>,
    /// `throw P`.
    pub throw: Option<Ipv4Net>,
}

/// One router's configuration; see the module documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterConfig {
    /// The seed it was drawn from.
    pub seed: u64,
    /// Forwarding per device.
    pub forwarding: Forwarding,
    /// `conf.all.rp_filter` and `conf.r0.rp_filter`.
    pub rp_filter: (u8, u8),
    /// `conf.r0.accept_local`.
    pub accept_local: bool,
    /// `conf.all.send_redirects` and `conf.r0.send_redirects` (OR).
    pub send_redirects: (bool, bool),
    /// `conf.all.shared_media` and `conf.r0.shared_media` (OR).
    pub shared_media: (bool, bool),
    /// `conf.all.accept_source_route` (r0 keeps its 1; AND).
    pub accept_source_route: bool,
    /// `conf.r0.route_localnet`.
    pub route_localnet: bool,
    /// `conf.r0.drop_unicast_in_l2_multicast`.
    pub drop_unicast_in_l2_multicast: bool,
    /// `conf.all.bc_forwarding` and `conf.r0.bc_forwarding` (AND).
    pub bc_forwarding: (bool, bool),
    /// `net.ipv4.icmp_echo_ignore_broadcasts`.
    pub icmp_echo_ignore_broadcasts: bool,
    /// `net.ipv4.icmp_errors_use_inbound_ifaddr`.
    pub icmp_errors_use_inbound_ifaddr: bool,
    /// `net.ipv4.icmp_ratelimit` in milliseconds.
    pub icmp_ratelimit: u32,
    /// `net.ipv4.icmp_ratemask`.
    pub icmp_ratemask: u32,
    /// MTU of r1 (and of s0, so the server side takes what r1 sends).
    pub r1_mtu: u32,
    /// `default via 10.0.2.2 dev r1`.
    pub default_route: bool,
    /// The reject routes.
    pub reject: RejectRoutes,
    /// The prefix routed back out r0 `via 10.0.1.3` (redirects).
    pub redirect_prefix: Ipv4Net,
    /// Rules `to 10.0.7.0/24 unreachable` and `to 10.0.8.0/24 prohibit`
    /// (which also end the netns's rule-free fast paths).
    pub rules: bool,
}

/// The router's address on the client side.
pub const R0_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
/// The router's address on the server side.
pub const R1_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);
/// The client's address.
pub const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
/// The server's address.
pub const SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// The second client-side gateway (routes back out r0; redirects).
pub const REDIRECT_GW: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 3);
/// Per-frame source addresses, routed back via the client.
pub const SOURCE_POOL: &str = "10.200.0.0/16";
/// On-link per-frame source addresses (permanent neighbours on r0 with the
/// client's MAC), for redirects, which only on-link sources get: the first
/// and the number of them.
pub const ONLINK_POOL: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 0, 1, 16), 48);
/// Destinations beyond the server (`via 10.0.2.2`).
pub const BEYOND_SERVER: &str = "10.0.12.0/24";
/// The rule `to ... unreachable` (when [`RouterConfig::rules`]).
pub const RULE_UNREACHABLE: &str = "10.0.7.0/24";
/// The rule `to ... prohibit` (when [`RouterConfig::rules`]).
pub const RULE_PROHIBIT: &str = "10.0.8.0/24";

fn pick<T: Copy>(rng: &mut StdRng, items: &[(u32, T)]) -> T {
    let total: u32 = items.iter().map(|(w, _)| *w).sum();
    let mut x = rng.gen_range(0..total);
    for (w, t) in items {
        if x < *w {
            return *t;
        }
        x -= w;
    }
    items[items.len() - 1].1
}

fn flag(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

impl RouterConfig {
    /// The configuration drawn from `seed`.
    pub fn random(seed: u64) -> RouterConfig {
        let mut rng = StdRng::seed_from_u64(seed);
        let forwarding = pick(
            &mut rng,
            &[
                (50, Forwarding::All),
                (10, Forwarding::AllButR1),
                (15, Forwarding::R0Only),
                (10, Forwarding::R1Only),
                (15, Forwarding::Off),
            ],
        );
        let rpf = |rng: &mut StdRng| pick(rng, &[(5, 0u8), (3, 1), (2, 2)]);
        let rp_filter = (pick(&mut rng, &[(7, 0u8), (2, 1), (1, 2)]), rpf(&mut rng));
        // Four /26 blocks of 192.0.2.0/24 shuffled among the reject types,
        // each sometimes absent or a /27 of its block.
        let mut blocks: Vec<u32> = (0..4).collect();
        blocks.shuffle(&mut rng);
        let block = |rng: &mut StdRng, i: usize| -> Option<Ipv4Net> {
            if rng.gen_bool(0.15) {
                return None;
            }
            let base = u32::from(Ipv4Addr::new(192, 0, 2, 0)) + blocks[i] * 64;
            let len = if rng.gen_bool(0.3) { 27 } else { 26 };
            Some(Ipv4Net::new(Ipv4Addr::from(base), len).expect("valid"))
        };
        let reject = RejectRoutes {
            blackhole: block(&mut rng, 0),
            unreachable: block(&mut rng, 1),
            prohibit: block(&mut rng, 2),
            throw: block(&mut rng, 3),
        };
        let redirect_prefix =
            Ipv4Net::new(Ipv4Addr::new(10, 0, rng.gen_range(3..6), 0), 24).expect("valid");
        RouterConfig {
            seed,
            forwarding,
            rp_filter,
            accept_local: rng.gen_bool(0.3),
            send_redirects: (rng.gen_bool(0.8), rng.gen_bool(0.8)),
            shared_media: (rng.gen_bool(0.7), rng.gen_bool(0.7)),
            accept_source_route: rng.gen_bool(0.4),
            route_localnet: rng.gen_bool(0.15),
            drop_unicast_in_l2_multicast: rng.gen_bool(0.2),
            bc_forwarding: pick(
                &mut rng,
                &[(7, (false, false)), (2, (true, true)), (1, (false, true))],
            ),
            icmp_echo_ignore_broadcasts: rng.gen_bool(0.7),
            icmp_errors_use_inbound_ifaddr: rng.gen_bool(0.3),
            // Every limit is off or at least 25 jiffies (the kernel keeps
            // them in jiffies: 250 ms reads back as 252): a burst of the lab
            // (well under a jiffy on the wire, a few in the capture) never
            // earns a token on either clock.
            icmp_ratelimit: pick(&mut rng, &[(5, 1000), (2, 0), (2, 100), (1, 250)]),
            icmp_ratemask: pick(
                &mut rng,
                &[
                    (5, 6168),
                    (2, 0),
                    (1, 6168 | 1),
                    (1, 6168 | (1 << 5)),
                    (1, 6168 & !(1 << 11)),
                ],
            ),
            r1_mtu: pick(&mut rng, &[(5, 1500), (2, 1280), (2, 1000), (1, 576)]),
            default_route: rng.gen_bool(0.3),
            reject,
            redirect_prefix,
            rules: rng.gen_bool(0.3),
        }
    }

    /// The plain router of the netfilter suite: forwarding on, no source
    /// validation, redirects or reject routes, and ICMP rate limits off
    /// (`icmp_ratemask` 0: `icmpv4_mask_allow` lets every error through
    /// both the per-peer and the netns-wide limit, so REJECT answers every
    /// frame on both clocks).
    pub fn netfilter(seed: u64) -> RouterConfig {
        RouterConfig {
            seed,
            forwarding: Forwarding::All,
            rp_filter: (0, 0),
            accept_local: false,
            send_redirects: (false, false),
            shared_media: (false, false),
            accept_source_route: false,
            route_localnet: false,
            drop_unicast_in_l2_multicast: false,
            bc_forwarding: (false, false),
            icmp_echo_ignore_broadcasts: true,
            icmp_errors_use_inbound_ifaddr: false,
            icmp_ratelimit: 1000,
            icmp_ratemask: 0,
            r1_mtu: 1500,
            default_route: false,
            reject: RejectRoutes::default(),
            redirect_prefix: Ipv4Net::new(Ipv4Addr::new(10, 0, 3, 0), 24).expect("valid"),
            rules: false,
        }
    }

    /// Whether r0, the ingress device, forwards (`IN_DEV_FORWARD(r0)`).
    pub fn r0_forwards(&self) -> bool {
        matches!(
            self.forwarding,
            Forwarding::All | Forwarding::AllButR1 | Forwarding::R0Only
        )
    }

    /// The sysctls, in the order they are written (`sysctl -w`, inside the
    /// router's namespace).
    pub fn sysctls(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = Vec::new();
        let mut set = |k: &str, val: &str| v.push((k.to_string(), val.to_string()));
        match self.forwarding {
            Forwarding::All => set("net.ipv4.ip_forward", "1"),
            Forwarding::AllButR1 => {
                set("net.ipv4.ip_forward", "1");
                set("net.ipv4.conf.r1.forwarding", "0");
            }
            Forwarding::R0Only => set("net.ipv4.conf.r0.forwarding", "1"),
            Forwarding::R1Only => set("net.ipv4.conf.r1.forwarding", "1"),
            Forwarding::Off => {}
        }
        set("net.ipv4.conf.all.rp_filter", &self.rp_filter.0.to_string());
        set("net.ipv4.conf.r0.rp_filter", &self.rp_filter.1.to_string());
        set("net.ipv4.conf.r0.accept_local", flag(self.accept_local));
        set(
            "net.ipv4.conf.all.send_redirects",
            flag(self.send_redirects.0),
        );
        set(
            "net.ipv4.conf.r0.send_redirects",
            flag(self.send_redirects.1),
        );
        set("net.ipv4.conf.all.shared_media", flag(self.shared_media.0));
        set("net.ipv4.conf.r0.shared_media", flag(self.shared_media.1));
        set(
            "net.ipv4.conf.all.accept_source_route",
            flag(self.accept_source_route),
        );
        set("net.ipv4.conf.r0.route_localnet", flag(self.route_localnet));
        set(
            "net.ipv4.conf.r0.drop_unicast_in_l2_multicast",
            flag(self.drop_unicast_in_l2_multicast),
        );
        set(
            "net.ipv4.conf.all.bc_forwarding",
            flag(self.bc_forwarding.0),
        );
        set("net.ipv4.conf.r0.bc_forwarding", flag(self.bc_forwarding.1));
        set(
            "net.ipv4.icmp_echo_ignore_broadcasts",
            flag(self.icmp_echo_ignore_broadcasts),
        );
        set(
            "net.ipv4.icmp_errors_use_inbound_ifaddr",
            flag(self.icmp_errors_use_inbound_ifaddr),
        );
        set("net.ipv4.icmp_ratelimit", &self.icmp_ratelimit.to_string());
        set("net.ipv4.icmp_ratemask", &self.icmp_ratemask.to_string());
        v
    }

    /// The routes added to the router (`ip route add ROUTE`), besides the
    /// kernel's own and the fixed ones of the lab.
    pub fn routes(&self) -> Vec<String> {
        let mut v = Vec::new();
        let r = &self.reject;
        for (kind, p) in [
            ("blackhole", r.blackhole),
            ("unreachable", r.unreachable),
            ("prohibit", r.prohibit),
            ("throw", r.throw),
        ] {
            if let Some(p) = p {
                v.push(format!("{kind} {p}"));
            }
        }
        v.push(format!("{} via {REDIRECT_GW} dev r0", self.redirect_prefix));
        if self.default_route {
            v.push(format!("default via {SERVER_ADDR} dev r1"));
        }
        v
    }

    /// The rules added (`ip rule add RULE`).
    pub fn rules(&self) -> Vec<String> {
        if !self.rules {
            return Vec::new();
        }
        vec![
            format!("to {RULE_UNREACHABLE} unreachable pref 100"),
            format!("to {RULE_PROHIBIT} prohibit pref 101"),
        ]
    }

    /// A readable account for failure reports.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "router config (seed {:#x}): forwarding {:?}, r1 mtu {}",
            self.seed, self.forwarding, self.r1_mtu
        );
        let sys: Vec<String> = self
            .sysctls()
            .iter()
            .map(|(k, v)| format!("{}={v}", k.trim_start_matches("net.ipv4.")))
            .collect();
        let _ = writeln!(s, "  sysctl: {}", sys.join(" "));
        for r in self.routes() {
            let _ = writeln!(s, "  route: {r}");
        }
        for r in self.rules() {
            let _ = writeln!(s, "  rule: {r}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_varied() {
        assert_eq!(RouterConfig::random(7), RouterConfig::random(7));
        let all: Vec<RouterConfig> = (0..200).map(RouterConfig::random).collect();
        for f in [
            Forwarding::All,
            Forwarding::AllButR1,
            Forwarding::R0Only,
            Forwarding::R1Only,
            Forwarding::Off,
        ] {
            assert!(all.iter().any(|c| c.forwarding == f), "{f:?}");
        }
        assert!(all.iter().any(|c| c.r1_mtu < 1500));
        assert!(all.iter().any(|c| c.rules));
        let c = &all[0];
        assert!(c.describe().contains("router config"));
        assert!(c.routes().iter().any(|r| r.contains("via 10.0.1.3 dev r0")));
    }
}
