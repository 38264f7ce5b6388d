//! Models net/netfilter/nf_conntrack_core.c: `nf_conntrack_in` (the tuple,
//! the lookup, a new unconfirmed entry when none matches, the protocol
//! tracker's verdict), `nf_conntrack_confirm` with its clash resolution,
//! and dropping a packet's reference (`nf_ct_put`).
//!
//! Entries live in `NfConntrack::conns`; only confirmed ones are in
//! `NfConntrack::hash`, so an entry whose first packet never reached
//! POST_ROUTING or LOCAL_IN can never match a later packet. Timeouts are
//! jiffies (HZ = 250): relative while the entry is unconfirmed, absolute
//! from confirmation on, as `__nf_ct_refresh_acct` and
//! `__nf_conntrack_confirm` keep them.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::netfilter::conntrack::proto_tcp::{self, IpCtTcp, TcpConntrack};
use crate::netfilter::conntrack::{proto_icmp, proto_udp};
use crate::netfilter::{NfInetHook, NfSysctl};

/// `HZ`: jiffies per second.
pub const HZ: u64 = 250;

/// `IPPROTO_ICMP`.
pub const IPPROTO_ICMP: u8 = 1;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: u8 = 6;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: u8 = 17;
/// `IPPROTO_UDPLITE`.
pub const IPPROTO_UDPLITE: u8 = 136;

/// `nf_conntrack_generic_timeout` (600 s; not among the model's sysctls).
pub const GENERIC_TIMEOUT_SECS: u64 = 600;

/// `struct nf_conntrack_tuple` for IPv4: addresses, protocol and the
/// protocol's two 16-bit keys (ports; ICMP id and type/code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NfConntrackTuple {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// `dst.protonum`.
    pub protonum: u8,
    /// Source port, or the ICMP id.
    pub sport: u16,
    /// Destination port, or (ICMP) `type << 8 | code`.
    pub dport: u16,
}

impl NfConntrackTuple {
    /// ICMP: `dst.u.icmp.type`.
    pub const fn icmp_type(&self) -> u8 {
        (self.dport >> 8) as u8
    }

    /// Kernel: `nf_ct_invert_tuple`: the tuple of the other direction;
    /// None for an ICMP type without a reply type (`icmp_invert_tuple`).
    pub fn invert(&self) -> Option<NfConntrackTuple> {
        let (sport, dport) = match self.protonum {
            IPPROTO_ICMP => {
                let t = proto_icmp::icmp_invert_type(self.icmp_type())?;
                (self.sport, (t as u16) << 8 | (self.dport & 0xff))
            }
            _ => (self.dport, self.sport),
        };
        Some(NfConntrackTuple {
            src: self.dst,
            dst: self.src,
            protonum: self.protonum,
            sport,
            dport,
        })
    }
}

/// `enum ip_conntrack_dir`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpConntrackDir {
    /// `IP_CT_DIR_ORIGINAL`.
    Original = 0,
    /// `IP_CT_DIR_REPLY`.
    Reply = 1,
}

impl IpConntrackDir {
    /// The other direction (`!dir`).
    pub const fn other(self) -> Self {
        match self {
            IpConntrackDir::Original => IpConntrackDir::Reply,
            IpConntrackDir::Reply => IpConntrackDir::Original,
        }
    }
}

/// `enum ip_conntrack_info`: how the packet relates to its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpConntrackInfo {
    /// `IP_CT_ESTABLISHED`: original direction, connection seen both ways.
    Established,
    /// `IP_CT_RELATED`: an ICMP error (or expectation) of a connection.
    Related,
    /// `IP_CT_NEW`: first packet(s) of a connection.
    New,
    /// `IP_CT_ESTABLISHED_REPLY`.
    EstablishedReply,
    /// `IP_CT_RELATED_REPLY`.
    RelatedReply,
}

impl IpConntrackInfo {
    /// The direction of the packet (`CTINFO2DIR`).
    pub const fn dir(self) -> IpConntrackDir {
        match self {
            IpConntrackInfo::EstablishedReply | IpConntrackInfo::RelatedReply => {
                IpConntrackDir::Reply
            }
            _ => IpConntrackDir::Original,
        }
    }
}

