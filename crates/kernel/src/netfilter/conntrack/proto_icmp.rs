//! Models net/netfilter/nf_conntrack_proto_icmp.c: the ICMP tuple (id,
//! type, code) and its inverse (a request's reply type), the tracker's
//! packet function (only requests open a connection; `icmp_timeout`), and
//! `nf_conntrack_icmpv4_error` with `nf_conntrack_inet_error`: an ICMP
//! error is RELATED to the connection its quoted header belongs to.

use crate::netfilter::NfInetHook;
use crate::netfilter::NfSysctl;
use crate::netfilter::conntrack::nf_conntrack_core::{
    HZ, IPPROTO_ICMP, Ip4, L4Verdict, NfConn, NfConntrack, PktCtx, nf_ct_get_tuple,
    nf_ip_checksum_bad,
};
use crate::netfilter::conntrack::{IpConntrackDir, IpConntrackInfo, Nfct};

/// `ICMP_ECHOREPLY`.
pub const ICMP_ECHOREPLY: u8 = 0;
/// `ICMP_DEST_UNREACH`.
pub const ICMP_DEST_UNREACH: u8 = 3;
/// `ICMP_SOURCE_QUENCH`.
pub const ICMP_SOURCE_QUENCH: u8 = 4;
/// `ICMP_REDIRECT`.
pub const ICMP_REDIRECT: u8 = 5;
/// `ICMP_ECHO`.
pub const ICMP_ECHO: u8 = 8;
/// `ICMP_TIME_EXCEEDED`.
pub const ICMP_TIME_EXCEEDED: u8 = 11;
/// `ICMP_PARAMETERPROB`.
pub const ICMP_PARAMETERPROB: u8 = 12;
/// `ICMP_TIMESTAMP`.
pub const ICMP_TIMESTAMP: u8 = 13;
/// `ICMP_TIMESTAMPREPLY`.
pub const ICMP_TIMESTAMPREPLY: u8 = 14;
/// `ICMP_INFO_REQUEST`.
pub const ICMP_INFO_REQUEST: u8 = 15;
/// `ICMP_INFO_REPLY`.
pub const ICMP_INFO_REPLY: u8 = 16;
/// `ICMP_ADDRESS`.
pub const ICMP_ADDRESS: u8 = 17;
/// `ICMP_ADDRESSREPLY`.
pub const ICMP_ADDRESSREPLY: u8 = 18;
/// `NR_ICMP_TYPES`: the highest type conntrack accepts.
pub const NR_ICMP_TYPES: u8 = 18;

/// The request/reply pairs (`invmap` of `icmp_invert_tuple`): the type of
/// the other direction, None for a type that has none.
pub const fn icmp_invert_type(t: u8) -> Option<u8> {
    match t {
        ICMP_ECHO => Some(ICMP_ECHOREPLY),
        ICMP_ECHOREPLY => Some(ICMP_ECHO),
        ICMP_TIMESTAMP => Some(ICMP_TIMESTAMPREPLY),
        ICMP_TIMESTAMPREPLY => Some(ICMP_TIMESTAMP),
        ICMP_INFO_REQUEST => Some(ICMP_INFO_REPLY),
        ICMP_INFO_REPLY => Some(ICMP_INFO_REQUEST),
        ICMP_ADDRESS => Some(ICMP_ADDRESSREPLY),
        ICMP_ADDRESSREPLY => Some(ICMP_ADDRESS),
        _ => None,
    }
}

/// `icmp_is_err`: the types that quote the packet they answer.
pub const fn icmp_is_err(t: u8) -> bool {
    matches!(
        t,
        ICMP_DEST_UNREACH
            | ICMP_SOURCE_QUENCH
            | ICMP_TIME_EXCEEDED
            | ICMP_PARAMETERPROB
            | ICMP_REDIRECT
    )
}

