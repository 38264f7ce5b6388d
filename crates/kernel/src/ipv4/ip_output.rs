//! Models net/ipv4/ip_output.c from `dst_output` to the wire: `ip_output`
//! (counts), `ip_finish_output` (fragmentation of a packet larger than the
//! MTU, `ip_fragment`), and `ip_finish_output2` → `neigh_output`: a resolved
//! next hop gives the frame with its MAC addresses; an unresolved one
//! queues the packet on its neighbour entry while ARP asks
//! (core/neighbour.rs decides its fate).
//! Also `ip_rt_bug`, the output of input-only routes.

use std::net::Ipv4Addr;

use crate::core::dropreason::SkbDropReason;
use crate::core::dst::{NetTx, Rtable};
use crate::core::skbuff::SkBuff;
use crate::core::tx::TxKind;
use crate::ipv4::ip_hdr::{IP_DF, IP_MF, IP_OFFSET, Iphdr, ip_compute_csum};
use crate::netns::Netns;
use crate::trace::{Branch, Check, KernelFn, Step, Tracer};
use crate::uapi::RouteType;

/// `ETH_P_ARP`.
pub const ETH_P_ARP: u16 = 0x0806;

/// Kernel: `ip_output`: counts broadcasts out (`OutBcastPkts`), runs
/// `NF_INET_POST_ROUTING` (where SNAT and MASQUERADE rewrite the packet)
/// and passes it to `ip_finish_output`.
pub fn ip_output<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetTx {
    t.enter(KernelFn::ip_output);
    let Some(rt) = skb.dst else {
        t.leave();
        return NetTx::Drop;
    };
    if rt.rt_type == RouteType::RTN_BROADCAST {
        ns.mib.ip_ext.OutBcastPkts += 1;
        ns.mib.ip_ext.OutBcastOctets += skb.len as u64;
    }
    // ip_output passes the device the packet came in on as the hook's
    // `in` (nft's `iifname` at postrouting sees it; iptables refuses `-i` there).
    let indev = skb.dev;
    if let Err(reason) = crate::netfilter::core::nf_hook_skb(
        ns,
        crate::netfilter::NfInetHook::PostRouting,
        skb,
        indev,
        rt.dst.dev,
        t,
    ) {
        skb.drop_reason = reason;
        t.leave();
        return NetTx::Drop;
    }
    let nh = skb.network_header as usize;
    let len = skb.len as usize;
    let r = {
        let end = (nh + len).min(skb.data.len());
        let pkt = &mut skb.data[nh..end];
        ip_finish_output(ns, &rt, pkt, TxKind::Forward, t)
    };
    if let Err(reason) = r {
        skb.drop_reason = reason;
    }
    t.leave();
    if r.is_ok() {
        NetTx::Success
    } else {
        NetTx::Drop
    }
}

/// The MTU of a route (`ip_dst_mtu_maybe_forward` for forwarding): its MTU
/// metric, else the output device's MTU, at most 0xFFF0.
pub fn route_mtu(ns: &Netns, rt: &Rtable) -> u32 {
    let m = if rt.mtu_metric != 0 {
        rt.mtu_metric
    } else {
        ns.dev(rt.dst.dev).map(|d| d.mtu).unwrap_or(1500)
    };
    m.min(0xfff0)
}

/// Kernel: `ip_finish_output`: fragments a packet larger than the MTU
/// (`ip_fragment`), else hands it to the neighbour layer.
pub fn ip_finish_output<T: Tracer>(
    ns: &mut Netns,
    rt: &Rtable,
    pkt: &mut [u8],
    kind: TxKind,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    let mtu = route_mtu(ns, rt) as usize;
    if pkt.len() <= mtu {
        return ip_finish_output2(ns, rt, pkt, kind, t);
    }
    ip_fragment(ns, rt, pkt, mtu, kind, t)
}

