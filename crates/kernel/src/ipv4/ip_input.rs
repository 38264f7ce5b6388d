//! Models net/ipv4/ip_input.c: `ip_rcv` → `ip_rcv_core` (the header checks
//! in the kernel's order, with their drop reasons and counters) →
//! `ip_rcv_finish` → `ip_rcv_finish_core` (the route decision, options,
//! multicast/broadcast counters) → `dst_input`; and the handlers a dst
//! points at for packets to this host: `ip_local_deliver` with the protocol
//! demultiplexing of `ip_protocol_deliver_rcu`, plus `ip_mr_input` and
//! `dst_discard`.

use crate::core::dropreason::SkbDropReason;
use crate::core::dst::{NetRx, dst_input};
use crate::core::skbuff::{ETH_P_IP, PacketType, SkBuff};
use crate::ipv4::icmp::{
    ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_ECHOREPLY, ICMP_PARAMETERPROB, icmp_send,
};
use crate::ipv4::ip_hdr::{Iphdr, ip_compute_csum};
use crate::ipv4::route::ip_route_input_noref;
use crate::netns::Netns;
use crate::trace::{Branch, Check, KernelFn, Step, Tracer};
use crate::uapi::{RouteType, RtcFlags};

fn drop<T: Tracer>(skb: &mut SkBuff<'_>, f: KernelFn, reason: SkbDropReason, t: &mut T) -> NetRx {
    skb.drop_reason = reason;
    if T::ENABLED {
        t.step(Step::new(f, Check::Drop { reason }, Branch::out));
    }
    NetRx::Drop
}

/// Kernel: `ip_rcv`: `ip_rcv_core`, then `NF_INET_PRE_ROUTING` (conntrack,
/// DNAT: the route decision sees the translated destination), then
/// `ip_rcv_finish`.
pub fn ip_rcv<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    t.enter(KernelFn::ip_rcv);
    let r = match ip_rcv_core(ns, skb, t) {
        Err(reason) => drop(skb, KernelFn::ip_rcv_core, reason, t),
        // ip_sabotage_in: a frame br_netfilter already passed through
        // PRE_ROUTING in the bridge does not run it again.
        Ok(()) if skb.nf_bridge.is_some_and(|b| b.prerouting_done) => ip_rcv_finish(ns, skb, t),
        Ok(()) => {
            let dev = skb.dev;
            match crate::netfilter::core::nf_hook_skb(
                ns,
                crate::netfilter::NfInetHook::PreRouting,
                skb,
                dev,
                crate::netns::IfIndex(0),
                t,
            ) {
                Err(reason) => {
                    skb.drop_reason = reason;
                    NetRx::Drop
                }
                Ok(()) => ip_rcv_finish(ns, skb, t),
            }
        }
    };
    t.leave();
    r
}

/// Kernel: `ip_rcv_core`: OTHERHOST, then `InReceives`/`InOctets`, the
/// header length, version and IHL, the ECN counters, the checksum, the total
/// length against the frame, and the trim of link-layer padding.
pub fn ip_rcv_core<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    const F: KernelFn = KernelFn::ip_rcv_core;
    if T::ENABLED {
        t.step(Step::new(
            F,
            Check::PktType {
                host: skb.pkt_type == PacketType::Host,
                broadcast: skb.pkt_type == PacketType::Broadcast,
                multicast: skb.pkt_type == PacketType::Multicast,
            },
            if skb.pkt_type == PacketType::OtherHost {
                Branch::out
            } else {
                Branch::Next
            },
        ));
    }
    if skb.pkt_type == PacketType::OtherHost {
        ns.dev_stats
            .entry(skb.dev)
            .or_default()
            .rx_otherhost_dropped += 1;
        return Err(SkbDropReason::OTHERHOST);
    }
    ns.mib.ip.InReceives += 1;
    ns.mib.ip_ext.InOctets += skb.len as u64;
    if T::ENABLED {
        t.step(Step::new(
            F,
            Check::Counter { name: "InReceives" },
            Branch::Next,
        ));
    }
    let nh = skb.network_header as usize;
    let avail = skb.len as usize;
    let invalid = |t: &mut T, skb: &SkBuff<'_>| {
        if T::ENABLED {
            let first = skb.data.get(nh).copied().unwrap_or(0);
            t.step(Step::new(
                F,
                Check::IpHeaderInvalid {
                    version: first >> 4,
                    ihl: first & 0x0f,
                    len: skb.len,
                },
                Branch::out,
            ));
        }
    };
    if avail < 20 {
        ns.mib.ip.InHdrErrors += 1;
        invalid(t, skb);
        return Err(SkbDropReason::IP_INHDR);
    }
    let h = Iphdr(&skb.data[nh..]);
    if h.ihl() < 5 || h.version() != 4 {
        ns.mib.ip.InHdrErrors += 1;
        invalid(t, skb);
        return Err(SkbDropReason::IP_INHDR);
    }
    match h.tos() & 3 {
        0 => ns.mib.ip_ext.InNoECTPkts += 1,
        1 => ns.mib.ip_ext.InECT1Pkts += 1,
        2 => ns.mib.ip_ext.InECT0Pkts += 1,
        _ => ns.mib.ip_ext.InCEPkts += 1,
    }
    let ihl = h.ihl() as usize * 4;
    if avail < ihl {
        ns.mib.ip.InHdrErrors += 1;
        invalid(t, skb);
        return Err(SkbDropReason::IP_INHDR);
    }
    let csum_ok = ip_compute_csum(&skb.data[nh..nh + ihl]) == 0;
    if T::ENABLED {
        let h = Iphdr(&skb.data[nh..]);
        t.step(Step::new(
            F,
            Check::IpHeader {
                version: h.version(),
                ihl: h.ihl(),
                tot_len: h.tot_len(),
                len: skb.len,
                csum_ok,
            },
            Branch::Next,
        ));
    }
    if !csum_ok {
        ns.mib.ip_ext.InCsumErrors += 1;
        ns.mib.ip.InHdrErrors += 1;
        return Err(SkbDropReason::IP_CSUM);
    }
    let tot_len = h.tot_len() as usize;
    if avail < tot_len {
        ns.mib.ip_ext.InTruncatedPkts += 1;
        return Err(SkbDropReason::PKT_TOO_SMALL);
    }
    if tot_len < ihl {
        ns.mib.ip.InHdrErrors += 1;
        return Err(SkbDropReason::IP_INHDR);
    }
    skb.len = tot_len as u32;
    skb.transport_header = (nh + ihl) as u16;
    skb.ip_protocol = h.protocol();
    skb.cb.iif = skb.skb_iif;
    Ok(())
}

