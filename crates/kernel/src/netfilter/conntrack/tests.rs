//! Conntrack scenarios: each transition with its exact `ctinfo`, state,
//! status bits and timeout.

use std::net::Ipv4Addr;

use etherparse::PacketBuilder;

use super::*;
use crate::netfilter::conntrack::proto_tcp::tcp_flag;
use crate::netfilter::{NfInetHook, NfSysctl};

pub(crate) fn a(s: &str) -> [u8; 4] {
    s.parse::<Ipv4Addr>().unwrap().octets()
}

/// A TCP segment; `flags` spells S, A, F, R, P.
pub(crate) fn tcp(
    src: &str,
    dst: &str,
    sp: u16,
    dp: u16,
    flags: &str,
    seq: u32,
    ack: u32,
) -> Vec<u8> {
    tcp_data(src, dst, sp, dp, flags, seq, ack, &[])
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn tcp_data(
    src: &str,
    dst: &str,
    sp: u16,
    dp: u16,
    flags: &str,
    seq: u32,
    ack: u32,
    data: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ipv4(a(src), a(dst), 64).tcp(sp, dp, seq, 64240);
    for c in flags.chars() {
        b = match c {
            'S' => b.syn(),
            'A' => b.ack(ack),
            'F' => b.fin(),
            'R' => b.rst(),
            'P' => b.psh(),
            _ => panic!("flag {c}"),
        };
    }
    let mut out = Vec::new();
    b.write(&mut out, data).unwrap();
    out
}

pub(crate) fn udp(src: &str, dst: &str, sp: u16, dp: u16, data: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4(a(src), a(dst), 64).udp(sp, dp);
    let mut out = Vec::new();
    b.write(&mut out, data).unwrap();
    out
}

pub(crate) fn echo(src: &str, dst: &str, id: u16, reply: bool) -> Vec<u8> {
    let b = PacketBuilder::ipv4(a(src), a(dst), 64);
    let b = if reply {
        b.icmpv4_echo_reply(id, 1)
    } else {
        b.icmpv4_echo_request(id, 1)
    };
    let mut out = Vec::new();
    b.write(&mut out, &[0xab; 16]).unwrap();
    out
}

/// An ICMP error of `typ`/`code` quoting `quoted` (its IP header and the
/// first bytes after it).
pub(crate) fn icmp_err(src: &str, dst: &str, typ: u8, code: u8, quoted: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4(a(src), a(dst), 64).icmpv4_raw(typ, code, [0; 4]);
    let mut out = Vec::new();
    b.write(&mut out, quoted).unwrap();
    out
}

/// A namespace's conntrack with its clock.
pub(crate) struct Ct {
    pub ct: NfConntrack,
    pub sys: NfSysctl,
    pub now: u64,
}

impl Ct {
    pub fn new() -> Self {
        Ct {
            ct: NfConntrack::default(),
            sys: NfSysctl::default(),
            now: 1000,
        }
    }

    /// `nf_conntrack_in` at `hook`.
    pub fn input(&mut self, pkt: &[u8], hook: NfInetHook) -> Nfct {
        let mut n = Nfct::None;
        let v = nf_conntrack_in(&mut self.ct, &self.sys, pkt, hook, self.now, &mut n);
        assert_eq!(v, CtVerdict::Accept);
        n
    }

    /// A forwarded packet: PRE_ROUTING, then confirmation at POST_ROUTING.
    pub fn fwd(&mut self, pkt: &[u8]) -> Nfct {
        let mut n = self.input(pkt, NfInetHook::PreRouting);
        assert_eq!(
            nf_conntrack_confirm(&mut self.ct, &mut n, self.now),
            CtVerdict::Accept
        );
        n
    }

    pub fn conn(&self, n: Nfct) -> &NfConn {
        self.ct.get(n).expect("a connection")
    }
}

fn info(n: Nfct) -> Option<IpConntrackInfo> {
    match n {
        Nfct::Ct { ctinfo, .. } => Some(ctinfo),
        _ => None,
    }
}

const C: &str = "10.0.0.2";
const S: &str = "192.0.2.10";

#[test]
fn tcp_handshake_new_established_reply_established() {
    let mut t = Ct::new();
    let syn = tcp(C, S, 40000, 80, "S", 1000, 0);
    let mut n = t.input(&syn, NfInetHook::PreRouting);
    assert_eq!(info(n), Some(IpConntrackInfo::New));
    let c = t.conn(n);
    assert_eq!(c.tcp_state, TcpConntrack::SynSent);
    assert_eq!(c.status & ips::CONFIRMED, 0);
    assert!(
        t.ct.hash.is_empty(),
        "unconfirmed entries are not in the table"
    );
    assert_eq!(c.timeout, 120 * HZ, "relative until confirmed");
    nf_conntrack_confirm(&mut t.ct, &mut n, t.now);
    assert_eq!(t.conn(n).timeout, 1000 + 120 * HZ);
    assert_eq!(t.ct.hash.len(), 2);

    t.now += 10;
    let synack = tcp(S, C, 80, 40000, "SA", 5000, 1001);
    let n2 = t.fwd(&synack);
    assert_eq!(info(n2), Some(IpConntrackInfo::EstablishedReply));
    let c = t.conn(n2);
    assert_eq!(c.tcp_state, TcpConntrack::SynRecv);
    assert_ne!(c.status & ips::SEEN_REPLY, 0);
    assert_eq!(c.status & ips::ASSURED, 0);
    assert_eq!(c.timeout, t.now + 60 * HZ);

    t.now += 10;
    let ack = tcp(C, S, 40000, 80, "A", 1001, 5001);
    let n3 = t.fwd(&ack);
    assert_eq!(info(n3), Some(IpConntrackInfo::Established));
    let c = t.conn(n3);
    assert_eq!(c.tcp_state, TcpConntrack::Established);
    assert_ne!(c.status & ips::ASSURED, 0);
    assert_eq!(c.timeout, t.now + 432_000 * HZ);

    // Data not yet acknowledged shortens the timeout to the unacknowledged one.
    t.now += 10;
    let data = tcp_data(C, S, 40000, 80, "PA", 1001, 5001, &[1; 100]);
    let n4 = t.fwd(&data);
    assert_eq!(info(n4), Some(IpConntrackInfo::Established));
    assert_eq!(t.conn(n4).timeout, t.now + 300 * HZ);
    let ack2 = tcp(S, C, 80, 40000, "A", 5001, 1101);
    let n5 = t.fwd(&ack2);
    assert_eq!(info(n5), Some(IpConntrackInfo::EstablishedReply));
    assert_eq!(t.conn(n5).timeout, t.now + 432_000 * HZ);
    assert_eq!(t.ct.count(), 1);
}

#[test]
fn tcp_bare_ack_is_new_with_loose_and_invalid_without() {
    let mut t = Ct::new();
    let ack = tcp(C, S, 40001, 80, "A", 7000, 9000);
    let n = t.fwd(&ack);
    assert_eq!(info(n), Some(IpConntrackInfo::New));
    let c = t.conn(n);
    assert_eq!(c.tcp_state, TcpConntrack::Established);
    // Picked up without a reply: the unacknowledged timeout, not 5 days.
    assert_eq!(c.timeout, t.now + 300 * HZ);

    let mut t = Ct::new();
    t.sys.tcp_loose = false;
    let n = t.fwd(&ack);
    assert_eq!(n, Nfct::None);
    assert_eq!(t.ct.count(), 0, "the refused entry is freed");
}

#[test]
fn tcp_packets_that_cannot_open_a_connection_are_invalid() {
    for flags in ["R", "RA", "FA", "SA", "SF", "F", ""] {
        let mut t = Ct::new();
        let p = tcp(C, S, 40002, 80, flags, 1, 1);
        assert_eq!(t.fwd(&p), Nfct::None, "flags {flags:?}");
        assert_eq!(t.ct.count(), 0);
        assert!(t.ct.hash.is_empty());
    }
}

#[test]
fn tcp_rst_answering_a_syn_kills_the_connection() {
    let mut t = Ct::new();
    t.fwd(&tcp(C, S, 40003, 80, "S", 1000, 0));
    let rst = tcp(S, C, 80, 40003, "RA", 0, 1001);
    let n = t.fwd(&rst);
    assert_eq!(info(n), Some(IpConntrackInfo::EstablishedReply));
    assert!(t.ct.hash.is_empty(), "killed: out of the table at once");
    assert_ne!(t.conn(n).status & ips::DYING, 0);
    nf_ct_put(&mut t.ct, n);
    assert_eq!(t.ct.count(), 0);
    let n = t.fwd(&tcp(C, S, 40003, 80, "S", 2000, 0));
    assert_eq!(info(n), Some(IpConntrackInfo::New));
}

#[test]
fn tcp_close_sequence_and_reopen_from_time_wait() {
    let mut t = Ct::new();
    let p = |t: &mut Ct, fwd: bool, flags: &str, seq: u32, ack: u32| {
        let pkt = if fwd {
            tcp(C, S, 40004, 80, flags, seq, ack)
        } else {
            tcp(S, C, 80, 40004, flags, seq, ack)
        };
        let n = t.fwd(&pkt);
        let c = t.conn(n);
        (c.tcp_state, c.timeout - t.now)
    };
    p(&mut t, true, "S", 1000, 0);
    p(&mut t, false, "SA", 5000, 1001);
    assert_eq!(
        p(&mut t, true, "A", 1001, 5001).0,
        TcpConntrack::Established
    );
    assert_eq!(
        p(&mut t, true, "FA", 1001, 5001),
        (TcpConntrack::FinWait, 120 * HZ)
    );
    assert_eq!(
        p(&mut t, false, "A", 5001, 1002),
        (TcpConntrack::CloseWait, 60 * HZ)
    );
    assert_eq!(
        p(&mut t, false, "FA", 5001, 1002),
        (TcpConntrack::LastAck, 30 * HZ)
    );
    assert_eq!(
        p(&mut t, true, "A", 1002, 5002),
        (TcpConntrack::TimeWait, 120 * HZ)
    );
    let old = t.ct.hash.values().next().unwrap().0;
    // A new SYN of the same tuple: the closed entry goes, a new one starts.
    let n = t.input(&tcp(C, S, 40004, 80, "S", 9000, 0), NfInetHook::PreRouting);
    assert_eq!(info(n), Some(IpConntrackInfo::New));
    assert_eq!(t.conn(n).tcp_state, TcpConntrack::SynSent);
    assert!(t.ct.hash.is_empty(), "the old entry left the table");
    assert_eq!(t.ct.count(), 1);
    let _ = old;
}

#[test]
fn tcp_rst_below_the_acknowledged_sequence_is_invalid() {
    let mut t = Ct::new();
    t.fwd(&tcp(C, S, 40005, 80, "S", 1000, 0));
    t.fwd(&tcp(S, C, 80, 40005, "SA", 5000, 1001));
    t.fwd(&tcp(C, S, 40005, 80, "A", 1001, 5001));
    t.fwd(&tcp(S, C, 80, 40005, "A", 5001, 1001));
    // The server acknowledged 1001: a RST from the client at 900 is stale.
    assert_eq!(t.fwd(&tcp(C, S, 40005, 80, "R", 900, 0)), Nfct::None);
    let n = t.fwd(&tcp(C, S, 40005, 80, "R", 1001, 0));
    assert_eq!(info(n), Some(IpConntrackInfo::Established));
    assert_eq!(t.conn(n).tcp_state, TcpConntrack::Close);
    assert_eq!(t.conn(n).timeout, t.now + 10 * HZ);
}

#[test]
fn udp_request_reply_then_stream() {
    let mut t = Ct::new();
    let q = udp(C, S, 5353, 53, b"query");
    let r = udp(S, C, 53, 5353, b"answer");
    let n = t.fwd(&q);
    assert_eq!(info(n), Some(IpConntrackInfo::New));
    assert_eq!(t.conn(n).timeout, t.now + 30 * HZ);
    t.now += HZ / 2;
    let n = t.fwd(&r);
    assert_eq!(info(n), Some(IpConntrackInfo::EstablishedReply));
    let c = t.conn(n);
    assert_ne!(c.status & ips::SEEN_REPLY, 0);
    assert_eq!(c.status & ips::ASSURED, 0);
    assert_eq!(c.timeout, t.now + 30 * HZ);
    t.now += HZ / 2;
    let n = t.fwd(&q);
    assert_eq!(info(n), Some(IpConntrackInfo::Established));
    assert_eq!(
        t.conn(n).timeout,
        t.now + 30 * HZ,
        "within 2 s: not a stream yet"
    );
    assert_eq!(t.conn(n).status & ips::ASSURED, 0);
    t.now += 2 * HZ;
    let n = t.fwd(&r);
    let c = t.conn(n);
    assert_eq!(c.timeout, t.now + 120 * HZ);
    assert_ne!(c.status & ips::ASSURED, 0);
}

#[test]
fn icmp_echo_and_reply_and_reply_without_request() {
    let mut t = Ct::new();
    let n = t.fwd(&echo(C, S, 77, false));
    assert_eq!(info(n), Some(IpConntrackInfo::New));
    let c = t.conn(n);
    assert_eq!(c.tuple[0].dport, 8 << 8);
    assert_eq!(c.tuple[1].dport, 0, "the reply tuple has the reply type");
    assert_eq!(c.timeout, t.now + 30 * HZ);
    let n = t.fwd(&echo(S, C, 77, true));
    assert_eq!(info(n), Some(IpConntrackInfo::EstablishedReply));

    let mut t = Ct::new();
    assert_eq!(t.fwd(&echo(S, C, 78, true)), Nfct::None);
    assert_eq!(t.ct.count(), 0);
    // Types that have no reply type are not tracked either.
    let rs = icmp_err(C, S, 10, 0, &[]);
    assert_eq!(t.fwd(&rs), Nfct::None);
}

#[test]
fn icmp_port_unreachable_of_a_udp_flow_is_related() {
    let mut t = Ct::new();
    let q = udp(C, S, 5353, 53, b"query");
    let n = t.fwd(&q);
    let idx = match n {
        Nfct::Ct { idx, .. } => idx,
        _ => unreachable!(),
    };
    // From the server back to the client: the reply direction.
    let err = icmp_err(S, C, 3, 3, &q);
    assert_eq!(
        t.fwd(&err),
        Nfct::Ct {
            idx,
            ctinfo: IpConntrackInfo::RelatedReply
        }
    );
    // About the answer, back towards the server: the original direction.
    let r = udp(S, C, 53, 5353, b"answer");
    let err = icmp_err(C, S, 3, 3, &r[..28]);
    assert_eq!(
        t.fwd(&err),
        Nfct::Ct {
            idx,
            ctinfo: IpConntrackInfo::Related
        }
    );
    // The outer destination must be where the connection's packets go.
    let err = icmp_err(S, "10.0.0.99", 3, 3, &q);
    assert_eq!(t.fwd(&err), Nfct::None);
    // About a flow nobody tracks.
    let other = udp(C, S, 5354, 53, b"x");
    assert_eq!(t.fwd(&icmp_err(S, C, 3, 3, &other)), Nfct::None);
    assert_eq!(t.ct.count(), 1);
}

#[test]
fn expired_entry_is_gone_and_the_packet_is_new() {
    let mut t = Ct::new();
    let q = udp(C, S, 6000, 53, b"q");
    let r = udp(S, C, 53, 6000, b"r");
    t.fwd(&q);
    t.now += 30 * HZ - 1;
    assert_eq!(info(t.fwd(&r)), Some(IpConntrackInfo::EstablishedReply));
    // The reply refreshed it to 30 s (not yet a stream).
    t.now += 30 * HZ;
    let n = t.fwd(&r);
    assert_eq!(info(n), Some(IpConntrackInfo::New));
    assert_eq!(t.conn(n).tuple[0].src, Ipv4Addr::new(192, 0, 2, 10));
    assert_eq!(t.ct.count(), 1, "the expired entry was freed");
}

#[test]
fn bad_checksums_are_invalid_at_pre_routing_only() {
    let mut t = Ct::new();
    let mut q = udp(C, S, 6001, 53, b"q");
    let l = q.len();
    q[l - 1] ^= 0xff;
    assert_eq!(t.fwd(&q), Nfct::None);
    assert_eq!(
        info(t.input(&q, NfInetHook::LocalOut)),
        Some(IpConntrackInfo::New)
    );
    t.sys.checksum = false;
    assert_eq!(info(t.fwd(&q)), Some(IpConntrackInfo::New));

    let mut t = Ct::new();
    let mut z = udp(C, S, 6002, 53, b"q");
    z[26] = 0;
    z[27] = 0;
    assert_eq!(
        info(t.fwd(&z)),
        Some(IpConntrackInfo::New),
        "UDP checksum 0: none to check"
    );

    let mut s = tcp(C, S, 40010, 80, "S", 1, 0);
    s[36] ^= 1;
    assert_eq!(t.fwd(&s), Nfct::None);
    let mut e = echo(C, S, 5, false);
    e[24] ^= 1;
    assert_eq!(t.fwd(&e), Nfct::None);
}

#[test]
fn unconfirmed_entries_never_match() {
    let mut t = Ct::new();
    let syn = tcp(C, S, 40020, 80, "S", 1000, 0);
    let n = t.input(&syn, NfInetHook::PreRouting);
    assert_eq!(info(n), Some(IpConntrackInfo::New));
    // Dropped before POST_ROUTING: the SYN-ACK finds nothing.
    nf_ct_put(&mut t.ct, n);
    assert_eq!(t.ct.count(), 0);
    assert_eq!(t.fwd(&tcp(S, C, 80, 40020, "SA", 5000, 1001)), Nfct::None);
    // A SYN again: a fresh entry in the freed slot.
    let n2 = t.fwd(&syn);
    assert_eq!(info(n2), Some(IpConntrackInfo::New));
    assert_eq!(t.ct.conns.len(), 1);
}

#[test]
fn later_fragments_are_not_tracked() {
    let mut t = Ct::new();
    let mut q = udp(C, S, 6003, 53, b"fragment");
    q[6] = 0x00;
    q[7] = 0x10;
    assert_eq!(t.fwd(&q), Nfct::None);
    // A first fragment is tracked by its ports.
    let mut f = udp(C, S, 6003, 53, b"fragment");
    f[6] = 0x20;
    assert_eq!(info(t.fwd(&f)), Some(IpConntrackInfo::New));
}

#[test]
fn confirm_clash_adopts_the_identical_udp_entry() {
    let mut t = Ct::new();
    let q = udp(C, S, 6004, 53, b"q");
    let mut n1 = t.input(&q, NfInetHook::PreRouting);
    let mut n2 = t.input(&q, NfInetHook::PreRouting);
    assert_ne!(n1, n2);
    nf_conntrack_confirm(&mut t.ct, &mut n1, t.now);
    assert_eq!(
        nf_conntrack_confirm(&mut t.ct, &mut n2, t.now),
        CtVerdict::Accept
    );
    assert_eq!(n1, n2);
    assert_eq!(t.ct.count(), 1);
    // TCP does not allow the clash: the loser is dropped.
    let s = tcp(C, S, 40030, 80, "S", 1, 0);
    let mut m1 = t.input(&s, NfInetHook::PreRouting);
    let mut m2 = t.input(&s, NfInetHook::PreRouting);
    nf_conntrack_confirm(&mut t.ct, &mut m1, t.now);
    assert_eq!(
        nf_conntrack_confirm(&mut t.ct, &mut m2, t.now),
        CtVerdict::Drop
    );
    assert_eq!(m2, Nfct::None);
    assert_eq!(t.ct.count(), 2);
}

// Window tracking (`tcp_in_window`). Every sequence below was replayed on
// Linux 6.18 (client, router, server namespaces; the router's FORWARD
// chain counted `--ctstate` per packet and `conntrack -L` gave the
// timeouts); the expected states and timeouts are what it showed.

/// A TCP segment with a window and raw option bytes (NOP-padded).
#[allow(clippy::too_many_arguments)]
fn seg(
    src: &str,
    dst: &str,
    sp: u16,
    dp: u16,
    flags: &str,
    seq: u32,
    ack: u32,
    win: u16,
    opts: &[u8],
    data: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ipv4(a(src), a(dst), 64).tcp(sp, dp, seq, win);
    for c in flags.chars() {
        b = match c {
            'S' => b.syn(),
            'A' => b.ack(ack),
            'F' => b.fin(),
            'R' => b.rst(),
            'P' => b.psh(),
            _ => panic!("flag {c}"),
        };
    }
    let mut o = opts.to_vec();
    while !o.len().is_multiple_of(4) {
        o.push(1);
    }
    let b = b.options_raw(&o).unwrap();
    let mut out = Vec::new();
    b.write(&mut out, data).unwrap();
    out
}

/// MSS 1460, SACK permitted, NOP, window scale 7 (Linux's SYN options, no timestamps).
const SYN_OPTS: [u8; 10] = [2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, 7];
/// MSS 1460 only.
const MSS_ONLY: [u8; 4] = [2, 4, 0x05, 0xb4];

/// A SACK option (after two NOPs) with one block.
fn sack_opt(left: u32, right: u32) -> Vec<u8> {
    let mut o = vec![1, 1, 5, 10];
    o.extend_from_slice(&left.to_be_bytes());
    o.extend_from_slice(&right.to_be_bytes());
    o
}

/// What `--ctstate` matches for the packet.
fn ctstate(n: Nfct) -> &'static str {
    match info(n) {
        None => "INVALID",
        Some(IpConntrackInfo::New) => "NEW",
        Some(IpConntrackInfo::Established | IpConntrackInfo::EstablishedReply) => "ESTABLISHED",
        Some(_) => "RELATED",
    }
}

