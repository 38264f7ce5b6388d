//! Models net/netfilter/nf_conntrack_proto_tcp.c: `tcp_error` (length,
//! checksum, flag combination), `tcp_new` (which packets may open a
//! connection; `nf_conntrack_tcp_loose`), the state table and
//! `nf_conntrack_tcp_packet` with its special cases (reopening from
//! TIME_WAIT, ignored packets, simultaneous open, RST checks), window
//! tracking (`tcp_in_window` over `struct ip_ct_tcp_state` per direction,
//! with the window scale and SACK options of `tcp_options` / `tcp_sack`)
//! and the timeout of each state.
//!
//! A segment that fails `tcp_in_window` is INVALID (`-NF_ACCEPT`: it goes
//! on with no conntrack entry, so NAT skips it and `--ctstate INVALID`
//! matches it) or IGNORED (`NF_ACCEPT` with its entry, nothing updated);
//! with `nf_conntrack_tcp_be_liberal`, or on a connection picked up
//! mid-stream (`IP_CT_TCP_FLAG_BE_LIBERAL` on both sides, for good), both
//! are accepted as in window, without the bookkeeping. Not modelled: NAT
//! sequence offsets (`nf_ct_seq_offset`; no helper here changes a
//! payload's length) and SYN proxy.
//!
//! Checked on Linux 6.18 (client, router, server namespaces; segments
//! crafted with raw sockets; the router's FORWARD chain counting each
//! `--ctstate`, `conntrack -L` for the timeouts), each in `tests.rs`:
//!
//! * handshake (window scale 7, SACK permitted) then data in window: ESTABLISHED, timeout 300 s (unacknowledged).
//! * data 10 MB past the window, or an ACK of data never sent: INVALID, timeout untouched.
//! * the same two with `nf_conntrack_tcp_be_liberal = 1`: ESTABLISHED.
//! * the client's window 1000 << 7 admits server data 100 kB ahead; with no window scale from the server, INVALID.
//! * past the right edge by less than the receiver's largest window: ESTABLISHED but not refreshed (ignored).
//! * data below the lower bound (old data resent): ESTABLISHED (ignored).
//! * a FIN 10 MB out of window: INVALID.
//! * a SACK right edge past the data seen: INVALID.
//! * picked up from a bare ACK (`tcp_loose = 1`): NEW, then ESTABLISHED both ways even 10 MB out of window.
//! * a RST below the peer's highest ACK: INVALID; with `nf_conntrack_tcp_ignore_invalid_rst = 1` ESTABLISHED, state kept, timeout 10 s.
//! * the 4th identical ACK in a row cuts the timeout to `nf_conntrack_tcp_timeout_max_retrans`; so is a SYN's (`last_win` 0).

use crate::netfilter::NfSysctl;
use crate::netfilter::conntrack::IpConntrackDir;
use crate::netfilter::conntrack::nf_conntrack_core::{
    HZ, IPPROTO_TCP, L4Verdict, NfConn, PktCtx, ips, nf_ip_checksum_bad,
};

/// The TCP tracker's state (`enum tcp_conntrack`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, PartialOrd, Ord)]
pub enum TcpConntrack {
    /// `TCP_CONNTRACK_NONE`.
    #[default]
    None = 0,
    /// `TCP_CONNTRACK_SYN_SENT`.
    SynSent = 1,
    /// `TCP_CONNTRACK_SYN_RECV`.
    SynRecv = 2,
    /// `TCP_CONNTRACK_ESTABLISHED`.
    Established = 3,
    /// `TCP_CONNTRACK_FIN_WAIT`.
    FinWait = 4,
    /// `TCP_CONNTRACK_CLOSE_WAIT`.
    CloseWait = 5,
    /// `TCP_CONNTRACK_LAST_ACK`.
    LastAck = 6,
    /// `TCP_CONNTRACK_TIME_WAIT`.
    TimeWait = 7,
    /// `TCP_CONNTRACK_CLOSE`.
    Close = 8,
    /// `TCP_CONNTRACK_SYN_SENT2`.
    SynSent2 = 9,
}

impl TcpConntrack {
    const BY_INDEX: [TcpConntrack; 10] = [
        TcpConntrack::None,
        TcpConntrack::SynSent,
        TcpConntrack::SynRecv,
        TcpConntrack::Established,
        TcpConntrack::FinWait,
        TcpConntrack::CloseWait,
        TcpConntrack::LastAck,
        TcpConntrack::TimeWait,
        TcpConntrack::Close,
        TcpConntrack::SynSent2,
    ];

    /// The state `conntrack -L` names `name` (None for another word).
    pub fn from_name(name: &str) -> Option<TcpConntrack> {
        Self::BY_INDEX.into_iter().find(|s| s.name() == name)
    }

    /// The name `conntrack -L` prints (`tcp_conntrack_names`).
    pub const fn name(self) -> &'static str {
        match self {
            TcpConntrack::None => "NONE",
            TcpConntrack::SynSent => "SYN_SENT",
            TcpConntrack::SynRecv => "SYN_RECV",
            TcpConntrack::Established => "ESTABLISHED",
            TcpConntrack::FinWait => "FIN_WAIT",
            TcpConntrack::CloseWait => "CLOSE_WAIT",
            TcpConntrack::LastAck => "LAST_ACK",
            TcpConntrack::TimeWait => "TIME_WAIT",
            TcpConntrack::Close => "CLOSE",
            TcpConntrack::SynSent2 => "SYN_SENT2",
        }
    }
}