/// Kernel: `ip_fragment` / `ip_do_fragment`: splits the payload in pieces of
/// `(mtu - header) & ~7` bytes, each with the header, MF and its offset;
/// counts `FragOKs` and `FragCreates` (or `FragFails` when DF forbids it).
pub fn ip_fragment<T: Tracer>(
    ns: &mut Netns,
    rt: &Rtable,
    pkt: &mut [u8],
    mtu: usize,
    kind: TxKind,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    let h = Iphdr(pkt);
    let hlen = h.ihl() as usize * 4;
    if h.frag_off() & IP_DF != 0 {
        ns.mib.ip.FragFails += 1;
        return Err(SkbDropReason::PKT_TOO_BIG);
    }
    let piece = (mtu.saturating_sub(hlen)) & !7;
    if piece == 0 || hlen > pkt.len() {
        ns.mib.ip.FragFails += 1;
        return Err(SkbDropReason::PKT_TOO_BIG);
    }
    let orig_off = h.frag_off();
    let orig_mf = orig_off & IP_MF;
    let base = (orig_off & IP_OFFSET) as usize * 8;
    let payload_len = pkt.len() - hlen;
    let mut header = [0u8; 60];
    header[..hlen].copy_from_slice(&pkt[..hlen]);
    let mut off = 0;
    let mut n = 0;
    let mut frag = std::mem::take(&mut ns.scratch);
    while off < payload_len {
        let len = piece.min(payload_len - off);
        let last = off + len == payload_len;
        frag.clear();
        frag.extend_from_slice(&header[..hlen]);
        frag.extend_from_slice(&pkt[hlen + off..hlen + off + len]);
        let mut fo = ((base + off) / 8) as u16 & IP_OFFSET;
        if !last || orig_mf != 0 {
            fo |= IP_MF;
        }
        frag[6..8].copy_from_slice(&fo.to_be_bytes());
        frag[2..4].copy_from_slice(&((hlen + len) as u16).to_be_bytes());
        frag[10..12].copy_from_slice(&[0, 0]);
        let c = ip_compute_csum(&frag[..hlen]);
        frag[10..12].copy_from_slice(&c.to_be_bytes());
        n += 1;
        if let Err(r) = ip_finish_output2(ns, rt, &frag, kind, t) {
            ns.scratch = frag;
            return Err(r);
        }
        if off == 0 {
            ip_options_fragment(&mut header[..hlen]);
        }
        off += len;
    }
    ns.scratch = frag;
    ns.mib.ip.FragOKs += 1;
    ns.mib.ip.FragCreates += n;
    Ok(())
}

/// Kernel: `ip_options_fragment`: the fragments after the first carry only
/// the options whose "copied" bit is set; the others become NOOPs.
pub fn ip_options_fragment(header: &mut [u8]) {
    let mut i = 20;
    while i < header.len() {
        match header[i] {
            0 => return,
            1 => {
                i += 1;
                continue;
            }
            ty => {
                let Some(&optlen) = header.get(i + 1) else {
                    return;
                };
                let optlen = optlen as usize;
                if optlen < 2 || optlen > header.len() - i {
                    return;
                }
                if ty & 0x80 == 0 {
                    header[i..i + optlen].fill(1);
                }
                i += optlen;
            }
        }
    }
}

/// The multicast MAC of an IPv4 group (`ip_eth_mc_map`).
pub fn ip_eth_mc_map(a: Ipv4Addr) -> [u8; 6] {
    let o = a.octets();
    [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
}

/// Kernel: `ip_finish_output2` → `neigh_output`: the frame on the wire, or,
/// for an unresolved next hop, the packet queued on its neighbour entry
/// while ARP asks (`__neigh_event_send`); its fate comes later.
pub fn ip_finish_output2<T: Tracer>(
    ns: &mut Netns,
    rt: &Rtable,
    pkt: &[u8],
    kind: TxKind,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    // Each frame handed to the neighbour layer counts, fragments one by one.
    ns.mib.ip.OutTransmits += 1;
    ns.mib.ip_ext.OutOctets += pkt.len() as u64;
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_output,
            Check::Counter {
                name: "OutTransmits",
            },
            Branch::Next,
        ));
    }
    let dev = rt.dst.dev;
    let daddr = if pkt.len() >= 20 {
        Iphdr(pkt).daddr()
    } else {
        Ipv4Addr::UNSPECIFIED
    };
    let nexthop = if rt.rt_uses_gateway { rt.rt_gw4 } else { daddr };
    let dst_mac = if rt.rt_type == RouteType::RTN_BROADCAST || nexthop == Ipv4Addr::BROADCAST {
        Some(ns.dev(dev).map(|d| d.broadcast).unwrap_or([0xff; 6]))
    } else if nexthop.is_multicast() {
        Some(ip_eth_mc_map(nexthop))
    } else if ns.dev(dev).is_some_and(|d| d.is_loopback()) {
        // lo is NOARP: its neighbour is resolved at once, to its own (zero)
        // address.
        Some(ns.dev(dev).map_or([0; 6], |d| d.dev_addr))
    } else {
        ns.neigh
            .iter()
            .find(|n| n.dev == dev && n.ip == nexthop && n.state.is_valid())
            .and_then(|n| n.lladdr)
    };
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_output,
            Check::Neigh {
                ip: nexthop,
                mac: dst_mac.unwrap_or([0; 6]),
                resolved: dst_mac.is_some(),
            },
            Branch::Next,
        ));
    }
    match dst_mac {
        Some(mac) => {
            neigh_hh_output(ns, dev, mac, pkt, kind);
            if ns.dev(dev).is_some_and(|d| d.is_loopback())
                && let Some(f) = ns.tx.frames.last_mut()
            {
                f.dst = Some(*rt);
            }
            if T::ENABLED {
                t.step(Step::new(
                    KernelFn::ip_output,
                    Check::OutputDev { dev },
                    Branch::ok,
                ));
            }
            Ok(())
        }
        None => {
            // neigh_resolve_output: the packet waits in the entry's queue
            // while ARP asks for the next hop (the kernel reports success).
            crate::core::neighbour::__neigh_event_send(ns, rt, nexthop, pkt, kind, t);
            Ok(())
        }
    }
}