const W: &str = "10.0.1.2";
const V: &str = "10.0.2.2";

/// Client to server.
fn c2s(sp: u16, flags: &str, seq: u32, ack: u32, win: u16, opts: &[u8], data: &[u8]) -> Vec<u8> {
    seg(W, V, sp, 80, flags, seq, ack, win, opts, data)
}

/// Server to client.
fn s2c(sp: u16, flags: &str, seq: u32, ack: u32, win: u16, opts: &[u8], data: &[u8]) -> Vec<u8> {
    seg(V, W, 80, sp, flags, seq, ack, win, opts, data)
}

impl Ct {
    /// Forwards `pkt` one jiffy later; returns its ctstate and the timeout
    /// left on the connection, in whole seconds as `conntrack -L` prints
    /// them at the moment the packet passed (None: no connection).
    fn step(&mut self, pkt: &[u8]) -> (&'static str, Option<u64>) {
        self.now += 1;
        let n = self.fwd(pkt);
        let left = self
            .ct
            .conns
            .iter()
            .find(|c| c.in_use)
            .map(|c| c.timeout.saturating_sub(self.now + 1) / HZ);
        (ctstate(n), left)
    }

    /// The one TCP connection of the table.
    fn only(&self) -> &NfConn {
        self.ct
            .conns
            .iter()
            .find(|c| c.in_use)
            .expect("a connection")
    }
}

