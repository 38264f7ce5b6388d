//! Models net/netfilter/nf_nat_core.c: `nf_nat_setup_info` (choosing the
//! translated tuple: `get_unique_tuple`, `find_appropriate_src`,
//! `find_best_ips_proto`, `nf_nat_l4proto_unique_tuple`), the null
//! binding, and `nf_nat_packet`, which rewrites each packet of a bound
//! connection (the rewriting itself is in `nf_nat_proto`).
//!
//! Deterministic where the kernel draws random numbers: when the port (or
//! ICMP id) must change, the kernel starts its search of the range at
//! `get_random_u16()` for source NAT, `--random` and `--random-fully`
//! (and 0 for destination NAT); the model starts at 0 (the bottom of the
//! range) without `--random*`, and at a hash of the tuple (addresses,
//! the other side's port) with them, and carries on from there when the
//! kernel would draw a new start. In the last attempts of a TCP search,
//! `nf_nat_used_tuple_harder` evicts a closed connection holding the tuple.

use std::net::Ipv4Addr;

use crate::netfilter::NfInetHook;
use crate::netfilter::conntrack::{
    IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, IpConntrackDir, IpConntrackInfo,
    NfConntrack, NfConntrackTuple, Nfct, ips,
};
use crate::netfilter::nat::nf_nat_proto::{nf_nat_icmp_reply_translation, nf_nat_ipv4_manip_pkt};
use crate::netfilter::xtables::ip_tables::NatRange;

/// `enum nf_nat_manip_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NfNatManipType {
    /// `NF_NAT_MANIP_SRC` (POSTROUTING, LOCAL_IN).
    Src,
    /// `NF_NAT_MANIP_DST` (PREROUTING, LOCAL_OUT).
    Dst,
}

impl NfNatManipType {
    /// `HOOK2MANIP`.
    pub const fn of_hook(hook: NfInetHook) -> Self {
        match hook {
            NfInetHook::PostRouting | NfInetHook::LocalIn => NfNatManipType::Src,
            _ => NfNatManipType::Dst,
        }
    }

    /// `!manip`: the other type.
    pub const fn other(self) -> Self {
        match self {
            NfNatManipType::Src => NfNatManipType::Dst,
            NfNatManipType::Dst => NfNatManipType::Src,
        }
    }

    /// `IPS_SRC_NAT` or `IPS_DST_NAT`.
    pub const fn status_bit(self) -> u32 {
        match self {
            NfNatManipType::Src => ips::SRC_NAT,
            NfNatManipType::Dst => ips::DST_NAT,
        }
    }

    /// `IPS_SRC_NAT_DONE` or `IPS_DST_NAT_DONE`.
    pub const fn done_bit(self) -> u32 {
        match self {
            NfNatManipType::Src => ips::SRC_NAT_DONE,
            NfNatManipType::Dst => ips::DST_NAT_DONE,
        }
    }
}

/// What `nf_nat_setup_info` (or `nf_nat_packet`) decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatVerdict {
    /// `NF_ACCEPT`.
    Accept,
    /// `NF_DROP` (no address or port could be found, or a packet NAT
    /// cannot rewrite).
    Drop,
}

/// `NF_NAT_MAX_ATTEMPTS`.
const NF_NAT_MAX_ATTEMPTS: u32 = 128;

/// Kernel: `nf_nat_initialized`: the connection already has a binding of
/// this type (true for a packet without a connection: nothing to bind).
pub fn nf_nat_initialized(ct: &NfConntrack, nfct: Nfct, manip: NfNatManipType) -> bool {
    ct.get(nfct)
        .is_none_or(|c| c.status & manip.done_bit() != 0)
}

/// `rol32`.
const fn rol32(w: u32, s: u32) -> u32 {
    w.rotate_left(s)
}