/// Kernel: `neigh_hh_output` / `dev_queue_xmit`: the frame for `pkt` to
/// `mac` from `dev`'s address, sent now.
pub fn neigh_hh_output(
    ns: &mut Netns,
    dev: crate::netns::IfIndex,
    mac: [u8; 6],
    pkt: &[u8],
    kind: TxKind,
) {
    let src_mac = ns.dev(dev).map(|d| d.dev_addr).unwrap_or([0; 6]);
    let at = ns.jiffies;
    crate::core::dev::dev_queue_xmit(ns, dev, kind, at, |b| {
        b.extend_from_slice(&mac);
        b.extend_from_slice(&src_mac);
        b.extend_from_slice(&0x0800u16.to_be_bytes());
        b.extend_from_slice(pkt);
    });
}

/// Sends a packet the host built itself on route `rt` as `ip_send_skb`
/// does for the stack's replies (`ip_local_out`; a packet netfilter drops
/// counts `OutDiscards`).
pub fn ip_local_out<T: Tracer>(
    ns: &mut Netns,
    rt: &Rtable,
    pkt: &mut [u8],
    t: &mut T,
) -> Result<(), SkbDropReason> {
    ip_send_skb(ns, rt, pkt, crate::netfilter::conntrack::Nfct::None, t)
}

/// Kernel: `ip_send_skb`: `ip_local_out`, and `OutDiscards` when the
/// hooks drop the packet; `nfct` is the connection an ICMP error was
/// attached to (`nf_ct_attach` in `icmp_glue_bits`).
pub fn ip_send_skb<T: Tracer>(
    ns: &mut Netns,
    rt: &Rtable,
    pkt: &mut [u8],
    nfct: crate::netfilter::conntrack::Nfct,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    let r = ip_local_out_ct(ns, rt, pkt, nfct, t);
    if r == Err(SkbDropReason::NETFILTER_DROP) {
        ns.mib.ip.OutDiscards += 1;
    }
    r
}

/// Kernel: `ip_local_out` → `__ip_local_out` (`OutRequests`, then
/// `NF_INET_LOCAL_OUT`) → `ip_output` (`NF_INET_POST_ROUTING`) →
/// `ip_finish_output`, for a packet that may already belong to a connection
/// (`nf_ct_attach`). A REJECT at LOCAL_OUT answers the host's own packet.
pub fn ip_local_out_ct<T: Tracer>(
    ns: &mut Netns,
    rt: &Rtable,
    pkt: &mut [u8],
    mut nfct: crate::netfilter::conntrack::Nfct,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    // __ip_local_out counts the request before LOCAL_OUT runs.
    ns.mib.ip.OutRequests += 1;
    if ns.nf.is_some() {
        use crate::netfilter::NfInetHook;
        let daddr = if pkt.len() >= 20 {
            Iphdr(pkt).daddr()
        } else {
            Ipv4Addr::UNSPECIFIED
        };
        let nexthop = if rt.rt_uses_gateway { rt.rt_gw4 } else { daddr };
        let dev = rt.dst.dev;
        let mut r = crate::netfilter::core::nf_hook_local(
            ns,
            NfInetHook::LocalOut,
            pkt,
            dev,
            nexthop,
            &mut nfct,
            t,
        );
        if r.is_err()
            && let Some(with) = ns.nf.as_mut().and_then(|nf| nf.trail.reject.take())
        {
            // The REJECT's answer to a packet of our own (the skb it
            // refuses is this one, on its output route).
            let mut copy = pkt.to_vec();
            let mut skb = SkBuff::new(&mut copy, dev, 0);
            skb.dst = Some(*rt);
            skb.nfct = nfct;
            skb.cb.iif = crate::netns::IfIndex(0);
            crate::netfilter::nf_reject_ipv4::reject(
                ns,
                &mut skb,
                NfInetHook::LocalOut,
                with,
                &mut crate::trace::NoTrace,
            );
        }
        if r.is_ok() {
            r = crate::netfilter::core::nf_hook_local(
                ns,
                NfInetHook::PostRouting,
                pkt,
                dev,
                nexthop,
                &mut nfct,
                t,
            );
        }
        if let Some(nf) = ns.nf.as_mut() {
            nf.trail.reject = None;
            crate::netfilter::conntrack::nf_ct_put(&mut nf.ct, nfct);
        }
        r?;
        return ip_finish_output(ns, rt, pkt, TxKind::Local, t);
    }
    ip_finish_output(ns, rt, pkt, TxKind::Local, t)
}

/// Kernel: `ip_rt_bug`: the output of an input-only route; the kernel warns
/// and frees the packet.
pub fn ip_rt_bug<T: Tracer>(_ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetTx {
    skb.drop_reason = SkbDropReason::NOT_SPECIFIED;
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_rt_bug,
            Check::Drop {
                reason: SkbDropReason::NOT_SPECIFIED,
            },
            Branch::out,
        ));
    }
    NetTx::Drop
}