/// `skb->_nfct`: the packet's connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Nfct {
    /// Not looked at by conntrack (or INVALID: no entry).
    #[default]
    None,
    /// `IP_CT_UNTRACKED` (`-j CT --notrack`).
    Untracked,
    /// An entry of `NfConntrack::conns` and the packet's relation to it.
    Ct {
        /// Index in `NfConntrack::conns`.
        idx: u32,
        /// `ctinfo`.
        ctinfo: IpConntrackInfo,
    },
}

/// `IPS_*` status bits of a connection.
pub mod ips {
    /// `IPS_EXPECTED`.
    pub const EXPECTED: u32 = 1 << 0;
    /// `IPS_SEEN_REPLY`.
    pub const SEEN_REPLY: u32 = 1 << 1;
    /// `IPS_ASSURED`.
    pub const ASSURED: u32 = 1 << 2;
    /// `IPS_CONFIRMED`.
    pub const CONFIRMED: u32 = 1 << 3;
    /// `IPS_SRC_NAT`.
    pub const SRC_NAT: u32 = 1 << 4;
    /// `IPS_DST_NAT`.
    pub const DST_NAT: u32 = 1 << 5;
    /// `IPS_NAT_MASK`.
    pub const NAT_MASK: u32 = SRC_NAT | DST_NAT;
    /// `IPS_SRC_NAT_DONE`.
    pub const SRC_NAT_DONE: u32 = 1 << 7;
    /// `IPS_DST_NAT_DONE`.
    pub const DST_NAT_DONE: u32 = 1 << 8;
    /// `IPS_NAT_DONE_MASK`.
    pub const NAT_DONE_MASK: u32 = SRC_NAT_DONE | DST_NAT_DONE;
    /// `IPS_DYING`: out of the table, freed with the last packet holding it.
    pub const DYING: u32 = 1 << 9;
    /// `IPS_FIXED_TIMEOUT`.
    pub const FIXED_TIMEOUT: u32 = 1 << 10;
    /// `IPS_NAT_CLASH`.
    pub const NAT_CLASH: u32 = 1 << 16;
}

/// `struct nf_conn`: one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NfConn {
    /// `tuplehash[ORIGINAL]` and `tuplehash[REPLY]` (the reply tuple as NAT made it).
    pub tuple: [NfConntrackTuple; 2],
    /// `IPS_*` bits.
    pub status: u32,
    /// `ct->mark`.
    pub mark: u32,
    /// `ct->timeout`: when the entry expires, in jiffies, once confirmed;
    /// before that, the lifetime it will get at confirmation.
    pub timeout: u64,
    /// The TCP state (TCP connections only), `ct->proto.tcp.state`.
    pub tcp_state: TcpConntrack,
    /// The rest of `ct->proto.tcp`.
    pub tcp: IpCtTcp,
    /// `ct->proto.udp.stream_ts`.
    pub udp_stream_ts: u64,
    /// Whether the slot holds a connection (false: on the free list).
    pub in_use: bool,
}

impl NfConn {
    /// A new entry for `orig` and its inverse (`__nf_conntrack_alloc`).
    pub fn new(orig: NfConntrackTuple, repl: NfConntrackTuple) -> Self {
        NfConn {
            tuple: [orig, repl],
            status: 0,
            mark: 0,
            timeout: 0,
            tcp_state: TcpConntrack::None,
            tcp: IpCtTcp::default(),
            udp_stream_ts: 0,
            in_use: true,
        }
    }

    /// `nf_ct_is_confirmed`.
    pub const fn is_confirmed(&self) -> bool {
        self.status & ips::CONFIRMED != 0
    }

    /// `nf_ct_is_dying`.
    pub const fn is_dying(&self) -> bool {
        self.status & ips::DYING != 0
    }

    /// `nf_ct_is_expired` at `now`.
    pub const fn is_expired(&self, now: u64) -> bool {
        self.is_confirmed() && self.timeout <= now
    }