/// Kernel: `ip_rcv_finish`: `ip_rcv_finish_core`, then `dst_input`.
pub fn ip_rcv_finish<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    match ip_rcv_finish_core(ns, skb, t) {
        Err(reason) => drop(skb, KernelFn::ip_rcv_finish_core, reason, t),
        Ok(()) => {
            if T::ENABLED
                && let Some(rt) = skb.dst
            {
                t.step(Step::new(
                    KernelFn::dst_input,
                    Check::DstInputCall {
                        input: rt.dst.input.name,
                    },
                    Branch::Next,
                ));
            }
            dst_input(ns, skb, t)
        }
    }
}

/// Kernel: `ip_rcv_finish_core`: the route decision (`IP_RPFILTER` also
/// counts `TcpExt IPReversePathFilter`), options when the header has them,
/// and the multicast/broadcast counters from the route's type.
pub fn ip_rcv_finish_core<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    let nh = skb.network_header as usize;
    let (daddr, saddr, tos, ihl) = {
        let h = Iphdr(&skb.data[nh..]);
        (h.daddr(), h.saddr(), h.tos(), h.ihl())
    };
    if skb.dst.is_none() {
        let dev = skb.dev;
        if let Err(reason) = ip_route_input_noref(ns, skb, daddr, saddr, tos & 0xfc, dev, t) {
            if reason == SkbDropReason::IP_RPFILTER {
                ns.mib.tcp_ext.IPReversePathFilter += 1;
            }
            return Err(reason);
        }
    }
    if ihl > 5 {
        ip_rcv_options(ns, skb, t)?;
    }
    let rt = skb.dst.expect("routed above");
    if rt.rt_type == RouteType::RTN_MULTICAST {
        ns.mib.ip_ext.InMcastPkts += 1;
        ns.mib.ip_ext.InMcastOctets += skb.len as u64;
    } else if rt.rt_type == RouteType::RTN_BROADCAST {
        ns.mib.ip_ext.InBcastPkts += 1;
        ns.mib.ip_ext.InBcastOctets += skb.len as u64;
    } else if matches!(skb.pkt_type, PacketType::Broadcast | PacketType::Multicast)
        && ns
            .in_dev(skb.dev)
            .is_some_and(|i| ns.in_dev_drop_unicast_in_l2_multicast(i))
    {
        return Err(SkbDropReason::UNICAST_IN_L2_MULTICAST);
    }
    Ok(())
}

/// `IPOPT_*` option types.
mod ipopt {
    pub const END: u8 = 0;
    pub const NOOP: u8 = 1;
    pub const RR: u8 = 7;
    pub const TS: u8 = 68;
    pub const LSRR: u8 = 131;
    pub const SSRR: u8 = 137;
    pub const RA: u8 = 148;
    pub const CIPSO: u8 = 134;
}

/// Kernel: `cipso_v4_validate` with no CIPSO domain configured: the offset
/// in the option of the byte an ICMP parameter problem points at (the
/// option is shorter than 8 bytes: its length; otherwise its DOI, which no
/// domain matches).
fn cipso_v4_validate(opt: &[u8]) -> Option<usize> {
    if opt.len() < 8 {
        return Some(1);
    }
    Some(2)
}

/// Kernel: `ip_rcv_options` → `ip_options_compile`: a malformed option is
/// ICMP parameter problem pointing at the bad byte (`InHdrErrors`,
/// `IP_INHDR`); a source route is refused unless `accept_source_route`
/// (all AND device). Accepted source routes are not re-routed by this model.
pub fn ip_rcv_options<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    let nh = skb.network_header as usize;
    let ihl = Iphdr(&skb.data[nh..]).ihl() as usize * 4;
    let mut srr = false;
    let mut cipso = false;
    let mut bad: Option<usize> = None;
    let mut i = 20;
    while i < ihl {
        let o = &skb.data[nh..nh + ihl];
        let ty = o[i];
        if ty == ipopt::END {
            // The rest of the options space becomes END too.
            skb.data[nh + i..nh + ihl].fill(ipopt::END);
            break;
        }
        if ty == ipopt::NOOP {
            i += 1;
            continue;
        }
        if i + 1 >= ihl {
            bad = Some(i);
            break;
        }
        let optlen = o[i + 1] as usize;
        if optlen < 2 || optlen > ihl - i {
            bad = Some(i);
            break;
        }
        match ty {
            ipopt::RR | ipopt::LSRR | ipopt::SSRR => {
                if optlen < 3 {
                    bad = Some(i + 1);
                    break;
                }
                if o[i + 2] < 4 {
                    bad = Some(i + 2);
                    break;
                }
                if ty == ipopt::RR && skb.cb.opt_rr != 0 {
                    bad = Some(i);
                    break;
                }
                if ty != ipopt::RR {
                    if srr {
                        bad = Some(i);
                        break;
                    }
                    srr = true;
                    skb.cb.opt_srr = i as u8;
                    skb.cb.opt_is_strictroute = ty == ipopt::SSRR;
                } else {
                    // ip_options_compile: room left in the record: the
                    // forwarding address will be written (the pointer moves
                    // on by one address now, as the kernel does here).
                    let ptr = o[i + 2] as usize;
                    if ptr <= optlen {
                        if ptr + 3 > optlen {
                            bad = Some(i + 2);
                            break;
                        }
                        // spec_dst_fill: the address the packet came to
                        // goes into the record now (forwarding overwrites it).
                        let spec = fib_compute_spec_dst(ns, skb);
                        skb.data[nh + i + ptr - 1..nh + i + ptr + 3]
                            .copy_from_slice(&spec.octets());
                        skb.data[nh + i + 2] += 4;
                        skb.cb.opt_rr_needaddr = true;
                    }
                    skb.cb.opt_rr = i as u8;
                }
            }
            ipopt::TS => {
                if skb.cb.opt_ts != 0 {
                    bad = Some(i);
                    break;
                }
                if optlen < 4 {
                    bad = Some(i + 1);
                    break;
                }
                if o[i + 2] < 5 {
                    bad = Some(i + 2);
                    break;
                }
                match ip_options_compile_ts(ns, skb, nh + i, optlen) {
                    Ok(()) => skb.cb.opt_ts = i as u8,
                    Err(ptr) => {
                        bad = Some(i + ptr);
                        break;
                    }
                }
            }
            ipopt::RA if optlen < 4 => {
                bad = Some(i + 1);
                break;
            }
            ipopt::CIPSO => {
                // One CIPSO option, and cipso_v4_validate: no CIPSO domain
                // is configured here.
                if cipso {
                    bad = Some(i);
                    break;
                }
                cipso = true;
                skb.cb.opt_cipso = i as u8;
                if let Some(off) = cipso_v4_validate(&o[i..i + optlen]) {
                    bad = Some(i + off);
                    break;
                }
            }
            _ => {}
        }
        i += optlen;
    }
    if let Some(ptr) = bad {
        ns.mib.ip.InHdrErrors += 1;
        icmp_send(ns, skb, ICMP_PARAMETERPROB, 0, (ptr as u32) << 24, t);
        return Err(SkbDropReason::IP_INHDR);
    }
    if srr {
        let ok = ns
            .in_dev(skb.dev)
            .is_some_and(|i| ns.in_dev_source_route(i));
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::ip_rcv_options,
                Check::InDevSourceRoute {
                    dev: skb.dev,
                    value: ok,
                },
                if ok { Branch::Next } else { Branch::out },
            ));
        }
        if !ok {
            return Err(SkbDropReason::NOT_SPECIFIED);
        }
        ip_options_rcv_srr(ns, skb, t)?;
    }
    Ok(())
}