/// SYN (window scale 7, SACK permitted), SYN-ACK (window scale 7 unless
/// `ws_server` is false) and the client's ACK with window `win`.
fn handshake(t: &mut Ct, sp: u16, ws_server: bool, win: u16) {
    let sopts: &[u8] = if ws_server { &SYN_OPTS } else { &MSS_ONLY };
    assert_eq!(
        t.step(&c2s(sp, "S", 1000, 0, 64240, &SYN_OPTS, &[])),
        ("NEW", Some(119))
    );
    assert_eq!(
        t.step(&s2c(sp, "SA", 5000, 1001, 65160, sopts, &[])),
        ("ESTABLISHED", Some(59))
    );
    assert_eq!(
        t.step(&c2s(sp, "A", 1001, 5001, win, &[], &[])),
        ("ESTABLISHED", Some(431_999))
    );
}

const D: [u8; 100] = [b'x'; 100];

#[test]
fn tcp_window_in_window_established_out_of_window_invalid() {
    let mut t = Ct::new();
    handshake(&mut t, 40001, true, 502);
    let c = t.only();
    assert_eq!(c.tcp.seen[0].td_scale, 7);
    assert_eq!(c.tcp.seen[1].td_scale, 7);
    assert_eq!(
        c.tcp.seen[0].flags & tcp_flag::SACK_PERM,
        tcp_flag::SACK_PERM
    );
    let steps: [(Vec<u8>, &str, u64); 8] = [
        (
            c2s(40001, "PA", 1001, 5001, 502, &[], &D),
            "ESTABLISHED",
            299,
        ),
        // 10 MB past the server's window: SEQ over the upper bound.
        (
            c2s(40001, "PA", 1001 + 10_000_000, 5001, 502, &[], &D),
            "INVALID",
            299,
        ),
        (
            s2c(40001, "A", 5001, 1101, 509, &[], &[]),
            "ESTABLISHED",
            431_999,
        ),
        // Acknowledges data the client never sent: ACK over the upper bound.
        (
            s2c(40001, "A", 5001, 1101 + 1_000_000, 509, &[], &[]),
            "INVALID",
            431_999,
        ),
        // Inside the client's window of 502 << 7.
        (
            s2c(40001, "PA", 5001 + 30_000, 1101, 509, &[], &D),
            "ESTABLISHED",
            299,
        ),
        (
            s2c(40001, "PA", 5001 + 200_000, 1101, 509, &[], &D),
            "INVALID",
            299,
        ),
        // Old data below the lower bound: ignored, let through as ESTABLISHED.
        (
            c2s(
                40001,
                "PA",
                1101u32.wrapping_sub(200_000),
                5001,
                502,
                &[],
                &D,
            ),
            "ESTABLISHED",
            299,
        ),
        (
            c2s(40001, "FA", 1001 + 10_000_000, 5001, 502, &[], &[]),
            "INVALID",
            299,
        ),
    ];
    for (i, (p, st, left)) in steps.iter().enumerate() {
        assert_eq!(t.step(p), (*st, Some(*left)), "packet {i}");
    }
    assert_eq!(t.only().tcp_state, TcpConntrack::Established);
    assert_eq!(t.ct.count(), 1);
}

