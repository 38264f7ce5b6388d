//! Shared benchmark data and the `LpmTable` trait that puts fwdsim-lpm and
//! its peers behind one interface (the shape of prefix-trie's
//! `benches/common.rs`). Every input comes from a seeded `StdRng`; the
//! prefix-length distribution and its source are in `benches/data/README.md`.

#![allow(dead_code)]

use ip_network_table_deps_treebitmap::IpLookupTable;
use ipnet::Ipv4Net;
use prefix_trie::PrefixMap;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::net::Ipv4Addr;

/// A prefix to insert: (address, length, value).
pub type Prefix = (u32, u8, u32);

/// Seed of the table generator.
pub const TABLE_SEED: u64 = 0x6677_6473_696d; // "fwdsim"
/// Seed of the lookup-address generators.
pub const ADDR_SEED: u64 = 42;

/// Prefixes per length in an IPv4 default-free-zone table of about one
/// million routes (2024-2025 scale); see `benches/data/README.md` for the
/// source. `/25`..`/32` are not in the DFZ: a few are added because FIB
/// tables hold host routes and the deepest trie level must be exercised.
pub const LEN_DISTRIBUTION: [(u8, u32); 25] = [
    (8, 16),
    (9, 14),
    (10, 40),
    (11, 100),
    (12, 300),
    (13, 600),
    (14, 1_200),
    (15, 2_000),
    (16, 13_500),
    (17, 8_500),
    (18, 14_500),
    (19, 26_000),
    (20, 44_000),
    (21, 48_000),
    (22, 128_000),
    (23, 98_000),
    (24, 600_000),
    (25, 100),
    (26, 100),
    (27, 100),
    (28, 100),
    (29, 100),
    (30, 100),
    (31, 100),
    (32, 200),
];

/// Share of prefixes generated inside an already generated shorter prefix
/// (a more-specific of an aggregate) rather than anywhere in unicast space.
/// Huston's reports put more-specifics at a little over half of the table.
pub const NESTED_SHARE: f64 = 0.55;

fn mask(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

/// First octets that carry global unicast routes: 1..=223 less 10 and 127.
fn unicast_first_octet(rng: &mut StdRng) -> u32 {
    loop {
        let o = rng.gen_range(1..=223u32);
        if o != 10 && o != 127 {
            return o;
        }
    }
}

/// Counts per length for a table of `n` prefixes, in the proportions of
/// [`LEN_DISTRIBUTION`] (largest remainders, so they add up to `n`).
pub fn length_counts(n: usize) -> Vec<(u8, usize)> {
    let total: u64 = LEN_DISTRIBUTION.iter().map(|&(_, c)| u64::from(c)).sum();
    let mut counts: Vec<(u8, usize, u64)> = LEN_DISTRIBUTION
        .iter()
        .map(|&(len, c)| {
            let exact = u64::from(c) * n as u64;
            (len, (exact / total) as usize, exact % total)
        })
        .collect();
    let short = n - counts.iter().map(|c| c.1).sum::<usize>();
    let mut by_remainder: Vec<usize> = (0..counts.len()).collect();
    by_remainder.sort_by_key(|&i| std::cmp::Reverse(counts[i].2));
    for &i in by_remainder.iter().take(short) {
        counts[i].1 += 1;
    }
    counts.into_iter().map(|(len, c, _)| (len, c)).collect()
}

/// A BGP-like table of `n` distinct prefixes with [`LEN_DISTRIBUTION`]'s
/// length mix, in random insertion order; values are `0..n`.
///
/// Lengths are generated shortest first; each prefix is, with probability
/// [`NESTED_SHARE`], a random more-specific of a shorter prefix already
/// generated, and otherwise a random prefix in unicast space. This gives the
/// clustering of real tables (more-specifics under their aggregates) that a
/// uniform generator lacks.
pub fn bgp_like_table(n: usize, seed: u64) -> Vec<Prefix> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seen = HashSet::with_capacity(n);
    let mut out: Vec<Prefix> = Vec::with_capacity(n);
    for (len, count) in length_counts(n) {
        let shorter = out.len();
        let mut made = 0;
        while made < count {
            let addr = if shorter > 0 && rng.gen_bool(NESTED_SHARE) {
                let (parent, plen, _) = out[rng.gen_range(0..shorter)];
                parent | (rng.r#gen::<u32>() & !mask(plen))
            } else {
                (unicast_first_octet(&mut rng) << 24) | (rng.r#gen::<u32>() >> 8)
            } & mask(len);
            if seen.insert((addr, len)) {
                out.push((addr, len, 0));
                made += 1;
            }
        }
    }
    // Random insertion order, then values in that order.
    for i in (1..out.len()).rev() {
        out.swap(i, rng.gen_range(0..=i));
    }
    for (i, p) in out.iter_mut().enumerate() {
        p.2 = i as u32;
    }
    out
}

/// `n` addresses drawn uniformly from the whole IPv4 space (some miss).
pub fn random_addrs(n: usize, seed: u64) -> Vec<u32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.r#gen()).collect()
}

/// `n` addresses each inside a prefix of `table` picked at random (all hit).
pub fn addrs_in_prefixes(table: &[Prefix], n: usize, seed: u64) -> Vec<u32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let (addr, len, _) = table[rng.gen_range(0..table.len())];
            addr | (rng.r#gen::<u32>() & !mask(len))
        })
        .collect()
}

