//! Models net/netfilter/nf_tables_*.c and the nft_* expression modules: a
//! native nftables ruleset (`nft -j list ruleset`) as data — tables of a
//! family, base chains hooked at a priority, regular chains, rules as lists
//! of expressions and statements, named sets and maps — and `nft_do_chain`,
//! which runs a base chain over a packet.
//!
//! The expressions are a closed enum shaped like what `nft -j` prints (a
//! `match` of a left expression against a right one, `counter`, `vmap`,
//! `masquerade`, ...), not the kernel's register bytecode: the loader
//! (fwdsim-host's `nft_json`) builds them, `nf_tables_core` evaluates them
//! with one file per expression family (`nft_payload`, `nft_meta`, ...).

pub mod nf_tables_core;
pub mod nft_counter;
pub mod nft_ct;
pub mod nft_fib;
pub mod nft_immediate;
pub mod nft_limit;
pub mod nft_log;
pub mod nft_lookup;
pub mod nft_masq;
pub mod nft_meta;
pub mod nft_nat;
pub mod nft_payload;
pub mod nft_reject;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::netfilter::NfInetHook;
use crate::netfilter::conntrack::IpConntrackDir;
use crate::netfilter::xtables::ip_tables::{RejectWith, XtCounters};

pub use nf_tables_core::nft_do_chain;
pub use nft_limit::NftLimitState;

/// `NFPROTO_*`: a table's family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NftFamily {
    /// `ip`: IPv4 only.
    Ip,
    /// `inet`: IPv4 and IPv6 (its chains see every IPv4 packet).
    Inet,
    /// `ip6` (not run: the model has no IPv6 path).
    Ip6,
    /// `arp` (not run).
    Arp,
    /// `bridge` (not run: no bridge model yet).
    Bridge,
    /// `netdev` (not run: ingress/egress hooks are not modelled).
    Netdev,
}

impl NftFamily {
    /// The name `nft` uses.
    pub const fn name(self) -> &'static str {
        match self {
            NftFamily::Ip => "ip",
            NftFamily::Inet => "inet",
            NftFamily::Ip6 => "ip6",
            NftFamily::Arp => "arp",
            NftFamily::Bridge => "bridge",
            NftFamily::Netdev => "netdev",
        }
    }

    /// Parses `ip`, `inet`, `ip6`, `arp`, `bridge` or `netdev`.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "ip" => NftFamily::Ip,
            "inet" => NftFamily::Inet,
            "ip6" => NftFamily::Ip6,
            "arp" => NftFamily::Arp,
            "bridge" => NftFamily::Bridge,
            "netdev" => NftFamily::Netdev,
            _ => return None,
        })
    }

    /// Whether its base chains see IPv4 packets at the `NF_INET_*` hooks.
    pub const fn sees_ipv4(self) -> bool {
        matches!(self, NftFamily::Ip | NftFamily::Inet)
    }
}

/// `enum nft_chain_types`: what a base chain may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NftChainType {
    /// `filter`.
    Filter,
    /// `nat`: runs for a connection's first packet only (`nf_nat_inet_fn`).
    Nat,
    /// `route`: a filter chain that re-routes when the mark changes at LOCAL_OUT (the re-route is not modelled).
    Route,
}

impl NftChainType {
    /// The name `nft` uses.
    pub const fn name(self) -> &'static str {
        match self {
            NftChainType::Filter => "filter",
            NftChainType::Nat => "nat",
            NftChainType::Route => "route",
        }
    }
}

/// A base chain's policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NftPolicy {
    /// `accept`.
    Accept,
    /// `drop`.
    Drop,
}

/// What makes a chain a base chain: its hook, priority, type and policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NftBaseChain {
    /// `type`.
    pub ty: NftChainType,
    /// `hook`.
    pub hook: NfInetHook,
    /// `prio`.
    pub priority: i32,
    /// `policy`.
    pub policy: NftPolicy,
}

/// A verdict (`struct nft_verdict`): immediate, or the data of a verdict map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NftVerdict {
    /// `accept` (`NF_ACCEPT`).
    Accept,
    /// `drop` (`NF_DROP`).
    Drop,
    /// `continue` (`NFT_CONTINUE`).
    Continue,
    /// `return` (`NFT_RETURN`).
    Return,
    /// `jump CHAIN` (index in the table's chains).
    Jump(u16),
    /// `goto CHAIN`.
    Goto(u16),
}

/// An interface name as nft stores it (`IFNAMSIZ` bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfName {
    bytes: [u8; 16],
    len: u8,
}

impl IfName {
    /// The name (truncated to 16 bytes).
    pub fn new(s: &str) -> Self {
        let mut bytes = [0u8; 16];
        let n = s.len().min(16);
        bytes[..n].copy_from_slice(&s.as_bytes()[..n]);
        IfName {
            bytes,
            len: n as u8,
        }
    }