#[test]
fn tcp_window_be_liberal_accepts_what_is_out_of_window() {
    let mut t = Ct::new();
    t.sys.tcp_be_liberal = true;
    handshake(&mut t, 40002, true, 502);
    assert_eq!(
        t.step(&c2s(40002, "PA", 1001 + 10_000_000, 5001, 502, &[], &D)),
        ("ESTABLISHED", Some(431_999))
    );
    assert_eq!(
        t.step(&s2c(40002, "A", 5001, 1101 + 1_000_000, 509, &[], &[])),
        ("ESTABLISHED", Some(431_999))
    );
    // Accepted without bookkeeping: the bounds did not move.
    assert_eq!(t.only().tcp.seen[0].td_end, 1001);
}

#[test]
fn tcp_window_scale_applies_only_when_both_sides_offer_it() {
    let mut t = Ct::new();
    handshake(&mut t, 40009, true, 1000);
    assert_eq!(t.only().tcp.seen[0].td_maxwin, 1000 << 7);
    assert_eq!(
        t.step(&s2c(40009, "PA", 5001 + 100_000, 1001, 509, &[], &D)),
        ("ESTABLISHED", Some(299))
    );

    let mut t = Ct::new();
    handshake(&mut t, 40010, false, 1000);
    let c = t.only();
    assert_eq!((c.tcp.seen[0].td_scale, c.tcp.seen[1].td_scale), (0, 0));
    assert_eq!(
        t.step(&s2c(40010, "PA", 5001 + 100_000, 1001, 509, &[], &D)),
        ("INVALID", Some(431_999))
    );
}

