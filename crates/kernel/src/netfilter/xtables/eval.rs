//! Models `ipt_do_table` (net/ipv4/netfilter/ip_tables.c) and the match
//! and target functions of the xt_* modules: the walk of one table's chain
//! for one packet, with jumps, gotos, RETURN and the policy, counting each
//! rule whose matches all hold.

use std::net::Ipv4Addr;

use crate::netfilter::conntrack::{IpConntrackInfo, Nfct, ips};
use crate::netfilter::core::{NfEvent, NfEventKind, NfHookState, NfPacket, NfVerdict};
use crate::netfilter::ipset::SetKey;
use crate::netfilter::nat::{self, NatVerdict, NfNatManipType};
use crate::netfilter::xtables::ip_tables::{IptIp, NatRange, Policy, XtMatch, XtTarget, ctstate};
use crate::netfilter::xtables::xt_limit::limit_mt;
use crate::netfilter::{Netfilter, NfInetHook};
use crate::netns::{IfIndex, Netns};
use crate::trace::{Branch, Check, KernelFn, Step, Tracer};
use crate::uapi::RouteType;

/// The header fields the matches read, parsed once per table walk.
#[derive(Clone, Copy, Debug)]
pub struct NfPktInfo {
    /// `iph->saddr`.
    pub saddr: Ipv4Addr,
    /// `iph->daddr`.
    pub daddr: Ipv4Addr,
    /// `iph->protocol`.
    pub proto: u8,
    /// `iph->ttl`.
    pub ttl: u8,
    /// `iph->tos`.
    pub tos: u8,
    /// `ntohs(iph->tot_len)`.
    pub tot_len: u16,
    /// The fragment offset (`par->fragoff`): non-zero for later fragments.
    pub fragoff: u16,
    /// Whether the L4 header is there (first fragment, long enough).
    pub has_l4: bool,
    /// Source port (TCP/UDP/SCTP/DCCP), or the ICMP id.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// TCP flags.
    pub tcp_flags: u8,
    /// ICMP type.
    pub icmp_type: u8,
    /// ICMP code.
    pub icmp_code: u8,
}

impl NfPktInfo {
    /// Parses the IPv4 header at the start of `pkt` and its L4 header.
    pub fn parse(pkt: &[u8]) -> Self {
        let mut i = NfPktInfo {
            saddr: Ipv4Addr::UNSPECIFIED,
            daddr: Ipv4Addr::UNSPECIFIED,
            proto: 0,
            ttl: 0,
            tos: 0,
            tot_len: 0,
            fragoff: 0,
            has_l4: false,
            sport: 0,
            dport: 0,
            tcp_flags: 0,
            icmp_type: 0,
            icmp_code: 0,
        };
        if pkt.len() < 20 {
            return i;
        }
        let ihl = (pkt[0] & 0x0f) as usize * 4;
        i.tot_len = u16::from_be_bytes([pkt[2], pkt[3]]);
        i.fragoff = u16::from_be_bytes([pkt[6], pkt[7]]) & 0x1fff;
        i.ttl = pkt[8];
        i.tos = pkt[1];
        i.proto = pkt[9];
        i.saddr = Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]);
        i.daddr = Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]);
        if i.fragoff != 0 {
            return i;
        }
        let l4 = pkt.get(ihl..).unwrap_or(&[]);
        match i.proto {
            6 if l4.len() >= 20 => {
                i.has_l4 = true;
                i.sport = u16::from_be_bytes([l4[0], l4[1]]);
                i.dport = u16::from_be_bytes([l4[2], l4[3]]);
                i.tcp_flags = l4[13];
            }
            17 | 136 if l4.len() >= 8 => {
                i.has_l4 = true;
                i.sport = u16::from_be_bytes([l4[0], l4[1]]);
                i.dport = u16::from_be_bytes([l4[2], l4[3]]);
            }
            1 if l4.len() >= 4 => {
                i.has_l4 = true;
                i.icmp_type = l4[0];
                i.icmp_code = l4[1];
                if l4.len() >= 8 {
                    i.sport = u16::from_be_bytes([l4[4], l4[5]]);
                }
            }
            _ => {}
        }
        i
    }
}