    /// Kernel: `nf_ct_refresh_acct` / `__nf_ct_refresh_acct`: the entry
    /// lives `extra` jiffies from now (from confirmation when unconfirmed).
    pub fn refresh(&mut self, now: u64, extra: u64) {
        if self.status & ips::FIXED_TIMEOUT != 0 {
            return;
        }
        self.timeout = if self.is_confirmed() {
            now + extra
        } else {
            extra
        };
    }

    /// `nf_ct_protonum`.
    pub const fn protonum(&self) -> u8 {
        self.tuple[0].protonum
    }
}

/// The connection table (`nf_conntrack_hash`), one per namespace.
#[derive(Clone, Debug, Default)]
pub struct NfConntrack {
    /// Connections; freed slots are reused.
    pub conns: Vec<NfConn>,
    /// Tuple to (connection, direction), for confirmed connections.
    pub hash: HashMap<NfConntrackTuple, (u32, IpConntrackDir)>,
    /// Free slots of `conns`.
    pub free: Vec<u32>,
    /// `nf_nat_bysource`: (original source, source port, protocol) to the
    /// connections given a source binding, oldest first.
    pub nat_bysource: HashMap<(Ipv4Addr, u16, u8), Vec<u32>>,
    /// `nfct_time_stamp`: the clock of the last `nf_conntrack_in` or
    /// `nf_conntrack_confirm`, for the expiry checks NAT makes.
    pub now: u64,
}

impl NfConntrack {
    /// The connection of a packet, if it has one.
    pub fn get(&self, nfct: Nfct) -> Option<&NfConn> {
        match nfct {
            Nfct::Ct { idx, .. } => self.conns.get(idx as usize).filter(|c| c.in_use),
            _ => None,
        }
    }

    /// Connections in use (confirmed or not).
    pub fn count(&self) -> usize {
        self.conns.iter().filter(|c| c.in_use).count()
    }

    fn alloc(&mut self, conn: NfConn) -> u32 {
        if let Some(idx) = self.free.pop() {
            self.conns[idx as usize] = conn;
            idx
        } else {
            self.conns.push(conn);
            (self.conns.len() - 1) as u32
        }
    }

    /// Takes the entry's tuples out of the hash (`nf_ct_delete_from_lists`).
    fn unhash(&mut self, idx: u32) {
        let conn = &self.conns[idx as usize];
        for t in conn.tuple {
            if self.hash.get(&t).is_some_and(|&(i, _)| i == idx) {
                self.hash.remove(&t);
            }
        }
    }

    /// Kernel: `nf_conntrack_free`: the slot goes back to the free list.
    fn free_conn(&mut self, idx: u32) {
        let conn = &mut self.conns[idx as usize];
        if !conn.in_use {
            return;
        }
        conn.in_use = false;
        let key = (
            conn.tuple[0].src,
            conn.tuple[0].sport,
            conn.tuple[0].protonum,
        );
        if let Some(v) = self.nat_bysource.get_mut(&key) {
            v.retain(|&i| i != idx);
            if v.is_empty() {
                self.nat_bysource.remove(&key);
            }
        }
        self.free.push(idx);
    }

    /// Kernel: `nf_ct_kill`: out of the table at once; the slot is freed
    /// when the last packet holding it lets go (`nf_ct_put`).
    pub fn nf_ct_kill(&mut self, idx: u32) {
        self.unhash(idx);
        self.conns[idx as usize].status |= ips::DYING;
    }

    /// Kernel: `nf_ct_gc_expired`: an expired entry is removed on sight.
    fn gc_expired(&mut self, idx: u32) {
        self.unhash(idx);
        self.free_conn(idx);
    }

    /// Kernel: `__nf_conntrack_find_get`: the confirmed entry with this
    /// tuple (either direction); an expired one is removed and not found.
    pub fn find(&mut self, tuple: &NfConntrackTuple, now: u64) -> Option<(u32, IpConntrackDir)> {
        let &(idx, dir) = self.hash.get(tuple)?;
        if self.conns[idx as usize].is_expired(now) {
            self.gc_expired(idx);
            return None;
        }
        Some((idx, dir))
    }

