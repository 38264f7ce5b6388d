//! Models net/ipv4/netfilter/ip_tables.c: the tables `iptables-save` prints
//! (`struct ipt_entry` with its `struct ipt_ip` header, matches and target)
//! and `ipt_do_table`, the walk of a hook's chain with jumps, gotos and
//! RETURN, counting every rule and policy that decides.
//!
//! The loaders (fwdsim-host) build these types from `iptables-save` text;
//! the evaluation lives in `netfilter::xtables::eval`.

use std::net::Ipv4Addr;
use std::sync::Arc;

use ipnet::Ipv4Net;

use crate::netfilter::NfInetHook;

/// The iptables tables, in the order their hooks run at equal hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableName {
    /// `raw` (priority -300).
    Raw,
    /// `mangle` (-150).
    Mangle,
    /// `nat` (-100 at PREROUTING/OUTPUT, 100 at INPUT/POSTROUTING).
    Nat,
    /// `filter` (0).
    Filter,
    /// `security` (50).
    Security,
}

impl TableName {
    /// The table's name as iptables spells it.
    pub const fn name(self) -> &'static str {
        match self {
            TableName::Raw => "raw",
            TableName::Mangle => "mangle",
            TableName::Nat => "nat",
            TableName::Filter => "filter",
            TableName::Security => "security",
        }
    }

    /// Parses `raw`, `mangle`, `nat`, `filter` or `security`.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "raw" => TableName::Raw,
            "mangle" => TableName::Mangle,
            "nat" => TableName::Nat,
            "filter" => TableName::Filter,
            "security" => TableName::Security,
            _ => return None,
        })
    }

    /// The hooks the table registers (`valid_hooks`).
    pub const fn hooks(self) -> &'static [NfInetHook] {
        use NfInetHook::*;
        match self {
            TableName::Raw => &[PreRouting, LocalOut],
            TableName::Mangle => &[PreRouting, LocalIn, Forward, LocalOut, PostRouting],
            TableName::Nat => &[PreRouting, LocalIn, LocalOut, PostRouting],
            TableName::Filter | TableName::Security => &[LocalIn, Forward, LocalOut],
        }
    }

    /// The priority of the table's hook at `hook` (`NF_IP_PRI_*`).
    pub const fn priority(self, hook: NfInetHook) -> i32 {
        match self {
            TableName::Raw => -300,
            TableName::Mangle => -150,
            TableName::Nat => match hook {
                NfInetHook::PreRouting | NfInetHook::LocalOut => -100,
                _ => 100,
            },
            TableName::Filter => 0,
            TableName::Security => 50,
        }
    }
}

/// Which iptables backend wrote a table: `iptables-save`'s header comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum XtBackend {
    /// `iptables-nft`: the table is an nftables table run by `nft_do_chain`.
    #[default]
    Nft,
    /// `iptables-legacy`: an x_tables table run by `ipt_do_table`.
    Legacy,
}

/// Packet and byte counters (`struct xt_counters`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XtCounters {
    /// Packets.
    pub pcnt: u64,
    /// Bytes (of the IP packet).
    pub bcnt: u64,
}

impl XtCounters {
    /// Counts one packet of `len` bytes.
    #[inline]
    pub fn add(&mut self, len: u32) {
        self.pcnt += 1;
        self.bcnt += len as u64;
    }
}

/// Where a rule came from: what a user reads to find it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleOrigin {
    /// The file (`iptables.txt`, a TOML host, ...).
    pub file: Arc<str>,
    /// Its 1-based line.
    pub line: u32,
    /// The rule as written, without its counters (`-A FORWARD -j DOCKER-USER`).
    pub text: Arc<str>,
}

/// `struct ipt_ip`: the match every rule has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IptIp {
    /// `-s`, with `!`.
    pub src: Option<(Ipv4Net, bool)>,
    /// `-d`, with `!`.
    pub dst: Option<(Ipv4Net, bool)>,
    /// `-i`, with `!`.
    pub iniface: Option<IfaceMatch>,
    /// `-o`, with `!`.
    pub outiface: Option<IfaceMatch>,
    /// `-p` (0 is `all`), with `!`.
    pub proto: Option<(u8, bool)>,
    /// `-f` (true: second and later fragments only; `! -f`: the others).
    pub frag: Option<bool>,
}