fn dev_name(ns: &Netns, dev: IfIndex) -> &str {
    if dev.0 == 0 {
        return "";
    }
    ns.dev(dev).map_or("", |d| d.name.as_str())
}

/// What made a rule not match: the part of its `struct ipt_ip` and the
/// packet's value there, or the index of the match module that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NfMiss {
    /// It matched.
    None,
    /// `-s`: the packet's source.
    Src(Ipv4Addr),
    /// `-d`: the packet's destination.
    Dst(Ipv4Addr),
    /// `-i`: the input device.
    In(IfIndex),
    /// `-o`: the output device.
    Out(IfIndex),
    /// `-p`: the packet's protocol.
    Proto(u8),
    /// `-f`: the packet's fragment offset.
    Frag(u16),
    /// The `-m` match at this index (0-based) did not hold.
    Match(u8),
    /// The match at this index is not modelled.
    Unknown(u8),
}

/// Kernel: `ip_packet_match`: the `struct ipt_ip` part of a rule.
pub fn ip_packet_match(ip: &IptIp, ns: &Netns, state: &NfHookState, p: &NfPktInfo) -> NfMiss {
    if let Some((net, inv)) = ip.src
        && net.contains(&p.saddr) == inv
    {
        return NfMiss::Src(p.saddr);
    }
    if let Some((net, inv)) = ip.dst
        && net.contains(&p.daddr) == inv
    {
        return NfMiss::Dst(p.daddr);
    }
    if let Some(m) = &ip.iniface
        && m.hit(dev_name(ns, state.indev)) == m.invert
    {
        return NfMiss::In(state.indev);
    }
    if let Some(m) = &ip.outiface
        && m.hit(dev_name(ns, state.outdev)) == m.invert
    {
        return NfMiss::Out(state.outdev);
    }
    if let Some((proto, inv)) = ip.proto
        && proto != 0
        && (p.proto == proto) == inv
    {
        return NfMiss::Proto(p.proto);
    }
    if let Some(f) = ip.frag
        && (p.fragoff != 0) != f
    {
        return NfMiss::Frag(p.fragoff);
    }
    NfMiss::None
}

fn ctinfo_state(nfct: Nfct) -> u8 {
    match nfct {
        Nfct::None => ctstate::INVALID,
        Nfct::Untracked => ctstate::UNTRACKED,
        Nfct::Ct { ctinfo, .. } => match ctinfo {
            IpConntrackInfo::New => ctstate::NEW,
            IpConntrackInfo::Established | IpConntrackInfo::EstablishedReply => {
                ctstate::ESTABLISHED
            }
            IpConntrackInfo::Related | IpConntrackInfo::RelatedReply => ctstate::RELATED,
        },
    }
}

/// The outcome of one match: it holds, it fails, or the model cannot say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hit {
    Yes,
    No,
    Unknown,
}

fn hit(b: bool) -> Hit {
    if b { Hit::Yes } else { Hit::No }
}

struct MatchCtx<'a> {
    ns: &'a Netns,
    state: &'a NfHookState,
    p: &'a NfPktInfo,
    mark: u32,
    nfct: Nfct,
}

fn addr_type_bit(t: RouteType) -> u16 {
    1u16.checked_shl(t.0 as u32).unwrap_or(0)
}