    /// Kernel: `nf_conntrack_tuple_taken`: whether a confirmed entry other
    /// than `ignored` holds `tuple` (an entry with the same original tuple
    /// is the same flow and left to clash resolution).
    pub fn tuple_taken(&mut self, tuple: &NfConntrackTuple, ignored: u32) -> bool {
        let Some(&(idx, _)) = self.hash.get(tuple) else {
            return false;
        };
        if idx == ignored {
            return false;
        }
        if self.conns[idx as usize].is_expired(self.now) {
            self.gc_expired(idx);
            return false;
        }
        self.conns[idx as usize].tuple[0] != self.conns[ignored as usize].tuple[0]
    }

    /// Kernel: `gc_worker`: removes every expired entry. Not run per packet
    /// (lookups remove what they find expired); for a caller that advances
    /// the clock a long way.
    pub fn gc_worker(&mut self, now: u64) {
        for idx in 0..self.conns.len() as u32 {
            let c = &self.conns[idx as usize];
            if c.in_use && c.is_expired(now) {
                self.gc_expired(idx);
            }
        }
    }
}

/// One connection as `conntrack -L` lists it (what `conntrack -I` gives
/// `ctnetlink_create_conntrack`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtListed {
    /// The original tuple.
    pub orig: NfConntrackTuple,
    /// The reply tuple (not the inverse of `orig` when NAT applies).
    pub reply: NfConntrackTuple,
    /// `[UNREPLIED]`: no `IPS_SEEN_REPLY`.
    pub unreplied: bool,
    /// `[ASSURED]`: `IPS_ASSURED`.
    pub assured: bool,
    /// Seconds left before the entry expires.
    pub timeout_secs: u64,
    /// The TCP state (TCP only).
    pub tcp_state: TcpConntrack,
    /// `mark=`.
    pub mark: u32,
}

/// Why a listed connection cannot enter the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CtCreateError {
    /// A connection already holds one of its tuples (`-EEXIST`).
    #[error("a connection with tuple {0:?} is already in the table")]
    Exists(NfConntrackTuple),
    /// The two tuples are one: the entry could never be told apart.
    #[error("the reply tuple is the original tuple")]
    SameTuples,
    /// The original tuple is an ICMP type without a reply type
    /// (`icmp_invert_tuple` refuses it, so conntrack never tracks it).
    #[error("ICMP type {0} has no reply type")]
    NoInverse(u8),
}