#[test]
fn tcp_window_small_overshoot_is_ignored_not_invalid() {
    // No window scale: the client's window is 502, but the segment passes
    // its right edge by less than the largest window it ever offered
    // (64240): let through, connection not refreshed, td_end moved.
    let mut t = Ct::new();
    handshake(&mut t, 40003, false, 502);
    assert_eq!(
        t.step(&s2c(40003, "PA", 5001 + 30_000, 1001, 509, &[], &D)),
        ("ESTABLISHED", Some(431_999))
    );
    assert_eq!(t.only().tcp.seen[1].td_end, 5001 + 30_000 + 100);
    assert_eq!(
        t.step(&s2c(40003, "PA", 5001 + 100, 1001, 509, &[], &D)),
        ("ESTABLISHED", Some(299))
    );
}

#[test]
fn tcp_window_mid_stream_pickup_stays_liberal() {
    let mut t = Ct::new();
    assert_eq!(
        t.step(&c2s(40004, "A", 7000, 9000, 502, &[], &[])),
        ("NEW", Some(299))
    );
    let c = t.only();
    for s in c.tcp.seen {
        assert_eq!(s.flags, tcp_flag::SACK_PERM | tcp_flag::BE_LIBERAL);
    }
    assert_eq!(
        t.step(&s2c(40004, "A", 9000, 7000, 509, &[], &[])),
        ("ESTABLISHED", Some(299))
    );
    assert_eq!(
        t.step(&c2s(40004, "PA", 7000 + 10_000_000, 9000, 502, &[], &D)),
        ("ESTABLISHED", Some(431_999))
    );
    assert_eq!(
        t.step(&s2c(40004, "A", 9000, 7000 + 50_000_000, 509, &[], &[])),
        ("ESTABLISHED", Some(431_999))
    );
    // The same first ACK with tcp_loose = 0 opens nothing.
    let mut t = Ct::new();
    t.sys.tcp_loose = false;
    assert_eq!(
        t.step(&c2s(40004, "A", 7000, 9000, 502, &[], &[])),
        ("INVALID", None)
    );
}