fn match_one(nf: &mut Netfilter, m: &XtMatch, c: &MatchCtx<'_>) -> Hit {
    let p = c.p;
    match m {
        XtMatch::Tcp {
            sport,
            dport,
            flags,
        } => {
            if p.fragoff != 0 || p.proto != 6 || !p.has_l4 {
                return Hit::No;
            }
            if let Some((r, inv)) = sport
                && r.contains(p.sport) == *inv
            {
                return Hit::No;
            }
            if let Some((r, inv)) = dport
                && r.contains(p.dport) == *inv
            {
                return Hit::No;
            }
            if let Some((mask, comp, inv)) = flags
                && ((p.tcp_flags & mask) == *comp) == *inv
            {
                return Hit::No;
            }
            Hit::Yes
        }
        XtMatch::Udp { sport, dport } => {
            if p.fragoff != 0 || !p.has_l4 || !matches!(p.proto, 17 | 136) {
                return Hit::No;
            }
            if let Some((r, inv)) = sport
                && r.contains(p.sport) == *inv
            {
                return Hit::No;
            }
            if let Some((r, inv)) = dport
                && r.contains(p.dport) == *inv
            {
                return Hit::No;
            }
            Hit::Yes
        }
        XtMatch::Icmp {
            icmp_type,
            code,
            invert,
        } => {
            if p.fragoff != 0 || p.proto != 1 || !p.has_l4 {
                return Hit::No;
            }
            let h = *icmp_type == 0xff
                || (p.icmp_type == *icmp_type && code.0 <= p.icmp_code && p.icmp_code <= code.1);
            hit(h != *invert)
        }
        XtMatch::Multiport {
            flags,
            ports,
            invert,
        } => {
            if p.fragoff != 0 || !p.has_l4 || !matches!(p.proto, 6 | 17 | 132 | 33 | 136) {
                return Hit::No;
            }
            let any = ports.iter().any(|r| match flags {
                0 => r.contains(p.sport),
                1 => r.contains(p.dport),
                _ => r.contains(p.sport) || r.contains(p.dport),
            });
            hit(any != *invert)
        }
        XtMatch::State { mask, invert } => hit((ctinfo_state(c.nfct) & mask != 0) != *invert),
        XtMatch::Conntrack(cm) => {
            let conn = match c.nfct {
                Nfct::Ct { idx, .. } => nf.ct.conns.get(idx as usize),
                _ => None,
            };
            if let Some((mask, inv)) = cm.state {
                let mut s = ctinfo_state(c.nfct);
                if let Some(conn) = conn {
                    if conn.status & ips::SRC_NAT != 0 {
                        s |= ctstate::SNAT;
                    }
                    if conn.status & ips::DST_NAT != 0 {
                        s |= ctstate::DNAT;
                    }
                }
                if (s & mask != 0) == inv {
                    return Hit::No;
                }
            }
            let needs_conn = cm.status.is_some()
                || cm.dir_reply.is_some()
                || cm.orig_src.is_some()
                || cm.orig_dst.is_some()
                || cm.repl_src.is_some()
                || cm.repl_dst.is_some()
                || cm.orig_dst_port.is_some()
                || cm.proto.is_some();
            if !needs_conn {
                return Hit::Yes;
            }
            let Some(conn) = conn else {
                return Hit::No;
            };
            if let Some((bits, inv)) = cm.status
                && (conn.status & bits != 0) == inv
            {
                return Hit::No;
            }
            if let Some(reply) = cm.dir_reply {
                let is_reply = matches!(
                    c.nfct,
                    Nfct::Ct {
                        ctinfo: IpConntrackInfo::EstablishedReply | IpConntrackInfo::RelatedReply,
                        ..
                    }
                );
                if is_reply != reply {
                    return Hit::No;
                }
            }
            let [o, r] = conn.tuple;
            for (want, a) in [
                (cm.orig_src, o.src),
                (cm.orig_dst, o.dst),
                (cm.repl_src, r.src),
                (cm.repl_dst, r.dst),
            ] {
                if let Some((net, inv)) = want
                    && net.contains(&a) == inv
                {
                    return Hit::No;
                }
            }
            if let Some((pr, inv)) = cm.orig_dst_port
                && pr.contains(o.dport) == inv
            {
                return Hit::No;
            }
            if let Some((proto, inv)) = cm.proto
                && (o.protonum == proto) == inv
            {
                return Hit::No;
            }
            Hit::Yes
        }
        XtMatch::Addrtype {
            src,
            dst,
            limit_iface_in,
            limit_iface_out,
        } => {
            if *limit_iface_in || *limit_iface_out {
                // The per-device lookup (`inet_dev_addr_type`) is not modelled.
                return Hit::Unknown;
            }
            let ty = |a: Ipv4Addr| {
                addr_type_bit(crate::ipv4::fib_frontend::inet_addr_type_table(
                    c.ns,
                    a,
                    crate::netns::rt_table::RT_TABLE_LOCAL,
                ))
            };
            if let Some((mask, inv)) = src
                && (ty(p.saddr) & mask != 0) == *inv
            {
                return Hit::No;
            }
            if let Some((mask, inv)) = dst
                && (ty(p.daddr) & mask != 0) == *inv
            {
                return Hit::No;
            }
            Hit::Yes
        }
        XtMatch::Set(sm) => {
            let Some(set) = sm.index.and_then(|i| nf.sets.get(i)) else {
                return Hit::Unknown;
            };
            let key = |src: bool| SetKey {
                addr: if src { p.saddr } else { p.daddr },
                proto: p.proto,
                port: if src { p.sport } else { p.dport },
            };
            let first = key(*sm.dirs.first().unwrap_or(&true));
            let second = key(*sm.dirs.get(1).unwrap_or(&true));
            match set.test(first, second) {
                Some(b) => hit(b != sm.invert),
                None => Hit::Unknown,
            }
        }
        XtMatch::Comment(_) => Hit::Yes,
        XtMatch::Mark {
            value,
            mask,
            invert,
        } => hit(((c.mark & mask) == *value) != *invert),
        XtMatch::Connmark {
            value,
            mask,
            invert,
        } => {
            let Nfct::Ct { idx, .. } = c.nfct else {
                return Hit::No;
            };
            let ctmark = nf.ct.conns.get(idx as usize).map_or(0, |cn| cn.mark);
            hit(((ctmark & mask) == *value) != *invert)
        }
        XtMatch::Iprange { src, dst } => {
            if let Some((lo, hi, inv)) = src
                && (*lo <= p.saddr && p.saddr <= *hi) == *inv
            {
                return Hit::No;
            }
            if let Some((lo, hi, inv)) = dst
                && (*lo <= p.daddr && p.daddr <= *hi) == *inv
            {
                return Hit::No;
            }
            Hit::Yes
        }
        XtMatch::Length(l) => hit((l.min <= p.tot_len && p.tot_len <= l.max) != l.invert),
        XtMatch::Ttl { op, value } => {
            use crate::netfilter::xtables::ip_tables::TtlOp;
            hit(match op {
                TtlOp::Eq => p.ttl == *value,
                TtlOp::Ne => p.ttl != *value,
                TtlOp::Lt => p.ttl < *value,
                TtlOp::Gt => p.ttl > *value,
            })
        }
        XtMatch::Limit { spec, slot } => {
            let now = c.ns.jiffies;
            match nf.limits.get_mut(*slot) {
                Some(st) => hit(limit_mt(*spec, st, now)),
                None => Hit::Unknown,
            }
        }
        XtMatch::Physdev(pd) => hit(physdev_mt(c.ns, c.state.nf_bridge, pd)),
        XtMatch::Rpfilter {
            loose,
            validmark,
            accept_local,
            invert,
        } => hit(rpfilter_mt(c, *loose, *validmark, *accept_local) != *invert),
        XtMatch::Unsupported { .. } => Hit::Unknown,
    }
}