/// Whether the type carries an identifier (the query types NAT maps).
pub const fn icmp_has_id(t: u8) -> bool {
    icmp_invert_type(t).is_some()
}

/// Kernel: `icmp_pkt_to_tuple`: (id, type << 8 | code); None when the
/// header is short.
pub(crate) fn icmp_pkt_to_tuple(l4: &[u8]) -> Option<(u16, u16)> {
    if l4.len() < 8 {
        return None;
    }
    Some((
        u16::from_be_bytes([l4[4], l4[5]]),
        (l4[0] as u16) << 8 | l4[1] as u16,
    ))
}

/// Kernel: `nf_conntrack_icmp_packet`: only a request type may own a
/// connection (an echo reply nobody asked for is INVALID).
pub(crate) fn nf_conntrack_icmp_packet(conn: &mut NfConn, p: &PktCtx<'_>) -> L4Verdict {
    let t = conn.tuple[0].icmp_type();
    if !matches!(
        t,
        ICMP_ECHO | ICMP_TIMESTAMP | ICMP_INFO_REQUEST | ICMP_ADDRESS
    ) {
        return L4Verdict::Invalid;
    }
    conn.refresh(p.now, p.sysctl.icmp_timeout as u64 * HZ);
    L4Verdict::Accept
}

/// What `nf_conntrack_icmpv4_error` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IcmpError {
    /// Not an error type: tracked as a query.
    NotError,
    /// INVALID (short, bad checksum, unknown type, or an error about no
    /// connection of ours).
    Invalid,
    /// RELATED to a connection.
    Related(Nfct),
}

/// Kernel: `nf_conntrack_icmpv4_error` and `nf_conntrack_inet_error`.
pub(crate) fn nf_conntrack_icmpv4_error(
    ct: &mut NfConntrack,
    sysctl: &NfSysctl,
    pkt: &[u8],
    ip: &Ip4,
    dataoff: usize,
    hook: NfInetHook,
    now: u64,
) -> IcmpError {
    let l4 = &pkt[dataoff..ip.len.max(dataoff)];
    if l4.len() < 8 {
        return IcmpError::Invalid;
    }
    if sysctl.checksum
        && hook == NfInetHook::PreRouting
        && !ip.more_frags
        && nf_ip_checksum_bad(pkt, ip, dataoff, IPPROTO_ICMP)
    {
        return IcmpError::Invalid;
    }
    let t = l4[0];
    if t > NR_ICMP_TYPES {
        return IcmpError::Invalid;
    }
    if !icmp_is_err(t) {
        return IcmpError::NotError;
    }
    // The quoted header: its tuple, inverted, is the connection's tuple
    // in the direction the error travels.
    let inner_off = dataoff + 8;
    let Some(inner) = Ip4::parse(&pkt[inner_off..ip.len.max(inner_off)]) else {
        return IcmpError::Invalid;
    };
    if inner.fragoff != 0 {
        return IcmpError::Invalid;
    }
    // The quoted datagram is cut short: its bytes end with the outer one.
    let inner = Ip4 {
        len: ip.len - inner_off,
        ..inner
    };
    if inner.ihl > inner.len {
        return IcmpError::Invalid;
    }
    let Some(orig) = nf_ct_get_tuple(&pkt[inner_off..ip.len], &inner, inner.ihl) else {
        return IcmpError::Invalid;
    };
    let Some(innertuple) = orig.invert() else {
        return IcmpError::Invalid;
    };
    let Some((idx, dir)) = ct.find(&innertuple, now) else {
        return IcmpError::Invalid;
    };
    if ct.conns[idx as usize].tuple[dir as usize].dst != ip.daddr {
        return IcmpError::Invalid;
    }
    let ctinfo = match dir {
        IpConntrackDir::Original => IpConntrackInfo::Related,
        IpConntrackDir::Reply => IpConntrackInfo::RelatedReply,
    };
    IcmpError::Related(Nfct::Ct { idx, ctinfo })
}