/// One longest-prefix-match implementation under benchmark.
pub trait LpmTable: Sized {
    /// Name shown in the criterion report.
    const NAME: &'static str;
    /// Builds the table by inserting `prefixes` in order.
    fn build(prefixes: &[Prefix]) -> Self;
    /// Value of the longest prefix containing `addr`.
    fn lookup(&self, addr: u32) -> Option<u32>;
}

impl LpmTable for fwdsim_lpm::Lpm<u32> {
    const NAME: &'static str = "fwdsim-lpm";

    fn build(prefixes: &[Prefix]) -> Self {
        let mut t = fwdsim_lpm::Lpm::new();
        for &(addr, len, v) in prefixes {
            t.insert(addr, len, v);
        }
        t
    }

    #[inline]
    fn lookup(&self, addr: u32) -> Option<u32> {
        fwdsim_lpm::Lpm::lookup(self, addr).map(|(_, _, v)| *v)
    }
}

impl LpmTable for PrefixMap<Ipv4Net, u32> {
    const NAME: &'static str = "prefix-trie";

    fn build(prefixes: &[Prefix]) -> Self {
        let mut t = PrefixMap::new();
        for &(addr, len, v) in prefixes {
            let net = Ipv4Net::new(Ipv4Addr::from(addr), len).expect("len <= 32");
            t.insert(net, v);
        }
        t
    }

    #[inline]
    fn lookup(&self, addr: u32) -> Option<u32> {
        let host = Ipv4Net::new(Ipv4Addr::from(addr), 32).expect("/32");
        self.get_lpm(&host).map(|(_, v)| *v)
    }
}

impl LpmTable for IpLookupTable<Ipv4Addr, u32> {
    const NAME: &'static str = "treebitmap";

    fn build(prefixes: &[Prefix]) -> Self {
        let mut t = IpLookupTable::new();
        for &(addr, len, v) in prefixes {
            t.insert(Ipv4Addr::from(addr), u32::from(len), v);
        }
        t
    }

    #[inline]
    fn lookup(&self, addr: u32) -> Option<u32> {
        self.longest_match(Ipv4Addr::from(addr)).map(|(_, _, v)| *v)
    }
}

/// The baseline: every prefix tested, longest first. Only for small tables.
pub struct LinearScan(Vec<(u32, u32, u32)>);

impl LpmTable for LinearScan {
    const NAME: &'static str = "linear-scan";

