//! `ip_route_input_noref` per decision on a host whose main table holds a
//! BGP-like table of 1M prefixes (benches/data/README.md), for forwarded
//! packets, with tracing off (`NoTrace`) and on (`Recorder`), plus the
//! dispatch of the resulting dst (`dst_input`). Reported in ns per decision.

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, Throughput};
use fwdsim_kernel::core::dst::dst_input;
use fwdsim_kernel::core::neighbour::{Neighbour, NudState};
use fwdsim_kernel::core::skbuff::SkBuff;
use fwdsim_kernel::ipv4::devinet::{IfaFlags, InIfaddr};
use fwdsim_kernel::ipv4::ip_hdr::ip_compute_csum;
use fwdsim_kernel::ipv4::route::ip_route_input_noref;
use fwdsim_kernel::netns::{IfIndex, NetDevice, Netns, NexthopSpec, RouteSpec};
use fwdsim_kernel::trace::{NoTrace, Recorder};
use fwdsim_kernel::uapi::{DevFlags, LinkType, RouteType, RtScope, RtnhFlags};

#[path = "common.rs"]
mod common;

const PREFIXES: usize = 1_000_000;
const BATCH: usize = 4096;

fn dev(ns: &mut Netns, name: &str, addr: Ipv4Addr) -> IfIndex {
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
fn router(n: usize) -> (Netns, IfIndex, Vec<u32>) {
    let mut ns = Netns::with_loopback();
    ns.fib_default_rules_init();
    let r0 = dev(&mut ns, "r0", Ipv4Addr::new(10, 0, 1, 1));
    let r1 = dev(&mut ns, "r1", Ipv4Addr::new(10, 0, 2, 1));
    let r2 = dev(&mut ns, "r2", Ipv4Addr::new(10, 0, 3, 1));
    ns.sysctl_write("net.ipv4.ip_forward", 1).unwrap();
    let table = common::bgp_like_table(n, 42);
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
        ns.neigh.push(Neighbour {
            dev,
            ip,
            lladdr: Some([2, 0, 0, 0, 9, 9]),
            state: NudState::NUD_PERMANENT,
        });
    }
    let dsts = common::addrs_in_prefixes(&table, BATCH, 7);
    (ns, r0, dsts)
}

fn bench(c: &mut Criterion) {
    let (mut ns, r0, dsts) = router(PREFIXES);
    let src = Ipv4Addr::new(10, 0, 1, 2);
    let mut buf = [0u8; 28];
    let mut g = c.benchmark_group("ip_route_input_noref/1M");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("NoTrace", |b| {
        b.iter(|| {
            for &d in &dsts {
                let mut skb = SkBuff::new(&mut buf, r0, 0);
                let r = ip_route_input_noref(
                    &mut ns,
                    &mut skb,
                    Ipv4Addr::from(d),
                    src,
                    0,
                    r0,
                    &mut NoTrace,
                );
                let _ = black_box((r, skb.dst.map(|rt| rt.dst.dev)));
            }
        })
    });
    let mut rec = Recorder::new();
    g.bench_function("Recorder", |b| {
        b.iter(|| {
            for &d in &dsts {
                rec.clear();
                let mut skb = SkBuff::new(&mut buf, r0, 0);
                let r = ip_route_input_noref(
                    &mut ns,
                    &mut skb,
                    Ipv4Addr::from(d),
                    src,
                    0,
                    r0,
                    &mut rec,
                );
                let _ = black_box((r, rec.steps.len()));
            }
        })
    });
    // A valid IPv4 header per packet, so ip_forward forwards it.
    let headers: Vec<[u8; 28]> = dsts
        .iter()
        .map(|&d| {
            let mut h = [0u8; 28];
            h[0] = 0x45;
            h[3] = 28;
            h[8] = 64;
            h[9] = 17;
            h[12..16].copy_from_slice(&src.octets());
            h[16..20].copy_from_slice(&Ipv4Addr::from(d).octets());
            let c = ip_compute_csum(&h[..20]);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            h
        })
        .collect();
    g.bench_function("NoTrace+dst_input", |b| {
        b.iter(|| {
            for (&d, h) in dsts.iter().zip(&headers) {
                ns.tx.clear();
                buf = *h;
                let mut skb = SkBuff::new(&mut buf, r0, 0);
                let _ = ip_route_input_noref(
                    &mut ns,
                    &mut skb,
                    Ipv4Addr::from(d),
                    src,
                    0,
                    r0,
                    &mut NoTrace,
                );
                black_box(dst_input(&mut ns, &mut skb, &mut NoTrace));
            }
        })
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