/// `IP_CT_TCP_FLAG_*` bits of `struct ip_ct_tcp_state.flags`.
pub mod tcp_flag {
    /// `IP_CT_TCP_FLAG_WINDOW_SCALE`.
    pub const WINDOW_SCALE: u8 = 0x01;
    /// `IP_CT_TCP_FLAG_SACK_PERM`.
    pub const SACK_PERM: u8 = 0x02;
    /// `IP_CT_TCP_FLAG_CLOSE_INIT`: this side sent the first FIN.
    pub const CLOSE_INIT: u8 = 0x04;
    /// `IP_CT_TCP_FLAG_BE_LIBERAL`.
    pub const BE_LIBERAL: u8 = 0x08;
    /// `IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED`.
    pub const DATA_UNACKNOWLEDGED: u8 = 0x10;
    /// `IP_CT_TCP_FLAG_MAXACK_SET`.
    pub const MAXACK_SET: u8 = 0x20;
    /// `IP_CT_EXP_CHALLENGE_ACK`.
    pub const EXP_CHALLENGE_ACK: u8 = 0x40;
    /// `IP_CT_TCP_SIMULTANEOUS_OPEN`.
    pub const SIMULTANEOUS_OPEN: u8 = 0x80;
}

/// `struct ip_ct_tcp_state`: what the tracker knows of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpCtTcpState {
    /// `td_end`: highest sequence number sent, plus length.
    pub td_end: u32,
    /// `td_maxend`.
    pub td_maxend: u32,
    /// `td_maxwin`: 0 until the direction is initialised.
    pub td_maxwin: u32,
    /// `td_maxack`.
    pub td_maxack: u32,
    /// `td_scale`.
    pub td_scale: u8,
    /// `IP_CT_TCP_FLAG_*`.
    pub flags: u8,
}

/// `struct ip_ct_tcp` without the state (that is `NfConn::tcp_state`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpCtTcp {
    /// `seen[dir]`.
    pub seen: [IpCtTcpState; 2],
    /// `last_index`: the `tcp_bit_set` of the last packet that counted.
    pub last_index: u8,
    /// `last_dir`.
    pub last_dir: u8,
    /// `retrans`: identical ACKs seen in a row.
    pub retrans: u8,
    /// `last_seq`.
    pub last_seq: u32,
    /// `last_ack`.
    pub last_ack: u32,
    /// `last_end`.
    pub last_end: u32,
    /// `last_win`.
    pub last_win: u16,
    /// `last_wscale`.
    pub last_wscale: u8,
    /// `last_flags`.
    pub last_flags: u8,
}

/// `enum tcp_bit_set`.
const TCP_SYN_SET: u8 = 0;
const TCP_SYNACK_SET: u8 = 1;
const TCP_FIN_SET: u8 = 2;
const TCP_ACK_SET: u8 = 3;
const TCP_RST_SET: u8 = 4;
const TCP_NONE_SET: u8 = 5;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;
const URG: u8 = 0x20;
const ECE: u8 = 0x40;
const CWR: u8 = 0x80;

/// The SYN_SENT2 timeout (120 s, no sysctl).
pub const TCP_TIMEOUT_SYN_SENT2_SECS: u64 = 120;

/// Next-state cells: a state, or one of the two markers.
const S_IV: u8 = 10; // TCP_CONNTRACK_MAX: invalid
const S_IG: u8 = 11; // TCP_CONNTRACK_IGNORE

/// `tcp_conntracks[dir][index][state]`: the next state for a packet of
/// `tcp_bit_set` `index` in direction `dir` when the connection is in
/// `state` (columns NONE, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT,
/// CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE, SYN_SENT2).
const TCP_CONNTRACKS: [[[u8; 10]; 6]; 2] = {
    const NO: u8 = 0;
    const SS: u8 = 1;
    const SR: u8 = 2;
    const ES: u8 = 3;
    const FW: u8 = 4;
    const CW: u8 = 5;
    const LA: u8 = 6;
    const TW: u8 = 7;
    const CL: u8 = 8;
    const S2: u8 = 9;
    const IV: u8 = S_IV;
    const IG: u8 = S_IG;
    let _ = NO;
    [
        // Original direction.
        [
            [SS, SS, IG, IG, IG, IG, IG, SS, SS, S2], // SYN
            [IV, IV, SR, IV, IV, IV, IV, IV, IV, SR], // SYN+ACK
            [IV, IV, FW, FW, LA, LA, LA, TW, CL, IV], // FIN
            [ES, IV, ES, ES, CW, CW, TW, TW, CL, IV], // ACK
            [IV, CL, CL, CL, CL, CL, CL, CL, CL, CL], // RST
            [IV; 10],                                 // none of them
        ],
        // Reply direction.
        [
            [IV, S2, IV, IV, IV, IV, IV, SS, IV, S2],
            [IV, SR, IG, IG, IG, IG, IG, IG, IG, SR],
            [IV, IV, FW, FW, LA, LA, LA, TW, CL, IV],
            [IV, IG, SR, ES, CW, CW, TW, TW, CL, IG],
            [IV, CL, CL, CL, CL, CL, CL, CL, CL, CL],
            [IV; 10],
        ],
    ]
};