    fn build(prefixes: &[Prefix]) -> Self {
        let mut v: Vec<(u32, u32, u32)> = Vec::with_capacity(prefixes.len());
        for &(addr, len, value) in prefixes {
            let m = mask(len);
            match v.iter_mut().find(|e| (e.0, e.1) == (addr & m, m)) {
                Some(e) => e.2 = value,
                None => v.push((addr & m, m, value)),
            }
        }
        // Longest first, so the first match is the longest.
        v.sort_by_key(|&(_, m, _)| std::cmp::Reverse(m.count_ones()));
        LinearScan(v)
    }

    #[inline]
    fn lookup(&self, addr: u32) -> Option<u32> {
        self.0
            .iter()
            .find(|&&(a, m, _)| addr & m == a)
            .map(|&(_, _, v)| v)
    }
}

// ---- hosts for the route decision benchmarks ----------------------------

use fwdsim_kernel::core::neighbour::{Neighbour, NudState};
use fwdsim_kernel::ipv4::devinet::{IfaFlags, InIfaddr};
use fwdsim_kernel::netns::{IfIndex, NetDevice, Netns, NexthopSpec, RouteSpec};
use fwdsim_kernel::uapi::{DevFlags, LinkType, RouteType, RtScope, RtnhFlags};

pub fn dev(ns: &mut Netns, name: &str, addr: Ipv4Addr) -> IfIndex {
    let ifindex = ns.next_ifindex();
    ns.register_netdev(NetDevice {
        name: name.into(),
        ifindex,
        flags: DevFlags(DevFlags::IFF_UP.0 | DevFlags::IFF_BROADCAST.0 | DevFlags::IFF_MULTICAST.0),
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
    })
    .unwrap();
    let ifa = InIfaddr {
        ifa_local: addr,
        ifa_address: addr,
        ifa_prefixlen: 24,
        ifa_broadcast: Ipv4Addr::UNSPECIFIED,
        ifa_scope: RtScope::RT_SCOPE_UNIVERSE,
        ifa_flags: IfaFlags::IFA_F_PERMANENT,
        ifa_label: None,
        ifa_rt_priority: 0,
    };
    ns.inet_insert_ifa(ifindex, ifa, true).unwrap();
    ifindex
}

/// A router: r0 10.0.1.1/24 (ingress), r1 10.0.2.1/24 and r2 10.0.3.1/24
/// (egress), forwarding on, and `n` BGP-like routes via 10.0.2.2 or 10.0.3.2.
pub fn router(n: usize, batch: usize) -> (Netns, IfIndex, Vec<u32>) {
    let mut ns = Netns::with_loopback();
    ns.fib_default_rules_init();
    let r0 = dev(&mut ns, "r0", Ipv4Addr::new(10, 0, 1, 1));
    let r1 = dev(&mut ns, "r1", Ipv4Addr::new(10, 0, 2, 1));
    let r2 = dev(&mut ns, "r2", Ipv4Addr::new(10, 0, 3, 1));
    ns.sysctl_write("net.ipv4.ip_forward", 1).unwrap();
    let table = bgp_like_table(n, 42);
    for (i, &(addr, len, _)) in table.iter().enumerate() {
        let mut spec = RouteSpec::new(RouteType::RTN_UNICAST, Ipv4Addr::from(addr), len);
        let (gw, d) = if i % 2 == 0 {
            (Ipv4Addr::new(10, 0, 2, 2), r1)
        } else {
            (Ipv4Addr::new(10, 0, 3, 2), r2)
        };
        spec.nexthops.push(NexthopSpec {
            gw: Some(gw),
            dev: Some(d),
            weight: 1,
            flags: RtnhFlags(0),
        });
        ns.fib_table_insert(&spec, false).unwrap();
    }
    for (ip, dev) in [
        (Ipv4Addr::new(10, 0, 2, 2), r1),
        (Ipv4Addr::new(10, 0, 3, 2), r2),
    ] {
        ns.neigh.push(Neighbour::new(
            dev,
            ip,
            Some([2, 0, 0, 0, 9, 9]),
            NudState::NUD_PERMANENT,
        ));
    }
    let dsts = addrs_in_prefixes(&table, batch, 7);
    (ns, r0, dsts)
}