/// An interface name match: exact, or a prefix with `+`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfaceMatch {
    /// The name without a trailing `+`.
    pub name: String,
    /// It ended in `+`: any device whose name starts with `name`.
    pub wildcard: bool,
    /// `!`.
    pub invert: bool,
}

impl IfaceMatch {
    /// Whether device name `dev` matches (before `invert`).
    pub fn hit(&self, dev: &str) -> bool {
        if self.wildcard {
            dev.starts_with(self.name.as_str())
        } else {
            dev == self.name
        }
    }
}

/// An inclusive port range (`--dport 80`, `--dport 1024:65535`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    /// First port.
    pub min: u16,
    /// Last port.
    pub max: u16,
}

impl PortRange {
    /// Whether `p` is in the range.
    #[inline]
    pub fn contains(self, p: u16) -> bool {
        self.min <= p && p <= self.max
    }
}

/// The conntrack states of `-m conntrack --ctstate` and `-m state --state`
/// (`XT_CONNTRACK_STATE_*` bits).
pub mod ctstate {
    /// `INVALID`.
    pub const INVALID: u8 = 1;
    /// `ESTABLISHED`.
    pub const ESTABLISHED: u8 = 2;
    /// `RELATED`.
    pub const RELATED: u8 = 4;
    /// `NEW`.
    pub const NEW: u8 = 8;
    /// `UNTRACKED`.
    pub const UNTRACKED: u8 = 16;
    /// `SNAT` (`--ctstate` only: the connection's source was translated).
    pub const SNAT: u8 = 32;
    /// `DNAT` (its destination was translated).
    pub const DNAT: u8 = 64;
}

/// `-m conntrack` (xt_conntrack).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConntrackMatch {
    /// `--ctstate` bits and `!`.
    pub state: Option<(u8, bool)>,
    /// `--ctstatus` bits (`IPS_*`) and `!`.
    pub status: Option<(u32, bool)>,
    /// `--ctdir ORIGINAL|REPLY`: true for REPLY.
    pub dir_reply: Option<bool>,
    /// `--ctorigsrc`, `--ctorigdst`, `--ctreplsrc`, `--ctrepldst` with `!`.
    pub orig_src: Option<(Ipv4Net, bool)>,
    /// See `orig_src`.
    pub orig_dst: Option<(Ipv4Net, bool)>,
    /// See `orig_src`.
    pub repl_src: Option<(Ipv4Net, bool)>,
    /// See `orig_src`.
    pub repl_dst: Option<(Ipv4Net, bool)>,
    /// `--ctorigdstport` with `!`.
    pub orig_dst_port: Option<(PortRange, bool)>,
    /// `--ctproto` with `!`.
    pub proto: Option<(u8, bool)>,
}

/// `-m addrtype` types (`XT_ADDRTYPE_*`: one bit per `RTN_*`).
pub mod addrtype {
    /// `UNSPEC`.
    pub const UNSPEC: u16 = 1 << 0;
    /// `UNICAST`.
    pub const UNICAST: u16 = 1 << 1;
    /// `LOCAL`.
    pub const LOCAL: u16 = 1 << 2;
    /// `BROADCAST`.
    pub const BROADCAST: u16 = 1 << 3;
    /// `ANYCAST`.
    pub const ANYCAST: u16 = 1 << 4;
    /// `MULTICAST`.
    pub const MULTICAST: u16 = 1 << 5;
    /// `BLACKHOLE`.
    pub const BLACKHOLE: u16 = 1 << 6;
    /// `UNREACHABLE`.
    pub const UNREACHABLE: u16 = 1 << 7;
    /// `PROHIBIT`.
    pub const PROHIBIT: u16 = 1 << 8;
    /// `THROW`.
    pub const THROW: u16 = 1 << 9;
    /// `NAT`.
    pub const NAT: u16 = 1 << 10;
    /// `XRESOLVE`.
    pub const XRESOLVE: u16 = 1 << 11;
}

/// TCP flag bits as `--tcp-flags` names them.
pub mod tcpflag {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
}

/// A `--limit` token bucket (xt_limit's `xt_limit_priv`), on the capture's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitMatch {
    /// Average: one packet per this many `XT_LIMIT_SCALE` units (`info->avg`).
    pub avg: u32,
    /// `--limit-burst`.
    pub burst: u32,
}