/// The TCP header fields the tracker reads.
#[derive(Clone, Copy, Debug)]
struct TcpHdr {
    seq: u32,
    ack_seq: u32,
    doff: usize,
    flags: u8,
    window: u16,
}

impl TcpHdr {
    fn parse(l4: &[u8]) -> Option<TcpHdr> {
        if l4.len() < 20 {
            return None;
        }
        Some(TcpHdr {
            seq: u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]),
            ack_seq: u32::from_be_bytes([l4[8], l4[9], l4[10], l4[11]]),
            doff: (l4[12] >> 4) as usize * 4,
            flags: l4[13],
            window: u16::from_be_bytes([l4[14], l4[15]]),
        })
    }
    fn syn(&self) -> bool {
        self.flags & SYN != 0
    }
    fn ack(&self) -> bool {
        self.flags & ACK != 0
    }
    fn rst(&self) -> bool {
        self.flags & RST != 0
    }
    fn fin(&self) -> bool {
        self.flags & FIN != 0
    }
}

/// `get_conntrack_index`.
fn get_conntrack_index(th: &TcpHdr) -> u8 {
    if th.rst() {
        TCP_RST_SET
    } else if th.syn() {
        if th.ack() {
            TCP_SYNACK_SET
        } else {
            TCP_SYN_SET
        }
    } else if th.fin() {
        TCP_FIN_SET
    } else if th.ack() {
        TCP_ACK_SET
    } else {
        TCP_NONE_SET
    }
}

/// `tcp_valid_flags`: the combinations of FIN, SYN, RST, ACK and URG a
/// packet may carry (PSH, ECE and CWR are always allowed).
fn tcp_valid_flags(f: u8) -> bool {
    matches!(
        f,
        x if x == SYN
            || x == SYN | URG
            || x == SYN | ACK
            || x == RST
            || x == RST | ACK
            || x == FIN | ACK
            || x == FIN | ACK | URG
            || x == ACK
            || x == ACK | URG
    )
}

/// `segment_seq_plus_len`.
fn segment_seq_plus_len(seq: u32, len: usize, dataoff: usize, th: &TcpHdr) -> u32 {
    seq.wrapping_add((len - dataoff - th.doff) as u32)
        .wrapping_add(th.syn() as u32)
        .wrapping_add(th.fin() as u32)
}

/// `before(a, b)` on sequence numbers.
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// `after(a, b)`.
fn after(a: u32, b: u32) -> bool {
    before(b, a)
}

/// Kernel: `tcp_error`: true when the packet is INVALID before any state
/// is looked at (bad length, bad checksum at PRE_ROUTING, bad flags).
fn tcp_error(th: &TcpHdr, p: &PktCtx<'_>) -> bool {
    let tcplen = p.l4().len();
    if p.whole() && (th.doff < 20 || tcplen < th.doff) {
        return true;
    }
    if p.check_csum() && nf_ip_checksum_bad(p.pkt, p.ip, p.dataoff, IPPROTO_TCP) {
        return true;
    }
    !tcp_valid_flags(th.flags & !(ECE | CWR | PSH))
}

/// Kernel: `tcp_new`: whether this first packet may open a connection
/// (a SYN; with `tcp_loose`, an ACK picks up a connection in its middle).
fn tcp_new(conn: &mut NfConn, th: &TcpHdr, p: &PktCtx<'_>, end: u32) -> bool {
    let new_state = TCP_CONNTRACKS[0][get_conntrack_index(th) as usize][0];
    if new_state >= S_IV {
        return false;
    }
    let maxwin = (th.window as u32).max(1);
    if new_state == TcpConntrack::SynSent as u8 {
        conn.tcp = IpCtTcp::default();
        conn.tcp.seen[0].td_end = end;
        conn.tcp.seen[0].td_maxwin = maxwin;
        conn.tcp.seen[0].td_maxend = end;
        tcp_options(p.l4(), th, &mut conn.tcp.seen[0]);
    } else if !p.sysctl.tcp_loose {
        return false;
    } else {
        conn.tcp = IpCtTcp::default();
        conn.tcp.seen[0].td_end = end;
        conn.tcp.seen[0].td_maxwin = maxwin;
        conn.tcp.seen[0].td_maxend = end.wrapping_add(maxwin);
        let f = tcp_flag::SACK_PERM | tcp_flag::BE_LIBERAL;
        conn.tcp.seen[0].flags = f;
        conn.tcp.seen[1].flags = f;
    }
    conn.tcp_state = TcpConntrack::None;
    conn.tcp.last_index = TCP_NONE_SET;
    true
}

/// The window state of a connection whose history is lost (picked up
/// mid-stream, or created from a listing): both directions liberal and
/// SACK permitted, nothing learnt yet, as `tcp_new` sets it for a pickup.
pub(crate) fn ip_ct_tcp_lost_history() -> IpCtTcp {
    let flags = tcp_flag::SACK_PERM | tcp_flag::BE_LIBERAL;
    let mut tcp = IpCtTcp {
        last_index: TCP_NONE_SET,
        ..IpCtTcp::default()
    };
    tcp.seen[0].flags = flags;
    tcp.seen[1].flags = flags;
    tcp
}

