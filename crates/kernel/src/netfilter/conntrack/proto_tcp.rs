//! Models net/netfilter/nf_conntrack_proto_tcp.c: `tcp_error` (length,
//! checksum, flag combination), `tcp_new` (which packets may open a
//! connection; `nf_conntrack_tcp_loose`), the state table and
//! `nf_conntrack_tcp_packet` with its special cases (reopening from
//! TIME_WAIT, ignored packets, simultaneous open, RST checks) and the
//! timeout of each state.
//!
//! Simplified: `tcp_in_window` keeps the per-direction state the kernel
//! keeps (`td_end`, `td_maxend`, `td_maxwin`, `td_maxack`, unacknowledged
//! data, retransmission count) but never finds a segment out of window,
//! as with `nf_conntrack_tcp_be_liberal = 1`; TCP options are not parsed
//! (window scale 0, no SACK blocks). The RST sequence check against
//! `td_maxack`, which the kernel makes whatever `be_liberal` says, is made.

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

/// `nf_conntrack_tcp_max_retrans` (3; not among the model's sysctls).
pub const TCP_MAX_RETRANS: u8 = 3;
/// `nf_conntrack_tcp_timeout_max_retrans` (300 s; not among the sysctls).
pub const TCP_TIMEOUT_MAX_RETRANS_SECS: u64 = 300;
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

/// `tcp_init_sender`, without the options.
fn tcp_init_sender(sender: &mut IpCtTcpState, end: u32, win: u32) {
    sender.td_end = end;
    sender.td_maxend = end;
    sender.td_maxwin = win.max(1);
    sender.td_scale = 0;
}

/// Kernel: `tcp_in_window` as with `be_liberal`: the bookkeeping of an
/// in-window segment, every bound taken as met.
fn tcp_in_window(conn: &mut NfConn, dir: usize, index: u8, th: &TcpHdr, end: u32) {
    let state = conn.tcp_state;
    let tcp = &mut conn.tcp;
    let (mut sender, mut receiver) = (tcp.seen[dir], tcp.seen[1 - dir]);
    let mut ack = th.ack_seq;
    let mut sack = ack;
    let mut end = end;
    let mut win = th.window as u32;
    let mut done = false;
    if sender.td_maxwin == 0 {
        if th.syn() {
            tcp_init_sender(&mut sender, end, win);
            done = !th.ack();
        } else {
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
        tcp_init_sender(&mut sender, end, win);
        done = dir == 1 && !th.ack();
    }
    if !done {
        if !th.ack() || (th.rst() && ack == 0) {
            ack = receiver.td_end;
            sack = ack;
        }
        if th.rst() && th.seq == 0 && state == TcpConntrack::SynSent {
            end = sender.td_end;
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
                && tcp.last_seq == th.seq
                && tcp.last_ack == ack
                && tcp.last_end == end
                && tcp.last_win == th.window
            {
                tcp.retrans = tcp.retrans.saturating_add(1);
            } else {
                tcp.last_dir = dir as u8;
                tcp.last_seq = th.seq;
                tcp.last_ack = ack;
                tcp.last_end = end;
                tcp.last_win = th.window;
                tcp.retrans = 0;
            }
        }
    }
    tcp.seen[dir] = sender;
    tcp.seen[1 - dir] = receiver;
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
/// when the RST is INVALID (below what the other side acknowledged),
/// else whether it bypasses the window bookkeeping. May keep the state.
fn rst_skips_window(
    tcp: &IpCtTcp,
    th: &TcpHdr,
    dir: usize,
    old_state: TcpConntrack,
    status: u32,
    established: bool,
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
        if before(seq, tcp.seen[1 - dir].td_maxack) {
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
                    tcp.last_flags = 0;
                    tcp.last_wscale = 0;
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
        match rst_skips_window(tcp, &th, dir, old_state, status, established, &mut new) {
            Some(skip) => skip_window = skip,
            None => return L4Verdict::Invalid,
        }
    }

    if !skip_window {
        tcp_in_window(conn, dir, index, &th, end);
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
    let t_retrans = TCP_TIMEOUT_MAX_RETRANS_SECS * HZ;
    let t_unack = p.sysctl.tcp_timeout_unacknowledged as u64 * HZ;
    let mut timeout = if tcp.retrans >= TCP_MAX_RETRANS && t_new > t_retrans {
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