/// `-m length --length` with `!`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LengthMatch {
    /// Shortest IP packet.
    pub min: u16,
    /// Longest.
    pub max: u16,
    /// `!`.
    pub invert: bool,
}

/// `-m ttl` comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtlOp {
    /// `--ttl-eq`.
    Eq,
    /// `! --ttl-eq`.
    Ne,
    /// `--ttl-lt`.
    Lt,
    /// `--ttl-gt`.
    Gt,
}

/// `-m set --match-set NAME DIRS` (xt_set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetMatch {
    /// The set's name.
    pub name: String,
    /// Its index in `Netfilter::sets`, when the set was loaded.
    pub index: Option<usize>,
    /// One entry per dimension: true for `src`, false for `dst`.
    pub dirs: Vec<bool>,
    /// `!`.
    pub invert: bool,
}

/// `-m physdev` (xt_physdev), with the bridge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhysdevMatch {
    /// `--physdev-in`.
    pub physindev: Option<IfaceMatch>,
    /// `--physdev-out`.
    pub physoutdev: Option<IfaceMatch>,
    /// `--physdev-is-in` with `!`.
    pub is_in: Option<bool>,
    /// `--physdev-is-out` with `!`.
    pub is_out: Option<bool>,
    /// `--physdev-is-bridged` with `!`.
    pub is_bridged: Option<bool>,
}

/// A match module of a rule (`-m NAME ...` or the implicit one of `-p`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XtMatch {
    /// `-p tcp` options (xt_tcpudp): ports with `!`, `--tcp-flags MASK COMP`
    /// with `!` (`--syn` is `SYN,RST,ACK,FIN SYN`).
    Tcp {
        /// `--sport`.
        sport: Option<(PortRange, bool)>,
        /// `--dport`.
        dport: Option<(PortRange, bool)>,
        /// `--tcp-flags` mask, compare, `!`.
        flags: Option<(u8, u8, bool)>,
    },
    /// `-p udp` options.
    Udp {
        /// `--sport`.
        sport: Option<(PortRange, bool)>,
        /// `--dport`.
        dport: Option<(PortRange, bool)>,
    },
    /// `-p icmp --icmp-type TYPE[/CODE]` with `!` (code range `min..=max`).
    Icmp {
        /// Type (255: any).
        icmp_type: u8,
        /// Code range.
        code: (u8, u8),
        /// `!`.
        invert: bool,
    },
    /// `-m multiport --sports/--dports/--ports` (up to 15 ports or ranges).
    Multiport {
        /// Which ports are compared: 0 source, 1 destination, 2 either.
        flags: u8,
        /// The ports and ranges.
        ports: Vec<PortRange>,
        /// `!`.
        invert: bool,
    },
    /// `-m conntrack`.
    Conntrack(ConntrackMatch),
    /// `-m state --state` with `!`.
    State {
        /// `ctstate` bits.
        mask: u8,
        /// `!`.
        invert: bool,
    },
    /// `-m addrtype`.
    Addrtype {
        /// `--src-type` bits and `!`.
        src: Option<(u16, bool)>,
        /// `--dst-type` bits and `!`.
        dst: Option<(u16, bool)>,
        /// `--limit-iface-in`.
        limit_iface_in: bool,
        /// `--limit-iface-out`.
        limit_iface_out: bool,
    },
    /// `-m set`.
    Set(SetMatch),
    /// `-m comment --comment` (always matches).
    Comment(String),
    /// `-m mark --mark VALUE[/MASK]` with `!`.
    Mark {
        /// Value.
        value: u32,
        /// Mask.
        mask: u32,
        /// `!`.
        invert: bool,
    },
    /// `-m connmark --mark VALUE[/MASK]` with `!`.
    Connmark {
        /// Value.
        value: u32,
        /// Mask.
        mask: u32,
        /// `!`.
        invert: bool,
    },
    /// `-m iprange --src-range/--dst-range` with `!`.
    Iprange {
        /// Source range.
        src: Option<(Ipv4Addr, Ipv4Addr, bool)>,
        /// Destination range.
        dst: Option<(Ipv4Addr, Ipv4Addr, bool)>,
    },
    /// `-m length`.
    Length(LengthMatch),
    /// `-m ttl`.
    Ttl {
        /// The comparison.
        op: TtlOp,
        /// The TTL compared with.
        value: u8,
    },
    /// `-m limit`: its bucket state lives in `Netfilter::limits[slot]`.
    Limit {
        /// Rate and burst.
        spec: LimitMatch,
        /// The index of its bucket.
        slot: usize,
    },
    /// `-m physdev`.
    Physdev(PhysdevMatch),
    /// `-m rpfilter` (net/ipv4/netfilter/ipt_rpfilter.c): the reverse path
    /// check as a match, valid in raw and mangle PREROUTING.
    Rpfilter {
        /// `--loose`: any route back will do, whatever its device.
        loose: bool,
        /// `--validmark`: the reverse lookup uses the packet's mark.
        validmark: bool,
        /// `--accept-local`: a local route back counts.
        accept_local: bool,
        /// `--invert`: match when the check fails.
        invert: bool,
    },
    /// A module fwdsim does not model: the rule is reported at load and
    /// every packet that reaches it is marked.
    Unsupported {
        /// The module's name (`-m NAME`).
        name: String,
    },
}

