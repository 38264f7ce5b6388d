//! Models `inet_rtm_getroute` and `rt_fill_info` (net/ipv4/route.c): what the
//! kernel answers to `ip route get`. With `iif` the input path decides on a
//! dummy packet; without it, the output path.

use std::net::Ipv4Addr;

use crate::core::dropreason::SkbDropReason;
use crate::core::skbuff::{IpskbFlags, SkBuff};
use crate::flow::FibResult;
use crate::ipv4::route::{ip_error_verdict, ip_route_input_rcu};
use crate::netns::{IfIndex, Netns};
use crate::trace::{KernelFn, Tracer};
use crate::uapi::{Errno, RouteType, RtcFlags};

/// `RTM_F_CLONED`: the answer is a route cache entry, not a FIB entry.
pub const RTM_F_CLONED: u32 = 0x200;

/// The request of `ip route get DST [from SRC] [iif DEV] [oif DEV] [tos T] [mark M]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteGetRequest {
    /// `DST`.
    pub dst: Ipv4Addr,
    /// `from SRC` (0.0.0.0 when not given).
    pub src: Ipv4Addr,
    /// `iif DEV`.
    pub iif: Option<IfIndex>,
    /// `oif DEV`.
    pub oif: Option<IfIndex>,
    /// `tos T` (`rtm_tos`).
    pub tos: u8,
    /// `mark M`.
    pub mark: u32,
    /// `ipproto` (UDP when not given, as the kernel's dummy packet).
    pub ip_proto: u8,
    /// `sport` (`RTA_SPORT`), for TCP and UDP.
    pub sport: u16,
    /// `dport` (`RTA_DPORT`).
    pub dport: u16,
}

impl RouteGetRequest {
    /// A request for `dst` with everything else unset.
    pub fn new(dst: Ipv4Addr) -> Self {
        RouteGetRequest {
            dst,
            src: Ipv4Addr::UNSPECIFIED,
            iif: None,
            oif: None,
            tos: 0,
            mark: 0,
            ip_proto: 17,
            sport: 0,
            dport: 0,
        }
    }
}

/// The answer `rt_fill_info` builds for a successful `ip route get`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteGetReply {
    /// `rtm_type`.
    pub rt_type: RouteType,
    /// `RTA_DST`.
    pub dst: Ipv4Addr,
    /// `RTA_SRC`: the request's source, when one was given.
    pub src: Option<Ipv4Addr>,
    /// `rtm_tos`: the matched route's TOS (0 = none).
    pub tos: u8,
    /// `RTA_GATEWAY`, when the route uses a gateway.
    pub gateway: Option<Ipv4Addr>,
    /// `RTA_OIF`.
    pub dev: IfIndex,
    /// `RTA_TABLE` (0 = none).
    pub table: u32,
    /// `rtm_flags`: the upper bits of `rt_flags`, `RTM_F_CLONED` and `RTCF_DOREDIRECT`.
    pub rtm_flags: u32,
    /// `RTA_PREFSRC` (output path, when it differs from the request's source).
    pub prefsrc: Option<Ipv4Addr>,
    /// `RTA_MARK` (nonzero).
    pub mark: u32,
    /// `RTA_UID` (output path).
    pub uid: Option<u32>,
    /// `RTA_IIF` (input path).
    pub iif: Option<IfIndex>,
    /// The `mtu` metric, when the route has one.
    pub mtu: Option<u32>,
}

/// A failed `ip route get`: the errno `ip` prints after `RTNETLINK answers:`
/// and the reason a real packet on this path would be dropped with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteGetError {
    /// The error.
    pub errno: Errno,
    /// The packet's drop reason, when a packet would be dropped.
    pub drop_reason: Option<SkbDropReason>,
}

/// The bytes of the dummy packet `inet_rtm_getroute` routes: an IPv4 header
/// and 8 bytes of UDP/TCP/ICMP header.
pub type DummyPacket = [u8; 28];

/// Kernel: `inet_rtm_getroute`. `buf` holds the dummy packet (no allocation).
pub fn inet_rtm_getroute<T: Tracer>(
    ns: &mut Netns,
    req: &RouteGetRequest,
    buf: &mut DummyPacket,
    t: &mut T,
) -> Result<RouteGetReply, RouteGetError> {
    t.enter(KernelFn::inet_rtm_getroute);
    let r = match req.iif {
        Some(iif) => getroute_input(ns, req, iif, buf, t),
        None => crate::ipv4::route_output::getroute_output(ns, req, t),
    };
    t.leave();
    r
}

fn getroute_input<T: Tracer>(
    ns: &mut Netns,
    req: &RouteGetRequest,
    iif: IfIndex,
    buf: &mut DummyPacket,
    t: &mut T,
) -> Result<RouteGetReply, RouteGetError> {
    *buf = [0; 28];
    buf[0] = 0x45;
    buf[1] = req.tos;
    buf[3] = 28;
    buf[8] = 64;
    buf[9] = req.ip_proto;
    buf[12..16].copy_from_slice(&req.src.octets());
    buf[16..20].copy_from_slice(&req.dst.octets());
    // inet_rtm_getroute_build_skb: the ports of a TCP or UDP header, an
    // echo request for ICMP.
    match req.ip_proto {
        6 | 17 => {
            buf[20..22].copy_from_slice(&req.sport.to_be_bytes());
            buf[22..24].copy_from_slice(&req.dport.to_be_bytes());
        }
        1 => buf[20] = 8,
        _ => {}
    }
    let mut skb = SkBuff::new(&mut buf[..], iif, 0);
    skb.mark = req.mark;
    skb.ip_protocol = req.ip_proto;
    let mut res = FibResult::empty();
    let dscp = req.tos & 0xfc;
    let r = ip_route_input_rcu(ns, &mut skb, req.dst, req.src, dscp, iif, &mut res, t);
    if let Err(reason) = r {
        return Err(RouteGetError {
            errno: Errno::EINVAL,
            drop_reason: Some(reason),
        });
    }
    let Some(rt) = skb.dst else {
        return Err(RouteGetError {
            errno: Errno::EINVAL,
            drop_reason: Some(SkbDropReason::NOT_SPECIFIED),
        });
    };
    if rt.dst.error.0 != 0 {
        let fwd = ns.in_dev(iif).map(|i| ns.in_dev_forward(i));
        let v = ip_error_verdict(fwd, rt.dst.error);
        return Err(RouteGetError {
            errno: rt.dst.error,
            drop_reason: Some(v.reason),
        });
    }
    let mut rtm_flags = (rt.rt_flags.0 & !0xffff) | RTM_F_CLONED;
    if skb.cb.flags.contains(IpskbFlags::IPSKB_DOREDIRECT) {
        rtm_flags |= RtcFlags::RTCF_DOREDIRECT.0;
    }
    Ok(RouteGetReply {
        rt_type: rt.rt_type,
        dst: req.dst,
        src: (!req.src.is_unspecified()).then_some(req.src),
        tos: res.dscp,
        gateway: rt.rt_uses_gateway.then_some(rt.rt_gw4),
        dev: rt.dst.dev,
        table: res.table,
        rtm_flags,
        prefsrc: None,
        mark: req.mark,
        uid: None,
        iif: Some(iif),
        mtu: (rt.mtu_metric != 0).then_some(rt.mtu_metric),
    })
}