    /// The bytes of the name.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl fmt::Debug for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// One value an expression loads or a rule compares with: a number
/// (addresses are their 32 bits, host order), or an interface name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NftValue {
    /// Integers, addresses, protocols, marks, bit masks.
    Int(u64),
    /// `iifname`, `oifname`.
    Name(IfName),
}

impl NftValue {
    /// An IPv4 address.
    pub fn addr(a: Ipv4Addr) -> Self {
        NftValue::Int(u32::from(a) as u64)
    }

    /// The number, or 0 for a name.
    pub fn int(self) -> u64 {
        match self {
            NftValue::Int(v) => v,
            NftValue::Name(_) => 0,
        }
    }
}

/// The type of a key, which decides how values print (`ipv4_addr`, `ifname`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NftType {
    /// `ipv4_addr`.
    Ipv4Addr,
    /// `ifname`.
    Ifname,
    /// Any number (`inet_service`, `mark`, `inet_proto`, bit masks, ...).
    Int,
}

/// A right-hand value: a value, a prefix, a range, an `ifname` wildcard,
/// or a concatenation (set elements of a concatenated type).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NftElem {
    /// One value.
    Val(NftValue),
    /// `10.0.0.0/8`: the top `len` bits of the 32-bit value.
    Prefix {
        /// The network.
        addr: u32,
        /// Its length.
        len: u8,
    },
    /// `lo-hi`, inclusive.
    Range(u64, u64),
    /// `"eth*"`: names starting with these bytes.
    Wildcard(IfName),
    /// `a . b . c`.
    Concat(Vec<NftElem>),
}

impl NftElem {
    /// Whether `v` is this element (a single, non-concatenated value).
    pub fn matches(&self, v: NftValue) -> bool {
        match (self, v) {
            (NftElem::Val(a), b) => *a == b,
            (NftElem::Prefix { addr, len }, NftValue::Int(x)) => {
                let mask = if *len == 0 {
                    0
                } else {
                    u32::MAX << (32 - (*len).min(32) as u32)
                };
                (x as u32) & mask == *addr & mask
            }
            (NftElem::Range(lo, hi), NftValue::Int(x)) => *lo <= x && x <= *hi,
            (NftElem::Wildcard(p), NftValue::Name(n)) => n.as_bytes().starts_with(p.as_bytes()),
            (NftElem::Concat(parts), v) => parts.len() == 1 && parts[0].matches(v),
            _ => false,
        }
    }

    /// Whether the values `vs` (one per part) are this element.
    pub fn matches_all(&self, vs: &[NftValue]) -> bool {
        match self {
            NftElem::Concat(parts) => {
                parts.len() == vs.len() && parts.iter().zip(vs).all(|(p, v)| p.matches(*v))
            }
            e => vs.len() == 1 && e.matches(vs[0]),
        }
    }
}

/// `payload` fields fwdsim reads (`nft_payload`): each implies its
/// protocol, as `nft` adds the dependency without printing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadField {
    /// `ip saddr`.
    IpSaddr,
    /// `ip daddr`.
    IpDaddr,
    /// `ip protocol`.
    IpProtocol,
    /// `ip ttl`.
    IpTtl,
    /// `ip length`.
    IpLength,
    /// `tcp sport`.
    TcpSport,
    /// `tcp dport`.
    TcpDport,
    /// `tcp flags`.
    TcpFlags,
    /// `udp sport`.
    UdpSport,
    /// `udp dport`.
    UdpDport,
    /// `th sport`: the transport header's first 16 bits (TCP, UDP, UDP-Lite, SCTP, DCCP).
    ThSport,
    /// `th dport`.
    ThDport,
    /// `icmp type`.
    IcmpType,
    /// `icmp code`.
    IcmpCode,
    /// An IPv6 header field (`ip6 saddr`, `icmpv6 type`, ...): never an IPv4 packet's.
    Ip6(&'static str),
}

/// `meta` keys (`nft_meta`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaKey {
    /// `iifname`.
    Iifname,
    /// `oifname`.
    Oifname,
    /// `iif`.
    Iif,
    /// `oif`.
    Oif,
    /// `l4proto`.
    L4proto,
    /// `protocol` (the ethertype: 0x0800).
    Protocol,
    /// `nfproto` (`NFPROTO_IPV4` = 2).
    Nfproto,
    /// `mark`.
    Mark,
    /// `length` (of the IP packet).
    Length,
}