#[test]
fn tcp_window_sack_edge_past_the_data_is_invalid() {
    let mut t = Ct::new();
    handshake(&mut t, 40005, true, 502);
    assert_eq!(
        t.step(&c2s(40005, "PA", 1001, 5001, 502, &[], &D)),
        ("ESTABLISHED", Some(299))
    );
    assert_eq!(
        t.step(&s2c(
            40005,
            "A",
            5001,
            1001,
            509,
            &sack_opt(1001, 1101),
            &[]
        )),
        ("ESTABLISHED", Some(299))
    );
    assert_eq!(
        t.step(&s2c(
            40005,
            "A",
            5001,
            1001,
            509,
            &sack_opt(1001, 1201),
            &[]
        )),
        ("INVALID", Some(299))
    );
}

#[test]
fn tcp_rst_below_maxack_invalid_unless_ignore_invalid_rst() {
    for ignore in [false, true] {
        let mut t = Ct::new();
        t.sys.tcp_ignore_invalid_rst = ignore;
        handshake(&mut t, 40006, true, 502);
        assert_eq!(
            t.step(&s2c(40006, "A", 5001, 1001, 509, &[], &[])),
            ("ESTABLISHED", Some(431_999))
        );
        let got = t.step(&c2s(40006, "R", 900, 0, 0, &[], &[]));
        if ignore {
            // Not the exact sequence: the state stays for a challenge ACK,
            // the timeout is the CLOSE one.
            assert_eq!(got, ("ESTABLISHED", Some(9)));
        } else {
            assert_eq!(got, ("INVALID", Some(431_999)));
        }
        assert_eq!(t.only().tcp_state, TcpConntrack::Established);
    }
}