/// Kernel: `ip_options_rcv_srr`: a source-routed packet addressed to us is
/// routed on toward the next address of its route (loose or strict); one
/// merely passing through keeps its route (a strict one gets ICMP parameter
/// problem).
fn ip_options_rcv_srr<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    let Some(rt) = skb.dst else { return Ok(()) };
    if skb.pkt_type != PacketType::Host {
        return Err(SkbDropReason::NOT_SPECIFIED);
    }
    if rt.rt_type == RouteType::RTN_UNICAST {
        if !skb.cb.opt_is_strictroute {
            return Ok(());
        }
        icmp_send(ns, skb, ICMP_PARAMETERPROB, 0, 16 << 24, t);
        return Err(SkbDropReason::NOT_SPECIFIED);
    }
    if rt.rt_type != RouteType::RTN_LOCAL {
        return Err(SkbDropReason::NOT_SPECIFIED);
    }
    let nh = skb.network_header as usize;
    let o = nh + skb.cb.opt_srr as usize;
    let srrspace = skb.data[o + 1] as usize;
    let mut srrptr = skb.data[o + 2] as usize;
    let mut nexthop = std::net::Ipv4Addr::UNSPECIFIED;
    while srrptr <= srrspace {
        if srrptr + 3 > srrspace {
            let ptr = (skb.cb.opt_srr as u32 + 2) << 24;
            icmp_send(ns, skb, ICMP_PARAMETERPROB, 0, ptr, t);
            return Err(SkbDropReason::NOT_SPECIFIED);
        }
        let b = &skb.data[o + srrptr - 1..o + srrptr + 3];
        nexthop = std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]);
        let (saddr, tos) = {
            let h = Iphdr(&skb.data[nh..]);
            (h.saddr(), h.tos())
        };
        let old = skb.dst.take();
        let dev = skb.dev;
        let r = ip_route_input_noref(ns, skb, nexthop, saddr, tos & 0xfc, dev, t);
        match (r, skb.dst) {
            (Ok(()), Some(rt2))
                if rt2.rt_type == RouteType::RTN_UNICAST || rt2.rt_type == RouteType::RTN_LOCAL =>
            {
                if rt2.rt_type != RouteType::RTN_LOCAL {
                    break;
                }
                // "Superfast loopback forward": the next listed address is ours too.
                skb.data[nh + 16..nh + 20].copy_from_slice(&nexthop.octets());
            }
            _ => {
                skb.dst = old;
                return Err(SkbDropReason::NOT_SPECIFIED);
            }
        }
        srrptr += 4;
    }
    if srrptr <= srrspace {
        skb.cb.opt_srr_is_hit = true;
        skb.cb.opt_nexthop = nexthop;
    }
    Ok(())
}

/// `inet_current_timestamp`: milliseconds since midnight UTC, network order.
pub fn inet_current_timestamp(ns: &Netns) -> [u8; 4] {
    let ms = (ns.wall_ns.max(0) / 1_000_000) as u64 % 86_400_000;
    (ms as u32).to_be_bytes()
}

/// The timestamp option part of `ip_options_compile` for a received packet
/// (`o` = its offset in `skb.data`): a timestamp (and for flag 1 this host's
/// address) goes into the next free slot, or the overflow counter goes up.
/// `Err(offset)` points at the bad byte within the option.
fn ip_options_compile_ts(
    ns: &Netns,
    skb: &mut SkBuff<'_>,
    o: usize,
    optlen: usize,
) -> Result<(), usize> {
    let ptr = skb.data[o + 2] as usize;
    let flag = skb.data[o + 3] & 0xf;
    if ptr <= optlen {
        if ptr + 3 > optlen {
            return Err(2);
        }
        let mut timeptr = None;
        match flag {
            0 => {
                timeptr = Some(o + ptr - 1);
                skb.cb.opt_ts_needtime = true;
                skb.data[o + 2] += 4;
            }
            1 => {
                if ptr + 7 > optlen {
                    return Err(2);
                }
                let spec = fib_compute_spec_dst(ns, skb);
                skb.data[o + ptr - 1..o + ptr + 3].copy_from_slice(&spec.octets());
                timeptr = Some(o + ptr + 3);
                skb.cb.opt_ts_needaddr = true;
                skb.cb.opt_ts_needtime = true;
                skb.data[o + 2] += 8;
            }
            3 => {
                if ptr + 7 > optlen {
                    return Err(2);
                }
                let b = &skb.data[o + ptr - 1..o + ptr + 3];
                let addr = std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]);
                if ns.inet_lookup_ifaddr(addr).is_some() {
                    timeptr = Some(o + ptr + 3);
                    skb.cb.opt_ts_needtime = true;
                    skb.data[o + 2] += 8;
                }
            }
            _ => {}
        }
        if let Some(tp) = timeptr {
            skb.data[tp..tp + 4].copy_from_slice(&inet_current_timestamp(ns));
        }
    } else if flag != 3 {
        let overflow = skb.data[o + 3] >> 4;
        if overflow == 15 {
            return Err(3);
        }
        skb.data[o + 3] = flag | ((overflow + 1) << 4);
    }
    Ok(())
}

/// `IPPROTO_*` handled by this host.
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_IGMP: u8 = 2;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// Kernel: `ip_local_deliver`: the packet is for this host. Fragments are
/// counted for reassembly (`ReasmReqds`); whole datagrams go to
/// `ip_protocol_deliver_rcu`.
pub fn ip_local_deliver<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    t.enter(KernelFn::ip_local_deliver);
    let nh = skb.network_header as usize;
    let r = if skb.data.len() >= nh + 20 && Iphdr(&skb.data[nh..]).is_fragment() {
        ip_defrag(ns, skb, t)
    } else {
        ip_local_deliver_finish(ns, skb, t)
    };
    t.leave();
    r
}

/// `NF_INET_LOCAL_IN` (filter INPUT, nat INPUT, conntrack's confirmation)
/// over the whole datagram, then `ip_local_deliver_finish` →
/// `ip_protocol_deliver_rcu`.
fn ip_local_deliver_finish<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    let dev = skb.dev;
    if let Err(reason) = crate::netfilter::core::nf_hook_skb(
        ns,
        crate::netfilter::NfInetHook::LocalIn,
        skb,
        dev,
        crate::netns::IfIndex(0),
        t,
    ) {
        skb.drop_reason = reason;
        return NetRx::Drop;
    }
    ip_protocol_deliver_rcu(ns, skb, t)
}