/// Kernel: `physdev_mt` (net/netfilter/xt_physdev.c) over the packet's
/// `nf_bridge` (the bridge ports br_netfilter recorded). A packet that did
/// not cross a bridge matches only when every option given is negated.
/// Otherwise `--physdev-is-bridged` asks for an output port (FORWARD and
/// POST_ROUTING of a bridged frame), `--physdev-is-in` / `-is-out` for
/// either port, `--physdev-in NAME` is checked only when there is an
/// input port and `--physdev-out NAME` only when there is an output port.
pub fn physdev_mt(
    ns: &Netns,
    nf_bridge: Option<crate::bridge::NfBridgeInfo>,
    pd: &crate::netfilter::xtables::ip_tables::PhysdevMatch,
) -> bool {
    let Some(b) = nf_bridge else {
        return pd.is_bridged != Some(true)
            && pd.is_in != Some(true)
            && pd.is_out != Some(true)
            && pd.physindev.as_ref().is_none_or(|m| m.invert)
            && pd.physoutdev.as_ref().is_none_or(|m| m.invert);
    };
    let indev = (b.physindev != IfIndex(0)).then(|| ns.dev_name(b.physindev));
    let outdev = (b.physoutdev != IfIndex(0)).then(|| ns.dev_name(b.physoutdev));
    if pd.is_bridged.is_some_and(|want| outdev.is_some() != want)
        || pd.is_in.is_some_and(|want| indev.is_some() != want)
        || pd.is_out.is_some_and(|want| outdev.is_some() != want)
    {
        return false;
    }
    if let (Some(m), Some(name)) = (&pd.physindev, indev)
        && m.hit(name) == m.invert
    {
        return false;
    }
    match (&pd.physoutdev, outdev) {
        (Some(m), Some(name)) => m.hit(name) != m.invert,
        _ => true,
    }
}

