//! Models the sending side of net/ipv4/icmp.c: `icmp_send` / `__icmp_send`
//! with the rules on when not to send, the rate limits
//! (`icmpv4_global_allow`: `icmp_msgs_per_sec` / `icmp_msgs_burst`;
//! `icmpv4_xrlim_allow`: the per-destination token bucket of `icmp_ratelimit`
//! for the types in `icmp_ratemask`), the source address choice and the
//! message itself (at most 576 bytes, quoting the offending packet), sent
//! through the output route.

use std::net::Ipv4Addr;

use crate::core::skbuff::{IcmpOut, PacketType, SkBuff};
use crate::flow::{FibResult, Flowi4};
use crate::ipv4::devinet::inet_select_addr;
use crate::ipv4::ip_hdr::{IP_OFFSET, Iphdr, ip_compute_csum};
use crate::ipv4::route_output::ip_route_output_key_hash_rcu;
use crate::netns::{LOOPBACK_IFINDEX, Netns};
use crate::trace::{NoTrace, Tracer};
use crate::uapi::{DevFlags, RtScope, RtcFlags};

/// `ICMP_ECHOREPLY`.
pub const ICMP_ECHOREPLY: u8 = 0;
/// `ICMP_DEST_UNREACH`.
pub const ICMP_DEST_UNREACH: u8 = 3;
/// `ICMP_REDIRECT`.
pub const ICMP_REDIRECT: u8 = 5;
/// `ICMP_ECHO`.
pub const ICMP_ECHO: u8 = 8;
/// `ICMP_TIME_EXCEEDED`.
pub const ICMP_TIME_EXCEEDED: u8 = 11;
/// `ICMP_PARAMETERPROB`.
pub const ICMP_PARAMETERPROB: u8 = 12;
/// `ICMP_FRAG_NEEDED` (code of type 3).
pub const ICMP_FRAG_NEEDED: u8 = 4;
/// `IPPROTO_ICMP`.
pub const IPPROTO_ICMP: u8 = 1;
/// `NR_ICMP_TYPES`.
pub const NR_ICMP_TYPES: u8 = 18;

/// `icmp_pointers[type].error`: whether a type is an error message.
pub fn icmp_is_error(t: u8) -> bool {
    matches!(t, 3 | 4 | 5 | 11 | 12)
}

/// The options an ICMP message about a packet carries back
/// (`__ip_options_echo`), before this host fills its slots.
#[derive(Clone, Copy, Debug)]
pub struct EchoOpts {
    /// The option bytes, padded with END to a multiple of 4.
    pub bytes: [u8; 40],
    /// How many bytes of `bytes` are used.
    pub len: usize,
    /// Offset of the echoed record route (`rr_needaddr`: this host records
    /// itself).
    pub rr: Option<usize>,
    /// Offset of the echoed timestamp option, with `ts_needaddr` and
    /// `ts_needtime`.
    pub ts: Option<(usize, bool, bool)>,
    /// Offset of the reversed source route and its first hop (`faddr`):
    /// the message goes there, the final slot holds its destination.
    pub srr: Option<(usize, Ipv4Addr)>,
}

impl EchoOpts {
    /// No options.
    pub const NONE: EchoOpts = EchoOpts {
        bytes: [0; 40],
        len: 0,
        rr: None,
        ts: None,
        srr: None,
    };
}