/// Kernel: `ip_defrag` for local delivery: counts `ReasmReqds`, expires old
/// queues on the capture's clock (`ReasmTimeout`, `ReasmFails`), queues the
/// fragment, and delivers the datagram once complete (`ReasmOKs`).
fn ip_defrag<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    use crate::ipv4::ip_fragment::Defrag;
    ns.mib.ip.ReasmReqds += 1;
    let timeout = ns.sysctl.ipfrag_time.max(0) as u64 * crate::HZ;
    while let Some(i) = ns.frags.expire(ns.jiffies, timeout) {
        ip_expire_queue(ns, i, t);
    }
    let nh = skb.network_header as usize;
    let end = (nh + skb.len as usize).min(skb.data.len());
    // ip_frag_too_far: the source's fragment count (inet_peer `rid`).
    let max_dist = ns.sysctl.ipfrag_max_dist.clamp(0, u32::MAX as i64) as u32;
    let rid = (max_dist != 0).then(|| {
        let saddr = Iphdr(&skb.data[nh..]).saddr();
        let now = ns.jiffies;
        let p = ns.peers.get(saddr, now);
        p.rid = p.rid.wrapping_add(1);
        (p.rid, max_dist)
    });
    let high = ns.sysctl.ipfrag_high_thresh.max(0) as usize;
    let r = ns
        .frags
        .queue(&skb.data[nh..end], skb.dev, ns.jiffies, rid, high);
    if ns.frags.too_far > 0 {
        ns.mib.ip.ReasmFails += 1;
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::ip_local_deliver,
                Check::FragTooFar {
                    dropped: ns.frags.too_far as u32,
                    max_dist,
                },
                Branch::Next,
            ));
        }
    }
    match r {
        Defrag::Queued => {
            skb.delivered = true;
            NetRx::Success
        }
        Defrag::Drop(reason) => {
            if reason != SkbDropReason::DUP_FRAG {
                ns.mib.ip.ReasmFails += 1;
            }
            drop(skb, KernelFn::ip_local_deliver, reason, t)
        }
        Defrag::Complete(i) if ns.frags.q[i].header.len() + ns.frags.q[i].len > 65535 => {
            // ip_frag_reasm: too long for an IPv4 datagram (out_oversize);
            // the queue is killed, the fragment went with it.
            ns.mib.ip.ReasmFails += 1;
            ns.frags.kill(i);
            skb.delivered = true;
            NetRx::Success
        }
        Defrag::Complete(i) => {
            ns.mib.ip.ReasmOKs += 1;
            // ip_frag_reasm: the first fragment's header with the whole
            // length, no fragment bits, and a fresh checksum.
            let mut buf = std::mem::take(&mut ns.reasm);
            buf.clear();
            {
                let q = &ns.frags.q[i];
                buf.extend_from_slice(&q.header);
                buf.extend_from_slice(&q.data[..q.len]);
            }
            ns.frags.kill(i);
            let ihl = (buf[0] & 0xf) as usize * 4;
            let tot = buf.len() as u16;
            buf[2..4].copy_from_slice(&tot.to_be_bytes());
            buf[6..8].copy_from_slice(&[0, 0]);
            buf[10..12].copy_from_slice(&[0, 0]);
            let c = ip_compute_csum(&buf[..ihl]);
            buf[10..12].copy_from_slice(&c.to_be_bytes());
            let r = {
                let mut whole = SkBuff::new(&mut buf[..], skb.dev, 0);
                whole.transport_header = ihl as u16;
                whole.ip_protocol = skb.ip_protocol;
                whole.pkt_type = skb.pkt_type;
                whole.skb_iif = skb.skb_iif;
                whole.mark = skb.mark;
                whole.dst = skb.dst;
                whole.cb = skb.cb;
                let r = ip_local_deliver_finish(ns, &mut whole, t);
                skb.nfct = whole.nfct;
                skb.icmp = whole.icmp;
                skb.drop_reason = whole.drop_reason;
                skb.delivered = whole.delivered;
                r
            };
            ns.reasm = buf;
            r
        }
    }
}

/// The earliest reassembly timer: (jiffy it fires, queue index). A queue
/// expires once more than `ipfrag_time` has passed since its first fragment.
pub fn next_frag_expiry(ns: &Netns) -> Option<(u64, usize)> {
    let timeout = ns.sysctl.ipfrag_time.max(0) as u64 * crate::HZ;
    ns.frags
        .q
        .iter()
        .enumerate()
        .filter(|(_, q)| q.live)
        .map(|(i, q)| (q.start + timeout + 1, i))
        .min()
}

/// Kernel: the reassembly timer of queue `i` (`ip_expire`): counts
/// `ReasmTimeout` and `ReasmFails`, sends ICMP time exceeded when the first
/// fragment had come, and frees the queue.
pub fn ip_expire_queue<T: Tracer>(ns: &mut Netns, i: usize, t: &mut T) {
    ns.mib.ip.ReasmTimeout += 1;
    ns.mib.ip.ReasmFails += 1;
    if T::ENABLED {
        let q = &ns.frags.q[i];
        t.step(Step::new(
            KernelFn::ip_expire,
            Check::FragExpired {
                saddr: q.key.0,
                id: q.key.2,
                first_in: q.first_in,
            },
            Branch::Next,
        ));
    }
    ip_expire(ns, i, t);
    ns.frags.kill(i);
}

/// Kernel: `ip_expire`: a queue timed out. If its first fragment had come,
/// the datagram's sender gets ICMP time exceeded (fragment reassembly time
/// exceeded) about that fragment, routed again as the kernel does.
fn ip_expire<T: Tracer>(ns: &mut Netns, i: usize, t: &mut T) {
    let q = &ns.frags.q[i];
    if !q.first_in {
        return;
    }
    let first_len = q.ranges.first().filter(|r| r.0 == 0).map_or(0, |r| r.1);
    let dev = q.dev;
    let mut buf = std::mem::take(&mut ns.reasm);
    buf.clear();
    buf.extend_from_slice(&q.header);
    buf.extend_from_slice(&q.data[..first_len]);
    let hl = q.header.len();
    let tot = buf.len() as u16;
    buf[2..4].copy_from_slice(&tot.to_be_bytes());
    buf[10..12].copy_from_slice(&[0, 0]);
    let c = ip_compute_csum(&buf[..hl]);
    buf[10..12].copy_from_slice(&c.to_be_bytes());
    {
        let (daddr, saddr, tos, proto) = {
            let h = Iphdr(&buf);
            (h.daddr(), h.saddr(), h.tos(), h.protocol())
        };
        let mut head = SkBuff::new(&mut buf[..], dev, 0);
        head.transport_header = hl as u16;
        head.ip_protocol = proto;
        if ip_route_input_noref(
            ns,
            &mut head,
            daddr,
            saddr,
            tos & 0xfc,
            dev,
            &mut crate::trace::NoTrace,
        )
        .is_ok()
        {
            icmp_send(
                ns,
                &mut head,
                crate::ipv4::icmp::ICMP_TIME_EXCEEDED,
                1,
                0,
                t,
            );
        }
    }
    ns.reasm = buf;
}