/// Kernel: `rpfilter_get_saddr` (ipt_rpfilter.c): no reverse lookup from a
/// multicast, limited broadcast or zero-network destination.
fn rpfilter_get_saddr(a: Ipv4Addr) -> Ipv4Addr {
    if a.is_multicast() || a.is_broadcast() || a.octets()[0] == 0 {
        Ipv4Addr::UNSPECIFIED
    } else {
        a
    }
}

/// Kernel: `rpfilter_mt` and `rpfilter_lookup_reverse`
/// (net/ipv4/netfilter/ipt_rpfilter.c), before the `--invert`: a packet
/// from the loopback device passes, a zero-network source to the limited
/// broadcast or a link-local multicast group passes; otherwise the route
/// back to the source (`fib_lookup` from the loopback device, the source
/// taken from the destination unless it is multicast or broadcast, the
/// packet's DSCP, its mark with `--validmark`, scope universe, link state
/// ignored) must be unicast (or local with `--accept-local`) and, unless
/// `--loose`, have a next hop through the input device
/// (`fib_info_nh_uses_dev`). VRF (`l3mdev`) is not modelled.
fn rpfilter_mt(c: &MatchCtx<'_>, loose: bool, validmark: bool, accept_local: bool) -> bool {
    use crate::flow::{FIB_LOOKUP_IGNORE_LINKSTATE, Flowi4};
    use crate::netns::LOOPBACK_IFINDEX;
    use crate::uapi::RtScope;
    let p = c.p;
    let dev = c.state.indev;
    if dev == c.ns.loopback_ifindex() {
        return true;
    }
    let local_mc = |a: Ipv4Addr| a.octets()[..3] == [224, 0, 0];
    if p.saddr.octets()[0] == 0 && (p.daddr.is_broadcast() || local_mc(p.daddr)) {
        return true;
    }
    let mut fl4 = Flowi4::new(p.saddr, rpfilter_get_saddr(p.daddr));
    fl4.flowi4_iif = LOOPBACK_IFINDEX;
    fl4.flowi4_mark = if validmark { c.mark } else { 0 };
    fl4.flowi4_dscp = p.tos & 0xfc;
    fl4.flowi4_scope = RtScope::RT_SCOPE_UNIVERSE;
    let Ok(res) = crate::ipv4::fib_rules::fib_lookup(
        c.ns,
        &fl4,
        FIB_LOOKUP_IGNORE_LINKSTATE,
        &mut crate::trace::NoTrace,
    ) else {
        return false;
    };
    if res.rt_type != RouteType::RTN_UNICAST
        && (res.rt_type != RouteType::RTN_LOCAL || !accept_local)
    {
        return false;
    }
    let uses_dev = res
        .fi
        .is_some_and(|id| c.ns.fib.info(id).fib_nh.iter().any(|nh| nh.nh_dev == dev));
    uses_dev || loose
}

