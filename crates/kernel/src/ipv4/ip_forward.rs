//! Models net/ipv4/ip_forward.c: `ip_forward` and `ip_forward_finish`, the
//! input handler of a forwarding route, with its checks in order: packet
//! type, TTL (ICMP time exceeded), strict source route, `ForwDatagrams`, the
//! MTU with DF (ICMP fragmentation needed), `ip_decrease_ttl`, the ICMP
//! redirect, then `dst_output`.

use crate::core::dropreason::SkbDropReason;
use crate::core::dst::{NetRx, NetTx, dst_output};
use crate::core::skbuff::{IpskbFlags, PacketType, SkBuff};
use crate::ipv4::icmp::{ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMP_TIME_EXCEEDED, icmp_send};
use crate::ipv4::ip_hdr::{IP_DF, Iphdr, ip_decrease_ttl};
use crate::ipv4::ip_output::route_mtu;
use crate::netns::Netns;
use crate::trace::{Branch, Check, KernelFn, Step, Tracer};

/// Kernel: `ip_forward`.
pub fn ip_forward<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    t.enter(KernelFn::ip_forward);
    let r = forward(ns, skb, t);
    t.leave();
    r
}

/// Kernel: `ip_forward_options`: the record-route slot reserved when the
/// options were checked gets the address the packet leaves from
/// (`ip_rt_get_source`), and the header checksum is recomputed.
fn ip_forward_options(ns: &Netns, skb: &mut SkBuff<'_>) {
    let Some(rt) = skb.dst else { return };
    let nh = skb.network_header as usize;
    if skb.cb.opt_srr_is_hit {
        // The destination becomes the source route's next hop first; the
        // address we record is chosen toward it.
        let next = skb.cb.opt_nexthop.octets();
        skb.data[nh + 16..nh + 20].copy_from_slice(&next);
    }
    let (saddr, daddr, tos) = {
        let h = Iphdr(&skb.data[nh..]);
        (h.saddr(), h.daddr(), h.tos())
    };
    let mut fl4 = crate::flow::Flowi4::new(daddr, saddr);
    fl4.flowi4_oif = rt.dst.dev;
    fl4.flowi4_iif = skb.dev;
    fl4.flowi4_dscp = tos & 0xfc;
    fl4.flowi4_mark = skb.mark;
    let src = match crate::ipv4::fib_rules::fib_lookup(ns, &fl4, 0, &mut crate::trace::NoTrace) {
        Ok(res) => res
            .fi
            .map(|id| ns.fib.info(id))
            .map_or(std::net::Ipv4Addr::UNSPECIFIED, |fi| {
                fi.fib_prefsrc.unwrap_or_else(|| {
                    fi.fib_nh
                        .get(res.nh_sel)
                        .map_or(std::net::Ipv4Addr::UNSPECIFIED, |nh| nh.nh_saddr)
                })
            }),
        Err(_) => {
            let nexthop = if rt.rt_uses_gateway { rt.rt_gw4 } else { daddr };
            crate::ipv4::devinet::inet_select_addr(
                ns,
                rt.dst.dev,
                nexthop,
                crate::uapi::RtScope::RT_SCOPE_UNIVERSE,
            )
        }
    };
    if skb.cb.opt_rr_needaddr {
        let rr = nh + skb.cb.opt_rr as usize;
        let ptr = skb.data[rr + 2] as usize;
        if ptr >= 5 && rr + ptr - 5 + 4 <= skb.data.len() {
            skb.data[rr + ptr - 5..rr + ptr - 1].copy_from_slice(&src.octets());
        }
    }
    if skb.cb.opt_srr_is_hit {
        // The packet now goes to the next hop of its source route; our
        // address takes that hop's place in the route.
        let o = nh + skb.cb.opt_srr as usize;
        let srrspace = skb.data[o + 1] as usize;
        let mut srrptr = skb.data[o + 2] as usize;
        let next = skb.cb.opt_nexthop.octets();
        while srrptr + 3 <= srrspace {
            if skb.data[o + srrptr - 1..o + srrptr + 3] == next {
                break;
            }
            srrptr += 4;
        }
        if srrptr + 3 <= srrspace {
            skb.data[nh + 16..nh + 20].copy_from_slice(&next);
            skb.data[o + srrptr - 1..o + srrptr + 3].copy_from_slice(&src.octets());
            skb.data[o + 2] = (srrptr + 4) as u8;
        }
        // Only a source-routed packet has the address of its timestamp
        // option rewritten: the compiled one (the ingress address) stays
        // otherwise.
        if skb.cb.opt_ts_needaddr {
            let ts = nh + skb.cb.opt_ts as usize;
            let ptr = skb.data[ts + 2] as usize;
            if ptr >= 9 && ts + ptr - 9 + 4 <= skb.data.len() {
                skb.data[ts + ptr - 9..ts + ptr - 5].copy_from_slice(&src.octets());
            }
        }
    }
    let ihl = Iphdr(&skb.data[nh..]).ihl() as usize * 4;
    skb.data[nh + 10..nh + 12].copy_from_slice(&[0, 0]);
    let c = crate::ipv4::ip_hdr::ip_compute_csum(&skb.data[nh..nh + ihl]);
    skb.data[nh + 10..nh + 12].copy_from_slice(&c.to_be_bytes());
}