impl NfConntrack {
    /// Kernel: `ctnetlink_create_conntrack` (net/netfilter/nf_conntrack_netlink.c),
    /// as `conntrack -I` drives it: a confirmed connection with both tuples,
    /// in the table at once.
    ///
    /// Sets: `IPS_CONFIRMED`, `IPS_SEEN_REPLY` unless unreplied,
    /// `IPS_ASSURED`; `IPS_SRC_NAT` when the reply's destination (address,
    /// port or ICMP id) is not the original source, `IPS_DST_NAT` when its
    /// source is not the original destination; both `*_NAT_DONE` bits, as
    /// on any entry that passed the NAT hooks (a null binding where nothing
    /// was translated), and the source binding (`nf_nat_bysource`); the
    /// timeout `timeout_secs` from `now`. A TCP entry's window history is
    /// unknown: it is tracked liberally, as a connection picked up
    /// mid-stream (checked on 6.18: after `conntrack -I` of an ESTABLISHED
    /// entry, conntrack-tools 1.4.7, a segment 10 MB past the window one
    /// packet each way later is ESTABLISHED, not INVALID). Returns the
    /// entry's index.
    pub fn ctnetlink_create_conntrack(
        &mut self,
        e: &CtListed,
        now: u64,
    ) -> Result<u32, CtCreateError> {
        if e.orig == e.reply {
            return Err(CtCreateError::SameTuples);
        }
        let Some(unnatted) = e.orig.invert() else {
            return Err(CtCreateError::NoInverse(e.orig.icmp_type()));
        };
        for t in [e.orig, e.reply] {
            if self.find(&t, now).is_some() {
                return Err(CtCreateError::Exists(t));
            }
        }
        let mut status = ips::CONFIRMED | ips::NAT_DONE_MASK;
        if !e.unreplied {
            status |= ips::SEEN_REPLY;
        }
        if e.assured {
            status |= ips::ASSURED;
        }
        // `unnatted` is the reply tuple had nothing been translated. An ICMP
        // id (in `sport` both ways) is rewritten by source NAT.
        let icmp = e.orig.protonum == IPPROTO_ICMP;
        let src_key_moved = if icmp {
            e.reply.sport != unnatted.sport
        } else {
            e.reply.dport != unnatted.dport
        };
        if e.reply.dst != unnatted.dst || src_key_moved {
            status |= ips::SRC_NAT;
        }
        if e.reply.src != unnatted.src || (!icmp && e.reply.sport != unnatted.sport) {
            status |= ips::DST_NAT;
        }
        let mut conn = NfConn::new(e.orig, e.reply);
        conn.status = status;
        conn.mark = e.mark;
        conn.timeout = now + e.timeout_secs * HZ;
        if e.orig.protonum == IPPROTO_TCP {
            conn.tcp_state = e.tcp_state;
            conn.tcp = proto_tcp::ip_ct_tcp_lost_history();
        }
        let idx = self.alloc(conn);
        self.hash.insert(e.orig, (idx, IpConntrackDir::Original));
        self.hash.insert(e.reply, (idx, IpConntrackDir::Reply));
        self.nat_bysource
            .entry((e.orig.src, e.orig.sport, e.orig.protonum))
            .or_default()
            .push(idx);
        Ok(idx)
    }
}

/// What `nf_conntrack_in` decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtVerdict {
    /// `NF_ACCEPT` (`nfct` says how the packet relates, or None for INVALID).
    Accept,
    /// `NF_DROP` (e.g. a TCP packet the tracker refuses with `-NF_DROP`).
    Drop,
}

/// A protocol tracker's answer (`nf_conntrack_handle_packet`'s return).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum L4Verdict {
    /// `NF_ACCEPT`.
    Accept,
    /// `NF_ACCEPT` after `nf_ct_kill_acct` (a TCP RST before any reply).
    AcceptKill,
    /// `-NF_ACCEPT`: INVALID, the packet goes on without an entry.
    Invalid,
    /// `-NF_REPEAT`: the entry was killed, look up again (TCP reopen).
    Repeat,
}

/// The IPv4 header fields conntrack reads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ip4 {
    pub saddr: Ipv4Addr,
    pub daddr: Ipv4Addr,
    pub protocol: u8,
    /// Header length in bytes.
    pub ihl: usize,
    /// Datagram length (`skb->len`): `tot_len`, bounded by the bytes held.
    pub len: usize,
    /// Fragment offset in 8-byte units.
    pub fragoff: u16,
    /// MF set.
    pub more_frags: bool,
}

impl Ip4 {
    pub fn parse(pkt: &[u8]) -> Option<Ip4> {
        if pkt.len() < 20 || pkt[0] >> 4 != 4 {
            return None;
        }
        let ihl = (pkt[0] & 0xf) as usize * 4;
        let tot = u16::from_be_bytes([pkt[2], pkt[3]]) as usize;
        if ihl < 20 || pkt.len() < ihl {
            return None;
        }
        let len = tot.min(pkt.len()).max(ihl);
        let frag = u16::from_be_bytes([pkt[6], pkt[7]]);
        Some(Ip4 {
            saddr: Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]),
            daddr: Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]),
            protocol: pkt[9],
            ihl,
            len,
            fragoff: frag & 0x1fff,
            more_frags: frag & 0x2000 != 0,
        })
    }
}

/// The ones' complement sum of `b` added to `sum` (`csum_partial`), unfolded.
pub(crate) fn csum_partial(b: &[u8], mut sum: u64) -> u64 {
    let mut chunks = b.chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [last] = chunks.remainder() {
        sum += (*last as u64) << 8;
    }
    sum
}