/// Kernel: `jhash2` (Bob Jenkins' lookup3 over 32-bit words).
pub fn jhash2(k: &[u32], initval: u32) -> u32 {
    let mut a = 0xdead_beefu32
        .wrapping_add((k.len() as u32) << 2)
        .wrapping_add(initval);
    let mut b = a;
    let mut c = a;
    let mut k = k;
    while k.len() > 3 {
        a = a.wrapping_add(k[0]);
        b = b.wrapping_add(k[1]);
        c = c.wrapping_add(k[2]);
        // __jhash_mix
        a = a.wrapping_sub(c);
        a ^= rol32(c, 4);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= rol32(a, 6);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= rol32(b, 8);
        b = b.wrapping_add(a);
        a = a.wrapping_sub(c);
        a ^= rol32(c, 16);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= rol32(a, 19);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= rol32(b, 4);
        b = b.wrapping_add(a);
        k = &k[3..];
    }
    if k.is_empty() {
        return c;
    }
    if k.len() == 3 {
        c = c.wrapping_add(k[2]);
    }
    if k.len() >= 2 {
        b = b.wrapping_add(k[1]);
    }
    a = a.wrapping_add(k[0]);
    // __jhash_final
    c ^= b;
    c = c.wrapping_sub(rol32(b, 14));
    a ^= c;
    a = a.wrapping_sub(rol32(c, 11));
    b ^= a;
    b = b.wrapping_sub(rol32(a, 25));
    c ^= b;
    c = c.wrapping_sub(rol32(b, 16));
    a ^= c;
    a = a.wrapping_sub(rol32(c, 4));
    b ^= a;
    b = b.wrapping_sub(rol32(a, 14));
    c ^= b;
    c = c.wrapping_sub(rol32(b, 24));
    c
}

/// An address as the kernel holds a `__be32` in a `u32` on a
/// little-endian machine (what `jhash2` and the XORs see).
fn be32_word(a: Ipv4Addr) -> u32 {
    u32::from_le_bytes(a.octets())
}

/// `reciprocal_scale`.
const fn reciprocal_scale(val: u32, ep_ro: u32) -> u32 {
    ((val as u64 * ep_ro as u64) >> 32) as u32
}

/// The NAT side of a tuple: the (address, key) a manip changes.
fn manip_key(t: &NfConntrackTuple, manip: NfNatManipType) -> u16 {
    match (t.protonum, manip) {
        (IPPROTO_ICMP, _) | (_, NfNatManipType::Src) => t.sport,
        (_, NfNatManipType::Dst) => t.dport,
    }
}

fn set_manip_key(t: &mut NfConntrackTuple, manip: NfNatManipType, v: u16) {
    match (t.protonum, manip) {
        (IPPROTO_ICMP, _) | (_, NfNatManipType::Src) => t.sport = v,
        (_, NfNatManipType::Dst) => t.dport = v,
    }
}

/// Whether the protocol has ports (or an id) NAT maps.
fn has_l4_key(p: u8) -> bool {
    matches!(
        p,
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_UDPLITE | IPPROTO_ICMP
    )
}

/// Kernel: `l4proto_in_range`.
fn l4proto_in_range(t: &NfConntrackTuple, manip: NfNatManipType, min: u16, max: u16) -> bool {
    if !has_l4_key(t.protonum) {
        return true;
    }
    let k = manip_key(t, manip);
    min <= k && k <= max
}

/// Kernel: `nf_in_range` (source manips only): the tuple's source lies
/// in the range.
fn nf_in_range(t: &NfConntrackTuple, range: &NatRange) -> bool {
    if let Some((lo, hi)) = range.addr
        && !(lo <= t.src && t.src <= hi)
    {
        return false;
    }
    match range.ports {
        None => true,
        Some((lo, hi)) => l4proto_in_range(t, NfNatManipType::Src, lo, hi),
    }
}

/// Kernel: `nf_nat_used_tuple`: another connection already expects
/// replies to `t` (its inverse is in the table).
fn nf_nat_used_tuple(ct: &mut NfConntrack, t: &NfConntrackTuple, ignored: u32) -> bool {
    match t.invert() {
        Some(reply) => ct.tuple_taken(&reply, ignored),
        None => false,
    }
}

/// `NF_NAT_HARDER_THRESH`: the last attempts of a port search may evict.
const NF_NAT_HARDER_THRESH: u32 = NF_NAT_MAX_ATTEMPTS / 4;