/// The rule's NAT target turned into a binding (`nf_nat_setup_info`).
fn nat_target(
    nf: &mut Netfilter,
    ns: &Netns,
    target: &XtTarget,
    state: &NfHookState,
    p: &NfPktInfo,
    nfct: Nfct,
) -> NfVerdict {
    let (range, manip) = match target {
        XtTarget::Masquerade(r) => {
            // nf_nat_masquerade_ipv4: the source from the output device.
            let Some(a) =
                nat::nf_nat_masquerade::masquerade_source(ns, state.outdev, state.nexthop)
            else {
                return NfVerdict::Drop;
            };
            (
                NatRange {
                    addr: Some((a, a)),
                    ..*r
                },
                NfNatManipType::Src,
            )
        }
        XtTarget::Snat(r) => (*r, NfNatManipType::Src),
        XtTarget::Dnat(r) => (*r, NfNatManipType::Dst),
        XtTarget::Redirect(r) => {
            // nf_nat_redirect_ipv4: the primary address of the input device,
            // or loopback for locally generated packets.
            let a = if state.hook == NfInetHook::LocalOut {
                Ipv4Addr::LOCALHOST
            } else {
                match ns.in_dev(state.indev).and_then(|i| i.primary()) {
                    Some(ifa) => ifa.ifa_local,
                    None => return NfVerdict::Drop,
                }
            };
            (
                NatRange {
                    addr: Some((a, a)),
                    ..*r
                },
                NfNatManipType::Dst,
            )
        }
        _ => return NfVerdict::Accept,
    };
    let _ = p;
    match nat::nf_nat_setup_info(&mut nf.ct, nfct, &range, manip) {
        NatVerdict::Accept => NfVerdict::Accept,
        NatVerdict::Drop => NfVerdict::Drop,
    }
}

/// The kernel function that runs table `ti`: `nft_do_chain` for a table of
/// iptables-nft, `ipt_do_table` for a legacy one.
fn table_fn(nf: &Netfilter, ti: usize) -> KernelFn {
    match nf.tables[ti].backend {
        crate::netfilter::xtables::ip_tables::XtBackend::Nft => KernelFn::nft_do_chain,
        crate::netfilter::xtables::ip_tables::XtBackend::Legacy => KernelFn::ipt_do_table,
    }
}

/// What a walk of one chain does next.
enum Next {
    Continue,
    Verdict(NfVerdict),
    Return,
    Jump(usize),
    Goto(usize),
}

/// Kernel: `ipt_do_table` (or `nft_do_chain` for an iptables-nft table):
/// runs table `ti`'s chain for `state.hook` over the packet.
pub fn ipt_do_table<T: Tracer>(
    nf: &mut Netfilter,
    ns: &Netns,
    ti: usize,
    state: NfHookState,
    p: &NfPktInfo,
    pkt: &mut NfPacket<'_>,
    t: &mut T,
) -> NfVerdict {
    let Some(base) = nf.tables[ti].hook_chain(state.hook) else {
        return NfVerdict::Accept;
    };
    if T::ENABLED {
        t.step(Step::new(
            table_fn(nf, ti),
            Check::NfTable {
                table: ti as u16,
                chain: base as u16,
            },
            Branch::Next,
        ));
    }
    let len = p.tot_len as u32;
    // The return stack: (chain, next rule). Chains nest at most a few deep.
    let mut stack = [(0usize, 0usize); 16];
    let mut depth = 0usize;
    let mut chain = base;
    let mut i = 0usize;
    loop {
        let nrules = nf.tables[ti].chains[chain].rules.len();
        if i >= nrules {
            // End of chain: a user chain returns, a base chain's policy decides.
            if depth > 0 {
                depth -= 1;
                (chain, i) = stack[depth];
                continue;
            }
            return policy(nf, ti, chain, state, len, t);
        }
        let next = eval_rule(nf, ns, ti, chain, i, &state, p, pkt, t);
        match next {
            Next::Continue => i += 1,
            Next::Verdict(v) => return v,
            Next::Return => {
                if depth > 0 {
                    depth -= 1;
                    (chain, i) = stack[depth];
                } else {
                    return policy(nf, ti, chain, state, len, t);
                }
            }
            Next::Jump(c) => {
                if depth < stack.len() {
                    stack[depth] = (chain, i + 1);
                    depth += 1;
                }
                chain = c;
                i = 0;
            }
            Next::Goto(c) => {
                chain = c;
                i = 0;
            }
        }
    }
}