fn drop<T: Tracer>(skb: &mut SkBuff<'_>, reason: SkbDropReason, t: &mut T) -> NetRx {
    skb.drop_reason = reason;
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_forward,
            Check::Drop { reason },
            Branch::out,
        ));
    }
    NetRx::Drop
}

fn forward<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    if skb.pkt_type != PacketType::Host {
        return drop(skb, SkbDropReason::NOT_SPECIFIED, t);
    }
    let nh = skb.network_header as usize;
    let (ttl, frag_off) = {
        let h = Iphdr(&skb.data[nh..]);
        (h.ttl(), h.frag_off())
    };
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_forward,
            Check::Ttl { ttl },
            if ttl <= 1 { Branch::out } else { Branch::Next },
        ));
    }
    if ttl <= 1 {
        ns.mib.ip.InHdrErrors += 1;
        icmp_send(ns, skb, ICMP_TIME_EXCEEDED, 0, 0, t);
        return drop(skb, SkbDropReason::IP_INHDR, t);
    }
    let Some(rt) = skb.dst else {
        return drop(skb, SkbDropReason::NOT_SPECIFIED, t);
    };
    if skb.cb.opt_is_strictroute && rt.rt_uses_gateway {
        // sr_failed: a strict source route cannot go through a gateway.
        icmp_send(ns, skb, ICMP_DEST_UNREACH, 5, 0, t);
        return drop(skb, SkbDropReason::NOT_SPECIFIED, t);
    }
    ns.mib.ip.ForwDatagrams += 1;
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_forward,
            Check::Counter {
                name: "ForwDatagrams",
            },
            Branch::Next,
        ));
    }
    skb.cb.flags.0 |= IpskbFlags::IPSKB_FORWARDED.0;
    let mtu = route_mtu(ns, &rt);
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_forward,
            Check::Mtu {
                len: skb.len,
                mtu,
                df: frag_off & IP_DF != 0,
            },
            Branch::Next,
        ));
    }
    if skb.len > mtu && frag_off & IP_DF != 0 {
        ns.mib.ip.FragFails += 1;
        icmp_send(ns, skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu, t);
        return drop(skb, SkbDropReason::PKT_TOO_BIG, t);
    }
    let (old_ttl, old_csum, new_csum) = ip_decrease_ttl(&mut skb.data[nh..nh + 20]);
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_forward,
            Check::DecreaseTtl {
                old_ttl,
                old_csum,
                new_csum,
            },
            Branch::Next,
        ));
    }
    if skb.cb.flags.contains(IpskbFlags::IPSKB_DOREDIRECT) && skb.cb.opt_srr == 0 {
        crate::ipv4::route::ip_rt_send_redirect(ns, skb, t);
    }
    // NF_INET_FORWARD (filter FORWARD: Docker's chains), after the checks
    // above, so time-exceeded and frag-needed go out even when it drops.
    let dev = skb.dev;
    if let Err(reason) = crate::netfilter::core::nf_hook_skb(
        ns,
        crate::netfilter::NfInetHook::Forward,
        skb,
        dev,
        rt.dst.dev,
        t,
    ) {
        skb.drop_reason = reason;
        return NetRx::Drop;
    }
    // ip_forward_finish
    if Iphdr(&skb.data[nh..]).ihl() > 5 {
        ip_forward_options(ns, skb);
    }
    // ip_forward_finish -> dst_output
    match dst_output(ns, skb, t) {
        NetTx::Success => NetRx::Success,
        NetTx::Drop => {
            if skb.drop_reason == SkbDropReason::NEIGH_FAILED {
                // ipv4_link_failure: the next hop never answered ARP.
                crate::ipv4::icmp::icmp_send(ns, skb, ICMP_DEST_UNREACH, 1, 0, t);
            }
            NetRx::Drop
        }
    }
}
