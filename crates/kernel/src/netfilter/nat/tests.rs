//! NAT scenarios: the bytes after each rewrite, compared with the packet
//! the other side would have built, and every checksum recomputed.

use std::net::Ipv4Addr;

use super::*;
use crate::netfilter::NfInetHook;
use crate::netfilter::conntrack::tests::{Ct, echo, icmp_err, tcp, udp};
use crate::netfilter::conntrack::{IpConntrackInfo, Nfct, ips, nf_conntrack_confirm, nf_ct_put};
use crate::netfilter::xtables::ip_tables::NatRange;

fn to(addr: &str, ports: Option<(u16, u16)>) -> NatRange {
    let a: Ipv4Addr = addr.parse().unwrap();
    NatRange {
        addr: Some((a, a)),
        ports,
        random: false,
        random_fully: false,
        persistent: false,
    }
}

/// One NAT hook as `nf_nat_inet_fn` runs it: the rule's binding for a
/// connection's first packet (or the null binding), then the rewrite.
fn nat_hook(
    t: &mut Ct,
    n: Nfct,
    hook: NfInetHook,
    rule: Option<&NatRange>,
    pkt: &mut [u8],
) -> Option<NatRewrite> {
    let Nfct::Ct { ctinfo, .. } = n else {
        return None;
    };
    let manip = NfNatManipType::of_hook(hook);
    if matches!(ctinfo, IpConntrackInfo::New | IpConntrackInfo::Related)
        && !nf_nat_initialized(&t.ct, n, manip)
    {
        if ctinfo == IpConntrackInfo::New
            && let Some(r) = rule
        {
            assert_eq!(
                nf_nat_setup_info(&mut t.ct, n, r, manip),
                NatVerdict::Accept
            );
        }
        if !nf_nat_initialized(&t.ct, n, manip) {
            nf_nat_alloc_null_binding(&mut t.ct, n, manip);
        }
    }
    let (v, rw) = nf_nat_packet(&t.ct, n, hook, pkt);
    assert_eq!(v, NatVerdict::Accept);
    rw
}

/// A forwarded packet through conntrack and NAT at PRE_ROUTING and
/// POST_ROUTING, with `dnat` / `snat` as the nat table's rules.
fn forward(
    t: &mut Ct,
    pkt: &mut [u8],
    dnat: Option<&NatRange>,
    snat: Option<&NatRange>,
) -> (Nfct, [Option<NatRewrite>; 2]) {
    let mut n = t.input(pkt, NfInetHook::PreRouting);
    let d = nat_hook(t, n, NfInetHook::PreRouting, dnat, pkt);
    let s = nat_hook(t, n, NfInetHook::PostRouting, snat, pkt);
    nf_conntrack_confirm(&mut t.ct, &mut n, t.now);
    (n, [d, s])
}

