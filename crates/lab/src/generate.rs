//! Seeded random hosts and queries (`StdRng::seed_from_u64`).
//!
//! Hosts ([`random_host`]): 2-5 veth interfaces (some down or without
//! carrier, some without any address), addresses of every prefix length
//! from /8 to /32 drawn around two or three "anchor" blocks so that
//! connected subnets, routes and queries overlap, secondary addresses, the
//! forwarding / rp_filter / accept_local / route_localnet / src_valid_mark /
//! bc_forwarding / send_redirects / shared_media sysctls globally, as
//! defaults and per device, routes of every type in tables main, local,
//! default, 100 and 200 with metrics, TOS, multipath, onlink, prefsrc and
//! protocol, and (for about half the hosts) rules with every selector and
//! action. Some items are invalid on purpose (unreachable gateway, bad TOS,
//! backward goto): the kernel refuses them and [`crate::build`] drops them.
//!
//! Queries ([`queries`]) aim at every branch of `ip_route_input_slow` (or of
//! the output path when no `iif` is given): own, broadcast, zero, multicast,
//! loopback and class-E addresses, addresses inside each route and rule
//! prefix, sources on and off the ingress subnet, local sources, with random
//! TOS and marks (including the rules' own values), on every interface.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::query::Query;
use crate::spec::{AddrInfo, HostSpec, InterfaceSpec, RouteInfo, RuleInfo};

const NAMES: &[&str] = &[
    "eth0", "eth1", "eth2", "eth3", "wan0", "lan0", "dmz0", "r0", "r1", "uplink", "br-lan",
    "veth-a",
];

/// Picks an item by weight.
fn weighted<'a, T>(rng: &mut StdRng, items: &'a [(u32, T)]) -> &'a T {
    let total: u32 = items.iter().map(|(w, _)| *w).sum();
    let mut x = rng.gen_range(0..total);
    for (w, t) in items {
        if x < *w {
            return t;
        }
        x -= w;
    }
    &items[items.len() - 1].1
}

fn net(a: Ipv4Addr, len: u8) -> Ipv4Net {
    Ipv4Net::new(a, len).expect("prefix length <= 32").trunc()
}

/// A random address inside `n`.
pub fn addr_in(rng: &mut StdRng, n: Ipv4Net) -> Ipv4Addr {
    let bits = 32 - u32::from(n.prefix_len());
    let off = match bits {
        0 => 0,
        32 => rng.r#gen::<u32>(),
        b => rng.gen_range(0..(1u32 << b)),
    };
    Ipv4Addr::from(u32::from(n.network()) | off)
}

/// A usable host address of `n` (not the network or broadcast address
/// when the prefix is shorter than /31).
pub fn host_in(rng: &mut StdRng, n: Ipv4Net) -> Ipv4Addr {
    let bits = 32 - u32::from(n.prefix_len());
    let off = match bits {
        0 => 0,
        1 => rng.gen_range(0..2),
        32 => rng.gen_range(1..u32::MAX),
        b => rng.gen_range(1..(1u32 << b) - 1),
    };
    Ipv4Addr::from(u32::from(n.network()) | off)
}