/// `TCPOPT_*` kinds and lengths the tracker reads (RFC 9293, RFC 7323, RFC 2018).
const TCPOPT_EOL: u8 = 0;
const TCPOPT_NOP: u8 = 1;
const TCPOPT_WINDOW: u8 = 3;
const TCPOLEN_WINDOW: usize = 3;
const TCPOPT_SACK_PERM: u8 = 4;
const TCPOLEN_SACK_PERM: usize = 2;
const TCPOPT_SACK: u8 = 5;
const TCPOLEN_SACK_BASE: usize = 2;
const TCPOLEN_SACK_PERBLOCK: usize = 8;
/// NOP, NOP, timestamp kind 8, length 10: the usual options of a data segment.
const TCPOPT_TSTAMP_ALIGNED: [u8; 4] = [TCPOPT_NOP, TCPOPT_NOP, 8, 10];
/// `TCP_MAX_WSCALE` (RFC 7323 2.3).
const TCP_MAX_WSCALE: u8 = 14;
/// `MAXACKWINCONST`: the least ACK window the lower ACK bound allows.
const MAXACKWINCONST: u32 = 66000;

/// The option bytes of the segment (after the 20-byte header, up to
/// `doff`); None when the packet holds fewer (`skb_header_pointer` fails).
fn tcp_option_bytes<'a>(l4: &'a [u8], th: &TcpHdr) -> Option<&'a [u8]> {
    l4.get(20..th.doff.max(20))
}

/// Walks the options in `opts` the way the tracker does: stops at EOL, a
/// length below 2 or an option longer than what is left; calls `f` with
/// each (kind, body) and stops when it returns true.
fn for_each_option(opts: &[u8], mut f: impl FnMut(u8, &[u8]) -> bool) {
    let mut i = 0;
    while i < opts.len() {
        let kind = opts[i];
        match kind {
            TCPOPT_EOL => return,
            TCPOPT_NOP => i += 1,
            _ => {
                let Some(&size) = opts.get(i + 1) else { return };
                let size = size as usize;
                if size < 2 || size > opts.len() - i {
                    return;
                }
                if f(kind, &opts[i + 2..i + size]) {
                    return;
                }
                i += size;
            }
        }
    }
}

/// Kernel: `tcp_options`: the window scale and SACK-permitted options of a
/// SYN or SYN-ACK into `state` (`td_scale`, `IP_CT_TCP_FLAG_WINDOW_SCALE`,
/// `IP_CT_TCP_FLAG_SACK_PERM`); every other flag but BE_LIBERAL is cleared
/// first. No options, or options past the packet's end: `state` is kept.
fn tcp_options(l4: &[u8], th: &TcpHdr, state: &mut IpCtTcpState) {
    let Some(opts) = tcp_option_bytes(l4, th) else {
        return;
    };
    if opts.is_empty() {
        return;
    }
    state.td_scale = 0;
    state.flags &= tcp_flag::BE_LIBERAL;
    for_each_option(opts, |kind, body| {
        if kind == TCPOPT_SACK_PERM && body.len() + 2 == TCPOLEN_SACK_PERM {
            state.flags |= tcp_flag::SACK_PERM;
        } else if kind == TCPOPT_WINDOW && body.len() + 2 == TCPOLEN_WINDOW {
            state.td_scale = body[0].min(TCP_MAX_WSCALE);
            state.flags |= tcp_flag::WINDOW_SCALE;
        }
        false
    });
}

/// Kernel: `tcp_sack`: raises `sack` to the highest right edge of the
/// first well-formed SACK option's blocks.
fn tcp_sack(l4: &[u8], th: &TcpHdr, sack: &mut u32) {
    let Some(opts) = tcp_option_bytes(l4, th) else {
        return;
    };
    if opts.len() == 12 && opts[..4] == TCPOPT_TSTAMP_ALIGNED {
        return;
    }
    for_each_option(opts, |kind, body| {
        let size = body.len() + TCPOLEN_SACK_BASE;
        if kind != TCPOPT_SACK
            || size < TCPOLEN_SACK_BASE + TCPOLEN_SACK_PERBLOCK
            || !(size - TCPOLEN_SACK_BASE).is_multiple_of(TCPOLEN_SACK_PERBLOCK)
        {
            return false;
        }
        for block in body.chunks_exact(TCPOLEN_SACK_PERBLOCK) {
            let right = u32::from_be_bytes([block[4], block[5], block[6], block[7]]);
            if after(right, *sack) {
                *sack = right;
            }
        }
        true
    });
}

/// Kernel: `tcp_init_sender`: a SYN or SYN-ACK (re)starts the sender's
/// window from its own sequence and options; window scaling stays on only
/// when both sides offered it (checked on the reply's SYN-ACK).
fn tcp_init_sender(
    sender: &mut IpCtTcpState,
    receiver: &mut IpCtTcpState,
    l4: &[u8],
    th: &TcpHdr,
    end: u32,
    win: u32,
    dir: usize,
) {
    sender.td_end = end;
    sender.td_maxend = end;
    sender.td_maxwin = win.max(1);
    tcp_options(l4, th, sender);
    if dir == 1
        && !(sender.flags & tcp_flag::WINDOW_SCALE != 0
            && receiver.flags & tcp_flag::WINDOW_SCALE != 0)
    {
        sender.td_scale = 0;
        receiver.td_scale = 0;
    }
}