/// Kernel: `nf_nat_used_tuple_harder`: in the last attempts of a TCP port
/// search for a new connection (SYN_SENT), a tuple held by a closed
/// connection (TIME_WAIT or later, seen both ways, not fixed or dying)
/// whose sequence numbers the new one has passed is freed and reused.
fn nf_nat_used_tuple_harder(
    ct: &mut NfConntrack,
    t: &NfConntrackTuple,
    ignored: u32,
    attempts_left: u32,
) -> bool {
    use crate::netfilter::conntrack::{IpConntrackDir, TcpConntrack};
    let me_syn_sent = ct
        .conns
        .get(ignored as usize)
        .is_some_and(|c| c.tcp_state == TcpConntrack::SynSent);
    if attempts_left > NF_NAT_HARDER_THRESH || t.protonum != IPPROTO_TCP || !me_syn_sent {
        return nf_nat_used_tuple(ct, t, ignored);
    }
    let Some(reply) = t.invert() else {
        return false;
    };
    let now = ct.now;
    let Some((idx, dir)) = ct.find(&reply, now) else {
        return false;
    };
    if dir == IpConntrackDir::Original || idx == ignored {
        return true;
    }
    let old = &ct.conns[idx as usize];
    // nf_nat_may_kill
    let may_kill = old.tcp_state as u8 >= TcpConntrack::TimeWait as u8
        && old.status & (ips::FIXED_TIMEOUT | ips::DYING) == 0
        && old.status & ips::SEEN_REPLY != 0;
    if !may_kill {
        return true;
    }
    // nf_seq_has_advanced: before(old.seen[0].td_end, new.seen[0].td_end)
    let new_end = ct.conns[ignored as usize].tcp.seen[0].td_end;
    if (old.tcp.seen[0].td_end.wrapping_sub(new_end) as i32) >= 0 {
        return true;
    }
    ct.nf_ct_kill(idx);
    false
}

/// Kernel: `find_appropriate_src`: a connection from the same source
/// (address, port, protocol) already has a source binding; its mapped
/// source is reused when it lies in the range.
fn find_appropriate_src(
    ct: &NfConntrack,
    t: &NfConntrackTuple,
    range: &NatRange,
    me: u32,
) -> Option<NfConntrackTuple> {
    let list = ct.nat_bysource.get(&(t.src, t.sport, t.protonum))?;
    // hlist_add_head: the newest binding is found first.
    for &i in list.iter().rev() {
        if i == me {
            continue;
        }
        let c = &ct.conns[i as usize];
        if !c.in_use || c.tuple[0].src != t.src || c.tuple[0].sport != t.sport {
            continue;
        }
        let Some(mut r) = c.tuple[1].invert() else {
            continue;
        };
        r.dst = t.dst;
        r.dport = t.dport;
        if nf_in_range(&r, range) {
            return Some(r);
        }
    }
    None
}

/// Kernel: `find_best_ips_proto`: the address of the range for this
/// connection: the only one, or one picked by hashing the source and
/// (without `--persistent`) the destination address.
fn find_best_ips_proto(t: &mut NfConntrackTuple, range: &NatRange, manip: NfNatManipType) {
    let Some((lo, hi)) = range.addr else {
        return;
    };
    if lo == hi {
        set_addr(t, manip, lo);
        return;
    }
    let init = if range.persistent {
        0
    } else {
        be32_word(t.dst)
    };
    // The hash covers all of `union nf_inet_addr` (four words, the last
    // three zero for IPv4).
    let j = jhash2(&[be32_word(t.src), 0, 0, 0], init);
    let minip = u32::from(lo);
    let maxip = u32::from(hi);
    let dist = maxip.wrapping_sub(minip).wrapping_add(1);
    let picked = minip.wrapping_add(reciprocal_scale(j, dist));
    set_addr(t, manip, Ipv4Addr::from(picked));
}

fn set_addr(t: &mut NfConntrackTuple, manip: NfNatManipType, a: Ipv4Addr) {
    match manip {
        NfNatManipType::Src => t.src = a,
        NfNatManipType::Dst => t.dst = a,
    }
}