/// Kernel: `ip_protocol_deliver_rcu`: the transport handler of the
/// protocol (ICMP, IGMP, UDP, TCP; `InDelivers` is counted even when the
/// handler then drops the packet), or ICMP protocol unreachable.
pub fn ip_protocol_deliver_rcu<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    t: &mut T,
) -> NetRx {
    let proto = skb.ip_protocol;
    let r = match proto {
        IPPROTO_ICMP => icmp_rcv(ns, skb, t),
        IPPROTO_IGMP => igmp_rcv(skb, t),
        IPPROTO_UDP => {
            t.enter(KernelFn::udp_rcv);
            let r = udp_rcv(ns, skb, t);
            t.leave();
            r
        }
        IPPROTO_TCP => {
            t.enter(KernelFn::tcp_v4_rcv);
            let r = tcp_v4_rcv(ns, skb, t);
            t.leave();
            r
        }
        _ => {
            ns.mib.ip.InUnknownProtos += 1;
            icmp_send(ns, skb, ICMP_DEST_UNREACH, 2, 0, t);
            return drop(
                skb,
                KernelFn::ip_local_deliver,
                SkbDropReason::IP_NOPROTO,
                t,
            );
        }
    };
    ns.mib.ip.InDelivers += 1;
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_local_deliver,
            Check::Counter { name: "InDelivers" },
            Branch::Next,
        ));
    }
    r
}

/// Kernel: `igmp_rcv`: a message shorter than 8 bytes or with a bad
/// checksum is freed; a query (0x11) of 8 or at least 12 bytes is heard,
/// and a report (0x12, 0x16) sent to a multicast or broadcast address; any
/// other message is freed too (`NOT_SPECIFIED`). No group membership is
/// modelled beyond that.
fn igmp_rcv<T: Tracer>(skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    let data = transport(skb);
    let heard = data.len() >= 8
        && ip_compute_csum(data) == 0
        && match data[0] {
            0x11 => data.len() == 8 || data.len() >= 12,
            0x12 | 0x16 => matches!(skb.pkt_type, PacketType::Multicast | PacketType::Broadcast),
            _ => false,
        };
    if !heard {
        return drop(
            skb,
            KernelFn::ip_local_deliver,
            SkbDropReason::NOT_SPECIFIED,
            t,
        );
    }
    skb.delivered = true;
    NetRx::Success
}

fn transport<'s>(skb: &'s SkBuff<'_>) -> &'s [u8] {
    let th = skb.transport_header as usize;
    let end = (skb.network_header as usize + skb.len as usize).min(skb.data.len());
    &skb.data[th.min(end)..end]
}

/// Kernel: `icmp_rcv`: the checksum, the header, the per-type count, types
/// above 18 (`UNHANDLED_PROTO`), the broadcast/multicast rules (only echo,
/// timestamp and address mask requests and replies, echo and timestamp not
/// with `icmp_echo_ignore_broadcasts`), then the type's handler: echo
/// replies to `ping_rcv` (no socket), errors to `icmp_unreach` (which wants
/// the offending IP header), redirects, echo and timestamp requests
/// answered, the rest consumed (`icmp_discard`).
fn icmp_rcv<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    ns.mib.icmp.InMsgs += 1;
    let data = transport(skb);
    if ip_compute_csum(data) != 0 {
        ns.mib.icmp.InCsumErrors += 1;
        ns.mib.icmp.InErrors += 1;
        return drop(skb, KernelFn::ip_local_deliver, SkbDropReason::ICMP_CSUM, t);
    }
    if data.len() < 8 {
        ns.mib.icmp.InErrors += 1;
        return drop(
            skb,
            KernelFn::ip_local_deliver,
            SkbDropReason::NOT_SPECIFIED,
            t,
        );
    }
    let ty = data[0];
    let body_len = data.len() - 8;
    let quoted_ihl = data.get(8).map_or(0, |b| b & 0xf);
    ns.mib.icmp_in(ty);
    if ty > crate::ipv4::icmp::NR_ICMP_TYPES {
        ns.mib.icmp.InErrors += 1;
        return drop(
            skb,
            KernelFn::ip_local_deliver,
            SkbDropReason::UNHANDLED_PROTO,
            t,
        );
    }
    let rt = skb.dst.expect("routed");
    if rt.rt_flags.0 & (RtcFlags::RTCF_BROADCAST.0 | RtcFlags::RTCF_MULTICAST.0) != 0 {
        // Echo and timestamp requests to a broadcast or multicast address
        // only without icmp_echo_ignore_broadcasts; nothing but requests and
        // replies of address masks otherwise.
        let refused = if ty == ICMP_ECHO || ty == ICMP_TIMESTAMP {
            ns.sysctl.icmp_echo_ignore_broadcasts != 0
        } else {
            ty != ICMP_ADDRESS && ty != ICMP_ADDRESSREPLY
        };
        if refused {
            ns.mib.icmp.InErrors += 1;
            return drop(
                skb,
                KernelFn::ip_local_deliver,
                SkbDropReason::INVALID_PROTO,
                t,
            );
        }
    }
    match ty {
        ICMP_ECHOREPLY => {
            // ping_rcv: the ping socket of the echo's identifier takes it
            // (`ping_lookup`); with none it is freed.
            let id = u16::from_be_bytes([data[4], data[5]]);
            let daddr = skb.ip_daddr().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
            if ns.socket_lookup(IPPROTO_ICMP, daddr, id).is_none() {
                return drop(skb, KernelFn::ip_local_deliver, SkbDropReason::NO_SOCKET, t);
            }
        }
        // icmp_unreach: the offending packet's IP header must be there.
        3 | 4 | 11 | 12 if body_len < 20 || quoted_ihl < 5 => {
            ns.mib.icmp.InErrors += 1;
            return drop(
                skb,
                KernelFn::ip_local_deliver,
                SkbDropReason::NOT_SPECIFIED,
                t,
            );
        }
        // icmp_redirect: likewise.
        5 if body_len < 20 => {
            ns.mib.icmp.InErrors += 1;
            return drop(
                skb,
                KernelFn::ip_local_deliver,
                SkbDropReason::PKT_TOO_SMALL,
                t,
            );
        }
        3 | 4 | 5 | 11 | 12 => {
            let dev = skb.dev;
            let from = skb.ip_saddr().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
            let msg = transport(skb);
            let (code, info) = (msg[1], [msg[4], msg[5], msg[6], msg[7]]);
            // The quoted IP header (at most 60 bytes) and 8 bytes past it.
            let mut quoted = [0u8; 68];
            let n = (msg.len() - 8).min(68);
            quoted[..n].copy_from_slice(&msg[8..8 + n]);
            icmp_socket_deliver(ns, dev, from, ty, code, info, &quoted[..n], t);
        }
        ICMP_ECHO if ns.sysctl.icmp_echo_ignore_all == 0 => icmp_reply(ns, skb, ICMP_ECHOREPLY, t),
        ICMP_TIMESTAMP => {
            // icmp_timestamp: the originate timestamp must be there.
            if body_len < 4 {
                ns.mib.icmp.InErrors += 1;
                return drop(
                    skb,
                    KernelFn::ip_local_deliver,
                    SkbDropReason::PKT_TOO_SMALL,
                    t,
                );
            }
            icmp_reply(ns, skb, ICMP_TIMESTAMPREPLY, t);
        }
        _ => {}
    }
    skb.delivered = true;
    NetRx::Success
}