/// Kernel: `__ip_options_echo` for the options `ip_options_compile` found
/// in `skb`: a record route and a timestamp option come back with one more
/// slot reserved where there is room, a source route reversed (the hops it
/// went through, last first, then a slot for the message's destination),
/// a CIPSO option as it was; then END padding. `None` when the kernel
/// would refuse to echo (a slot that does not fit).
pub fn ip_options_echo(ns: &Netns, skb: &SkBuff<'_>) -> Option<EchoOpts> {
    let nh = skb.network_header as usize;
    let cb = &skb.cb;
    let mut e = EchoOpts::NONE;
    let hdr = &skb.data[nh..];
    let put = |e: &mut EchoOpts, off: usize| -> Option<usize> {
        let optlen = *hdr.get(off + 1)? as usize;
        if optlen < 2 || e.len + optlen > 40 || off + optlen > hdr.len() {
            return None;
        }
        let at = e.len;
        e.bytes[at..at + optlen].copy_from_slice(&hdr[off..off + optlen]);
        e.len += optlen;
        Some(at)
    };
    if cb.opt_rr != 0 {
        let at = put(&mut e, cb.opt_rr as usize)?;
        let optlen = e.bytes[at + 1] as usize;
        let soffset = e.bytes[at + 2] as usize;
        if cb.opt_rr_needaddr && soffset <= optlen {
            if soffset + 3 > optlen {
                return None;
            }
            e.bytes[at + 2] = (soffset + 4) as u8;
            e.rr = Some(at);
        }
    }
    if cb.opt_ts != 0 {
        let at = put(&mut e, cb.opt_ts as usize)?;
        let optlen = e.bytes[at + 1] as usize;
        let mut soffset = e.bytes[at + 2] as usize;
        let (mut needaddr, mut needtime) = (false, false);
        if soffset <= optlen {
            if cb.opt_ts_needaddr {
                if soffset + 3 > optlen {
                    return None;
                }
                needaddr = true;
                soffset += 4;
            }
            if cb.opt_ts_needtime {
                if soffset + 3 > optlen {
                    return None;
                }
                if e.bytes[at + 3] & 0xf != 3 {
                    needtime = true;
                    soffset += 4;
                } else if soffset + 7 <= optlen {
                    let b = &e.bytes[at + soffset - 1..at + soffset + 3];
                    let a = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
                    if ns.inet_lookup_ifaddr(a).is_some() {
                        needtime = true;
                        soffset += 8;
                    }
                }
            }
            e.bytes[at + 2] = soffset as u8;
        }
        e.ts = Some((at, needaddr, needtime));
    }
    if cb.opt_srr != 0 {
        let o = cb.opt_srr as usize;
        let start = hdr.get(o..o + (*hdr.get(o + 1)? as usize))?;
        let optlen = start[1] as usize;
        let mut soffset = start[2] as usize;
        if soffset > optlen {
            soffset = optlen + 1;
        }
        let mut doffset = 0usize;
        let mut faddr = Ipv4Addr::UNSPECIFIED;
        let at = e.len;
        if soffset >= 4 && soffset - 4 > 3 {
            soffset -= 4;
            let a = |p: usize| Ipv4Addr::new(start[p - 1], start[p], start[p + 1], start[p + 2]);
            faddr = a(soffset);
            soffset -= 4;
            doffset = 4;
            while soffset > 3 {
                if at + doffset + 3 > 40 {
                    return None;
                }
                e.bytes[at + doffset - 1..at + doffset + 3].copy_from_slice(&a(soffset).octets());
                soffset -= 4;
                doffset += 4;
            }
            // RFC 1812: a route whose first hop is the sender itself loses it.
            let saddr = crate::ipv4::ip_hdr::Iphdr(hdr).saddr();
            if hdr.get(o + soffset + 3..o + soffset + 7) == Some(&saddr.octets()[..]) {
                doffset -= 4;
            }
        }
        if doffset > 3 {
            if at + doffset + 3 > 40 {
                return None;
            }
            e.bytes[at] = start[0];
            e.bytes[at + 1] = (doffset + 3) as u8;
            e.bytes[at + 2] = 4;
            e.len += doffset + 3;
            e.srr = Some((at, faddr));
        }
    }
    if cb.opt_cipso != 0 {
        put(&mut e, cb.opt_cipso as usize)?;
    }
    while !e.len.is_multiple_of(4) {
        e.bytes[e.len] = 0;
        e.len += 1;
    }
    Some(e)
}

/// Kernel: `ip_options_build` for echoed options written at `opts` (the
/// new header's option bytes): the message's final destination `daddr`
/// into a reversed source route's last slot, this host's address `src` and
/// the time into the slots `ip_options_echo` reserved.
pub fn ip_options_build(ns: &Netns, opts: &mut [u8], e: &EchoOpts, src: Ipv4Addr, daddr: Ipv4Addr) {
    if let Some((at, _)) = e.srr {
        let l = opts[at + 1] as usize;
        opts[at + l - 4..at + l].copy_from_slice(&daddr.octets());
    }
    if let Some(at) = e.rr {
        let p = opts[at + 2] as usize;
        opts[at + p - 5..at + p - 1].copy_from_slice(&src.octets());
    }
    if let Some((at, needaddr, needtime)) = e.ts {
        let p = opts[at + 2] as usize;
        if needaddr {
            opts[at + p - 9..at + p - 5].copy_from_slice(&src.octets());
        }
        if needtime {
            opts[at + p - 5..at + p - 1]
                .copy_from_slice(&crate::ipv4::ip_input::inet_current_timestamp(ns));
        }
    }
}

/// Kernel: `icmpv4_mask_allow`: types outside `icmp_ratemask`, and
/// fragmentation-needed, are never rate limited.
pub fn icmpv4_mask_allow(ns: &Netns, t: u8, code: u8) -> bool {
    if t > NR_ICMP_TYPES {
        return true;
    }
    if t == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED {
        return true;
    }
    (1i64 << t) & ns.sysctl.icmp_ratemask == 0
}