/// The ones' complement sum of `b` plus `sum`, folded (not complemented).
fn sum16(b: &[u8], mut sum: u32) -> u16 {
    for c in b.chunks(2) {
        sum += (c[0] as u32) << 8 | *c.get(1).unwrap_or(&0) as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Every checksum of the datagram (and of a quoted one) right, computed
/// from scratch.
fn assert_checksums(p: &[u8]) {
    let ihl = (p[0] & 0xf) as usize * 4;
    assert_eq!(sum16(&p[..ihl], 0), 0xffff, "IP header checksum");
    let seg = &p[ihl..];
    let pseudo = |proto: u8| {
        let mut s = 0u32;
        for w in p[12..20].chunks(2) {
            s += (w[0] as u32) << 8 | w[1] as u32;
        }
        s + proto as u32 + seg.len() as u32
    };
    match p[9] {
        6 => assert_eq!(sum16(seg, pseudo(6)), 0xffff, "TCP checksum"),
        17 if seg[6..8] != [0, 0] => assert_eq!(sum16(seg, pseudo(17)), 0xffff, "UDP checksum"),
        1 => {
            assert_eq!(sum16(seg, 0), 0xffff, "ICMP checksum");
            if matches!(seg[0], 3 | 4 | 5 | 11 | 12) {
                let inner = &seg[8..];
                let ihl2 = (inner[0] & 0xf) as usize * 4;
                assert_eq!(
                    sum16(&inner[..ihl2], 0),
                    0xffff,
                    "quoted IP header checksum"
                );
            }
        }
        _ => {}
    }
}

const C: &str = "10.0.0.2";
const C2: &str = "10.0.0.3";
const S: &str = "198.51.100.7";
const P: &str = "203.0.113.1";

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn snat_rewrites_udp_exactly_and_keeps_the_port() {
    let mut t = Ct::new();
    let snat = to(P, None);
    let mut q = udp(C, S, 5000, 53, b"query");
    let (n, [d, s]) = forward(&mut t, &mut q, None, Some(&snat));
    assert_eq!(d, None);
    assert_eq!(
        s,
        Some(NatRewrite {
            manip: NfNatManipType::Src,
            from: (ip(C), 5000),
            to: (ip(P), 5000),
            proto: 17,
        })
    );
    assert_eq!(q, udp(P, S, 5000, 53, b"query"));
    assert_checksums(&q);
    let c = t.conn(n);
    assert_ne!(c.status & ips::SRC_NAT, 0);
    assert_eq!(c.status & ips::DST_NAT, 0);
    assert_eq!(c.status & ips::NAT_DONE_MASK, ips::NAT_DONE_MASK);
    assert_eq!(c.tuple[1].dst, ip(P));

    // The answer is de-NATed at PRE_ROUTING.
    let mut r = udp(S, P, 53, 5000, b"answer");
    let (n, [d, s]) = forward(&mut t, &mut r, None, Some(&snat));
    assert_eq!(
        n,
        Nfct::Ct {
            idx: 0,
            ctinfo: IpConntrackInfo::EstablishedReply
        }
    );
    assert_eq!(
        d,
        Some(NatRewrite {
            manip: NfNatManipType::Dst,
            from: (ip(P), 5000),
            to: (ip(C), 5000),
            proto: 17,
        })
    );
    assert_eq!(s, None);
    assert_eq!(r, udp(S, C, 53, 5000, b"answer"));
}

#[test]
fn snat_of_udp_without_checksum_leaves_it_zero() {
    let mut t = Ct::new();
    let mut q = udp(C, S, 5001, 53, b"query");
    q[26] = 0;
    q[27] = 0;
    forward(&mut t, &mut q, None, Some(&to(P, None)));
    let mut want = udp(P, S, 5001, 53, b"query");
    want[26] = 0;
    want[27] = 0;
    assert_eq!(q, want);
}

#[test]
fn masquerade_of_tcp_rewrites_exactly() {
    // MASQUERADE arrives here as a one-address range (the address
    // inet_select_addr chose).
    let mut t = Ct::new();
    let masq = to(P, None);
    let mut syn = tcp(C, S, 40000, 443, "S", 1000, 0);
    forward(&mut t, &mut syn, None, Some(&masq));
    assert_eq!(syn, tcp(P, S, 40000, 443, "S", 1000, 0));
    assert_checksums(&syn);
    let mut synack = tcp(S, P, 443, 40000, "SA", 5000, 1001);
    forward(&mut t, &mut synack, None, Some(&masq));
    assert_eq!(synack, tcp(S, C, 443, 40000, "SA", 5000, 1001));
}

#[test]
fn port_clash_picks_another_port() {
    let mut t = Ct::new();
    let snat = to(P, None);
    let mut a = udp(C, S, 5000, 53, b"a");
    forward(&mut t, &mut a, None, Some(&snat));
    let mut b = udp(C2, S, 5000, 53, b"b");
    let (_, [_, s]) = forward(&mut t, &mut b, None, Some(&snat));
    // 5000 is taken: the search starts at the bottom of 1024-65535.
    assert_eq!(s.unwrap().to, (ip(P), 1024));
    assert_eq!(b, udp(P, S, 1024, 53, b"b"));
    let mut r = udp(S, P, 53, 1024, b"r");
    forward(&mut t, &mut r, None, Some(&snat));
    assert_eq!(r, udp(S, C2, 53, 5000, b"r"));

    // Below 512 the port stays below 512; 512-1023 stays in 600-1023.
    let mut a = udp(C, S, 123, 123, b"a");
    forward(&mut t, &mut a, None, Some(&snat));
    let mut b = udp(C2, S, 123, 123, b"b");
    let (_, [_, s]) = forward(&mut t, &mut b, None, Some(&snat));
    assert_eq!(s.unwrap().to, (ip(P), 1));
    let mut a = udp(C, S, 700, 9, b"a");
    forward(&mut t, &mut a, None, Some(&snat));
    let mut b = udp(C2, S, 700, 9, b"b");
    let (_, [_, s]) = forward(&mut t, &mut b, None, Some(&snat));
    assert_eq!(s.unwrap().to, (ip(P), 600));

    // With a port range, a port outside it moves into it.
    let mut c = udp(C, S, 7000, 53, b"c");
    let (_, [_, s]) = forward(&mut t, &mut c, None, Some(&to(P, Some((20000, 20010)))));
    assert_eq!(s.unwrap().to, (ip(P), 20000));
    assert_checksums(&c);
}

#[test]
fn a_dropped_first_packet_leaves_no_binding() {
    let mut t = Ct::new();
    let snat = to(P, None);
    let mut a = udp(C, S, 5000, 53, b"a");
    let mut n = t.input(&a, NfInetHook::PreRouting);
    nat_hook(&mut t, n, NfInetHook::PreRouting, None, &mut a);
    nat_hook(&mut t, n, NfInetHook::PostRouting, Some(&snat), &mut a);
    nf_ct_put(&mut t.ct, n);
    n = Nfct::None;
    let _ = n;
    assert_eq!(t.ct.count(), 0);
    assert!(t.ct.nat_bysource.is_empty());
    // The same port is free for the next client.
    let mut b = udp(C2, S, 5000, 53, b"b");
    let (_, [_, s]) = forward(&mut t, &mut b, None, Some(&snat));
    assert_eq!(s.unwrap().to, (ip(P), 5000));
}

#[test]
fn dnat_of_a_syn_and_de_nat_of_its_syn_ack() {
    let mut t = Ct::new();
    let dnat = to("10.0.0.5", Some((8080, 8080)));
    let mut syn = tcp(S, P, 33000, 80, "S", 1000, 0);
    let (n, [d, s]) = forward(&mut t, &mut syn, Some(&dnat), None);
    assert_eq!(
        d,
        Some(NatRewrite {
            manip: NfNatManipType::Dst,
            from: (ip(P), 80),
            to: (ip("10.0.0.5"), 8080),
            proto: 6,
        })
    );
    assert_eq!(s, None, "the null source binding changes nothing");
    assert_eq!(syn, tcp(S, "10.0.0.5", 33000, 8080, "S", 1000, 0));
    assert_checksums(&syn);
    let c = t.conn(n);
    assert_ne!(c.status & ips::DST_NAT, 0);
    assert_eq!(c.status & ips::SRC_NAT, 0);

    let mut synack = tcp("10.0.0.5", S, 8080, 33000, "SA", 7000, 1001);
    let (n, [d, s]) = forward(&mut t, &mut synack, Some(&dnat), None);
    assert_eq!(info_of(n), Some(IpConntrackInfo::EstablishedReply));
    assert_eq!(d, None);
    assert_eq!(
        s,
        Some(NatRewrite {
            manip: NfNatManipType::Src,
            from: (ip("10.0.0.5"), 8080),
            to: (ip(P), 80),
            proto: 6,
        })
    );
    assert_eq!(synack, tcp(P, S, 80, 33000, "SA", 7000, 1001));
}

fn info_of(n: Nfct) -> Option<IpConntrackInfo> {
    match n {
        Nfct::Ct { ctinfo, .. } => Some(ctinfo),
        _ => None,
    }
}

#[test]
fn icmp_echo_id_kept_then_changed_on_clash() {
    let mut t = Ct::new();
    let snat = to(P, None);
    let mut e1 = echo(C, S, 99, false);
    forward(&mut t, &mut e1, None, Some(&snat));
    assert_eq!(e1, echo(P, S, 99, false));
    let mut e2 = echo(C2, S, 99, false);
    let (_, [_, s]) = forward(&mut t, &mut e2, None, Some(&snat));
    assert_eq!(
        s,
        Some(NatRewrite {
            manip: NfNatManipType::Src,
            from: (ip(C2), 99),
            to: (ip(P), 0),
            proto: 1,
        })
    );
    assert_eq!(e2, echo(P, S, 0, false));
    assert_checksums(&e2);
    let mut r2 = echo(S, P, 0, true);
    forward(&mut t, &mut r2, None, Some(&snat));
    assert_eq!(r2, echo(S, C2, 99, true));
}

#[test]
fn icmp_error_about_a_snated_flow_is_translated_back() {
    let mut t = Ct::new();
    let snat = to(P, None);
    let orig = udp(C, S, 5000, 53, b"query");
    let mut q = orig.clone();
    forward(&mut t, &mut q, None, Some(&snat));
    // The server answers the translated datagram with port unreachable.
    let mut err = icmp_err(S, P, 3, 3, &q);
    let (n, [d, s]) = forward(&mut t, &mut err, None, Some(&snat));
    assert_eq!(info_of(n), Some(IpConntrackInfo::RelatedReply));
    assert_eq!(
        d,
        Some(NatRewrite {
            manip: NfNatManipType::Dst,
            from: (ip(P), 0),
            to: (ip(C), 0),
            proto: 1,
        })
    );
    assert_eq!(s, None);
    // What the client gets quotes what it sent, byte for byte.
    assert_eq!(err, icmp_err(S, C, 3, 3, &orig));
    assert_checksums(&err);

    // A router on the way: time exceeded for a SNATed TCP segment whose
    // quote holds the whole TCP header.
    let syn0 = tcp(C, S, 40000, 80, "S", 1, 0);
    let mut syn = syn0.clone();
    forward(&mut t, &mut syn, None, Some(&snat));
    let mut te = icmp_err("192.0.2.254", P, 11, 0, &syn);
    let (n, _) = forward(&mut t, &mut te, None, Some(&snat));
    assert_eq!(info_of(n), Some(IpConntrackInfo::RelatedReply));
    assert_eq!(te, icmp_err("192.0.2.254", C, 11, 0, &syn0));
    assert_checksums(&te);

    // Only 8 bytes of TCP quoted: the port changes, the checksum field
    // is not there to change.
    let mut te8 = icmp_err("192.0.2.254", P, 11, 0, &syn[..28]);
    forward(&mut t, &mut te8, None, Some(&snat));
    assert_eq!(te8, icmp_err("192.0.2.254", C, 11, 0, &syn0[..28]));
}

/// SNAT to 203.0.113.1-203.0.113.10 of UDP 10.0.0.N:5000 → 198.51.100.7:53
/// on 6.18 (a router namespace, `conntrack -L`): the address each source
/// got. Where the port clashed the kernel chose a random one; the model
/// takes the bottom of the range.
#[test]
fn address_range_choice_matches_the_kernel() {
    let kernel = [
        (2, 9),
        (3, 1),
        (4, 7),
        (5, 7),
        (6, 8),
        (7, 1),
        (8, 4),
        (9, 5),
        (10, 2),
        (11, 8),
        (12, 3),
    ];
    let range = NatRange {
        addr: Some((ip("203.0.113.1"), ip("203.0.113.10"))),
        ..to(P, None)
    };
    let mut t = Ct::new();
    for (c, p) in kernel {
        let src = format!("10.0.0.{c}");
        let mut q = udp(&src, S, 5000, 53, b"x");
        let (_, [_, s]) = forward(&mut t, &mut q, None, Some(&range));
        let got = s.unwrap().to;
        assert_eq!(got.0, Ipv4Addr::new(203, 0, 113, p), "source {src}");
        if c == 5 || c == 7 || c == 11 {
            // Each clash is on another address: 1024 is free on each.
            assert_eq!(got.1, 1024, "source {src}: port clash");
        } else {
            assert_eq!(got.1, 5000, "source {src}");
        }
    }
}

/// Truncated and corrupted packets of every kind give a verdict, never a
/// panic, through conntrack, both NAT hooks and confirmation.
#[test]
fn damaged_packets_never_panic() {
    let snat = to(P, None);
    let dnat = to("10.0.0.5", Some((8080, 8080)));
    let q = udp(C, S, 5000, 53, b"query");
    let syn = tcp(C, S, 40000, 80, "S", 1, 0);
    let mut seed = vec![q.clone(), syn.clone(), echo(C, S, 9, false)];
    seed.push(icmp_err(S, P, 3, 3, &q));
    seed.push(icmp_err(S, P, 11, 0, &syn[..28]));
    seed.push(icmp_err(S, P, 3, 3, &icmp_err(S, P, 3, 3, &q)));
    let mut t = Ct::new();
    // Flows the errors can be about.
    for p in [&q, &syn] {
        let mut p = p.clone();
        forward(&mut t, &mut p, None, Some(&snat));
    }
    for base in &seed {
        for cut in 0..=base.len() {
            let mut p = base[..cut].to_vec();
            let mut n = t.input(&p, NfInetHook::PreRouting);
            let _ = nat_hook_any(&mut t, n, NfInetHook::PreRouting, Some(&dnat), &mut p);
            let _ = nat_hook_any(&mut t, n, NfInetHook::PostRouting, Some(&snat), &mut p);
            nf_conntrack_confirm(&mut t.ct, &mut n, t.now);
        }
        for i in 0..base.len() {
            for bit in [0x01u8, 0x80, 0xff] {
                let mut p = base.clone();
                p[i] ^= bit;
                let mut n = t.input(&p, NfInetHook::PreRouting);
                let _ = nat_hook_any(&mut t, n, NfInetHook::PreRouting, Some(&dnat), &mut p);
                let _ = nat_hook_any(&mut t, n, NfInetHook::PostRouting, Some(&snat), &mut p);
                nf_conntrack_confirm(&mut t.ct, &mut n, t.now);
                nf_ct_put(&mut t.ct, n);
            }
        }
    }
}

/// `nat_hook` without asserting the verdict.
fn nat_hook_any(
    t: &mut Ct,
    n: Nfct,
    hook: NfInetHook,
    rule: Option<&NatRange>,
    pkt: &mut [u8],
) -> (NatVerdict, Option<NatRewrite>) {
    let manip = NfNatManipType::of_hook(hook);
    if let Nfct::Ct { ctinfo, .. } = n
        && matches!(ctinfo, IpConntrackInfo::New | IpConntrackInfo::Related)
        && !nf_nat_initialized(&t.ct, n, manip)
    {
        if let Some(r) = rule {
            nf_nat_setup_info(&mut t.ct, n, r, manip);
        }
        nf_nat_alloc_null_binding(&mut t.ct, n, manip);
    }
    nf_nat_packet(&t.ct, n, hook, pkt)
}