/// `ct` keys (`nft_ct`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtKey {
    /// `state` (`NF_CT_STATE_*` bits).
    State,
    /// `status` (`IPS_*` bits).
    Status,
    /// `mark`.
    Mark,
    /// `direction`.
    Direction,
    /// `[original|reply] saddr`.
    Saddr,
    /// `[original|reply] daddr`.
    Daddr,
    /// `[original|reply] proto-src`.
    ProtoSrc,
    /// `[original|reply] proto-dst`.
    ProtoDst,
}

/// The symbolic values of a key's type, as `nft` reads and prints them:
/// one list per type, used by the loader and by the rule text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NftSym {
    /// Numbers only.
    None,
    /// `inet_proto`.
    Proto,
    /// `nf_proto`.
    Nfproto,
    /// `ether_type`.
    EtherType,
    /// `ct_state` (flags).
    CtState,
    /// `ct_status` (flags).
    CtStatus,
    /// `ct_dir`.
    CtDir,
    /// `tcp_flag` (flags).
    TcpFlags,
    /// `icmp_type`.
    IcmpType,
    /// `fib_addrtype` (`RTN_*`).
    FibType,
}

impl NftSym {
    /// Names and values.
    pub const fn table(self) -> &'static [(&'static str, u64)] {
        match self {
            NftSym::None => &[],
            NftSym::Proto => &[
                ("icmp", 1),
                ("igmp", 2),
                ("ipip", 4),
                ("tcp", 6),
                ("udp", 17),
                ("dccp", 33),
                ("ipv6", 41),
                ("gre", 47),
                ("esp", 50),
                ("ah", 51),
                ("ipv6-icmp", 58),
                ("vrrp", 112),
                ("l2tp", 115),
                ("sctp", 132),
                ("udplite", 136),
            ],
            NftSym::Nfproto => &[("inet", 1), ("ipv4", 2), ("arp", 3), ("ipv6", 10)],
            NftSym::EtherType => &[
                ("ip", 0x0800),
                ("arp", 0x0806),
                ("vlan", 0x8100),
                ("ip6", 0x86dd),
            ],
            NftSym::CtState => &[
                ("invalid", ct_state::INVALID),
                ("established", ct_state::ESTABLISHED),
                ("related", ct_state::RELATED),
                ("new", ct_state::NEW),
                ("untracked", ct_state::UNTRACKED),
            ],
            NftSym::CtStatus => &[
                ("expected", 1),
                ("seen-reply", 2),
                ("assured", 4),
                ("confirmed", 8),
                ("snat", 16),
                ("dnat", 32),
                ("dying", 512),
            ],
            NftSym::CtDir => &[("original", 0), ("reply", 1)],
            NftSym::TcpFlags => &[
                ("fin", 0x01),
                ("syn", 0x02),
                ("rst", 0x04),
                ("psh", 0x08),
                ("ack", 0x10),
                ("urg", 0x20),
                ("ecn", 0x40),
                ("cwr", 0x80),
            ],
            NftSym::IcmpType => &[
                ("echo-reply", 0),
                ("destination-unreachable", 3),
                ("source-quench", 4),
                ("redirect", 5),
                ("echo-request", 8),
                ("router-advertisement", 9),
                ("router-solicitation", 10),
                ("time-exceeded", 11),
                ("parameter-problem", 12),
                ("timestamp-request", 13),
                ("timestamp-reply", 14),
                ("info-request", 15),
                ("info-reply", 16),
                ("address-mask-request", 17),
                ("address-mask-reply", 18),
            ],
            NftSym::FibType => &[
                ("unspec", 0),
                ("unicast", 1),
                ("local", 2),
                ("broadcast", 3),
                ("anycast", 4),
                ("multicast", 5),
                ("blackhole", 6),
                ("unreachable", 7),
                ("prohibit", 8),
            ],
        }
    }

    /// Whether values are bit masks (`established,related`).
    pub const fn is_flags(self) -> bool {
        matches!(self, NftSym::CtState | NftSym::CtStatus | NftSym::TcpFlags)
    }

    /// The value of name `s` (`icmpv6` is spelled `ipv6-icmp` too).
    pub fn value_of(self, s: &str) -> Option<u64> {
        if self == NftSym::Proto && s == "icmpv6" {
            return Some(58);
        }
        self.table().iter().find(|(n, _)| *n == s).map(|(_, v)| *v)
    }

    /// The name of value `v`.
    pub fn name_of(self, v: u64) -> Option<&'static str> {
        self.table().iter().find(|(_, x)| *x == v).map(|(n, _)| *n)
    }
}

/// `NF_CT_STATE_*` bits of `ct state`.
pub mod ct_state {
    /// `invalid`.
    pub const INVALID: u64 = 1;
    /// `established`.
    pub const ESTABLISHED: u64 = 2;
    /// `related`.
    pub const RELATED: u64 = 4;
    /// `new`.
    pub const NEW: u64 = 8;
    /// `untracked`.
    pub const UNTRACKED: u64 = 64;
}