/// Kernel: `nf_nat_l4proto_unique_tuple`: the first port (ICMP id) of the
/// range, from the starting offset on, that makes the tuple unique.
fn nf_nat_l4proto_unique_tuple(
    ct: &mut NfConntrack,
    t: &mut NfConntrackTuple,
    range: &NatRange,
    manip: NfNatManipType,
    me: u32,
) {
    let (min, range_size): (u32, u32) = match t.protonum {
        IPPROTO_ICMP => match range.ports {
            None => (0, 65536),
            Some((lo, hi)) => (
                lo as u32,
                (hi as u32).wrapping_sub(lo as u32).wrapping_add(1),
            ),
        },
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_UDPLITE => match range.ports {
            None => {
                if manip == NfNatManipType::Dst {
                    // Destination NAT without ports never moves the port.
                    return;
                }
                let port = manip_key(t, manip);
                if port < 512 {
                    (1, 511)
                } else if port < 1024 {
                    (600, 1023 - 600 + 1)
                } else {
                    (1024, 65535 - 1024 + 1)
                }
            }
            Some((a, b)) => {
                let (lo, hi) = if b < a { (b, a) } else { (a, b) };
                (lo as u32, hi as u32 - lo as u32 + 1)
            }
        },
        _ => return,
    };
    let random = range.random || range.random_fully;
    let mut off: u32 = if random {
        jhash2(
            &[
                be32_word(t.src),
                be32_word(t.dst),
                manip_key(t, manip.other()) as u32,
            ],
            0,
        ) & 0xffff
    } else {
        0
    };
    let mut attempts = range_size.min(NF_NAT_MAX_ATTEMPTS);
    loop {
        for i in 0..attempts {
            let v = (min + off % range_size) as u16;
            set_manip_key(t, manip, v);
            if !nf_nat_used_tuple_harder(ct, t, me, attempts - i) {
                return;
            }
            off = off.wrapping_add(1);
        }
        if attempts >= range_size || attempts < 16 {
            return;
        }
        attempts /= 2;
    }
}

/// Kernel: `get_unique_tuple`: the tuple the connection's packets will
/// carry after this manip.
fn get_unique_tuple(
    ct: &mut NfConntrack,
    orig: &NfConntrackTuple,
    range: &NatRange,
    manip: NfNatManipType,
    me: u32,
) -> NfConntrackTuple {
    let random_all = range.random || range.random_fully;
    if manip == NfNatManipType::Src && !random_all {
        if nf_in_range(orig, range) {
            if !nf_nat_used_tuple(ct, orig, me) {
                return *orig;
            }
        } else if let Some(t) = find_appropriate_src(ct, orig, range, me)
            && !nf_nat_used_tuple(ct, &t, me)
        {
            return t;
        }
    }
    let mut t = *orig;
    find_best_ips_proto(&mut t, range, manip);
    if !random_all {
        match range.ports {
            Some((lo, hi)) => {
                if l4proto_in_range(&t, manip, lo, hi)
                    && (lo == hi || !nf_nat_used_tuple(ct, &t, me))
                {
                    return t;
                }
            }
            None => {
                if !nf_nat_used_tuple(ct, &t, me) {
                    return t;
                }
            }
        }
    }
    nf_nat_l4proto_unique_tuple(ct, &mut t, range, manip, me);
    t
}