/// `enum nf_ct_tcp_action`: what `tcp_in_window` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NfCtTcpAction {
    /// `NFCT_TCP_IGNORE`: let through, the connection is not updated.
    Ignore,
    /// `NFCT_TCP_INVALID`: out of window, the packet is INVALID.
    Invalid,
    /// `NFCT_TCP_ACCEPT`: in window.
    Accept,
}

/// Kernel: `nf_tcp_log_invalid`: a failed bound is no failure when the
/// sender's direction is liberal (`IP_CT_TCP_FLAG_BE_LIBERAL`, set on a
/// connection picked up mid-stream) or `nf_conntrack_tcp_be_liberal` is
/// set: then the packet is accepted, with no bookkeeping.
fn nf_tcp_log_invalid(
    sender: &IpCtTcpState,
    sysctl: &NfSysctl,
    ret: NfCtTcpAction,
) -> NfCtTcpAction {
    if sender.flags & tcp_flag::BE_LIBERAL != 0 || sysctl.tcp_be_liberal {
        NfCtTcpAction::Accept
    } else {
        ret
    }
}

/// `MAXACKWINDOW(sender)`.
fn maxackwindow(sender: &IpCtTcpState) -> u32 {
    sender.td_maxwin.max(MAXACKWINCONST)
}

/// Kernel: `tcp_in_window`: checks the segment against what the tracker
/// knows of both directions and, when it fits, moves the bounds on.
///
/// With `sack` the highest SACK right edge (SACK permitted) or the ACK:
/// the sequence must not pass the receiver's advertised right edge
/// (`seq <= sender.td_maxend`; a segment that overshoots by less than the
/// receiver's largest window while everything else fits only updates
/// `td_end` and is IGNORED), the ACK must not acknowledge data not yet
/// seen (`sack <= receiver.td_end`) — both INVALID when failed — and an
/// end below `sender.td_end - receiver.td_maxwin` (old data resent) or an
/// ACK below `receiver.td_end - MAXACKWINDOW` is IGNORED. Then `td_end`,
/// `td_maxwin` (scaled by the peer-agreed `td_scale`), `td_maxack`, the
/// receiver's `td_maxend`, DATA_UNACKNOWLEDGED and the count of identical
/// ACKs (`retrans`) are updated.
#[allow(clippy::too_many_arguments)]
fn tcp_in_window(
    tcp: &mut IpCtTcp,
    state: TcpConntrack,
    sysctl: &NfSysctl,
    dir: usize,
    index: u8,
    l4: &[u8],
    th: &TcpHdr,
    end: u32,
) -> NfCtTcpAction {
    let [s0, s1] = &mut tcp.seen;
    let (sender, receiver) = if dir == 0 { (s0, s1) } else { (s1, s0) };
    let mut seq = th.seq;
    let mut ack = th.ack_seq;
    let mut sack = ack;
    let win_raw = th.window;
    let mut win = win_raw as u32;
    let mut end = end;
    if receiver.flags & tcp_flag::SACK_PERM != 0 {
        tcp_sack(l4, th, &mut sack);
    }
    // No NAT sequence adjustment (`nf_ct_seq_offset`): the model has no
    // helper that changes a payload's length.
    if sender.td_maxwin == 0 {
        if th.syn() {
            tcp_init_sender(sender, receiver, l4, th, end, win, dir);
            if !th.ack() {
                return NfCtTcpAction::Accept;
            }
        } else {
            // Picked up from the middle: learn the sender from this packet.
            sender.td_end = end;
            let swin = win << sender.td_scale;
            sender.td_maxwin = swin.max(1);
            sender.td_maxend = end.wrapping_add(sender.td_maxwin);
            if receiver.td_maxwin == 0 {
                receiver.td_end = sack;
                receiver.td_maxend = sack;
            } else if sack == receiver.td_end.wrapping_add(1) {
                receiver.td_end = receiver.td_end.wrapping_add(1);
            }
        }
    } else if th.syn()
        && after(end, sender.td_end)
        && matches!(state, TcpConntrack::SynSent | TcpConntrack::SynRecv)
    {
        // A new SYN (or SYN-ACK) with a higher sequence restarts the side.
        tcp_init_sender(sender, receiver, l4, th, end, win, dir);
        if dir == 1 && !th.ack() {
            return NfCtTcpAction::Accept;
        }
    }

    if !th.ack() || (th.rst() && ack == 0) {
        // No ACK (or a RST+ACK with a zero ACK): taken as acknowledging all.
        ack = receiver.td_end;
        sack = ack;
    }
    if th.rst() && seq == 0 && state == TcpConntrack::SynSent {
        // A RST answering the SYN.
        seq = sender.td_end;
        end = seq;
    }

    if !before(seq, sender.td_maxend.wrapping_add(1)) {
        let overshot = end.wrapping_sub(sender.td_maxend).wrapping_add(1);
        let ack_ok = after(
            sack,
            receiver
                .td_end
                .wrapping_sub(maxackwindow(sender))
                .wrapping_sub(1),
        );
        let in_recv_win = receiver.td_maxwin != 0
            && after(
                end,
                sender
                    .td_end
                    .wrapping_sub(receiver.td_maxwin)
                    .wrapping_sub(1),
            );
        if in_recv_win
            && ack_ok
            && overshot <= receiver.td_maxwin
            && before(sack, receiver.td_end.wrapping_add(1))
        {
            // A little more than the window: remember the data so that
            // its ACK is in bounds, but do not count the segment.
            sender.td_end = end;
            sender.flags |= tcp_flag::DATA_UNACKNOWLEDGED;
            return nf_tcp_log_invalid(sender, sysctl, NfCtTcpAction::Ignore);
        }
        // SEQ is over the upper bound (past the receiver's window).
        return nf_tcp_log_invalid(sender, sysctl, NfCtTcpAction::Invalid);
    }
    if !before(sack, receiver.td_end.wrapping_add(1)) {
        // ACK is over the upper bound (acknowledges data not seen yet).
        return nf_tcp_log_invalid(sender, sysctl, NfCtTcpAction::Invalid);
    }
    let in_recv_win = receiver.td_maxwin == 0
        || after(
            end,
            sender
                .td_end
                .wrapping_sub(receiver.td_maxwin)
                .wrapping_sub(1),
        );
    if !in_recv_win {
        // SEQ under the lower bound: acknowledged data sent again.
        return nf_tcp_log_invalid(sender, sysctl, NfCtTcpAction::Ignore);
    }
    if !after(
        sack,
        receiver
            .td_end
            .wrapping_sub(maxackwindow(sender))
            .wrapping_sub(1),
    ) {
        // ACK under the lower bound (much delayed).
        return nf_tcp_log_invalid(sender, sysctl, NfCtTcpAction::Ignore);
    }

    if !th.syn() {
        win <<= sender.td_scale;
    }
    let swin = win.wrapping_add(sack.wrapping_sub(ack));
    sender.td_maxwin = sender.td_maxwin.max(swin);
    if after(end, sender.td_end) {
        sender.td_end = end;
        sender.flags |= tcp_flag::DATA_UNACKNOWLEDGED;
    }
    if th.ack() {
        if sender.flags & tcp_flag::MAXACK_SET == 0 {
            sender.td_maxack = ack;
            sender.flags |= tcp_flag::MAXACK_SET;
        } else if after(ack, sender.td_maxack) {
            sender.td_maxack = ack;
        }
    }
    if receiver.td_maxwin != 0 && after(end, sender.td_maxend) {
        receiver.td_maxwin = receiver
            .td_maxwin
            .wrapping_add(end.wrapping_sub(sender.td_maxend));
    }
    if after(sack.wrapping_add(win), receiver.td_maxend.wrapping_sub(1)) {
        receiver.td_maxend = sack.wrapping_add(win);
        if win == 0 {
            receiver.td_maxend = receiver.td_maxend.wrapping_add(1);
        }
    }
    if ack == receiver.td_end {
        receiver.flags &= !tcp_flag::DATA_UNACKNOWLEDGED;
    }
    if index == TCP_ACK_SET {
        if tcp.last_dir as usize == dir
            && tcp.last_seq == seq
            && tcp.last_ack == ack
            && tcp.last_end == end
            && tcp.last_win == win_raw
        {
            tcp.retrans = tcp.retrans.saturating_add(1);
        } else {
            tcp.last_dir = dir as u8;
            tcp.last_seq = seq;
            tcp.last_ack = ack;
            tcp.last_end = end;
            tcp.last_win = win_raw;
            tcp.retrans = 0;
        }
    }
    NfCtTcpAction::Accept
}