/// `NFTA_FIB_F_*` flags of a `fib` expression.
pub mod fib_flags {
    /// `saddr`.
    pub const SADDR: u8 = 1;
    /// `daddr`.
    pub const DADDR: u8 = 2;
    /// `mark`.
    pub const MARK: u8 = 4;
    /// `iif`.
    pub const IIF: u8 = 8;
    /// `oif`.
    pub const OIF: u8 = 16;
}

/// What a `fib` expression returns (`enum nft_fib_result`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FibResultKind {
    /// `oif`: the output device's index (0: none — `missing`).
    Oif,
    /// `oifname`.
    Oifname,
    /// `type`: the address type (`RTN_*`).
    Type,
}

/// The left side of a `match`, or the key of a lookup: what is loaded from
/// the packet or its metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NftKey {
    /// `payload`.
    Payload(PayloadField),
    /// `meta`.
    Meta(MetaKey),
    /// `ct` with an optional direction.
    Ct {
        /// The key.
        key: CtKey,
        /// `original` / `reply` (None: the packet's own for tuple keys).
        dir: Option<IpConntrackDir>,
    },
    /// `fib`.
    Fib {
        /// `fib_flags` bits.
        flags: u8,
        /// What it returns.
        result: FibResultKind,
    },
    /// `a . b`.
    Concat(Vec<NftKey>),
    /// `key & mask` (`nft_bitwise`).
    And(Box<NftKey>, u64),
}

impl NftKey {
    /// The type of the values it loads.
    pub fn ty(&self) -> NftType {
        match self {
            NftKey::Payload(PayloadField::IpSaddr | PayloadField::IpDaddr) => NftType::Ipv4Addr,
            NftKey::Meta(MetaKey::Iifname | MetaKey::Oifname) => NftType::Ifname,
            NftKey::Ct {
                key: CtKey::Saddr | CtKey::Daddr,
                ..
            } => NftType::Ipv4Addr,
            NftKey::Fib {
                result: FibResultKind::Oifname,
                ..
            } => NftType::Ifname,
            _ => NftType::Int,
        }
    }

    /// The symbols its values print as.
    pub fn sym(&self) -> NftSym {
        match self {
            NftKey::Payload(PayloadField::IpProtocol) | NftKey::Meta(MetaKey::L4proto) => {
                NftSym::Proto
            }
            NftKey::Payload(PayloadField::TcpFlags) => NftSym::TcpFlags,
            NftKey::Payload(PayloadField::IcmpType) => NftSym::IcmpType,
            NftKey::Meta(MetaKey::Nfproto) => NftSym::Nfproto,
            NftKey::Meta(MetaKey::Protocol) => NftSym::EtherType,
            NftKey::Ct { key, .. } => match key {
                CtKey::State => NftSym::CtState,
                CtKey::Status => NftSym::CtStatus,
                CtKey::Direction => NftSym::CtDir,
                _ => NftSym::None,
            },
            NftKey::Fib {
                result: FibResultKind::Type,
                ..
            } => NftSym::FibType,
            NftKey::And(k, _) => k.sym(),
            _ => NftSym::None,
        }
    }

    /// Whether evaluating it needs conntrack.
    pub fn uses_ct(&self) -> bool {
        match self {
            NftKey::Ct { .. } => true,
            NftKey::Concat(ks) => ks.iter().any(|k| k.uses_ct()),
            NftKey::And(k, _) => k.uses_ct(),
            _ => false,
        }
    }
}

/// The comparison of a `match` (`nft_cmp`, or `nft_lookup` for sets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NftCmpOp {
    /// `==` (or implicit).
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `>`.
    Gt,
    /// `<=`.
    Le,
    /// `>=`.
    Ge,
    /// `in`: for flag types, any of the bits; for sets, membership.
    In,
}

impl NftCmpOp {
    /// The operator as `nft` prints it.
    pub const fn name(self) -> &'static str {
        match self {
            NftCmpOp::Eq => "==",
            NftCmpOp::Ne => "!=",
            NftCmpOp::Lt => "<",
            NftCmpOp::Gt => ">",
            NftCmpOp::Le => "<=",
            NftCmpOp::Ge => ">=",
            NftCmpOp::In => "in",
        }
    }
}

/// The right side of a `match`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NftRhs {
    /// A value, prefix, range or wildcard.
    Elem(NftElem),
    /// An anonymous set `{ a, b }`.
    Set(Vec<NftElem>),
    /// `@name`: index in the table's sets.
    Named(u16),
    /// A list of flags (`established,related`): any of these bits.
    Flags(u64),
    /// `fib ... oif missing` (false) / `exists` (true).
    Bool(bool),
}