/// `csum_fold`: folds to 16 bits and complements.
pub(crate) fn csum_fold(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The sum of the TCP/UDP pseudo-header (`csum_tcpudp_nofold`).
pub(crate) fn pseudo_sum(saddr: Ipv4Addr, daddr: Ipv4Addr, proto: u8, len: usize) -> u64 {
    let s = saddr.octets();
    let d = daddr.octets();
    csum_partial(&s, 0) + csum_partial(&d, 0) + proto as u64 + len as u64
}

/// Kernel: `nf_ip_checksum` for a packet whose checksum the NIC did not
/// check (`CHECKSUM_NONE`): true when the L4 checksum of `pkt[dataoff..ip.len]`
/// is wrong (TCP and UDP with the pseudo-header, others without).
pub(crate) fn nf_ip_checksum_bad(pkt: &[u8], ip: &Ip4, dataoff: usize, protocol: u8) -> bool {
    let seg = &pkt[dataoff..ip.len];
    let mut sum = csum_partial(seg, 0);
    if protocol == IPPROTO_TCP || protocol == IPPROTO_UDP || protocol == IPPROTO_UDPLITE {
        sum += pseudo_sum(ip.saddr, ip.daddr, protocol, seg.len());
    }
    csum_fold(sum) != 0
}

/// Kernel: `nf_ct_get_tuple`: the tuple of the packet whose IPv4 header
/// says `ip` and whose L4 header starts at `dataoff`; None when the packet
/// is too short for it.
pub(crate) fn nf_ct_get_tuple(pkt: &[u8], ip: &Ip4, dataoff: usize) -> Option<NfConntrackTuple> {
    let l4 = pkt.get(dataoff..ip.len.max(dataoff))?;
    let (sport, dport) = match ip.protocol {
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_UDPLITE => {
            if l4.len() < 4 {
                return None;
            }
            (
                u16::from_be_bytes([l4[0], l4[1]]),
                u16::from_be_bytes([l4[2], l4[3]]),
            )
        }
        IPPROTO_ICMP => proto_icmp::icmp_pkt_to_tuple(l4)?,
        _ => (0, 0),
    };
    Some(NfConntrackTuple {
        src: ip.saddr,
        dst: ip.daddr,
        protonum: ip.protocol,
        sport,
        dport,
    })
}

/// Kernel: `nf_conntrack_in`: finds or creates the packet's connection
/// (`pkt` starts at the IPv4 header) and sets `nfct`.
///
/// Reads: the headers, the table, the sysctls. Sets: `nfct` (None when
/// the packet is INVALID), the entry's state and timeout, `IPS_SEEN_REPLY`
/// on the first reply. A new connection's entry is unconfirmed: the caller
/// confirms it at POST_ROUTING / LOCAL_IN or gives it back with
/// [`nf_ct_put`] when the packet is freed.
pub fn nf_conntrack_in(
    ct: &mut NfConntrack,
    sysctl: &NfSysctl,
    pkt: &[u8],
    hook: NfInetHook,
    now: u64,
    nfct: &mut Nfct,
) -> CtVerdict {
    ct.now = now;
    if *nfct != Nfct::None {
        return CtVerdict::Accept;
    }
    let Some(ip) = Ip4::parse(pkt) else {
        return CtVerdict::Accept;
    };
    // ipv4_get_l4proto: a fragment other than the first is not tracked
    // (the kernel reassembles before this hook; the model does not).
    if ip.fragoff != 0 {
        return CtVerdict::Accept;
    }
    let dataoff = ip.ihl;
    if ip.protocol == IPPROTO_ICMP {
        match proto_icmp::nf_conntrack_icmpv4_error(ct, sysctl, pkt, &ip, dataoff, hook, now) {
            proto_icmp::IcmpError::NotError => {}
            proto_icmp::IcmpError::Invalid => return CtVerdict::Accept,
            proto_icmp::IcmpError::Related(n) => {
                *nfct = n;
                return CtVerdict::Accept;
            }
        }
    }
    loop {
        let Some((idx, ctinfo)) = resolve_normal_ct(ct, pkt, &ip, dataoff, now) else {
            return CtVerdict::Accept;
        };
        let v = nf_conntrack_handle_packet(ct, idx, sysctl, pkt, &ip, dataoff, ctinfo, hook, now);
        match v {
            L4Verdict::Accept | L4Verdict::AcceptKill => {
                let conn = &mut ct.conns[idx as usize];
                if ctinfo == IpConntrackInfo::EstablishedReply {
                    conn.status |= ips::SEEN_REPLY;
                }
                if v == L4Verdict::AcceptKill {
                    ct.nf_ct_kill(idx);
                }
                *nfct = Nfct::Ct { idx, ctinfo };
                return CtVerdict::Accept;
            }
            L4Verdict::Invalid => {
                nf_ct_put(ct, Nfct::Ct { idx, ctinfo });
                return CtVerdict::Accept;
            }
            L4Verdict::Repeat => {
                // The tracker killed the old entry: nothing holds it now.
                ct.nf_ct_kill(idx);
                ct.free_conn(idx);
            }
        }
    }
}

/// Kernel: `resolve_normal_ct`: the entry the packet's tuple finds, with
/// the packet's `ctinfo`, or a new unconfirmed one (`init_conntrack`);
/// None when the packet has no tuple or its tuple cannot be inverted.
fn resolve_normal_ct(
    ct: &mut NfConntrack,
    pkt: &[u8],
    ip: &Ip4,
    dataoff: usize,
    now: u64,
) -> Option<(u32, IpConntrackInfo)> {
    let tuple = nf_ct_get_tuple(pkt, ip, dataoff)?;
    if let Some((idx, dir)) = ct.find(&tuple, now) {
        let ctinfo = match dir {
            IpConntrackDir::Reply => IpConntrackInfo::EstablishedReply,
            IpConntrackDir::Original => {
                let status = ct.conns[idx as usize].status;
                if status & ips::SEEN_REPLY != 0 {
                    IpConntrackInfo::Established
                } else if status & ips::EXPECTED != 0 {
                    IpConntrackInfo::Related
                } else {
                    IpConntrackInfo::New
                }
            }
        };
        return Some((idx, ctinfo));
    }
    let repl = tuple.invert()?;
    let idx = ct.alloc(NfConn::new(tuple, repl));
    Some((idx, IpConntrackInfo::New))
}

/// Kernel: `nf_conntrack_handle_packet`: the protocol tracker of the entry.
#[allow(clippy::too_many_arguments)]
fn nf_conntrack_handle_packet(
    ct: &mut NfConntrack,
    idx: u32,
    sysctl: &NfSysctl,
    pkt: &[u8],
    ip: &Ip4,
    dataoff: usize,
    ctinfo: IpConntrackInfo,
    hook: NfInetHook,
    now: u64,
) -> L4Verdict {
    let conn = &mut ct.conns[idx as usize];
    let pp = PktCtx {
        pkt,
        ip,
        dataoff,
        hook,
        sysctl,
        now,
    };
    match ip.protocol {
        IPPROTO_TCP => proto_tcp::nf_conntrack_tcp_packet(conn, &pp, ctinfo.dir()),
        IPPROTO_UDP | IPPROTO_UDPLITE => proto_udp::nf_conntrack_udp_packet(conn, &pp),
        IPPROTO_ICMP => proto_icmp::nf_conntrack_icmp_packet(conn, &pp),
        _ => {
            // generic_packet
            conn.refresh(now, GENERIC_TIMEOUT_SECS * HZ);
            L4Verdict::Accept
        }
    }
}

/// What a protocol tracker reads about the packet.
pub(crate) struct PktCtx<'a> {
    pub pkt: &'a [u8],
    pub ip: &'a Ip4,
    pub dataoff: usize,
    pub hook: NfInetHook,
    pub sysctl: &'a NfSysctl,
    pub now: u64,
}