/// Kernel: `icmp_global_allow`: the namespace-wide bucket refilled at
/// `icmp_msgs_per_sec` up to `icmp_msgs_burst`.
pub fn icmp_global_allow(ns: &mut Netns) -> bool {
    if ns.icmp_global_credit > 0 {
        return true;
    }
    let now = ns.jiffies;
    let delta = now.wrapping_sub(ns.icmp_global_stamp).min(crate::HZ);
    if delta < crate::HZ / 50 {
        return false;
    }
    let incr = ns.sysctl.icmp_msgs_per_sec * delta as i64 / crate::HZ as i64;
    if incr == 0 {
        return false;
    }
    ns.icmp_global_stamp = now;
    ns.icmp_global_credit = (ns.icmp_global_credit + incr).min(ns.sysctl.icmp_msgs_burst);
    true
}

/// Kernel: `inet_peer_xrlim_allow`: the per-peer token bucket, capped at 6
/// times the cost. Tokens are only added (and capped) when time has passed
/// since the peer's last use, so a bucket that `ip_error` just charged in
/// the same jiffy is not reset by a zero cost.
pub fn inet_peer_xrlim_allow(ns: &mut Netns, peer: Ipv4Addr, timeout: u64) -> bool {
    let now = ns.jiffies;
    let p = ns.peers.get(peer, now);
    let mut token = p.rate_tokens;
    let delta = now.wrapping_sub(p.rate_last);
    if delta != 0 {
        p.rate_last = now;
        token = (token + delta).min(6 * timeout);
    }
    let rc = token >= timeout;
    if rc {
        token -= timeout;
    }
    p.rate_tokens = token;
    rc
}