#[allow(clippy::too_many_arguments)]
/// Kernel: `icmp_socket_deliver` of the ICMP error (`ty`, `code`, the
/// header's 4 bytes of `info`, the datagram it quotes): the quoted
/// packet's protocol handler (`tcp_v4_err`, `__udp4_lib_err`, `icmp_err` →
/// `ping_err`) looks for the socket it was sent from; UDP and TCP count
/// `InErrors` when there is none. A redirect (`from` its sender, received
/// on `dev`) goes to that socket's route (`ipv4_sk_redirect`,
/// `do_redirect`; an echo reply's redirect to `ipv4_redirect`).
fn icmp_socket_deliver<T: Tracer>(
    ns: &mut Netns,
    dev: crate::netns::IfIndex,
    from: std::net::Ipv4Addr,
    ty: u8,
    code: u8,
    info: [u8; 4],
    q: &[u8],
    t: &mut T,
) {
    let ihl = usize::from(q[0] & 0xf) * 4;
    let proto = q[9];
    let saddr = std::net::Ipv4Addr::new(q[12], q[13], q[14], q[15]);
    let daddr = std::net::Ipv4Addr::new(q[16], q[17], q[18], q[19]);
    let Some(l4) = q.get(ihl..ihl + 8) else {
        // The IP header and 8 bytes of the protocol's must be there.
        ns.mib.icmp.InErrors += 1;
        return;
    };
    let (port, socket) = match proto {
        IPPROTO_ICMP => {
            let id = u16::from_be_bytes([l4[4], l4[5]]);
            match (l4[0], l4[1]) {
                // icmp_err: the kernel's own echo reply has no socket.
                (ICMP_ECHOREPLY, _) => (id, true),
                // ping_err: only for an echo request, from its socket.
                (ICMP_ECHO, 0) => (id, ns.socket_lookup(IPPROTO_ICMP, saddr, id).is_some()),
                _ => (id, false),
            }
        }
        IPPROTO_UDP | IPPROTO_TCP => {
            let sport = u16::from_be_bytes([l4[0], l4[1]]);
            let found = ns.socket_lookup(proto, saddr, sport).is_some();
            if !found {
                ns.mib.icmp.InErrors += 1;
            }
            if found && proto == IPPROTO_TCP && ns.sock_owned == Some((proto, saddr, sport)) {
                // tcp_v4_err on a socket its connect() still holds.
                if !(ty == 3 && code == 4) {
                    ns.mib.tcp_ext.LockDroppedIcmps += 1;
                }
                if ty == 5 {
                    return;
                }
            }
            (sport, found)
        }
        _ => (0, false),
    };
    let echo_request = proto == IPPROTO_ICMP && l4[0] == ICMP_ECHO;
    if T::ENABLED && (proto != IPPROTO_ICMP || echo_request) {
        t.step(Step::new(
            KernelFn::icmp_socket_deliver,
            Check::ErrSocket {
                protocol: proto,
                port,
                found: socket,
            },
            Branch::Next,
        ));
    }
    if ty == 5 && socket && matches!(proto, IPPROTO_ICMP | IPPROTO_UDP | IPPROTO_TCP) {
        let new_gw = std::net::Ipv4Addr::from(info);
        crate::ipv4::route::__ip_do_redirect(
            ns,
            dev,
            from,
            new_gw,
            code,
            saddr,
            daddr,
            proto,
            crate::netns::IfIndex(0),
            t,
        );
    }
}

/// `ICMP_TIMESTAMP`.
const ICMP_TIMESTAMP: u8 = 13;
/// `ICMP_TIMESTAMPREPLY`.
const ICMP_TIMESTAMPREPLY: u8 = 14;
/// `ICMP_ADDRESS`.
const ICMP_ADDRESS: u8 = 17;
/// `ICMP_ADDRESSREPLY`.
const ICMP_ADDRESSREPLY: u8 = 18;