/// The data of a map: a verdict (verdict maps) or a value (`dnat to ... map`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NftMapData {
    /// `jump`, `goto`, `accept`, ...
    Verdict(NftVerdict),
    /// An address, port, or `addr . port`.
    Value(NftElem),
}

/// A map used by `vmap` or a NAT statement: anonymous or named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NftMapRef {
    /// `{ key : data, ... }`.
    Anon(Vec<(NftElem, NftMapData)>),
    /// `@name`.
    Named(u16),
}

/// A token bucket (`nft_limit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NftLimit {
    /// `rate`.
    pub rate: u64,
    /// `per`, in seconds.
    pub unit_secs: u64,
    /// `burst` (packets or bytes).
    pub burst: u64,
    /// `rate_unit bytes`: the rate is in bytes.
    pub bytes: bool,
    /// `over`: matches when above the rate.
    pub inv: bool,
}

/// Which translation a NAT statement makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NftNatKind {
    /// `snat`.
    Snat,
    /// `dnat`.
    Dnat,
    /// `masquerade` (`nft_masq`).
    Masquerade,
    /// `redirect` (`nft_redir`).
    Redirect,
}

impl NftNatKind {
    /// The statement's name.
    pub const fn name(self) -> &'static str {
        match self {
            NftNatKind::Snat => "snat",
            NftNatKind::Dnat => "dnat",
            NftNatKind::Masquerade => "masquerade",
            NftNatKind::Redirect => "redirect",
        }
    }
}

/// Where a NAT statement's address (and port) come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NftNatAddr {
    /// `to 10.0.2.2` / `to 10.0.2.2-10.0.2.3`.
    Range(Ipv4Addr, Ipv4Addr),
    /// `to KEY map @m` (or an anonymous map): data `addr` or `addr . port`.
    Map {
        /// The key.
        key: NftKey,
        /// The map.
        map: NftMapRef,
    },
}

/// `snat`, `dnat`, `masquerade`, `redirect` (`nft_nat`, `nft_masq`, `nft_redir`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftNat {
    /// Which.
    pub kind: NftNatKind,
    /// `to ADDR` (snat/dnat).
    pub addr: Option<NftNatAddr>,
    /// `:PORT[-PORT]`.
    pub ports: Option<(u16, u16)>,
    /// `random`.
    pub random: bool,
    /// `fully-random`.
    pub random_fully: bool,
    /// `persistent`.
    pub persistent: bool,
}

/// The value a `meta mark set` / `ct mark set` writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NftSetValue {
    /// A constant.
    Imm(u32),
    /// Another key's value (`meta mark set ct mark`).
    Key(NftKey),
}

/// One expression or statement of a rule, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NftExpr {
    /// `match`: the rule stops here unless `left op right` holds.
    Match {
        /// What is loaded.
        left: NftKey,
        /// The comparison.
        op: NftCmpOp,
        /// What it is compared with.
        right: NftRhs,
    },
    /// `counter`: the rule's packets and bytes (`NftRule::counters`).
    Counter,
    /// `limit rate ...`: its bucket state lives beside it.
    Limit(NftLimit, NftLimitState),
    /// `log [prefix]` (continues).
    Log {
        /// `prefix`.
        prefix: Option<String>,
    },
    /// `accept`, `drop`, `jump`, ...
    Verdict(NftVerdict),
    /// `KEY vmap MAP`: the verdict of the key's element (none: the rule goes on).
    Vmap {
        /// The key.
        key: NftKey,
        /// The verdict map.
        map: NftMapRef,
    },
    /// A NAT statement (ends the chain with its binding's verdict).
    Nat(NftNat),
    /// `reject` (ends the chain with a drop and sends the answer).
    Reject(RejectWith),
    /// `notrack`.
    Notrack,
    /// `meta mark set`.
    MetaMarkSet(NftSetValue),
    /// `ct mark set`.
    CtMarkSet(NftSetValue),
    /// An expression fwdsim does not model: reported at load, and every
    /// packet reaching it is marked. A match (`matches`) stops the rule as
    /// an unknown `-m` match does; a statement lets it go on.
    Unsupported {
        /// What `nft -j` names it (`quota`, `meta skuid`, ...).
        name: String,
        /// It is a match (true) or a statement (false).
        matches: bool,
    },
}

impl NftExpr {
    /// Whether it needs conntrack (`ct` keys and statements, `notrack`).
    pub fn uses_ct(&self) -> bool {
        match self {
            NftExpr::Match { left, .. } => left.uses_ct(),
            NftExpr::Vmap { key, .. } => key.uses_ct(),
            // The NAT statements take conntrack (nft_nat_init).
            NftExpr::CtMarkSet(_) | NftExpr::Notrack | NftExpr::Nat(_) => true,
            NftExpr::MetaMarkSet(NftSetValue::Key(k)) => k.uses_ct(),
            _ => false,
        }
    }
}