#[test]
fn tcp_identical_acks_cut_the_timeout_to_max_retrans() {
    let mut t = Ct::new();
    t.sys.tcp_timeout_max_retrans = 100;
    // last_win is 0 until an ACK is counted: the SYN_SENT timeout (120 s)
    // is cut to the retransmission one.
    assert_eq!(
        t.step(&c2s(40008, "S", 1000, 0, 64240, &SYN_OPTS, &[])),
        ("NEW", Some(99))
    );
    assert_eq!(
        t.step(&s2c(40008, "SA", 5000, 1001, 65160, &SYN_OPTS, &[])),
        ("ESTABLISHED", Some(59))
    );
    assert_eq!(
        t.step(&c2s(40008, "A", 1001, 5001, 502, &[], &[])),
        ("ESTABLISHED", Some(431_999))
    );
    assert_eq!(
        t.step(&c2s(40008, "PA", 1001, 5001, 502, &[], &D)),
        ("ESTABLISHED", Some(299))
    );
    let ack = s2c(40008, "A", 5001, 1001, 509, &[], &[]);
    for (i, left) in [299, 299, 299, 99, 99].into_iter().enumerate() {
        assert_eq!(t.step(&ack), ("ESTABLISHED", Some(left)), "ACK {i}");
        assert_eq!(t.only().tcp.retrans as usize, i);
    }
}