impl PktCtx<'_> {
    /// The L4 bytes (to the end of the datagram).
    pub fn l4(&self) -> &[u8] {
        &self.pkt[self.dataoff..self.ip.len.max(self.dataoff)]
    }

    /// Whether the L4 length and checksum checks apply: a first fragment
    /// holds only part of the segment they cover.
    pub fn whole(&self) -> bool {
        !self.ip.more_frags
    }

    /// Whether `nf_conntrack_checksum` asks for the L4 checksum here
    /// (PRE_ROUTING only: outgoing packets are assumed right).
    pub fn check_csum(&self) -> bool {
        self.sysctl.checksum && self.hook == NfInetHook::PreRouting && self.whole()
    }
}

/// Kernel: `nf_conntrack_confirm` / `__nf_conntrack_confirm`: a new
/// connection enters the table once its first packet passed every hook.
///
/// No-op for a packet without an entry, an untracked one, a confirmed
/// entry, or a packet of the reply direction. The timeout starts now.
/// When another entry took one of the tuples meanwhile, the clash is
/// resolved as `nf_ct_resolve_clash` does: a UDP or ICMP packet whose
/// entry is identical to the one in the table (or whose rival has no NAT
/// binding) takes that entry; otherwise the packet is dropped.
pub fn nf_conntrack_confirm(ct: &mut NfConntrack, nfct: &mut Nfct, now: u64) -> CtVerdict {
    ct.now = now;
    let Nfct::Ct { idx, ctinfo } = *nfct else {
        return CtVerdict::Accept;
    };
    let Some(conn) = ct.conns.get(idx as usize).filter(|c| c.in_use) else {
        return CtVerdict::Accept;
    };
    if conn.is_confirmed() || ctinfo.dir() != IpConntrackDir::Original {
        return CtVerdict::Accept;
    }
    if conn.is_dying() {
        nf_ct_put(ct, *nfct);
        *nfct = Nfct::None;
        return CtVerdict::Drop;
    }
    let [orig, repl] = conn.tuple;
    let rival = [orig, repl]
        .iter()
        .find_map(|t| ct.find(t, now).map(|(i, _)| i));
    if let Some(winner) = rival {
        return nf_ct_resolve_clash(ct, nfct, winner);
    }
    let conn = &mut ct.conns[idx as usize];
    conn.timeout += now;
    conn.status |= ips::CONFIRMED;
    ct.hash.insert(orig, (idx, IpConntrackDir::Original));
    ct.hash.insert(repl, (idx, IpConntrackDir::Reply));
    CtVerdict::Accept
}