/// One rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftRule {
    /// `handle`.
    pub handle: u64,
    /// Its expressions in order.
    pub exprs: Vec<NftExpr>,
    /// `comment`.
    pub comment: Option<String>,
    /// The rule in `nft` syntax (for traces and reports).
    pub text: Arc<str>,
    /// Counted by the simulation from zero at each `counter`.
    pub counters: XtCounters,
    /// The counters its `counter` had in the file.
    pub saved: XtCounters,
}

/// A chain: a base chain (hooked) or a regular one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftChain {
    /// `name`.
    pub name: String,
    /// `handle`.
    pub handle: u64,
    /// Hook, priority, type and policy of a base chain.
    pub base: Option<NftBaseChain>,
    /// Its rules.
    pub rules: Vec<NftRule>,
    /// Packets the policy decided (base chains).
    pub counters: XtCounters,
}

/// A named set or map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftSet {
    /// `name`.
    pub name: String,
    /// The key's type, one per part of a concatenation.
    pub key: Vec<NftType>,
    /// Its elements, with their data for a map.
    pub elems: Vec<(NftElem, Option<NftMapData>)>,
    /// A map (`map` in the JSON).
    pub is_map: bool,
}

impl NftSet {
    /// The element matching `vs`, if any (`nft_lookup`).
    pub fn find(&self, vs: &[NftValue]) -> Option<&(NftElem, Option<NftMapData>)> {
        self.elems.iter().find(|(e, _)| e.matches_all(vs))
    }
}

/// A table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftTable {
    /// `family`.
    pub family: NftFamily,
    /// `name`.
    pub name: String,
    /// Its chains, in the order listed.
    pub chains: Vec<NftChain>,
    /// Its named sets and maps.
    pub sets: Vec<NftSet>,
}

impl NftTable {
    /// An empty table.
    pub fn new(family: NftFamily, name: &str) -> Self {
        NftTable {
            family,
            name: name.into(),
            chains: Vec::new(),
            sets: Vec::new(),
        }
    }

    /// The index of chain `name`.
    pub fn chain_index(&self, name: &str) -> Option<usize> {
        self.chains.iter().position(|c| c.name == name)
    }

    /// The index of set or map `name`.
    pub fn set_index(&self, name: &str) -> Option<usize> {
        self.sets.iter().position(|s| s.name == name)
    }

    /// Whether a rule needs conntrack (`nf_ct_netns_get` from a `ct`
    /// expression or a NAT statement): a nat chain alone does not, and
    /// without conntrack its rules never run (no connection to bind).
    pub fn needs_ct(&self) -> bool {
        self.chains
            .iter()
            .any(|c| c.rules.iter().any(|r| r.exprs.iter().any(|e| e.uses_ct())))
    }

    /// `table ip docker-bridges`.
    pub fn title(&self) -> String {
        format!("table {} {}", self.family.name(), self.name)
    }