/// Kernel: `nf_tcp_handle_invalid`: an out-of-window FIN or RST of an
/// ASSURED connection answering the other side's FIN or RST cuts a
/// timeout of 120 s or more to `tcp_timeout_unacknowledged`; any other
/// out-of-window FIN or RST is only noted as the last packet.
fn nf_tcp_handle_invalid(conn: &mut NfConn, dir: usize, index: u8, p: &PktCtx<'_>) {
    if conn.status & ips::ASSURED == 0 || conn.status & ips::FIXED_TIMEOUT != 0 {
        return;
    }
    if index != TCP_RST_SET && index != TCP_FIN_SET {
        return;
    }
    let tcp = &mut conn.tcp;
    if tcp.last_dir as usize != dir
        && (tcp.last_index == TCP_FIN_SET || tcp.last_index == TCP_RST_SET)
    {
        // nf_ct_expires: what is left of the timeout.
        let expires = if conn.is_confirmed() {
            conn.timeout.saturating_sub(p.now)
        } else {
            conn.timeout
        };
        if expires < 120 * HZ {
            return;
        }
        let unack = p.sysctl.tcp_timeout_unacknowledged as u64 * HZ;
        if expires > unack {
            conn.refresh(p.now, unack);
        }
    } else {
        tcp.last_index = index;
        tcp.last_dir = dir as u8;
    }
}

/// The timeout of each state, in jiffies (`tcp_timeouts` from the sysctls).
fn timeout_of(p: &PktCtx<'_>, s: TcpConntrack) -> u64 {
    let c = p.sysctl;
    let secs = match s {
        TcpConntrack::None => 0,
        TcpConntrack::SynSent => c.tcp_timeout_syn_sent as u64,
        TcpConntrack::SynRecv => c.tcp_timeout_syn_recv as u64,
        TcpConntrack::Established => c.tcp_timeout_established as u64,
        TcpConntrack::FinWait => c.tcp_timeout_fin_wait as u64,
        TcpConntrack::CloseWait => c.tcp_timeout_close_wait as u64,
        TcpConntrack::LastAck => c.tcp_timeout_last_ack as u64,
        TcpConntrack::TimeWait => c.tcp_timeout_time_wait as u64,
        TcpConntrack::Close => c.tcp_timeout_close as u64,
        TcpConntrack::SynSent2 => TCP_TIMEOUT_SYN_SENT2_SECS,
    };
    secs * HZ
}