/// `--reject-with` types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RejectWith {
    /// `icmp-net-unreachable`.
    NetUnreachable,
    /// `icmp-host-unreachable`.
    HostUnreachable,
    /// `icmp-port-unreachable` (the default).
    #[default]
    PortUnreachable,
    /// `icmp-proto-unreachable`.
    ProtoUnreachable,
    /// `icmp-net-prohibited`.
    NetProhibited,
    /// `icmp-host-prohibited`.
    HostProhibited,
    /// `icmp-admin-prohibited`.
    AdminProhibited,
    /// `tcp-reset`.
    TcpReset,
}

impl RejectWith {
    /// The ICMP code of `ICMP_DEST_UNREACH` this sends (None for tcp-reset).
    pub const fn icmp_code(self) -> Option<u8> {
        Some(match self {
            RejectWith::NetUnreachable => 0,
            RejectWith::HostUnreachable => 1,
            RejectWith::ProtoUnreachable => 2,
            RejectWith::PortUnreachable => 3,
            RejectWith::NetProhibited => 9,
            RejectWith::HostProhibited => 10,
            RejectWith::AdminProhibited => 13,
            RejectWith::TcpReset => return None,
        })
    }

    /// The name `iptables-save` prints.
    pub const fn name(self) -> &'static str {
        match self {
            RejectWith::NetUnreachable => "icmp-net-unreachable",
            RejectWith::HostUnreachable => "icmp-host-unreachable",
            RejectWith::PortUnreachable => "icmp-port-unreachable",
            RejectWith::ProtoUnreachable => "icmp-proto-unreachable",
            RejectWith::NetProhibited => "icmp-net-prohibited",
            RejectWith::HostProhibited => "icmp-host-prohibited",
            RejectWith::AdminProhibited => "icmp-admin-prohibited",
            RejectWith::TcpReset => "tcp-reset",
        }
    }
}

/// A NAT range (`struct nf_nat_range2`): addresses and ports, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct NatRange {
    /// First and last address (None: keep / choose as the target does).
    pub addr: Option<(Ipv4Addr, Ipv4Addr)>,
    /// First and last port (None: keep the port when it can be kept).
    pub ports: Option<(u16, u16)>,
    /// `--random` (`NF_NAT_RANGE_PROTO_RANDOM`).
    pub random: bool,
    /// `--random-fully`.
    pub random_fully: bool,
    /// `--persistent`.
    pub persistent: bool,
}

/// `-j MARK` / `-j CONNMARK` operations: `new = (old & !mask) ^ value`
/// (`--set-xmark`), with the other spellings reduced to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XMark {
    /// The bits XORed in.
    pub value: u32,
    /// The bits cleared first.
    pub mask: u32,
}