    /// The rule's expressions in `nft` syntax.
    pub fn rule_text(&self, exprs: &[NftExpr]) -> String {
        let mut s = String::new();
        for e in exprs {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&self.expr_text(e));
        }
        s
    }

    /// One expression in `nft` syntax.
    pub fn expr_text(&self, e: &NftExpr) -> String {
        match e {
            NftExpr::Match { left, op, right } => {
                let op = match (op, left) {
                    (NftCmpOp::Eq, NftKey::And(..)) => "== ".to_string(),
                    (NftCmpOp::Eq, _) | (NftCmpOp::In, _) => String::new(),
                    (o, _) => format!("{} ", o.name()),
                };
                let right = match right {
                    _ if matches!(left, NftKey::Payload(PayloadField::Ip6(_))) => "…".to_string(),
                    NftRhs::Bool(false) => "missing".to_string(),
                    NftRhs::Bool(true) => "exists".to_string(),
                    r => self.rhs_text(left, r),
                };
                format!("{} {op}{right}", key_text(left))
            }
            NftExpr::Counter => "counter".into(),
            NftExpr::Limit(l, _) => format!(
                "limit rate {}{}/{} burst {} {}",
                if l.inv { "over " } else { "" },
                l.rate,
                match l.unit_secs {
                    1 => "second",
                    60 => "minute",
                    3600 => "hour",
                    86400 => "day",
                    _ => "week",
                },
                l.burst,
                if l.bytes { "bytes" } else { "packets" }
            ),
            NftExpr::Log { prefix: Some(p) } => format!("log prefix {p:?}"),
            NftExpr::Log { prefix: None } => "log".into(),
            NftExpr::Verdict(v) => self.verdict_text(*v),
            NftExpr::Vmap { key, map } => {
                format!("{} vmap {}", key_text(key), self.map_text(key, map))
            }
            NftExpr::Nat(n) => {
                let mut s = n.kind.name().to_string();
                match &n.addr {
                    Some(NftNatAddr::Range(a, b)) if a == b => s += &format!(" to {a}"),
                    Some(NftNatAddr::Range(a, b)) => s += &format!(" to {a}-{b}"),
                    Some(NftNatAddr::Map { key, map }) => {
                        s += &format!(" to {} map {}", key_text(key), self.map_text(key, map))
                    }
                    None => {}
                }
                match n.ports {
                    Some((a, b)) if a == b && n.addr.is_some() => s += &format!(":{a}"),
                    Some((a, b)) if a == b => s += &format!(" to :{a}"),
                    Some((a, b)) if n.addr.is_some() => s += &format!(":{a}-{b}"),
                    Some((a, b)) => s += &format!(" to :{a}-{b}"),
                    None => {}
                }
                for (f, name) in [
                    (n.random, " random"),
                    (n.random_fully, " fully-random"),
                    (n.persistent, " persistent"),
                ] {
                    if f {
                        s += name;
                    }
                }
                s
            }
            NftExpr::Reject(RejectWith::TcpReset) => "reject with tcp reset".into(),
            NftExpr::Reject(w) => format!(
                "reject with icmp {}",
                w.name()
                    .trim_start_matches("icmp-")
                    .replace("proto-", "prot-")
            ),
            NftExpr::Notrack => "notrack".into(),
            NftExpr::MetaMarkSet(v) => format!("meta mark set {}", set_value_text(v)),
            NftExpr::CtMarkSet(v) => format!("ct mark set {}", set_value_text(v)),
            NftExpr::Unsupported { name, .. } => format!("<{name}>"),
        }
    }

    fn verdict_text(&self, v: NftVerdict) -> String {
        let name = |c: u16| self.chains.get(c as usize).map_or("?", |c| c.name.as_str());
        match v {
            NftVerdict::Accept => "accept".into(),
            NftVerdict::Drop => "drop".into(),
            NftVerdict::Continue => "continue".into(),
            NftVerdict::Return => "return".into(),
            NftVerdict::Jump(c) => format!("jump {}", name(c)),
            NftVerdict::Goto(c) => format!("goto {}", name(c)),
        }
    }

    fn rhs_text(&self, left: &NftKey, r: &NftRhs) -> String {
        match r {
            NftRhs::Elem(e) => elem_text(left, e),
            NftRhs::Set(es) => {
                let v: Vec<String> = es.iter().map(|e| elem_text(left, e)).collect();
                format!("{{ {} }}", v.join(", "))
            }
            NftRhs::Named(i) => format!(
                "@{}",
                self.sets.get(*i as usize).map_or("?", |s| s.name.as_str())
            ),
            NftRhs::Flags(f) => flags_text(left, *f),
            NftRhs::Bool(b) => b.to_string(),
        }
    }

    fn map_text(&self, key: &NftKey, m: &NftMapRef) -> String {
        match m {
            NftMapRef::Named(i) => format!(
                "@{}",
                self.sets.get(*i as usize).map_or("?", |s| s.name.as_str())
            ),
            NftMapRef::Anon(es) => {
                let v: Vec<String> = es
                    .iter()
                    .map(|(e, d)| {
                        let d = match d {
                            NftMapData::Verdict(v) => self.verdict_text(*v),
                            NftMapData::Value(x) => elem_text(&NftKey::Meta(MetaKey::Mark), x),
                        };
                        format!("{} : {d}", elem_text(key, e))
                    })
                    .collect();
                format!("{{ {} }}", v.join(", "))
            }
        }
    }
}

fn set_value_text(v: &NftSetValue) -> String {
    match v {
        NftSetValue::Imm(x) => format!("{x:#010x}"),
        NftSetValue::Key(k) => key_text(k),
    }
}