/// Kernel: `nf_nat_setup_info`: binds the connection to `range` (addresses
/// already resolved, e.g. by MASQUERADE): the reply tuple becomes the
/// inverse of the translated one, `IPS_SRC_NAT` / `IPS_DST_NAT` when it
/// changed, and the manip is done. A confirmed connection keeps what it has.
pub fn nf_nat_setup_info(
    ct: &mut NfConntrack,
    nfct: Nfct,
    range: &NatRange,
    manip: NfNatManipType,
) -> NatVerdict {
    let Nfct::Ct { idx, .. } = nfct else {
        return NatVerdict::Accept;
    };
    let Some(conn) = ct.get(nfct) else {
        return NatVerdict::Accept;
    };
    if conn.is_confirmed() {
        return NatVerdict::Accept;
    }
    let Some(curr) = conn.tuple[1].invert() else {
        return NatVerdict::Accept;
    };
    let new = get_unique_tuple(ct, &curr, range, manip, idx);
    let conn = &mut ct.conns[idx as usize];
    if new != curr
        && let Some(reply) = new.invert()
    {
        // nf_conntrack_alter_reply: the entry is not hashed yet.
        conn.tuple[1] = reply;
        conn.status |= manip.status_bit();
    }
    if manip == NfNatManipType::Src {
        let o = conn.tuple[0];
        let list = ct
            .nat_bysource
            .entry((o.src, o.sport, o.protonum))
            .or_default();
        if !list.contains(&idx) {
            list.push(idx);
        }
    }
    ct.conns[idx as usize].status |= manip.done_bit();
    NatVerdict::Accept
}

/// Kernel: `nf_nat_alloc_null_binding` / `__nf_nat_alloc_null_binding`:
/// a connection no NAT rule bound keeps its addresses: a binding to the
/// address it already has (the port moves only when it clashes with
/// another connection's binding, as in the kernel).
pub fn nf_nat_alloc_null_binding(ct: &mut NfConntrack, nfct: Nfct, manip: NfNatManipType) {
    let Some(conn) = ct.get(nfct) else {
        return;
    };
    let r = conn.tuple[1];
    let a = match manip {
        NfNatManipType::Src => r.dst,
        NfNatManipType::Dst => r.src,
    };
    let range = NatRange {
        addr: Some((a, a)),
        ports: None,
        random: false,
        random_fully: false,
        persistent: false,
    };
    let _ = nf_nat_setup_info(ct, nfct, &range, manip);
}

/// Kernel: `nf_nat_packet` (and `nf_nat_icmp_reply_translation` for a
/// RELATED ICMP error, which `nf_nat_ipv4_fn` calls instead): rewrites
/// `pkt` (from its IPv4 header) as the connection's binding says for this
/// hook, with the IP and L4 checksums. Returns the verdict (Drop for a
/// packet NAT cannot rewrite: an ICMP error that is too short or has a bad
/// checksum, a redirect about a NATed connection) and, when something
/// changed, the (address, port) pair before and after.
pub fn nf_nat_packet(
    ct: &NfConntrack,
    nfct: Nfct,
    hook: NfInetHook,
    pkt: &mut [u8],
) -> (NatVerdict, Option<NatRewrite>) {
    let Nfct::Ct { ctinfo, .. } = nfct else {
        return (NatVerdict::Accept, None);
    };
    let Some(conn) = ct.get(nfct) else {
        return (NatVerdict::Accept, None);
    };
    let manip = NfNatManipType::of_hook(hook);
    let dir = ctinfo.dir();
    if matches!(
        ctinfo,
        IpConntrackInfo::Related | IpConntrackInfo::RelatedReply
    ) && pkt.len() >= 20
        && pkt[9] == IPPROTO_ICMP
    {
        return nf_nat_icmp_reply_translation(conn, ctinfo, hook, pkt);
    }
    let mut bit = manip.status_bit();
    if dir == IpConntrackDir::Reply {
        bit ^= ips::NAT_MASK;
    }
    if conn.status & bit == 0 {
        return (NatVerdict::Accept, None);
    }
    let Some(target) = conn.tuple[dir.other() as usize].invert() else {
        return (NatVerdict::Accept, None);
    };
    match nf_nat_ipv4_manip_pkt(pkt, 0, &target, manip) {
        Some(rw) => (NatVerdict::Accept, (rw.from != rw.to).then_some(rw)),
        None => (NatVerdict::Drop, None),
    }
}

/// One rewrite `nf_nat_packet` made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatRewrite {
    /// Source or destination.
    pub manip: NfNatManipType,
    /// Address and port (ICMP id) before.
    pub from: (std::net::Ipv4Addr, u16),
    /// After.
    pub to: (std::net::Ipv4Addr, u16),
    /// The IP protocol of the rewritten header (1: the key is an ICMP id).
    pub proto: u8,
}