/// The transport checksum over the IPv4 pseudo-header is right (UDP with
/// a zero checksum has none).
fn l4_csum_ok(skb: &SkBuff<'_>, proto: u8) -> bool {
    let nh = skb.network_header as usize;
    let h = Iphdr(&skb.data[nh..]);
    // (udp_rcv has trimmed the skb to the UDP length already.)
    let data = transport(skb);
    if proto == IPPROTO_UDP && data.len() >= 8 && data[6] == 0 && data[7] == 0 {
        return true;
    }
    let mut sum: u32 = 0;
    for w in [h.saddr().octets(), h.daddr().octets()] {
        sum += u16::from_be_bytes([w[0], w[1]]) as u32 + u16::from_be_bytes([w[2], w[3]]) as u32;
    }
    sum += proto as u32 + data.len() as u32;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [last] = chunks.remainder() {
        sum += (*last as u32) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

/// Kernel: `icmp_echo` / `icmp_timestamp` → `icmp_reply`: an echo reply
/// (the request's identifier, sequence and data) or a timestamp reply (its
/// identifier, sequence and originate timestamp, then the receive and
/// transmit times), from the address the request was sent to.
fn icmp_reply<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, reply_type: u8, t: &mut T) {
    let nh = skb.network_header as usize;
    let h = Iphdr(&skb.data[nh..]);
    let (dst, tos) = (h.saddr(), h.tos());
    let src = fib_compute_spec_dst(ns, skb);
    // ip_options_echo + ip_options_build: the request's record route and
    // timestamp come back with this host in them; a source route comes
    // back reversed, and the reply goes to its first hop.
    let mut echo =
        crate::ipv4::icmp::ip_options_echo(ns, skb).unwrap_or(crate::ipv4::icmp::EchoOpts::NONE);
    let plan = echo;
    crate::ipv4::icmp::ip_options_build(ns, &mut echo.bytes, &plan, src, dst);
    let first_hop = echo.srr.map_or(dst, |(_, faddr)| faddr);
    let body = transport(skb);
    let mut pkt = std::mem::take(&mut ns.scratch);
    pkt.clear();
    let hl = 20 + echo.len;
    let total = hl + body.len();
    pkt.extend_from_slice(&[0x40 | (hl / 4) as u8, tos]);
    pkt.extend_from_slice(&(total as u16).to_be_bytes());
    // No DF; the IP ID is the kernel's per-destination counter (not modelled: 0).
    pkt.extend_from_slice(&[
        0,
        0,
        0,
        0,
        ns.sysctl.ip_default_ttl as u8,
        IPPROTO_ICMP,
        0,
        0,
    ]);
    pkt.extend_from_slice(&src.octets());
    pkt.extend_from_slice(&first_hop.octets());
    pkt.extend_from_slice(&echo.bytes[..echo.len]);
    if reply_type == ICMP_TIMESTAMPREPLY {
        // icmp_timestamp: the request's header and originate timestamp,
        // then the receive and transmit timestamps (ms since midnight UT).
        let now = inet_current_timestamp(ns);
        pkt.extend_from_slice(&body[..12]);
        pkt.extend_from_slice(&now);
        pkt.extend_from_slice(&now);
    } else {
        pkt.extend_from_slice(body);
    }
    let total = pkt.len() as u16;
    pkt[2..4].copy_from_slice(&total.to_be_bytes());
    pkt[hl] = reply_type;
    pkt[hl + 1] = 0;
    pkt[hl + 2..hl + 4].copy_from_slice(&[0, 0]);
    let c = ip_compute_csum(&pkt[hl..]);
    pkt[hl + 2..hl + 4].copy_from_slice(&c.to_be_bytes());
    let c = ip_compute_csum(&pkt[..hl]);
    pkt[10..12].copy_from_slice(&c.to_be_bytes());
    // icmp_reply holds the ICMP socket while the reply goes out.
    ns.icmp_xmit_lock = true;
    // Both replies count as echo replies: the kernel here (6.18) counts a
    // timestamp reply in OutType0, as the packet lab shows. They count as
    // __ip_make_skb builds the reply, once its route is found: a reply
    // with no route back is neither built nor counted.
    let counted = |ns: &mut Netns| {
        ns.mib.icmp.OutMsgs += 1;
        ns.mib.icmp.OutEchoReps += 1;
        ns.mib.icmp_msg.OutType0 += 1;
    };
    send_reply(ns, &mut pkt, src, first_hop, tos, counted, t);
    ns.icmp_xmit_lock = false;
    ns.scratch = pkt;
}

/// Kernel: `fib_compute_spec_dst`: the address a reply to this packet comes
/// from: its destination when that is one of ours (a unicast local route),
/// else the preferred source of the route back to the sender, else the
/// ingress device's address.
pub fn fib_compute_spec_dst(ns: &Netns, skb: &SkBuff<'_>) -> std::net::Ipv4Addr {
    let nh = skb.network_header as usize;
    let h = Iphdr(&skb.data[nh..]);
    let rt = skb.dst.expect("routed");
    let mask = RtcFlags::RTCF_BROADCAST.0 | RtcFlags::RTCF_MULTICAST.0 | RtcFlags::RTCF_LOCAL.0;
    if rt.rt_flags.0 & mask == RtcFlags::RTCF_LOCAL.0 {
        return h.daddr();
    }
    let saddr = h.saddr();
    let mut scope = crate::uapi::RtScope::RT_SCOPE_UNIVERSE;
    if !saddr.is_unspecified() {
        let mut fl4 = crate::flow::Flowi4::new(saddr, std::net::Ipv4Addr::UNSPECIFIED);
        fl4.flowi4_iif = crate::netns::LOOPBACK_IFINDEX;
        fl4.flowi4_dscp = h.tos() & 0xfc;
        fl4.flowi4_mark = if ns.in_dev(skb.dev).is_some_and(|i| ns.in_dev_src_vmark(i)) {
            skb.mark
        } else {
            0
        };
        if let Ok(res) = crate::ipv4::fib_rules::fib_lookup(ns, &fl4, 0, &mut crate::trace::NoTrace)
            && let Some(fi) = res.fi.map(|id| ns.fib.info(id))
        {
            return fi.fib_prefsrc.unwrap_or_else(|| {
                fi.fib_nh
                    .get(res.nh_sel)
                    .map_or(std::net::Ipv4Addr::UNSPECIFIED, |nh| nh.nh_saddr)
            });
        }
    } else {
        scope = crate::uapi::RtScope::RT_SCOPE_LINK;
    }
    crate::ipv4::devinet::inet_select_addr(ns, skb.dev, saddr, scope)
}

/// Routes a reply the host builds (`ip_route_output`) and sends it.
fn send_reply<T: Tracer>(
    ns: &mut Netns,
    pkt: &mut [u8],
    src: std::net::Ipv4Addr,
    dst: std::net::Ipv4Addr,
    tos: u8,
    built: impl FnOnce(&mut Netns),
    t: &mut T,
) {
    let _ = t;
    let mut fl4 = crate::flow::Flowi4::new(dst, src);
    fl4.flowi4_dscp = tos & 0xfc;
    let mut res = crate::flow::FibResult::empty();
    if let Ok(rt) = crate::ipv4::route_output::ip_route_output_key_hash_rcu(
        ns,
        &mut fl4,
        &mut res,
        &mut crate::trace::NoTrace,
    ) {
        built(ns);
        let _ = crate::ipv4::ip_output::ip_local_out(ns, &rt, pkt, &mut crate::trace::NoTrace);
    }
}

/// Kernel: `udp_rcv`: no socket is bound here, so a unicast datagram gets
/// ICMP port unreachable and is dropped (`NO_SOCKET`).
fn udp_rcv<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    let len = transport(skb).len();
    // __udp4_lib_rcv: the UDP length must fit the packet and hold the
    // header; the packet is then trimmed to it (pskb_trim_rcsum).
    let ulen = if len >= 8 {
        u16::from_be_bytes([transport(skb)[4], transport(skb)[5]]) as usize
    } else {
        0
    };
    if len < 8 {
        // pskb_may_pull of the header fails: the plain drop label.
        ns.mib.udp.InErrors += 1;
        return drop(skb, KernelFn::udp_rcv, SkbDropReason::NOT_SPECIFIED, t);
    }
    if ulen > len || ulen < 8 {
        ns.mib.udp.InErrors += 1;
        return drop(skb, KernelFn::udp_rcv, SkbDropReason::PKT_TOO_SMALL, t);
    }
    // pskb_trim_rcsum: the skb ends where the datagram does (an ICMP error
    // quotes no more).
    let th = skb.transport_header as usize - skb.network_header as usize;
    skb.len = skb.len.min((th + ulen) as u32);
    if !l4_csum_ok(skb, IPPROTO_UDP) {
        ns.mib.udp.InCsumErrors += 1;
        ns.mib.udp.InErrors += 1;
        return drop(skb, KernelFn::udp_rcv, SkbDropReason::UDP_CSUM, t);
    }
    let rt = skb.dst.expect("routed");
    let (daddr, dport) = {
        let nh = skb.network_header as usize;
        let th = transport(skb);
        (
            Iphdr(&skb.data[nh..]).daddr(),
            u16::from_be_bytes([th[2], th[3]]),
        )
    };
    let found = ns.socket_lookup(IPPROTO_UDP, daddr, dport).is_some();
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::udp_rcv,
            Check::SocketLookup {
                protocol: IPPROTO_UDP,
                daddr,
                dport,
                found,
            },
            Branch::Next,
        ));
    }
    if found {
        // udp_recvmsg counts it when the reader takes it: a declared socket
        // stands for a program that reads.
        ns.mib.udp.InDatagrams += 1;
        skb.delivered = true;
        return NetRx::Success;
    }
    if rt.rt_flags.0 & (RtcFlags::RTCF_BROADCAST.0 | RtcFlags::RTCF_MULTICAST.0) != 0 {
        // __udp4_lib_mcast_deliver: no socket joined, the datagram is freed.
        return drop(skb, KernelFn::udp_rcv, SkbDropReason::NOT_SPECIFIED, t);
    }
    ns.mib.udp.NoPorts += 1;
    icmp_send(ns, skb, ICMP_DEST_UNREACH, 3, 0, t);
    drop(skb, KernelFn::udp_rcv, SkbDropReason::NO_SOCKET, t)
}