/// A rule's target (`-j` or `-g`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XtTarget {
    /// No `-j`: the rule only counts.
    None,
    /// `ACCEPT`.
    Accept,
    /// `DROP`.
    Drop,
    /// `RETURN`.
    Return,
    /// `-j CHAIN`: the index of a user chain of the same table.
    Jump(usize),
    /// `-g CHAIN`.
    Goto(usize),
    /// `REJECT --reject-with`.
    Reject(RejectWith),
    /// `LOG` (continues).
    Log {
        /// `--log-prefix`.
        prefix: String,
    },
    /// `NFLOG` (continues).
    Nflog {
        /// `--nflog-group`.
        group: u16,
        /// `--nflog-prefix`.
        prefix: String,
    },
    /// `MARK` (continues).
    Mark(XMark),
    /// `CONNMARK --set-xmark` (continues).
    ConnmarkSet(XMark),
    /// `CONNMARK --save-mark`: ctmark = (ctmark & !ctmask) | (mark & nfmask).
    ConnmarkSave {
        /// `--nfmask`.
        nfmask: u32,
        /// `--ctmask`.
        ctmask: u32,
    },
    /// `CONNMARK --restore-mark`: mark = (mark & !nfmask) | (ctmark & ctmask).
    ConnmarkRestore {
        /// `--nfmask`.
        nfmask: u32,
        /// `--ctmask`.
        ctmask: u32,
    },
    /// `MASQUERADE` (nat POSTROUTING).
    Masquerade(NatRange),
    /// `SNAT --to-source`.
    Snat(NatRange),
    /// `DNAT --to-destination`.
    Dnat(NatRange),
    /// `REDIRECT --to-ports`.
    Redirect(NatRange),
    /// `CT --notrack` and `NOTRACK` (raw).
    Notrack,
    /// `CT` with other options (zone, helper): accepted and continues; marked unmodelled.
    /// A target fwdsim does not model (marked like an unsupported match).
    Unsupported {
        /// The target's name.
        name: String,
    },
}

/// `struct ipt_entry`: one rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IptEntry {
    /// The header match.
    pub ip: IptIp,
    /// The `-m` matches in order.
    pub matches: Vec<XtMatch>,
    /// The target.
    pub target: XtTarget,
    /// Where the rule was read.
    pub origin: RuleOrigin,
    /// The counters the file had (`[p:b]`).
    pub saved: XtCounters,
    /// Counted by the simulation from zero.
    pub counters: XtCounters,
    /// The rule has a match or target fwdsim does not model.
    pub unmodelled: bool,
}

/// A chain: built in (with a policy) or a user chain (implicit RETURN).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IptChain {
    /// Its name.
    pub name: String,
    /// `ACCEPT`/`DROP` for a built-in chain, None for a user chain.
    pub policy: Option<Policy>,
    /// Its rules in order.
    pub rules: Vec<IptEntry>,
    /// The policy's counters from the file.
    pub saved: XtCounters,
    /// The policy's counters counted by the simulation.
    pub counters: XtCounters,
    /// The `:CHAIN` line's number in the file.
    pub line: u32,
    /// A built-in chain the kernel runs at its hook. iptables-nft creates
    /// its base chains on demand and `iptables -X` deletes those whose
    /// policy is ACCEPT, while `iptables-save` still prints every built-in
    /// chain (`:INPUT ACCEPT [0:0]`): such a chain, absent from
    /// `nft -j list ruleset`, is not hooked and no packet traverses it.
    pub hooked: bool,
}

/// A built-in chain's policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// `ACCEPT`.
    Accept,
    /// `DROP`.
    Drop,
}

impl Policy {
    /// `ACCEPT` or `DROP`.
    pub const fn name(self) -> &'static str {
        match self {
            Policy::Accept => "ACCEPT",
            Policy::Drop => "DROP",
        }
    }
}

/// One table (`*filter` ... `COMMIT`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IptTable {
    /// Which table.
    pub name: TableName,
    /// Which backend holds it.
    pub backend: XtBackend,
    /// The name of the file it was read from (`iptables.txt`,
    /// `iptables-legacy.txt`, a TOML host), so that `--save-counters` writes
    /// each file's tables back apart.
    pub file: Arc<str>,
    /// Its chains: the built-in ones first, as `iptables-save` prints them.
    pub chains: Vec<IptChain>,
}

impl IptTable {
    /// The index of chain `name`.
    pub fn chain_index(&self, name: &str) -> Option<usize> {
        self.chains.iter().position(|c| c.name == name)
    }

    /// The built-in chain of `hook` (`PREROUTING`, `INPUT`, ...), if the
    /// table has it registered at the hook.
    pub fn hook_chain(&self, hook: NfInetHook) -> Option<usize> {
        self.chain_index(hook.chain_name())
            .filter(|&c| self.chains[c].hooked)
    }
}