fn policy<T: Tracer>(
    nf: &mut Netfilter,
    ti: usize,
    chain: usize,
    state: NfHookState,
    len: u32,
    t: &mut T,
) -> NfVerdict {
    let c = &mut nf.tables[ti].chains[chain];
    c.counters.add(len);
    let v = match c.policy.unwrap_or(Policy::Accept) {
        Policy::Accept => NfVerdict::Accept,
        Policy::Drop => NfVerdict::Drop,
    };
    nf.trail.push(NfEvent {
        hook: state.hook,
        kind: NfEventKind::Policy {
            table: ti as u16,
            chain: chain as u16,
            verdict: v,
        },
    });
    if T::ENABLED {
        t.step(Step::new(
            table_fn(nf, ti),
            Check::NfPolicy {
                table: ti as u16,
                chain: chain as u16,
                accept: v == NfVerdict::Accept,
            },
            if v == NfVerdict::Accept {
                Branch::Next
            } else {
                Branch::out
            },
        ));
    }
    v
}

#[allow(clippy::too_many_arguments)]
fn eval_rule<T: Tracer>(
    nf: &mut Netfilter,
    ns: &Netns,
    ti: usize,
    chain: usize,
    ri: usize,
    state: &NfHookState,
    p: &NfPktInfo,
    pkt: &mut NfPacket<'_>,
    t: &mut T,
) -> Next {
    // The rule is read in place; matches that keep state (limit) and
    // targets that write (counters) go through `nf` afterwards.
    let tfn = table_fn(nf, ti);
    let tables = std::mem::take(&mut nf.tables);
    let rule = &tables[ti].chains[chain].rules[ri];
    let mut miss = ip_packet_match(&rule.ip, ns, state, p);
    let mut matched = miss == NfMiss::None;
    let mut unknown = false;
    if matched {
        let c = MatchCtx {
            ns,
            state,
            p,
            mark: pkt.mark,
            nfct: *pkt.nfct,
        };
        for (k, m) in rule.matches.iter().enumerate() {
            match match_one(nf, m, &c) {
                Hit::Yes => {}
                Hit::No => {
                    matched = false;
                    miss = NfMiss::Match(k as u8);
                    break;
                }
                Hit::Unknown => {
                    unknown = true;
                    matched = false;
                    miss = NfMiss::Unknown(k as u8);
                    break;
                }
            }
        }
    }
    if unknown || (matched && rule.unmodelled) {
        nf.trail.push(NfEvent {
            hook: state.hook,
            kind: NfEventKind::Unmodelled {
                table: ti as u16,
                chain: chain as u16,
                rule: ri as u16,
            },
        });
    }
    if T::ENABLED {
        t.step(Step::new(
            tfn,
            Check::NfRule {
                table: ti as u16,
                chain: chain as u16,
                rule: ri as u16,
                matched,
                miss,
            },
            Branch::Next,
        ));
    }
    if !matched {
        nf.tables = tables;
        return Next::Continue;
    }
    let target = rule.target.clone_shallow();
    nf.tables = tables;
    nf.tables[ti].chains[chain].rules[ri]
        .counters
        .add(p.tot_len as u32);
    let ev = |v: NfVerdict| NfEvent {
        hook: state.hook,
        kind: NfEventKind::Rule {
            table: ti as u16,
            chain: chain as u16,
            rule: ri as u16,
            verdict: v,
        },
    };
    match target {
        Target::None => Next::Continue,
        Target::Accept => {
            nf.trail.push(ev(NfVerdict::Accept));
            Next::Verdict(NfVerdict::Accept)
        }
        Target::Drop => {
            nf.trail.push(ev(NfVerdict::Drop));
            Next::Verdict(NfVerdict::Drop)
        }
        Target::Return => Next::Return,
        Target::Jump(c) => Next::Jump(c),
        Target::Goto(c) => Next::Goto(c),
        Target::Reject(with) => {
            nf.trail.push(ev(NfVerdict::Drop));
            // The reject modules refuse to answer in some cases; the
            // caller sends the answer with the packet in hand.
            nf.trail.reject = Some(with);
            nf.trail.push(NfEvent {
                hook: state.hook,
                kind: NfEventKind::Reject(with),
            });
            Next::Verdict(NfVerdict::Drop)
        }
        Target::Log => {
            nf.trail.push(NfEvent {
                hook: state.hook,
                kind: NfEventKind::Log {
                    table: ti as u16,
                    chain: chain as u16,
                    rule: ri as u16,
                },
            });
            Next::Continue
        }
        Target::Mark(x) => {
            pkt.mark = (pkt.mark & !x.mask) ^ x.value;
            Next::Continue
        }
        Target::ConnmarkSet(x) => {
            if let Nfct::Ct { idx, .. } = *pkt.nfct
                && let Some(cn) = nf.ct.conns.get_mut(idx as usize)
            {
                cn.mark = (cn.mark & !x.mask) ^ x.value;
            }
            Next::Continue
        }
        Target::ConnmarkSave { nfmask, ctmask } => {
            if let Nfct::Ct { idx, .. } = *pkt.nfct
                && let Some(cn) = nf.ct.conns.get_mut(idx as usize)
            {
                cn.mark = (cn.mark & !ctmask) ^ (pkt.mark & nfmask);
            }
            Next::Continue
        }
        Target::ConnmarkRestore { nfmask, ctmask } => {
            if let Nfct::Ct { idx, .. } = *pkt.nfct
                && let Some(cn) = nf.ct.conns.get(idx as usize)
            {
                pkt.mark = (pkt.mark & !nfmask) ^ (cn.mark & ctmask);
            }
            Next::Continue
        }
        Target::Nat => {
            let target = nf.tables[ti].chains[chain].rules[ri].target.clone();
            let v = nat_target(nf, ns, &target, state, p, *pkt.nfct);
            nf.trail.push(ev(v));
            Next::Verdict(v)
        }
        Target::Notrack => {
            if *pkt.nfct == Nfct::None {
                *pkt.nfct = Nfct::Untracked;
            }
            Next::Continue
        }
        Target::Unsupported => {
            nf.trail.push(NfEvent {
                hook: state.hook,
                kind: NfEventKind::Unmodelled {
                    table: ti as u16,
                    chain: chain as u16,
                    rule: ri as u16,
                },
            });
            Next::Continue
        }
    }
}