/// Kernel: `icmp_send(skb_in, type, code, info)`: sends an ICMP error about
/// the packet in `skb` (its IP header at `skb.network_header`) unless a rule
/// or a rate limit forbids it. Records the error in `skb.icmp` when sent.
pub fn icmp_send<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    icmp_type: u8,
    code: u8,
    info: u32,
    t: &mut T,
) {
    let Some(rt) = skb.dst else { return };
    let nh = skb.network_header as usize;
    if skb.data.len() < nh + 20 {
        return;
    }
    if skb.pkt_type != PacketType::Host {
        return;
    }
    if rt.rt_flags.0 & (RtcFlags::RTCF_BROADCAST.0 | RtcFlags::RTCF_MULTICAST.0) != 0 {
        return;
    }
    let iph = Iphdr(&skb.data[nh..]);
    if iph.frag_off() & IP_OFFSET != 0 {
        return;
    }
    let ihl = iph.ihl() as usize * 4;
    if icmp_is_error(icmp_type) && iph.protocol() == IPPROTO_ICMP {
        match skb.data.get(nh + ihl) {
            None => return,
            Some(&it) if it > NR_ICMP_TYPES || icmp_is_error(it) => return,
            _ => {}
        }
    }
    let in_lo = ns
        .dev(skb.dev)
        .is_some_and(|d| d.flags.contains(DevFlags::IFF_LOOPBACK));
    let mut apply_ratelimit = false;
    if !in_lo && !icmpv4_mask_allow(ns, icmp_type, code) {
        if icmp_global_allow(ns) {
            apply_ratelimit = true;
        } else {
            ns.mib.icmp.OutRateLimitGlobal += 1;
            return;
        }
    }
    // icmp_xmit_lock: the ICMP socket is busy sending an echo reply or
    // another error (a REJECT at OUTPUT of the host's own ICMP): no error
    // about it is sent.
    if ns.icmp_xmit_lock {
        return;
    }
    let (iph_saddr, iph_daddr, iph_tos) = (iph.saddr(), iph.daddr(), iph.tos());
    let mut saddr = iph_daddr;
    if !rt.rt_flags.contains(RtcFlags::RTCF_LOCAL) {
        saddr = Ipv4Addr::UNSPECIFIED;
        if rt.rt_is_input && ns.sysctl.icmp_errors_use_inbound_ifaddr != 0 {
            saddr = inet_select_addr(ns, skb.cb.iif, iph_saddr, RtScope::RT_SCOPE_LINK);
        }
    }
    let tos = if icmp_is_error(icmp_type) {
        (iph_tos & 0x1e) | 0xc0
    } else {
        iph_tos
    };
    // __ip_options_echo: the options that go back; a reversed source
    // route sends the error to its first hop.
    let mut echo = ip_options_echo(ns, skb).unwrap_or(EchoOpts::NONE);
    let to = echo.srr.map_or(iph_saddr, |(_, faddr)| faddr);
    // icmp_route_lookup: the route back to the packet's source.
    let mut fl4 = Flowi4::new(to, saddr);
    fl4.flowi4_dscp = tos & 0xfc;
    fl4.flowi4_proto = IPPROTO_ICMP;
    fl4.flowi4_iif = LOOPBACK_IFINDEX;
    let mut res = FibResult::empty();
    let Ok(rrt) = ip_route_output_key_hash_rcu(ns, &mut fl4, &mut res, &mut NoTrace) else {
        return;
    };
    // Per-peer limit, unless the reply leaves on loopback.
    if apply_ratelimit {
        let out_lo = ns
            .dev(rrt.dst.dev)
            .is_some_and(|d| d.flags.contains(DevFlags::IFF_LOOPBACK));
        if !out_lo {
            let timeout = (ns.sysctl.icmp_ratelimit.max(0) as u64 * crate::HZ).div_ceil(1000);
            if !inet_peer_xrlim_allow(ns, fl4.daddr, timeout) {
                ns.mib.icmp.OutRateLimitHost += 1;
                return;
            }
            // icmp_global_consume (the kernel takes 0 to 2 credits at random).
            ns.icmp_global_credit -= 1;
        }
    }
    let mtu = crate::ipv4::ip_output::route_mtu(ns, &rrt) as usize;
    let src = if fl4.saddr.is_unspecified() {
        Ipv4Addr::new(192, 0, 0, 8)
    } else {
        fl4.saddr
    };
    let hl = 20 + echo.len;
    let plan = echo;
    ip_options_build(ns, &mut echo.bytes, &plan, src, iph_saddr);
    let room = mtu.min(576) - hl - 8;
    let quoted_len = (skb.len as usize).min(room).min(skb.data.len() - nh);
    let mut pkt = std::mem::take(&mut ns.scratch);
    pkt.clear();
    let total = hl + 8 + quoted_len;
    pkt.extend_from_slice(&[0x40 | (hl / 4) as u8, tos]);
    pkt.extend_from_slice(&(total as u16).to_be_bytes());
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
    pkt.extend_from_slice(&to.octets());
    pkt.extend_from_slice(&echo.bytes[..echo.len]);
    let c = ip_compute_csum(&pkt[..hl]);
    pkt[10..12].copy_from_slice(&c.to_be_bytes());
    pkt.extend_from_slice(&[icmp_type, code, 0, 0]);
    pkt.extend_from_slice(&info.to_be_bytes());
    pkt.extend_from_slice(&skb.data[nh..nh + quoted_len]);
    let c = ip_compute_csum(&pkt[hl..]);
    pkt[hl + 2..hl + 4].copy_from_slice(&c.to_be_bytes());
    ns.mib.icmp.OutMsgs += 1;
    match icmp_type {
        ICMP_DEST_UNREACH => {
            ns.mib.icmp.OutDestUnreachs += 1;
            ns.mib.icmp_msg.OutType3 += 1;
        }
        ICMP_TIME_EXCEEDED => {
            ns.mib.icmp.OutTimeExcds += 1;
            ns.mib.icmp_msg.OutType11 += 1;
        }
        ICMP_PARAMETERPROB => {
            ns.mib.icmp.OutParmProbs += 1;
            ns.mib.icmp_msg.OutType12 += 1;
        }
        ICMP_REDIRECT => {
            ns.mib.icmp.OutRedirects += 1;
            ns.mib.icmp_msg.OutType5 += 1;
        }
        _ => {}
    }
    if T::ENABLED {
        t.step(crate::trace::Step::new(
            crate::trace::KernelFn::icmp_send,
            crate::trace::Check::IcmpSent { icmp_type, code },
            crate::trace::Branch::Next,
        ));
    }
    // icmp_glue_bits: an error belongs to the connection of the packet it
    // quotes (nf_ct_attach), as a related packet in the other direction.
    let nfct = match skb.nfct {
        crate::netfilter::conntrack::Nfct::Ct { idx, ctinfo } if icmp_is_error(icmp_type) => {
            use crate::netfilter::conntrack::{IpConntrackDir, IpConntrackInfo};
            crate::netfilter::conntrack::Nfct::Ct {
                idx,
                ctinfo: if ctinfo.dir() == IpConntrackDir::Original {
                    IpConntrackInfo::RelatedReply
                } else {
                    IpConntrackInfo::Related
                },
            }
        }
        crate::netfilter::conntrack::Nfct::Untracked if icmp_is_error(icmp_type) => {
            crate::netfilter::conntrack::Nfct::Untracked
        }
        _ => crate::netfilter::conntrack::Nfct::None,
    };
    ns.icmp_xmit_lock = true;
    let sent = crate::ipv4::ip_output::ip_send_skb(ns, &rrt, &mut pkt, nfct, &mut NoTrace);
    ns.icmp_xmit_lock = false;
    // What went back is what the hooks let out.
    if sent != Err(crate::SkbDropReason::NETFILTER_DROP) && skb.icmp.is_none() {
        skb.icmp = Some(IcmpOut { icmp_type, code });
    }
    ns.scratch = pkt;
}