/// `nf_conntrack_tcp_established`.
fn tcp_established(conn: &NfConn) -> bool {
    conn.tcp_state == TcpConntrack::Established && conn.status & ips::ASSURED != 0
}

/// `tcp_can_early_drop`.
fn tcp_can_early_drop(s: TcpConntrack) -> bool {
    matches!(
        s,
        TcpConntrack::FinWait
            | TcpConntrack::LastAck
            | TcpConntrack::TimeWait
            | TcpConntrack::Close
            | TcpConntrack::CloseWait
    )
}

/// The RST cases of `nf_conntrack_tcp_packet` (next state CLOSE): None
/// when the RST is INVALID (below what the other side acknowledged, unless
/// `nf_conntrack_tcp_ignore_invalid_rst`),
/// else whether it bypasses the window bookkeeping. May keep the state.
#[allow(clippy::too_many_arguments)]
fn rst_skips_window(
    tcp: &IpCtTcp,
    th: &TcpHdr,
    dir: usize,
    old_state: TcpConntrack,
    status: u32,
    established: bool,
    ignore_invalid_rst: bool,
    new: &mut u8,
) -> Option<bool> {
    if tcp_can_early_drop(old_state) {
        return Some(true);
    }
    if tcp.seen[1 - dir].flags & tcp_flag::MAXACK_SET != 0 && tcp.last_index != TCP_SYN_SET {
        let seq = th.seq;
        if seq == 0 && !established {
            return Some(false);
        }
        if before(seq, tcp.seen[1 - dir].td_maxack) && !ignore_invalid_rst {
            return None;
        }
        if !established || seq == tcp.seen[1 - dir].td_maxack {
            return Some(false);
        }
        if tcp.last_index == TCP_ACK_SET && tcp.last_dir as usize == dir && seq == tcp.last_end {
            return Some(false);
        }
        // Not the exact sequence number: keep the state for a challenge ACK.
        *new = old_state as u8;
    }
    let seen_reply = status & ips::SEEN_REPLY != 0;
    let assured = status & ips::ASSURED != 0;
    if ((seen_reply && tcp.last_index == TCP_SYN_SET)
        || (!assured && tcp.last_index == TCP_ACK_SET))
        && th.ack_seq == tcp.last_end
    {
        return Some(true);
    }
    Some(
        old_state == TcpConntrack::SynSent
            && tcp.last_index == TCP_ACK_SET
            && tcp.last_dir == 1
            && th.seq == tcp.last_ack,
    )
}