/// A target reduced to plain data, so the walk can release the table.
#[derive(Clone, Copy)]
enum Target {
    None,
    Accept,
    Drop,
    Return,
    Jump(usize),
    Goto(usize),
    Reject(crate::netfilter::xtables::ip_tables::RejectWith),
    Log,
    Mark(crate::netfilter::xtables::ip_tables::XMark),
    ConnmarkSet(crate::netfilter::xtables::ip_tables::XMark),
    ConnmarkSave { nfmask: u32, ctmask: u32 },
    ConnmarkRestore { nfmask: u32, ctmask: u32 },
    Nat,
    Notrack,
    Unsupported,
}

impl XtTarget {
    fn clone_shallow(&self) -> Target {
        match self {
            XtTarget::None => Target::None,
            XtTarget::Accept => Target::Accept,
            XtTarget::Drop => Target::Drop,
            XtTarget::Return => Target::Return,
            XtTarget::Jump(c) => Target::Jump(*c),
            XtTarget::Goto(c) => Target::Goto(*c),
            XtTarget::Reject(w) => Target::Reject(*w),
            XtTarget::Log { .. } | XtTarget::Nflog { .. } => Target::Log,
            XtTarget::Mark(x) => Target::Mark(*x),
            XtTarget::ConnmarkSet(x) => Target::ConnmarkSet(*x),
            XtTarget::ConnmarkSave { nfmask, ctmask } => Target::ConnmarkSave {
                nfmask: *nfmask,
                ctmask: *ctmask,
            },
            XtTarget::ConnmarkRestore { nfmask, ctmask } => Target::ConnmarkRestore {
                nfmask: *nfmask,
                ctmask: *ctmask,
            },
            XtTarget::Masquerade(_)
            | XtTarget::Snat(_)
            | XtTarget::Dnat(_)
            | XtTarget::Redirect(_) => Target::Nat,
            XtTarget::Notrack => Target::Notrack,
            XtTarget::Unsupported { .. } => Target::Unsupported,
        }
    }
}