/// Kernel: `tcp_v4_rcv` with no listening socket: a segment without RST is
/// answered with a reset (`tcp_v4_send_reset`) and dropped (`NO_SOCKET`).
fn tcp_v4_rcv<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    if skb.pkt_type != PacketType::Host {
        return drop(skb, KernelFn::tcp_v4_rcv, SkbDropReason::NOT_SPECIFIED, t);
    }
    // Counted even when bad.
    ns.mib.tcp.InSegs += 1;
    let th = transport(skb);
    if th.len() < 20 {
        // pskb_may_pull of the header fails: discard_it.
        return drop(skb, KernelFn::tcp_v4_rcv, SkbDropReason::NOT_SPECIFIED, t);
    }
    let doff = (th[12] >> 4) as usize;
    if doff < 5 {
        // bad_packet.
        ns.mib.tcp.InErrs += 1;
        return drop(skb, KernelFn::tcp_v4_rcv, SkbDropReason::PKT_TOO_SMALL, t);
    }
    if doff * 4 > th.len() {
        return drop(skb, KernelFn::tcp_v4_rcv, SkbDropReason::NOT_SPECIFIED, t);
    }
    if !l4_csum_ok(skb, IPPROTO_TCP) {
        ns.mib.tcp.InCsumErrors += 1;
        ns.mib.tcp.InErrs += 1;
        return drop(skb, KernelFn::tcp_v4_rcv, SkbDropReason::TCP_CSUM, t);
    }
    let th = transport(skb);
    let flags = th[13];
    let rst = flags & 0x04 != 0;
    let dport = u16::from_be_bytes([th[2], th[3]]);
    let nh = skb.network_header as usize;
    let daddr = Iphdr(&skb.data[nh..]).daddr();
    let found = ns.socket_lookup(IPPROTO_TCP, daddr, dport).is_some();
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::tcp_v4_rcv,
            Check::SocketLookup {
                protocol: IPPROTO_TCP,
                daddr,
                dport,
                found,
            },
            Branch::Next,
        ));
    }
    if found {
        // A listener takes it (its SYN-ACK, with a random initial sequence
        // number, is not modelled).
        skb.delivered = true;
        return NetRx::Success;
    }
    let rt = skb.dst.expect("routed");
    if !rst && rt.rt_type == RouteType::RTN_LOCAL {
        tcp_v4_send_reset(ns, skb, t);
        ns.mib.tcp.OutSegs += 1;
        ns.mib.tcp.OutRsts += 1;
    }
    drop(skb, KernelFn::tcp_v4_rcv, SkbDropReason::NO_SOCKET, t)
}

fn tcp_v4_send_reset<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) {
    let nh = skb.network_header as usize;
    let h = Iphdr(&skb.data[nh..]);
    let (src, dst, tos) = (h.daddr(), h.saddr(), h.tos() & 0xfc);
    let th = transport(skb);
    let sport = [th[2], th[3]];
    let dport = [th[0], th[1]];
    let seq = u32::from_be_bytes([th[4], th[5], th[6], th[7]]);
    let ack = u32::from_be_bytes([th[8], th[9], th[10], th[11]]);
    let doff = (th[12] >> 4) as usize * 4;
    let flags = th[13];
    let payload = th.len().saturating_sub(doff) as u32;
    let (rseq, rack, rflags) = if flags & 0x10 != 0 {
        (ack, 0u32, 0x04u8)
    } else {
        let a = seq
            .wrapping_add(payload)
            .wrapping_add((flags & 0x02 != 0) as u32)
            .wrapping_add((flags & 0x01 != 0) as u32);
        (0, a, 0x14)
    };
    let mut pkt = std::mem::take(&mut ns.scratch);
    pkt.clear();
    pkt.extend_from_slice(&[
        0x45,
        tos,
        0,
        40,
        0,
        0,
        0x40,
        0,
        ns.sysctl.ip_default_ttl as u8,
        IPPROTO_TCP,
        0,
        0,
    ]);
    pkt.extend_from_slice(&src.octets());
    pkt.extend_from_slice(&dst.octets());
    pkt.extend_from_slice(&sport);
    pkt.extend_from_slice(&dport);
    pkt.extend_from_slice(&rseq.to_be_bytes());
    pkt.extend_from_slice(&rack.to_be_bytes());
    pkt.extend_from_slice(&[0x50, rflags, 0, 0, 0, 0, 0, 0]);
    // TCP checksum over the pseudo-header.
    let mut ph = [0u8; 12 + 20];
    ph[0..4].copy_from_slice(&src.octets());
    ph[4..8].copy_from_slice(&dst.octets());
    ph[9] = IPPROTO_TCP;
    ph[10..12].copy_from_slice(&20u16.to_be_bytes());
    ph[12..].copy_from_slice(&pkt[20..40]);
    let c = ip_compute_csum(&ph);
    pkt[36..38].copy_from_slice(&c.to_be_bytes());
    let c = ip_compute_csum(&pkt[..20]);
    pkt[10..12].copy_from_slice(&c.to_be_bytes());
    send_reply(ns, &mut pkt, src, dst, tos, |_| {}, t);
    ns.scratch = pkt;
}

/// Kernel: `dst_discard`: the input of a route that must not carry
/// packets (a multicast group that is not ours): free the packet.
pub fn dst_discard<T: Tracer>(_ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    drop(skb, KernelFn::dst_discard, SkbDropReason::NOT_SPECIFIED, t)
}

/// Kernel: `ip_mr_input`: multicast forwarding. No multicast routing
/// daemon is modelled, so nothing is forwarded and the packet is freed.
pub fn ip_mr_input<T: Tracer>(_ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    drop(skb, KernelFn::ip_mr_input, SkbDropReason::NOT_SPECIFIED, t)
}

/// Whether an skb carries IPv4 (for callers before `ip_rcv`).
pub fn is_ipv4(skb: &SkBuff<'_>) -> bool {
    skb.protocol == ETH_P_IP
}