fn anchors(rng: &mut StdRng) -> Vec<Ipv4Net> {
    let n = rng.gen_range(2..=3);
    let mut out = Vec::new();
    while out.len() < n {
        let a = match rng.gen_range(0..6) {
            0 | 1 => net(Ipv4Addr::new(10, rng.r#gen(), 0, 0), 16),
            2 => net(Ipv4Addr::new(172, rng.gen_range(16..32), 0, 0), 16),
            3 => net(Ipv4Addr::new(192, 168, rng.r#gen(), 0), 24),
            4 => net(Ipv4Addr::new(100, rng.gen_range(64..128), 0, 0), 16),
            _ => {
                if rng.gen_bool(0.5) {
                    net(Ipv4Addr::new(198, 51, 100, 0), 24)
                } else {
                    net(Ipv4Addr::new(203, 0, 113, 0), 24)
                }
            }
        };
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// A prefix of length `len` related to `anchor`: its supernet when shorter,
/// a random sub-block when longer.
fn prefix_near(rng: &mut StdRng, anchor: Ipv4Net, len: u8) -> Ipv4Net {
    if len <= anchor.prefix_len() {
        net(anchor.network(), len)
    } else {
        net(addr_in(rng, anchor), len)
    }
}

const ADDR_PLENS: &[(u32, u8)] = &[
    (3, 8),
    (2, 12),
    (8, 16),
    (4, 20),
    (4, 22),
    (30, 24),
    (4, 25),
    (4, 26),
    (4, 27),
    (7, 28),
    (4, 29),
    (8, 30),
    (6, 31),
    (6, 32),
];

fn render_prefix(rng: &mut StdRng, n: Ipv4Net) -> String {
    match n.prefix_len() {
        0 => "default".into(),
        32 if rng.gen_bool(0.5) => n.network().to_string(),
        _ => n.to_string(),
    }
}

/// Everything a generator needs to know about a host's addresses.
struct Ctx {
    anchors: Vec<Ipv4Net>,
    addrs: Vec<AddrInfo>,
    names: Vec<String>,
}

impl Ctx {
    /// Subnets with room for a neighbour, on up devices when `up_only`.
    fn nets(&self, up_only: bool) -> Vec<(String, Ipv4Net)> {
        self.addrs
            .iter()
            .filter(|a| a.net.prefix_len() <= 31 && (a.dev_up || !up_only))
            .map(|a| (a.dev.clone(), a.net))
            .collect()
    }

    fn gateway(&self, rng: &mut StdRng) -> Option<(Ipv4Addr, String)> {
        let up = self.nets(true);
        let all = self.nets(false);
        let pool = if !up.is_empty() && rng.gen_bool(0.88) {
            up
        } else {
            all
        };
        let (dev, n) = pool.choose(rng)?.clone();
        if rng.gen_bool(0.04) {
            // Not on any connected subnet: refused without onlink.
            return Some((addr_in(rng, net(n.network(), 8)), dev));
        }
        Some((host_in(rng, n), dev))
    }

    fn dst_prefix(&self, rng: &mut StdRng) -> Ipv4Net {
        match rng.gen_range(0..100) {
            0..45 => {
                let a = *self.anchors.choose(rng).expect("anchors");
                let len = *weighted(
                    rng,
                    &[
                        (2, 8u8),
                        (2, 12),
                        (6, 16),
                        (4, 20),
                        (10, 24),
                        (6, 26),
                        (6, 28),
                        (4, 30),
                        (6, 32),
                    ],
                );
                prefix_near(rng, a, len)
            }
            45..65 => match rng.gen_range(0..5) {
                0 => net(Ipv4Addr::new(198, 18, rng.r#gen(), 0), 24),
                1 => net(
                    Ipv4Addr::new(198, 19, rng.r#gen(), rng.r#gen()),
                    rng.gen_range(28..=32),
                ),
                2 => net(Ipv4Addr::new(8, 0, 0, 0), 8),
                3 => net(
                    Ipv4Addr::new(203, 0, 113, rng.r#gen()),
                    rng.gen_range(25..=32),
                ),
                _ => net(Ipv4Addr::from(rng.r#gen::<u32>()), rng.gen_range(12..=24)),
            },
            65..77 => match self.addrs.choose(rng) {
                Some(a) => a.net,
                None => net(Ipv4Addr::new(10, 99, 0, 0), 16),
            },
            77..87 => match self.nets(false).choose(rng) {
                Some((_, n)) => net(host_in(rng, *n), 32),
                None => net(Ipv4Addr::new(10, 98, 0, 1), 32),
            },
            87..95 => Ipv4Net::default(),
            _ => *[
                net(Ipv4Addr::new(224, 0, 0, 0), 4),
                net(Ipv4Addr::new(239, 0, 0, 0), 8),
                net(Ipv4Addr::new(240, 0, 0, 0), 4),
                net(Ipv4Addr::new(127, 1, 0, 0), 16),
                net(Ipv4Addr::new(0, 0, 0, 0), 8),
            ]
            .choose(rng)
            .expect("nonempty"),
        }
    }

    fn table(&self, rng: &mut StdRng, local_type: bool) -> String {
        if local_type {
            return match rng.gen_range(0..100) {
                0..85 => String::new(),
                85..93 => " table main".into(),
                _ => " table 100".into(),
            };
        }
        match rng.gen_range(0..100) {
            0..44 => String::new(),
            44..55 => " table main".into(),
            55..72 => " table 100".into(),
            72..84 => " table 200".into(),
            84..96 => " table default".into(),
            _ => " table local".into(),
        }
    }

    /// metric, tos, proto, src options.
    fn options(&self, rng: &mut StdRng, force_metric: bool, force_tos: bool) -> String {
        let mut s = String::new();
        if force_metric || rng.gen_bool(0.3) {
            let m = [1u32, 10, 20, 50, 100, 1024].choose(rng).expect("nonempty");
            s.push_str(&format!(" metric {m}"));
        }
        if force_tos || rng.gen_bool(0.12) {
            let t = *weighted(
                rng,
                &[
                    (3, 0x10u8),
                    (2, 0x08),
                    (2, 0x04),
                    (1, 0x0c),
                    (1, 0x14),
                    (1, 0x18),
                    (1, 0x1c),
                    (1, 0x20),
                    (1, 0x11),
                ],
            );
            s.push_str(&format!(" tos 0x{t:02x}"));
        }
        match rng.gen_range(0..100) {
            0..6 => s.push_str(" proto static"),
            6..8 => s.push_str(" proto boot"),
            8..9 => s.push_str(" proto kernel"),
            _ => {}
        }
        if rng.gen_bool(0.07) {
            let src = match self.addrs.choose(rng) {
                Some(a) if rng.gen_bool(0.85) => a.addr,
                _ => Ipv4Addr::new(192, 0, 2, rng.r#gen()),
            };
            s.push_str(&format!(" src {src}"));
        }
        s
    }

    fn route(&self, rng: &mut StdRng, existing: &[String]) -> Option<String> {
        let kind = *weighted(
            rng,
            &[
                (30, "gw"),
                (12, "dev"),
                (8, "default"),
                (7, "multipath"),
                (6, "blackhole"),
                (6, "unreachable"),
                (6, "prohibit"),
                (6, "throw"),
                (4, "local"),
                (3, "broadcast"),
                (3, "anycast"),
                (3, "multicast"),
                (3, "onlink"),
                (8, "dup"),
            ],
        );
        let dev_any = self.names.choose(rng)?.clone();
        let (dst, kind, force_metric, force_tos) = if kind == "dup" {
            let r = existing.choose(rng).and_then(|r| RouteInfo::parse(r))?;
            let k = *["gw", "dev", "unreachable", "prohibit", "blackhole", "throw"]
                .choose(rng)
                .expect("nonempty");
            let m = rng.gen_bool(0.6);
            (r.prefix, k, m, !m)
        } else if kind == "default" {
            (Ipv4Net::default(), "gw", false, false)
        } else {
            (self.dst_prefix(rng), kind, false, false)
        };
        let p = render_prefix(rng, dst);
        let opts = self.options(rng, force_metric, force_tos);
        let route = match kind {
            "gw" => {
                let (gw, dev) = self.gateway(rng)?;
                let dev = if rng.gen_bool(0.75) {
                    format!(" dev {dev}")
                } else {
                    String::new()
                };
                let scope = if rng.gen_bool(0.03) {
                    " scope link"
                } else {
                    ""
                };
                format!("{p} via {gw}{dev}{}{opts}{scope}", self.table(rng, false))
            }
            "dev" => {
                let scope = match rng.gen_range(0..10) {
                    0..3 => " scope link",
                    3 => " scope host",
                    _ => "",
                };
                format!("{p} dev {dev_any}{}{opts}{scope}", self.table(rng, false))
            }
            "onlink" => {
                let gw = Ipv4Addr::new(10, rng.r#gen(), rng.r#gen(), rng.gen_range(1..255));
                format!(
                    "{p} via {gw} dev {dev_any} onlink{}{opts}",
                    self.table(rng, false)
                )
            }
            "multipath" => {
                let n = rng.gen_range(2..=3);
                let mut s = format!("{p}{}{opts}", self.table(rng, false));
                for _ in 0..n {
                    if rng.gen_bool(0.08) {
                        s.push_str(&format!(" nexthop dev {dev_any}"));
                    } else {
                        let (gw, dev) = self.gateway(rng)?;
                        s.push_str(&format!(" nexthop via {gw} dev {dev}"));
                    }
                    if rng.gen_bool(0.6) {
                        s.push_str(&format!(" weight {}", rng.gen_range(1..=4)));
                    }
                }
                s
            }
            "blackhole" | "unreachable" | "prohibit" | "throw" => {
                format!("{kind} {p}{}{opts}", self.table(rng, false))
            }
            "local" | "anycast" => {
                format!("{kind} {p} dev {dev_any}{}{opts}", self.table(rng, true))
            }
            "broadcast" => {
                let p = if rng.gen_bool(0.8) {
                    match self.addrs.choose(rng) {
                        Some(a) => addr_in(rng, a.net).to_string(),
                        None => p,
                    }
                } else {
                    p
                };
                format!("broadcast {p} dev {dev_any}{}{opts}", self.table(rng, true))
            }
            "multicast" => format!(
                "multicast {p} dev {dev_any}{}{opts}",
                self.table(rng, false)
            ),
            _ => return None,
        };
        Some(route)
    }

    fn rule_prefix(&self, rng: &mut StdRng) -> String {
        match rng.gen_range(0..100) {
            0..35 => match self.addrs.choose(rng) {
                Some(a) => a.net.to_string(),
                None => "10.0.0.0/8".into(),
            },
            35..65 => {
                let a = *self.anchors.choose(rng).expect("anchors");
                let len = rng.gen_range(8..=28);
                prefix_near(rng, a, len).to_string()
            }
            65..85 => match self.addrs.choose(rng) {
                Some(a) => host_in(rng, a.net).to_string(),
                None => "192.0.2.1".into(),
            },
            85..93 => "all".into(),
            _ => self.dst_prefix(rng).to_string(),
        }
    }

    fn rules(&self, rng: &mut StdRng) -> Vec<String> {
        let n = rng.gen_range(1..=7);
        let mut prefs: Vec<u32> = (0..n)
            .map(|_| match rng.gen_range(0..10) {
                0 => rng.gen_range(1..32766),
                1 => rng.gen_range(32766..40000),
                _ => rng.gen_range(10..1000),
            })
            .collect();
        prefs.sort_unstable();
        prefs.dedup();
        let mut out = Vec::new();
        for (i, pref) in prefs.iter().enumerate() {
            let mut sel = Vec::new();
            if rng.gen_bool(0.08) {
                sel.push("not".to_string());
            }
            if rng.gen_bool(0.35) {
                sel.push(format!("from {}", self.rule_prefix(rng)));
            }
            if rng.gen_bool(0.28) {
                sel.push(format!("to {}", self.rule_prefix(rng)));
            }
            if rng.gen_bool(0.18) {
                let d = match rng.gen_range(0..20) {
                    0..3 => "lo".to_string(),
                    3..5 => "nosuch0".to_string(),
                    _ => self.names.choose(rng).expect("names").clone(),
                };
                sel.push(format!("iif {d}"));
            }
            if rng.gen_bool(0.07) {
                sel.push(format!("oif {}", self.names.choose(rng).expect("names")));
            }
            if rng.gen_bool(0.18) {
                let v = [1u32, 2, 7, 8, 0x10, 0x107].choose(rng).expect("nonempty");
                if rng.gen_bool(0.5) {
                    let m = [0xffu32, 0xf, 0x100, 0xffff].choose(rng).expect("nonempty");
                    sel.push(format!("fwmark 0x{v:x}/0x{m:x}"));
                } else {
                    sel.push(format!("fwmark {v}"));
                }
            }
            if rng.gen_bool(0.1) {
                let t = *weighted(
                    rng,
                    &[
                        (4, 0x10u8),
                        (2, 0x08),
                        (2, 0x04),
                        (1, 0x0c),
                        (1, 0x14),
                        (1, 0x18),
                        (1, 0x1c),
                        (1, 0x20),
                    ],
                );
                sel.push(format!("tos 0x{t:02x}"));
            }
            let explicit_pref = rng.gen_bool(0.8);
            if explicit_pref {
                sel.push(format!("pref {pref}"));
            }
            let action = match rng.gen_range(0..100) {
                0..60 => {
                    let t = *weighted(
                        rng,
                        &[
                            (5, "100"),
                            (3, "200"),
                            (2, "main"),
                            (2, "default"),
                            (1, "local"),
                            (1, "300"),
                        ],
                    );
                    let kw = if rng.gen_bool(0.25) {
                        "table"
                    } else {
                        "lookup"
                    };
                    let mut a = format!("{kw} {t}");
                    if rng.gen_bool(0.07) {
                        a.push_str(&format!(
                            " suppress_prefixlength {}",
                            [0, 8, 24].choose(rng).expect("nonempty")
                        ));
                    }
                    a
                }
                60..68 => {
                    let target = match prefs.get(i + 1..).and_then(|rest| rest.choose(rng)) {
                        Some(t) if rng.gen_bool(0.85) => *t,
                        _ => pref + rng.gen_range(1..50),
                    };
                    let target = if rng.gen_bool(0.05) {
                        pref.saturating_sub(1)
                    } else {
                        target
                    };
                    format!("goto {target}")
                }
                68..73 => "nop".into(),
                73..82 => "blackhole".into(),
                82..91 => "unreachable".into(),
                _ => "prohibit".into(),
            };
            let terminal_reject =
                matches!(action.as_str(), "blackhole" | "unreachable" | "prohibit");
            let has_match = sel.iter().any(|s| s != "not" && !s.starts_with("pref"));
            if terminal_reject && !has_match && rng.gen_bool(0.7) {
                sel.insert(0, format!("to {}", self.rule_prefix(rng)));
            }
            sel.push(action);
            out.push(sel.join(" "));
        }
        out
    }
}

const IF_KNOBS: &[(&str, &[&str])] = &[
    ("forwarding", &["0", "1"]),
    ("rp_filter", &["0", "1", "2"]),
    ("accept_local", &["1", "0"]),
    ("route_localnet", &["1"]),
    ("src_valid_mark", &["1"]),
    ("bc_forwarding", &["1"]),
    ("send_redirects", &["0", "1"]),
    ("shared_media", &["0"]),
];

/// A random host from `seed` (same seed, same host).
pub fn random_host(seed: u64) -> HostSpec {
    let mut rng = StdRng::seed_from_u64(seed);
    let anchors = anchors(&mut rng);
    let n_if = rng.gen_range(2..=5);
    let mut names = NAMES.to_vec();
    names.shuffle(&mut rng);
    let mut interfaces = Vec::new();
    for name in names.iter().take(n_if) {
        let mut ifc = InterfaceSpec::new(name);
        ifc.up = !rng.gen_bool(0.1);
        ifc.carrier = !rng.gen_bool(0.1);
        if rng.gen_bool(0.3) {
            let b: [u8; 4] = rng.r#gen();
            ifc.mac = Some(format!(
                "02:{:02x}:{:02x}:{:02x}:{:02x}:01",
                b[0], b[1], b[2], b[3]
            ));
        }
        if rng.gen_bool(0.15) {
            ifc.mtu = Some(*[1280u32, 1400, 9000].choose(&mut rng).expect("nonempty"));
        }
        let n_addr = *weighted(&mut rng, &[(1, 0usize), (6, 1), (3, 2), (1, 3)]);
        let mut prev: Option<Ipv4Net> = None;
        for _ in 0..n_addr {
            let (addr, n) = match prev {
                Some(p) if p.prefix_len() <= 30 && rng.gen_bool(0.45) => (host_in(&mut rng, p), p),
                _ => {
                    let len = *weighted(&mut rng, ADDR_PLENS);
                    let a = *anchors.choose(&mut rng).expect("anchors");
                    let n = prefix_near(&mut rng, a, len);
                    let addr = if len <= 30 && rng.gen_bool(0.03) {
                        if rng.gen_bool(0.5) {
                            n.network()
                        } else {
                            n.broadcast()
                        }
                    } else {
                        host_in(&mut rng, n)
                    };
                    (addr, n)
                }
            };
            prev = Some(n);
            let mut s = format!("{addr}/{}", n.prefix_len());
            match rng.gen_range(0..100) {
                0..4 => s.push_str(&format!(" brd {}", addr_in(&mut rng, n))),
                4..7 => s.push_str(" scope link"),
                7..9 => s.push_str(" scope host"),
                _ => {}
            }
            ifc.addresses.push(s);
        }
        if rng.gen_bool(0.45) {
            let mut knobs = IF_KNOBS.to_vec();
            knobs.shuffle(&mut rng);
            for (k, vals) in knobs.iter().take(rng.gen_range(1..=3)) {
                ifc.sysctl.push((
                    k.to_string(),
                    vals.choose(&mut rng).expect("nonempty").to_string(),
                ));
            }
        }
        interfaces.push(ifc);
    }
    let mut spec = HostSpec {
        title: format!("fwdsim-lab random host, seed {seed:#x}"),
        interfaces,
        ..HostSpec::default()
    };
    let ctx = Ctx {
        anchors,
        addrs: spec.address_infos(),
        names: spec.interface_names(),
    };

    let n_routes = rng.gen_range(2..=14);
    for _ in 0..n_routes {
        if let Some(r) = ctx.route(&mut rng, &spec.routes) {
            spec.routes.push(r);
        }
    }
    // Routes without a gateway first: a snapshot does not record the order
    // routes were added, and the kernel fixes a gateway's scope when its
    // route is added (docs/host-format.md, "Snapshots"); in this order the
    // order fwdsim assumes for a snapshot is the order they were added in.
    spec.routes.sort_by_key(|r| r.contains(" via "));
    if rng.gen_bool(0.5) {
        spec.rules = ctx.rules(&mut rng);
    }

    // Global sysctls, in random order.
    let mut sysctl: Vec<(String, String)> = Vec::new();
    fn maybe(sysctl: &mut Vec<(String, String)>, rng: &mut StdRng, p: f64, k: &str, vals: &[&str]) {
        if rng.gen_bool(p) {
            sysctl.push((
                k.to_string(),
                vals.choose(rng).expect("nonempty").to_string(),
            ));
        }
    }
    let fwd = rng.gen_range(0..100);
    if fwd < 70 {
        sysctl.push(("net.ipv4.ip_forward".into(), "1".into()));
    } else if fwd < 80 {
        sysctl.push(("net.ipv4.ip_forward".into(), "0".into()));
    }
    maybe(
        &mut sysctl,
        &mut rng,
        0.1,
        "net.ipv4.conf.all.forwarding",
        &["0", "1"],
    );
    maybe(
        &mut sysctl,
        &mut rng,
        0.1,
        "net.ipv4.conf.default.forwarding",
        &["0", "1"],
    );
    maybe(
        &mut sysctl,
        &mut rng,
        0.25,
        "net.ipv4.conf.all.rp_filter",
        &["0", "1", "2"],
    );
    maybe(
        &mut sysctl,
        &mut rng,
        0.15,
        "net.ipv4.conf.default.rp_filter",
        &["1", "2"],
    );
    maybe(
        &mut sysctl,
        &mut rng,
        0.1,
        "net.ipv4.conf.all.accept_local",
        &["1"],
    );
    maybe(
        &mut sysctl,
        &mut rng,
        0.08,
        "net.ipv4.conf.all.route_localnet",
        &["1"],
    );
    maybe(
        &mut sysctl,
        &mut rng,
        0.1,
        "net.ipv4.conf.all.src_valid_mark",
        &["1"],
    );
    maybe(
        &mut sysctl,
        &mut rng,
        0.15,
        "net.ipv4.conf.all.bc_forwarding",
        &["1"],
    );
    maybe(
        &mut sysctl,
        &mut rng,
        0.1,
        "net.ipv4.conf.all.send_redirects",
        &["0"],
    );
    maybe(
        &mut sysctl,
        &mut rng,
        0.1,
        "net.ipv4.conf.all.shared_media",
        &["0"],
    );
    maybe(
        &mut sysctl,
        &mut rng,
        0.06,
        "net.ipv4.conf.default.accept_local",
        &["1"],
    );
    maybe(
        &mut sysctl,
        &mut rng,
        0.05,
        "net.ipv4.conf.default.bc_forwarding",
        &["1"],
    );
    if rng.gen_bool(0.12) {
        let d = ctx.names.choose(&mut rng).expect("names");
        let (k, vals) = IF_KNOBS.choose(&mut rng).expect("nonempty");
        sysctl.push((
            format!("net.ipv4.conf.{d}.{k}"),
            vals.choose(&mut rng).expect("nonempty").to_string(),
        ));
    }
    if rng.gen_bool(0.04) {
        let d = ctx.names.choose(&mut rng).expect("names");
        sysctl.push((format!("net/ipv4/conf/{d}/rp_filter"), "1".into()));
    }
    // With multipath routes the hash seed is always fixed: with the default
    // (0, a random key per namespace) which path a flow takes cannot be
    // known from outside, and everything that follows from the choice
    // (source validation on that path, redirects) differs with it.
    if spec.route_infos().iter().any(|r| r.multipath) {
        sysctl.push((
            "net.ipv4.fib_multipath_hash_seed".into(),
            rng.gen_range(1..u32::MAX).to_string(),
        ));
    }
    sysctl.shuffle(&mut rng);
    spec.sysctl = sysctl;
    spec
}

/// What the query generator draws from, read from a spec.
struct QCtx {
    addrs: Vec<AddrInfo>,
    routes: Vec<RouteInfo>,
    rules: Vec<RuleInfo>,
    names: Vec<String>,
    tos: Vec<u8>,
    marks: Vec<u32>,
}

fn nowhere(rng: &mut StdRng) -> Ipv4Addr {
    match rng.gen_range(0..5) {
        0 => Ipv4Addr::new(8, 8, 8, 8),
        1 => Ipv4Addr::new(198, 18, rng.r#gen(), rng.gen_range(1..255)),
        2 => Ipv4Addr::new(1, 1, 1, 1),
        3 => Ipv4Addr::new(203, 0, 113, rng.gen_range(1..255)),
        _ => Ipv4Addr::from(rng.gen_range(0x0100_0000u32..0xdf00_0000)),
    }
}

impl QCtx {
    fn new(spec: &HostSpec) -> QCtx {
        let routes = spec.route_infos();
        let rules = spec.rule_infos();
        let mut tos = vec![
            0x10, 0x14, 0x30, 0x08, 0x04, 0x1c, 0x12, 0xb8, 0x20, 0x0c, 0x18, 0x02,
        ];
        tos.extend(routes.iter().filter_map(|r| r.tos));
        tos.extend(rules.iter().filter_map(|r| r.tos));
        let mut marks = vec![1, 7, 8, 0x107, 0x10, 0xff];
        for r in &rules {
            if let Some((v, m)) = r.fwmark {
                marks.push(v);
                if let Some(m) = m {
                    marks.push(v | (!m & 0x1000));
                }
            }
        }
        QCtx {
            addrs: spec.address_infos(),
            routes,
            rules,
            names: spec.interface_names(),
            tos,
            marks,
        }
    }

    fn own(&self, rng: &mut StdRng, dev: Option<&str>) -> Option<Ipv4Addr> {
        let on_dev: Vec<&AddrInfo> = self
            .addrs
            .iter()
            .filter(|a| Some(a.dev.as_str()) == dev)
            .collect();
        if !on_dev.is_empty() && rng.gen_bool(0.5) {
            return on_dev.choose(rng).map(|a| a.addr);
        }
        self.addrs.choose(rng).map(|a| a.addr)
    }

    fn neighbour(&self, rng: &mut StdRng, dev: Option<&str>) -> Option<Ipv4Addr> {
        let pool: Vec<&AddrInfo> = match dev {
            Some(d) => self.addrs.iter().filter(|a| a.dev == d).collect(),
            None => self.addrs.iter().collect(),
        };
        pool.choose(rng).map(|a| host_in(rng, a.net))
    }

    fn other_neighbour(&self, rng: &mut StdRng, dev: Option<&str>) -> Option<Ipv4Addr> {
        let pool: Vec<&AddrInfo> = self
            .addrs
            .iter()
            .filter(|a| Some(a.dev.as_str()) != dev)
            .collect();
        pool.choose(rng).map(|a| host_in(rng, a.net))
    }

    fn bcast(&self, rng: &mut StdRng) -> Option<Ipv4Addr> {
        let mut v: Vec<Ipv4Addr> = self
            .addrs
            .iter()
            .filter_map(|a| a.subnet_broadcast())
            .collect();
        v.extend(self.addrs.iter().filter_map(|a| a.brd));
        v.choose(rng).copied()
    }

    fn netaddr(&self, rng: &mut StdRng) -> Option<Ipv4Addr> {
        self.addrs
            .iter()
            .filter(|a| a.net.prefix_len() <= 30)
            .collect::<Vec<_>>()
            .choose(rng)
            .map(|a| a.net.network())
    }

    fn in_route(&self, rng: &mut StdRng) -> Option<Ipv4Addr> {
        let r = self.routes.choose(rng)?;
        if r.prefix.prefix_len() == 0 {
            Some(nowhere(rng))
        } else {
            Some(addr_in(rng, r.prefix))
        }
    }

    fn in_rule(&self, rng: &mut StdRng, from: bool) -> Option<Ipv4Addr> {
        let prefixes: Vec<Ipv4Net> = self
            .rules
            .iter()
            .filter_map(|r| if from { r.from } else { r.to })
            .filter(|p| p.prefix_len() > 0)
            .collect();
        prefixes.choose(rng).map(|p| addr_in(rng, *p))
    }

    fn mcast(rng: &mut StdRng) -> Ipv4Addr {
        match rng.gen_range(0..6) {
            0 | 1 => Ipv4Addr::new(224, 0, 0, 1),
            2 => Ipv4Addr::new(224, 0, 0, 251),
            3 => Ipv4Addr::new(239, 1, 2, 3),
            4 => Ipv4Addr::new(224, 0, 1, rng.r#gen()),
            _ => Ipv4Addr::new(232, rng.r#gen(), rng.r#gen(), rng.r#gen()),
        }
    }

    fn loopback(rng: &mut StdRng) -> Ipv4Addr {
        match rng.gen_range(0..4) {
            0 | 1 => Ipv4Addr::new(127, 0, 0, 1),
            2 => Ipv4Addr::new(127, rng.r#gen(), rng.r#gen(), rng.gen_range(1..255)),
            _ => Ipv4Addr::new(127, 255, 255, 255),
        }
    }

    fn class_e(rng: &mut StdRng) -> Ipv4Addr {
        *[
            Ipv4Addr::new(240, 0, 0, 1),
            Ipv4Addr::new(250, 1, 2, 3),
            Ipv4Addr::new(255, 255, 255, 254),
        ]
        .choose(rng)
        .expect("nonempty")
    }

    fn dst(&self, rng: &mut StdRng) -> Ipv4Addr {
        let pick = *weighted(
            rng,
            &[
                (14, "own"),
                (8, "bcast"),
                (3, "lbcast"),
                (2, "zero"),
                (4, "mcast"),
                (3, "loopback"),
                (2, "classe"),
                (24, "route"),
                (16, "neighbour"),
                (3, "netaddr"),
                (5, "rule"),
                (8, "nowhere"),
                (1, "zeronet"),
            ],
        );
        let a = match pick {
            "own" => self.own(rng, None),
            "bcast" => self.bcast(rng),
            "lbcast" => Some(Ipv4Addr::BROADCAST),
            "zero" => Some(Ipv4Addr::UNSPECIFIED),
            "mcast" => Some(Self::mcast(rng)),
            "loopback" => Some(Self::loopback(rng)),
            "classe" => Some(Self::class_e(rng)),
            "route" => self.in_route(rng),
            "neighbour" => self.neighbour(rng, None),
            "netaddr" => self.netaddr(rng),
            "rule" => self.in_rule(rng, false),
            "zeronet" => Some(Ipv4Addr::new(0, 1, 2, 3)),
            _ => None,
        };
        a.unwrap_or_else(|| nowhere(rng))
    }

    fn src_input(&self, rng: &mut StdRng, iif: &str) -> Option<Ipv4Addr> {
        let pick = *weighted(
            rng,
            &[
                (5, "none"),
                (32, "ingress"),
                (14, "other"),
                (7, "own"),
                (13, "route"),
                (8, "nowhere"),
                (2, "loopback"),
                (1, "zero"),
                (1, "mcast"),
                (1, "lbcast"),
                (1, "classe"),
                (2, "bcast"),
                (2, "netaddr"),
                (5, "rule"),
            ],
        );
        let a = match pick {
            "none" => return None,
            "ingress" => self
                .neighbour(rng, Some(iif))
                .or_else(|| self.neighbour(rng, None)),
            "other" => self.other_neighbour(rng, Some(iif)),
            "own" => self.own(rng, Some(iif)),
            "route" => self.in_route(rng),
            "loopback" => Some(Self::loopback(rng)),
            "zero" => Some(Ipv4Addr::UNSPECIFIED),
            "mcast" => Some(Self::mcast(rng)),
            "lbcast" => Some(Ipv4Addr::BROADCAST),
            "classe" => Some(Self::class_e(rng)),
            "bcast" => self.bcast(rng),
            "netaddr" => self.netaddr(rng),
            "rule" => self.in_rule(rng, true),
            _ => None,
        };
        Some(a.unwrap_or_else(|| nowhere(rng)))
    }

    fn src_output(&self, rng: &mut StdRng) -> Option<Ipv4Addr> {
        let pick = *weighted(
            rng,
            &[
                (45, "none"),
                (30, "own"),
                (8, "neighbour"),
                (7, "nowhere"),
                (4, "loopback"),
                (2, "bcast"),
                (2, "mcast"),
                (2, "zero"),
            ],
        );
        let a = match pick {
            "none" => return None,
            "own" => self.own(rng, None),
            "neighbour" => self.neighbour(rng, None),
            "loopback" => Some(Self::loopback(rng)),
            "bcast" => self.bcast(rng),
            "mcast" => Some(Self::mcast(rng)),
            "zero" => Some(Ipv4Addr::UNSPECIFIED),
            _ => None,
        };
        Some(a.unwrap_or_else(|| nowhere(rng)))
    }

    fn tos_mark(&self, rng: &mut StdRng) -> (Option<u8>, Option<u32>) {
        let tos = (!rng.gen_bool(0.72)).then(|| *self.tos.choose(rng).expect("nonempty"));
        let mark = (!rng.gen_bool(0.75)).then(|| *self.marks.choose(rng).expect("nonempty"));
        (tos, mark)
    }
}

/// `n` queries for `spec` from `seed`. `input_path` = with `iif` (every
/// interface, sometimes `lo`); otherwise output-path queries without `iif`.
pub fn queries(spec: &HostSpec, seed: u64, n: usize, input_path: bool) -> Vec<Query> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7175_6572_6965_7321);
    let ctx = QCtx::new(spec);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let dst = ctx.dst(&mut rng);
        let (iif, src) = if input_path {
            let iif = if ctx.names.is_empty() || rng.gen_bool(0.03) {
                "lo".to_string()
            } else if i < ctx.names.len() {
                // Every interface at least once.
                ctx.names[i].clone()
            } else {
                ctx.names.choose(&mut rng).expect("nonempty").clone()
            };
            let src = ctx.src_input(&mut rng, &iif);
            (Some(iif), src)
        } else {
            (None, ctx.src_output(&mut rng))
        };
        let (tos, mark) = ctx.tos_mark(&mut rng);
        out.push(Query {
            dst,
            src,
            iif,
            tos,
            mark,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_host_and_queries() {
        for seed in 0..50u64 {
            let a = random_host(seed);
            assert_eq!(a, random_host(seed));
            assert!((2..=5).contains(&a.interfaces.len()));
            let q = queries(&a, seed, 40, true);
            assert_eq!(q, queries(&a, seed, 40, true));
            assert!(q.iter().all(|q| q.iif.is_some()));
            // Round trip through the TOML format.
            let back = HostSpec::from_toml(&a.to_toml()).unwrap();
            assert_eq!(back.routes, a.routes);
            assert_eq!(back.sysctl, a.sysctl);
            assert_eq!(back.interfaces, a.interfaces);
            for r in &a.routes {
                assert!(RouteInfo::parse(r).is_some(), "{r}");
            }
        }
    }

    #[test]
    fn generator_covers_the_vocabulary() {
        let mut all = String::new();
        for seed in 0..200u64 {
            let h = random_host(seed);
            all.push_str(&h.to_toml());
        }
        for word in [
            "blackhole",
            "unreachable",
            "prohibit",
            "throw",
            "local ",
            "broadcast ",
            "anycast",
            "multicast",
            "nexthop",
            "onlink",
            "table 100",
            "table 200",
            "table default",
            "metric",
            "tos 0x10",
            "/31",
            "/32",
            "/8",
            "not ",
            "fwmark",
            "iif",
            "oif",
            "goto",
            "nop",
            "lookup",
            "rp_filter",
            "accept_local",
            "route_localnet",
            "src_valid_mark",
            "bc_forwarding",
            "send_redirects",
            "shared_media",
            "state = \"down\"",
            "carrier = false",
        ] {
            assert!(all.contains(word), "generator never writes {word:?}");
        }
    }
}