/// A key in `nft` syntax (`ip saddr`, `ct state`, `fib saddr . iif oif`).
pub fn key_text(k: &NftKey) -> String {
    match k {
        NftKey::Payload(f) => match f {
            PayloadField::IpSaddr => "ip saddr".into(),
            PayloadField::IpDaddr => "ip daddr".into(),
            PayloadField::IpProtocol => "ip protocol".into(),
            PayloadField::IpTtl => "ip ttl".into(),
            PayloadField::IpLength => "ip length".into(),
            PayloadField::TcpSport => "tcp sport".into(),
            PayloadField::TcpDport => "tcp dport".into(),
            PayloadField::TcpFlags => "tcp flags".into(),
            PayloadField::UdpSport => "udp sport".into(),
            PayloadField::UdpDport => "udp dport".into(),
            PayloadField::ThSport => "th sport".into(),
            PayloadField::ThDport => "th dport".into(),
            PayloadField::IcmpType => "icmp type".into(),
            PayloadField::IcmpCode => "icmp code".into(),
            PayloadField::Ip6(s) => s.to_string(),
        },
        NftKey::Meta(m) => match m {
            MetaKey::Iifname => "iifname".into(),
            MetaKey::Oifname => "oifname".into(),
            MetaKey::Iif => "iif".into(),
            MetaKey::Oif => "oif".into(),
            MetaKey::L4proto => "meta l4proto".into(),
            MetaKey::Protocol => "meta protocol".into(),
            MetaKey::Nfproto => "meta nfproto".into(),
            MetaKey::Mark => "meta mark".into(),
            MetaKey::Length => "meta length".into(),
        },
        NftKey::Ct { key, dir } => {
            let d = match dir {
                Some(IpConntrackDir::Original) => "original ",
                Some(IpConntrackDir::Reply) => "reply ",
                None => "",
            };
            let k = match key {
                CtKey::State => "state",
                CtKey::Status => "status",
                CtKey::Mark => "mark",
                CtKey::Direction => "direction",
                CtKey::Saddr => "ip saddr",
                CtKey::Daddr => "ip daddr",
                CtKey::ProtoSrc => "proto-src",
                CtKey::ProtoDst => "proto-dst",
            };
            format!("ct {d}{k}")
        }
        NftKey::Fib { flags, result } => {
            let mut parts = Vec::new();
            for (b, n) in [
                (fib_flags::SADDR, "saddr"),
                (fib_flags::DADDR, "daddr"),
                (fib_flags::MARK, "mark"),
                (fib_flags::IIF, "iif"),
                (fib_flags::OIF, "oif"),
            ] {
                if flags & b != 0 {
                    parts.push(n);
                }
            }
            let r = match result {
                FibResultKind::Oif => "oif",
                FibResultKind::Oifname => "oifname",
                FibResultKind::Type => "type",
            };
            format!("fib {} {r}", parts.join(" . "))
        }
        NftKey::Concat(ks) => ks.iter().map(key_text).collect::<Vec<_>>().join(" . "),
        NftKey::And(k, m) => format!(
            "{} & ({})",
            key_text(k),
            flags_text(k, *m).replace(',', " | ")
        ),
    }
}

fn flags_text(k: &NftKey, f: u64) -> String {
    let sym = k.sym();
    let names = sym.table();
    let all = names.iter().fold(0, |a, (_, b)| a | b);
    if !sym.is_flags() || f == 0 || all & f != f {
        return format!("{f:#x}");
    }
    let v: Vec<&str> = names
        .iter()
        .filter(|(_, b)| f & b != 0)
        .map(|(n, _)| *n)
        .collect();
    v.join(",")
}

fn elem_text(k: &NftKey, e: &NftElem) -> String {
    match e {
        NftElem::Val(NftValue::Name(n)) => format!("{:?}", String::from_utf8_lossy(n.as_bytes())),
        NftElem::Val(NftValue::Int(v)) => match k.ty() {
            NftType::Ipv4Addr => Ipv4Addr::from(*v as u32).to_string(),
            _ if k.sym().is_flags() => flags_text(k, *v),
            _ => match k.sym().name_of(*v) {
                Some(n) => n.to_string(),
                None if matches!(
                    k,
                    NftKey::Meta(MetaKey::Mark)
                        | NftKey::Ct {
                            key: CtKey::Mark,
                            ..
                        }
                ) =>
                {
                    format!("{v:#010x}")
                }
                None => v.to_string(),
            },
        },
        NftElem::Prefix { addr, len } => format!("{}/{len}", Ipv4Addr::from(*addr)),
        NftElem::Range(a, b) => match k.ty() {
            NftType::Ipv4Addr => format!(
                "{}-{}",
                Ipv4Addr::from(*a as u32),
                Ipv4Addr::from(*b as u32)
            ),
            _ => format!("{a}-{b}"),
        },
        NftElem::Wildcard(n) => format!("\"{}*\"", String::from_utf8_lossy(n.as_bytes())),
        NftElem::Concat(parts) => {
            let keys: Vec<NftKey> = match k {
                NftKey::Concat(ks) => ks.clone(),
                _ => Vec::new(),
            };
            parts
                .iter()
                .enumerate()
                .map(|(i, p)| elem_text(keys.get(i).unwrap_or(&NftKey::Meta(MetaKey::Mark)), p))
                .collect::<Vec<_>>()
                .join(" . ")
        }
    }
}
