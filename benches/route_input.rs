//! `ip_route_input_noref` per decision on a host whose main table holds a
//! BGP-like table of 1M prefixes (benches/data/README.md), for forwarded
//! packets, with tracing off (`NoTrace`) and on (`Recorder`), plus the
//! dispatch of the resulting dst (`dst_input`). Reported in ns per decision.

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, Throughput};
use fwdsim_kernel::core::dst::dst_input;

use fwdsim_kernel::core::skbuff::SkBuff;
use fwdsim_kernel::ipv4::ip_hdr::ip_compute_csum;
use fwdsim_kernel::ipv4::route::ip_route_input_noref;
use fwdsim_kernel::trace::{NoTrace, Recorder};

#[path = "common.rs"]
mod common;

const PREFIXES: usize = 1_000_000;
const BATCH: usize = 4096;

fn bench(c: &mut Criterion) {
    let (mut ns, r0, dsts) = common::router(PREFIXES, BATCH);
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
