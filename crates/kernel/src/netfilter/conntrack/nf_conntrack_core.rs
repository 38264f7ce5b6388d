//! Models net/netfilter/nf_conntrack_core.c: `nf_conntrack_in` (the tuple,
//! the lookup, a new entry when none matches), `nf_conntrack_confirm`.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::netfilter::{NfInetHook, NfSysctl};

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

/// `enum ip_conntrack_dir`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpConntrackDir {
    /// `IP_CT_DIR_ORIGINAL`.
    Original = 0,
    /// `IP_CT_DIR_REPLY`.
    Reply = 1,
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
    /// `IPS_SRC_NAT_DONE`.
    pub const SRC_NAT_DONE: u32 = 1 << 7;
    /// `IPS_DST_NAT_DONE`.
    pub const DST_NAT_DONE: u32 = 1 << 8;
}

/// The TCP tracker's state (`enum tcp_conntrack`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TcpConntrack {
    /// `TCP_CONNTRACK_NONE`.
    #[default]
    None,
    /// `TCP_CONNTRACK_SYN_SENT`.
    SynSent,
    /// `TCP_CONNTRACK_SYN_RECV`.
    SynRecv,
    /// `TCP_CONNTRACK_ESTABLISHED`.
    Established,
    /// `TCP_CONNTRACK_FIN_WAIT`.
    FinWait,
    /// `TCP_CONNTRACK_CLOSE_WAIT`.
    CloseWait,
    /// `TCP_CONNTRACK_LAST_ACK`.
    LastAck,
    /// `TCP_CONNTRACK_TIME_WAIT`.
    TimeWait,
    /// `TCP_CONNTRACK_CLOSE`.
    Close,
    /// `TCP_CONNTRACK_SYN_SENT2`.
    SynSent2,
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
    /// When the entry expires, in jiffies.
    pub timeout: u64,
    /// The TCP state (TCP connections only).
    pub tcp_state: TcpConntrack,
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
}

/// What `nf_conntrack_in` decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtVerdict {
    /// `NF_ACCEPT` (`nfct` says how the packet relates, or None for INVALID).
    Accept,
    /// `NF_DROP` (e.g. a TCP packet the tracker refuses with `-NF_DROP`).
    Drop,
}

/// Kernel: `nf_conntrack_in`: finds or creates the packet's connection
/// (`pkt` starts at the IPv4 header) and sets `nfct`.
pub fn nf_conntrack_in(
    ct: &mut NfConntrack,
    sysctl: &NfSysctl,
    pkt: &[u8],
    hook: NfInetHook,
    now: u64,
    nfct: &mut Nfct,
) -> CtVerdict {
    let _ = (ct, sysctl, pkt, hook, now, nfct);
    CtVerdict::Accept
}

/// Kernel: `nf_conntrack_confirm` / `__nf_conntrack_confirm`: a new
/// connection enters the table once its first packet passed every hook.
pub fn nf_conntrack_confirm(ct: &mut NfConntrack, nfct: Nfct) -> CtVerdict {
    let _ = (ct, nfct);
    CtVerdict::Accept
}