/// Kernel: `nf_ct_resolve_clash` / `__nf_ct_resolve_clash`.
fn nf_ct_resolve_clash(ct: &mut NfConntrack, nfct: &mut Nfct, winner: u32) -> CtVerdict {
    let Nfct::Ct { idx, ctinfo } = *nfct else {
        return CtVerdict::Accept;
    };
    let loser = &ct.conns[idx as usize];
    let w = &ct.conns[winner as usize];
    let allow_clash = matches!(w.protonum(), IPPROTO_UDP | IPPROTO_UDPLITE | IPPROTO_ICMP);
    let adopt = allow_clash
        && !w.is_dying()
        && (w.status & ips::NAT_DONE_MASK == 0 || w.tuple == loser.tuple);
    nf_ct_put(ct, *nfct);
    if adopt {
        *nfct = Nfct::Ct {
            idx: winner,
            ctinfo,
        };
        CtVerdict::Accept
    } else {
        *nfct = Nfct::None;
        CtVerdict::Drop
    }
}

/// Kernel: `nf_conntrack_put` when a packet is freed: an entry that is
/// not in the table (never confirmed, or killed while the packet held it)
/// is freed with its last packet. A confirmed entry stays. The path calls
/// this wherever it frees a packet whose `nfct` may hold such an entry.
pub fn nf_ct_put(ct: &mut NfConntrack, nfct: Nfct) {
    let Nfct::Ct { idx, .. } = nfct else {
        return;
    };
    let Some(conn) = ct.conns.get(idx as usize) else {
        return;
    };
    if conn.in_use && (!conn.is_confirmed() || conn.is_dying()) {
        ct.unhash(idx);
        ct.free_conn(idx);
    }
}