#[test]
fn tcp_options_window_scale_is_capped_and_bad_options_stop_the_walk() {
    let mut t = Ct::new();
    // Window scale 15 is read as 14.
    t.step(&c2s(40011, "S", 1, 0, 1000, &[3, 3, 15], &[]));
    assert_eq!(t.only().tcp.seen[0].td_scale, 14);
    assert_eq!(t.only().tcp.seen[0].flags, tcp_flag::WINDOW_SCALE);
    // A "silly" length (1) ends the walk before the window scale option.
    let mut t = Ct::new();
    t.step(&c2s(40012, "S", 1, 0, 1000, &[4, 2, 8, 1, 3, 3, 7], &[]));
    assert_eq!(t.only().tcp.seen[0].td_scale, 0);
    assert_eq!(t.only().tcp.seen[0].flags, tcp_flag::SACK_PERM);
    // EOL ends it too.
    let mut t = Ct::new();
    t.step(&c2s(40013, "S", 1, 0, 1000, &[0, 3, 3, 7], &[]));
    assert_eq!(t.only().tcp.seen[0].flags, 0);
}

#[test]
fn listed_connection_is_confirmed_and_its_packets_established() {
    let mut t = Ct::new();
    let orig = NfConntrackTuple {
        src: "10.0.1.2".parse().unwrap(),
        dst: "10.0.2.2".parse().unwrap(),
        protonum: IPPROTO_TCP,
        sport: 33088,
        dport: 80,
    };
    let reply = NfConntrackTuple {
        src: orig.dst,
        dst: "10.0.2.1".parse().unwrap(),
        protonum: IPPROTO_TCP,
        sport: 80,
        dport: 33088,
    };
    let e = CtListed {
        orig,
        reply,
        unreplied: false,
        assured: true,
        timeout_secs: 431_997,
        tcp_state: TcpConntrack::Established,
        mark: 0,
    };
    let idx = t.ct.ctnetlink_create_conntrack(&e, t.now).unwrap();
    let c = &t.ct.conns[idx as usize];
    assert_eq!(
        c.status,
        ips::CONFIRMED | ips::SEEN_REPLY | ips::ASSURED | ips::SRC_NAT | ips::NAT_DONE_MASK
    );
    assert_eq!(c.timeout, t.now + 431_997 * HZ);
    assert_eq!(
        t.ct.ctnetlink_create_conntrack(&e, t.now),
        Err(CtCreateError::Exists(orig))
    );
    // Its window history is unknown: any sequence is taken, both ways (the
    // first segment of a direction only teaches its bounds: not counted as
    // unacknowledged data).
    assert_eq!(
        t.step(&seg(V, "10.0.2.1", 80, 33088, "PA", 123, 456, 509, &[], &D)),
        ("ESTABLISHED", Some(431_999))
    );
    assert_eq!(
        t.step(&seg(
            W,
            V,
            33088,
            80,
            "A",
            456 + 10_000_000,
            223,
            502,
            &[],
            &[]
        )),
        ("ESTABLISHED", Some(431_999))
    );
}