/// Kernel: `nf_conntrack_tcp_packet`: moves the connection along the
/// state table; INVALID packets leave it unchanged.
pub(crate) fn nf_conntrack_tcp_packet(
    conn: &mut NfConn,
    p: &PktCtx<'_>,
    pdir: IpConntrackDir,
) -> L4Verdict {
    let Some(th) = TcpHdr::parse(p.l4()) else {
        return L4Verdict::Invalid;
    };
    if tcp_error(&th, p) {
        return L4Verdict::Invalid;
    }
    if th.doff < 20 || p.l4().len() < th.doff {
        // A first fragment too short for its own header: nothing to track.
        return L4Verdict::Invalid;
    }
    let end = segment_seq_plus_len(th.seq, p.ip.len, p.dataoff, &th);
    if !conn.is_confirmed() && !tcp_new(conn, &th, p, end) {
        return L4Verdict::Invalid;
    }
    let mut old_state = conn.tcp_state;
    let dir = pdir as usize;
    let index = get_conntrack_index(&th);
    let mut new = TCP_CONNTRACKS[dir][index as usize][old_state as usize];
    let mut skip_window = false;
    let status = conn.status;
    let established = tcp_established(conn);
    let tcp = &mut conn.tcp;

    if new == S_IV {
        return L4Verdict::Invalid;
    }
    if new == TcpConntrack::SynSent as u8 || new == S_IG {
        let mut ignored = new == S_IG;
        if new == TcpConntrack::SynSent as u8 && old_state >= TcpConntrack::TimeWait {
            if (tcp.seen[dir].flags | tcp.seen[1 - dir].flags) & tcp_flag::CLOSE_INIT != 0
                || (tcp.last_dir as usize == dir && tcp.last_index == TCP_RST_SET)
            {
                // Reopening a closed or aborted connection: the old entry
                // goes, the packet is looked up again.
                return L4Verdict::Repeat;
            }
            ignored = true;
        }
        if ignored {
            if index == TCP_SYNACK_SET
                && tcp.last_index == TCP_SYN_SET
                && tcp.last_dir as usize != dir
                && th.ack_seq == tcp.last_end
            {
                // The SYN-ACK answers a SYN that was ignored: get in sync.
                old_state = TcpConntrack::SynSent;
                new = TcpConntrack::SynRecv as u8;
                let ld = tcp.last_dir as usize & 1;
                tcp.seen[ld].td_end = tcp.last_end;
                tcp.seen[ld].td_maxend = tcp.last_end;
                tcp.seen[ld].td_maxwin = (tcp.last_win as u32).max(1);
                tcp.seen[ld].td_scale = tcp.last_wscale;
                tcp.last_flags &= !tcp_flag::EXP_CHALLENGE_ACK;
                tcp.seen[ld].flags = tcp.last_flags;
                let keep = tcp.seen[dir].flags & tcp_flag::BE_LIBERAL;
                tcp.seen[dir] = IpCtTcpState {
                    flags: keep,
                    ..IpCtTcpState::default()
                };
            } else {
                // Ignored: noted, let through, the state does not move.
                tcp.last_index = index;
                tcp.last_dir = dir as u8;
                tcp.last_seq = th.seq;
                tcp.last_end = end;
                tcp.last_win = th.window;
                if index == TCP_SYN_SET && dir == 0 {
                    // Note the SYN's options: a SYN-ACK may answer it.
                    let mut seen = IpCtTcpState::default();
                    tcp_options(p.l4(), &th, &mut seen);
                    tcp.last_flags = seen.flags & (tcp_flag::WINDOW_SCALE | tcp_flag::SACK_PERM);
                    tcp.last_wscale = if seen.flags & tcp_flag::WINDOW_SCALE != 0 {
                        seen.td_scale
                    } else {
                        0
                    };
                    if old_state == TcpConntrack::LastAck {
                        tcp.last_flags |= tcp_flag::EXP_CHALLENGE_ACK;
                    }
                }
                if old_state == TcpConntrack::SynSent && index == TCP_ACK_SET && dir == 1 {
                    tcp.last_ack = th.ack_seq;
                }
                return L4Verdict::Accept;
            }
        }
    } else if new == TcpConntrack::TimeWait as u8 {
        if old_state == TcpConntrack::LastAck
            && index == TCP_ACK_SET
            && tcp.last_dir as usize != dir
            && tcp.last_index == TCP_SYN_SET
            && tcp.last_flags & tcp_flag::EXP_CHALLENGE_ACK != 0
        {
            // An RFC 5961 challenge ACK, not the last ACK.
            tcp.last_flags &= !tcp_flag::EXP_CHALLENGE_ACK;
            return L4Verdict::Accept;
        }
    } else if new == TcpConntrack::SynSent2 as u8 {
        tcp.last_flags |= tcp_flag::SIMULTANEOUS_OPEN;
    } else if new == TcpConntrack::SynRecv as u8 {
        if dir == 1 && index == TCP_ACK_SET && tcp.last_flags & tcp_flag::SIMULTANEOUS_OPEN != 0 {
            new = TcpConntrack::Established as u8;
        }
    } else if new == TcpConntrack::Close as u8 && index == TCP_RST_SET {
        let ignore_invalid = p.sysctl.tcp_ignore_invalid_rst;
        match rst_skips_window(
            tcp,
            &th,
            dir,
            old_state,
            status,
            established,
            ignore_invalid,
            &mut new,
        ) {
            Some(skip) => skip_window = skip,
            None => return L4Verdict::Invalid,
        }
    }

    if !skip_window {
        let state = conn.tcp_state;
        match tcp_in_window(&mut conn.tcp, state, p.sysctl, dir, index, p.l4(), &th, end) {
            NfCtTcpAction::Ignore => return L4Verdict::Accept,
            NfCtTcpAction::Invalid => {
                nf_tcp_handle_invalid(conn, dir, index, p);
                return L4Verdict::Invalid;
            }
            NfCtTcpAction::Accept => {}
        }
    }
    let new_state = TcpConntrack::BY_INDEX[new as usize];
    let tcp = &mut conn.tcp;
    tcp.last_index = index;
    tcp.last_dir = dir as u8;
    conn.tcp_state = new_state;
    if old_state != new_state && new_state == TcpConntrack::FinWait {
        tcp.seen[dir].flags |= tcp_flag::CLOSE_INIT;
    }

    let t_new = timeout_of(p, new_state);
    let t_retrans = p.sysctl.tcp_timeout_max_retrans as u64 * HZ;
    let t_unack = p.sysctl.tcp_timeout_unacknowledged as u64 * HZ;
    let mut timeout = if tcp.retrans as u32 >= p.sysctl.tcp_max_retrans && t_new > t_retrans {
        t_retrans
    } else if index == TCP_RST_SET {
        timeout_of(p, TcpConntrack::Close)
    } else if (tcp.seen[0].flags | tcp.seen[1].flags) & tcp_flag::DATA_UNACKNOWLEDGED != 0
        && t_new > t_unack
    {
        t_unack
    } else if tcp.last_win == 0 && t_new > t_retrans {
        t_retrans
    } else {
        t_new
    };

    if conn.status & ips::SEEN_REPLY == 0 {
        if th.rst() {
            // Only a RST came back: the connection goes at once.
            return L4Verdict::AcceptKill;
        }
        if index == TCP_SYN_SET && old_state == TcpConntrack::SynSent {
            // A retransmitted SYN does not renew the timeout.
            return L4Verdict::Accept;
        }
        if new_state == TcpConntrack::Established && timeout > t_unack {
            timeout = t_unack;
        }
    } else if conn.status & ips::ASSURED == 0
        && matches!(old_state, TcpConntrack::SynRecv | TcpConntrack::Established)
        && new_state == TcpConntrack::Established
    {
        conn.status |= ips::ASSURED;
    }
    conn.refresh(p.now, timeout);
    L4Verdict::Accept
}
