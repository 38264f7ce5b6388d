//! Models the neighbour (ARP) table of net/core/neighbour.c as far as
//! forwarding needs it: whether a next hop's link-layer address is known
//! (`NUD_*` states) and what it is; for an unknown one, resolution as
//! `__neigh_event_send` starts it (an `NUD_INCOMPLETE` entry, packets
//! queued up to `unres_qlen_bytes`, an ARP request a second from
//! `neigh_timer_handler`) and ends it: an ARP answer (`arp_process` →
//! `neigh_update`) sends the queue, no answer after `neigh_max_probes`
//! fails it (`NUD_FAILED`; each queued packet gets `arp_error_report`:
//! ICMP host unreachable and `NEIGH_FAILED`). The capture's clock drives
//! the timers ([`run_timers`]).

use std::net::Ipv4Addr;

use crate::core::dev::Verdict;
use crate::core::dropreason::SkbDropReason;
use crate::core::dst::Rtable;
use crate::core::skbuff::{IcmpOut, SkBuff};
use crate::core::tx::TxKind;
use crate::netns::{IfIndex, Netns};
use crate::trace::{Branch, Check, KernelFn, NoTrace, Step, Tracer};

/// Kernel: `NUD_*` neighbour states.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NudState {
    /// `NUD_INCOMPLETE`: resolution in progress.
    NUD_INCOMPLETE,
    /// `NUD_REACHABLE`.
    NUD_REACHABLE,
    /// `NUD_STALE`.
    NUD_STALE,
    /// `NUD_DELAY`.
    NUD_DELAY,
    /// `NUD_PROBE`.
    NUD_PROBE,
    /// `NUD_FAILED`: resolution failed.
    NUD_FAILED,
    /// `NUD_NOARP`: no resolution needed.
    NUD_NOARP,
    /// `NUD_PERMANENT`: configured by hand.
    NUD_PERMANENT,
    /// `NUD_NONE`.
    NUD_NONE,
}

impl NudState {
    /// `NUD_VALID`: a usable link-layer address.
    pub fn is_valid(self) -> bool {
        matches!(
            self,
            NudState::NUD_REACHABLE
                | NudState::NUD_STALE
                | NudState::NUD_DELAY
                | NudState::NUD_PROBE
                | NudState::NUD_NOARP
                | NudState::NUD_PERMANENT
        )
    }

    /// The state of an `ip -j neigh` "state" word.
    pub fn from_word(w: &str) -> Option<NudState> {
        Some(match w {
            "INCOMPLETE" => NudState::NUD_INCOMPLETE,
            "REACHABLE" => NudState::NUD_REACHABLE,
            "STALE" => NudState::NUD_STALE,
            "DELAY" => NudState::NUD_DELAY,
            "PROBE" => NudState::NUD_PROBE,
            "FAILED" => NudState::NUD_FAILED,
            "NOARP" => NudState::NUD_NOARP,
            "PERMANENT" => NudState::NUD_PERMANENT,
            "NONE" => NudState::NUD_NONE,
            _ => return None,
        })
    }
}

/// Kernel: `struct neighbour`: one ARP entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbour {
    /// `dev`.
    pub dev: IfIndex,
    /// `primary_key`: the IPv4 address.
    pub ip: Ipv4Addr,
    /// `ha`: the MAC address, when known.
    pub lladdr: Option<[u8; 6]>,
    /// `nud_state`.
    pub state: NudState,
    /// `updated`: when resolution last started (jiffies), for unresolved entries.
    pub updated: u64,
    /// `probes`: solicitations counted so far (starts at `ucast_probes`).
    pub probes: u8,
    /// The pending `neigh->timer` (jiffies), while resolution is in progress.
    pub timer: Option<u64>,
}

impl Neighbour {
    /// An entry in `state` (a configured or learned one).
    pub fn new(dev: IfIndex, ip: Ipv4Addr, lladdr: Option<[u8; 6]>, state: NudState) -> Self {
        Neighbour {
            dev,
            ip,
            lladdr,
            state,
            updated: 0,
            probes: 0,
            timer: None,
        }
    }
}

/// `arp_tbl`'s `retrans_time` default: one solicitation a second.
pub const RETRANS_TIME: u64 = crate::HZ;
/// `ucast_solicit` default (`UCAST_PROBES`).
pub const UCAST_PROBES: u8 = 3;
/// `app_solicit` default (`APP_PROBES`).
pub const APP_PROBES: u8 = 0;
/// `mcast_solicit` default (`MCAST_PROBES`).
pub const MCAST_PROBES: u8 = 3;
/// `unres_qlen_bytes` default (`SK_WMEM_MAX`): the bytes (truesize) an
/// unresolved entry may hold queued.
pub const UNRES_QLEN_BYTES: u32 = 212_992;

/// Kernel: `neigh_max_probes` for an `NUD_INCOMPLETE` entry: resolution
/// fails once `probes` reaches it.
pub const fn neigh_max_probes() -> u8 {
    UCAST_PROBES + APP_PROBES + MCAST_PROBES
}

/// A packet waiting in an unresolved entry's `arp_queue`.
#[derive(Clone, Debug)]
pub struct QueuedSkb {
    /// The received packet it came from (`Netns::rx_seq`).
    pub seq: u64,
    /// The neighbour's device.
    pub dev: IfIndex,
    /// The neighbour's address.
    pub ip: Ipv4Addr,
    /// Forwarded, or built by this host.
    pub kind: crate::core::tx::TxKind,
    /// The route it was sent on.
    pub rt: crate::core::dst::Rtable,
    /// The device it arrived on (`skb_iif`).
    pub skb_iif: IfIndex,
    /// The IP packet.
    pub pkt: Vec<u8>,
    /// Its `truesize`, counted against `unres_qlen_bytes`.
    pub truesize: u32,
}

/// The fate of a received packet that waited for its next hop, decided
/// after it was handled: sent when the neighbour answered, else dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settled {
    /// The received packet (`Netns::rx_seq` when it was handled).
    pub seq: u64,
    /// Forward (sent) or drop.
    pub verdict: crate::core::dev::Verdict,
    /// `NEIGH_FAILED` or `NEIGH_QUEUEFULL` when dropped.
    pub drop_reason: Option<crate::core::dropreason::SkbDropReason>,
    /// The ICMP error sent about it (`ipv4_link_failure`).
    pub icmp: Option<crate::core::skbuff::IcmpOut>,
    /// When (jiffies).
    pub at: u64,
}

/// Kernel: `neigh_probe` → `arp_solicit` → `arp_send_dst`: a broadcast
/// who-has for `ip` on `dev`. The sender address (`arp_announce` 0): the
/// source of the newest queued packet when it is one of this host's
/// addresses, else the device's address chosen for `ip`
/// (`inet_select_addr`).
fn arp_solicit<T: Tracer>(ns: &mut Netns, dev: IfIndex, ip: Ipv4Addr, n: u8, t: &mut T) {
    let newest = ns
        .arp_queue
        .iter()
        .rev()
        .find(|q| q.dev == dev && q.ip == ip)
        .and_then(|q| q.pkt.get(12..16))
        .map(|b| Ipv4Addr::new(b[0], b[1], b[2], b[3]));
    let sip = match newest {
        Some(a) if ns.inet_lookup_ifaddr(a).is_some() => a,
        _ => {
            crate::ipv4::devinet::inet_select_addr(ns, dev, ip, crate::uapi::RtScope::RT_SCOPE_LINK)
        }
    };
    let src_mac = ns.dev(dev).map(|d| d.dev_addr).unwrap_or([0; 6]);
    let brd = ns.dev(dev).map(|d| d.broadcast).unwrap_or([0xff; 6]);
    let at = ns.jiffies;
    crate::core::dev::dev_queue_xmit(ns, dev, TxKind::Arp, at, |b| {
        b.extend_from_slice(&brd);
        b.extend_from_slice(&src_mac);
        b.extend_from_slice(&crate::ipv4::ip_output::ETH_P_ARP.to_be_bytes());
        b.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        b.extend_from_slice(&src_mac);
        b.extend_from_slice(&sip.octets());
        b.extend_from_slice(&[0; 6]);
        b.extend_from_slice(&ip.octets());
    });
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::arp_solicit,
            Check::ArpSolicit { ip, sip, n },
            Branch::Next,
        ));
    }
}

/// Kernel: `__neigh_event_send` for a packet to an unresolved next hop
/// `ip` on `rt`'s device: an entry not already resolving starts
/// (`NUD_INCOMPLETE`, `probes = ucast_probes`, the timer a `retrans_time`
/// away, and the first solicitation at once); the packet joins the queue,
/// the oldest ones dropped (`NEIGH_QUEUEFULL`) while the queue's truesize
/// would pass `unres_qlen_bytes`.
pub fn __neigh_event_send<T: Tracer>(
    ns: &mut Netns,
    rt: &Rtable,
    ip: Ipv4Addr,
    pkt: &[u8],
    kind: TxKind,
    t: &mut T,
) {
    let dev = rt.dst.dev;
    let now = ns.jiffies;
    let pos = ns.neigh.iter().position(|n| n.dev == dev && n.ip == ip);
    let resolving = pos.is_some_and(|i| {
        ns.neigh[i].state == NudState::NUD_INCOMPLETE && ns.neigh[i].timer.is_some()
    });
    if !resolving {
        let mut n = Neighbour::new(dev, ip, None, NudState::NUD_INCOMPLETE);
        n.updated = now;
        n.probes = UCAST_PROBES;
        n.timer = Some(now + RETRANS_TIME);
        match pos {
            Some(i) => ns.neigh[i] = n,
            None => ns.neigh.push(n),
        }
    }
    let truesize = crate::core::skbuff::skb_truesize(pkt.len() + 14);
    let mut bytes: u32 = ns
        .arp_queue
        .iter()
        .filter(|q| q.dev == dev && q.ip == ip)
        .map(|q| q.truesize)
        .sum();
    while bytes + truesize > UNRES_QLEN_BYTES {
        let Some(j) = ns.arp_queue.iter().position(|q| q.dev == dev && q.ip == ip) else {
            break;
        };
        let old = ns.arp_queue.remove(j);
        ns.skb_pool.push(old.pkt);
        bytes -= old.truesize;
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::__neigh_event_send,
                Check::NeighQueueFull { ip },
                Branch::Next,
            ));
        }
        settle(
            ns,
            old.seq,
            old.kind,
            Some(SkbDropReason::NEIGH_QUEUEFULL),
            None,
        );
    }
    ns.arp_queue.push(QueuedSkb {
        seq: ns.rx_seq,
        dev,
        ip,
        kind,
        rt: *rt,
        skb_iif: rt.rt_iif,
        pkt: {
            // A buffer of a packet that left the queue, when there is one.
            let mut v = ns.skb_pool.pop().unwrap_or_default();
            v.clear();
            v.extend_from_slice(pkt);
            v
        },
        truesize,
    });
    if kind == TxKind::Forward {
        ns.rx_queued = true;
    }
    if T::ENABLED {
        let qlen = ns
            .arp_queue
            .iter()
            .filter(|q| q.dev == dev && q.ip == ip)
            .count() as u32;
        t.step(Step::new(
            KernelFn::__neigh_event_send,
            Check::NeighQueued {
                ip,
                qlen,
                bytes: bytes + truesize,
            },
            Branch::Next,
        ));
    }
    if !resolving {
        // neigh_probe, once the packet is queued: the first solicitation
        // goes out now.
        if let Some(i) = ns.neigh.iter().position(|n| n.dev == dev && n.ip == ip) {
            ns.neigh[i].probes += 1;
        }
        arp_solicit(ns, dev, ip, 1, t);
    }
}

/// Kernel: `neigh_event_send(n, NULL)` for the entry of `ip` on `dev`
/// (created when missing): an entry neither valid nor resolving starts
/// resolving with no packet queued (`NUD_INCOMPLETE`, the first
/// solicitation now, the timer a `retrans_time` away). What `__ip_do_redirect`
/// does for a new gateway it has no address for yet.
pub fn neigh_event_send_nopkt<T: Tracer>(ns: &mut Netns, dev: IfIndex, ip: Ipv4Addr, t: &mut T) {
    let pos = ns.neigh.iter().position(|n| n.dev == dev && n.ip == ip);
    if let Some(i) = pos {
        let n = &ns.neigh[i];
        if n.state.is_valid() || (n.state == NudState::NUD_INCOMPLETE && n.timer.is_some()) {
            return;
        }
    }
    let now = ns.jiffies;
    let mut n = Neighbour::new(dev, ip, None, NudState::NUD_INCOMPLETE);
    n.updated = now;
    n.probes = UCAST_PROBES + 1;
    n.timer = Some(now + RETRANS_TIME);
    match pos {
        Some(i) => ns.neigh[i] = n,
        None => ns.neigh.push(n),
    }
    ns.neigh_probing = true;
    arp_solicit(ns, dev, ip, 1, t);
}

/// Records the fate of a forwarded packet that waited (one per received
/// packet: its later fragments add nothing).
fn settle(
    ns: &mut Netns,
    seq: u64,
    kind: TxKind,
    drop_reason: Option<SkbDropReason>,
    icmp: Option<IcmpOut>,
) {
    if kind != TxKind::Forward || ns.settled.iter().any(|s| s.seq == seq) {
        return;
    }
    // A packet still has fragments waiting: it is settled by its last one.
    ns.settled.push(Settled {
        seq,
        verdict: if drop_reason.is_some() {
            Verdict::Drop
        } else {
            Verdict::Forward
        },
        drop_reason,
        icmp,
        at: ns.jiffies,
    });
}

/// `ip neigh flush all` (`RTM_DELNEIGH` for each entry it lists): every
/// entry but `NUD_PERMANENT` and `NUD_NOARP` ones is deleted, with the
/// packets queued on it. Returns how many entries went.
pub fn neigh_flush(ns: &mut Netns) -> usize {
    let before = ns.neigh.len();
    let keep = |s: NudState| matches!(s, NudState::NUD_PERMANENT | NudState::NUD_NOARP);
    let gone: Vec<(IfIndex, Ipv4Addr)> = ns
        .neigh
        .iter()
        .filter(|n| !keep(n.state))
        .map(|n| (n.dev, n.ip))
        .collect();
    ns.neigh.retain(|n| keep(n.state));
    ns.arp_queue
        .retain(|q| !gone.iter().any(|&(d, ip)| q.dev == d && q.ip == ip));
    before - ns.neigh.len()
}

/// Whether a received packet still has packets waiting on a neighbour.
pub fn is_waiting(ns: &Netns, seq: u64) -> bool {
    ns.arp_queue.iter().any(|q| q.seq == seq)
}

/// Kernel: `neigh_timer_handler` for the unresolved entry `i` at its timer:
/// another solicitation while `probes` is below `neigh_max_probes`, else
/// `NUD_FAILED` and `neigh_invalidate`: every queued packet goes to
/// `arp_error_report` (ICMP host unreachable about it, rate limited as any
/// error, then freed with `NEIGH_FAILED`).
pub fn neigh_timer_handler<T: Tracer>(ns: &mut Netns, i: usize, t: &mut T) {
    let Neighbour {
        dev,
        ip,
        probes,
        updated,
        ..
    } = ns.neigh[i];
    let after_ms = (ns.jiffies.saturating_sub(updated) * 1000 / crate::HZ) as u32;
    // What the timer sends belongs to the oldest packet waiting here.
    if let Some(q) = ns.arp_queue.iter().find(|q| q.dev == dev && q.ip == ip) {
        ns.tx.seq = q.seq;
    }
    t.enter(KernelFn::neigh_timer_handler);
    let failed = probes >= neigh_max_probes();
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::neigh_timer_handler,
            Check::NeighTimer {
                ip,
                after_ms,
                probes,
                failed,
            },
            if failed { Branch::out } else { Branch::Next },
        ));
    }
    if !failed {
        ns.neigh[i].timer = Some(ns.jiffies + RETRANS_TIME);
        ns.neigh[i].probes += 1;
        let n = probes - UCAST_PROBES - APP_PROBES + 1;
        arp_solicit(ns, dev, ip, n, t);
        t.leave();
        return;
    }
    ns.neigh[i].state = NudState::NUD_FAILED;
    ns.neigh[i].timer = None;
    ns.neigh[i].updated = ns.jiffies;
    while let Some(j) = ns.arp_queue.iter().position(|q| q.dev == dev && q.ip == ip) {
        let mut q = ns.arp_queue.remove(j);
        ns.tx.seq = q.seq;
        let icmp = if q.kind == TxKind::Forward {
            // ipv4_link_failure: ICMP host unreachable about the packet as
            // it was queued (TTL already decreased).
            let mut skb = SkBuff::new(&mut q.pkt[..], dev, 0);
            skb.skb_iif = q.skb_iif;
            skb.cb.iif = q.skb_iif;
            skb.dst = Some(q.rt);
            skb.transport_header = ((skb.data.first().map_or(5, |b| b & 0xf)) as u16) * 4;
            crate::ipv4::icmp::icmp_send(ns, &mut skb, 3, 1, 0, t);
            skb.icmp
        } else {
            None
        };
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::arp_error_report,
                Check::Drop {
                    reason: SkbDropReason::NEIGH_FAILED,
                },
                Branch::out,
            ));
        }
        if !is_waiting(ns, q.seq) || icmp.is_some() {
            settle(ns, q.seq, q.kind, Some(SkbDropReason::NEIGH_FAILED), icmp);
        }
        ns.skb_pool.push(q.pkt);
    }
    t.leave();
}

/// Kernel: `neigh_update` from `arp_process`: the entry of `ip` on `dev`
/// learns `mac`; when it was not valid, its queued packets go out now.
pub fn neigh_update<T: Tracer>(ns: &mut Netns, i: usize, mac: [u8; 6], reachable: bool, t: &mut T) {
    neigh_update_with(ns, i, mac, reachable, false, t);
}

/// `neigh_update` with `NEIGH_UPDATE_F_OVERRIDE` forced (`force`) rather
/// than earned by `locktime`.
fn neigh_update_with<T: Tracer>(
    ns: &mut Netns,
    i: usize,
    mac: [u8; 6],
    reachable: bool,
    force: bool,
    t: &mut T,
) {
    let Neighbour {
        dev,
        ip,
        state,
        lladdr,
        updated,
        ..
    } = ns.neigh[i];
    let mut new = if reachable {
        NudState::NUD_REACHABLE
    } else {
        NudState::NUD_STALE
    };
    if state.is_valid() && lladdr.is_some_and(|l| l != mac) {
        // A different address for a valid entry is taken only after
        // `locktime` (1 s): arp_process passes NEIGH_UPDATE_F_OVERRIDE only
        // then, and no WEAK_OVERRIDE, so before it nothing changes.
        if !force && ns.jiffies <= updated + crate::HZ {
            return;
        }
    } else if state.is_valid() && new == NudState::NUD_STALE {
        new = state;
    }
    ns.neigh[i].lladdr = Some(mac);
    ns.neigh[i].state = new;
    ns.neigh[i].timer = None;
    ns.neigh[i].updated = ns.jiffies;
    let mut sent = 0;
    if !state.is_valid() {
        while let Some(j) = ns.arp_queue.iter().position(|q| q.dev == dev && q.ip == ip) {
            let q = ns.arp_queue.remove(j);
            let seq = std::mem::replace(&mut ns.tx.seq, q.seq);
            crate::ipv4::ip_output::neigh_hh_output(ns, dev, mac, &q.pkt, q.kind);
            ns.tx.seq = seq;
            sent += 1;
            if !is_waiting(ns, q.seq) {
                settle(ns, q.seq, q.kind, None, None);
            }
            ns.skb_pool.push(q.pkt);
        }
    }
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::neigh_update,
            Check::NeighUpdate {
                ip,
                mac,
                reachable,
                sent,
            },
            Branch::Next,
        ));
    }
}

/// An ARP request `arp_process` left unanswered because its route lookup
/// (`ip_route_input_noref(tip, sip)`, with the reverse-path check) failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpIgnored {
    /// The asker's address.
    pub sip: Ipv4Addr,
    /// The address asked for.
    pub tip: Ipv4Addr,
    /// Why the lookup failed.
    pub reason: crate::SkbDropReason,
}

/// Kernel: `arp_rcv` → `arp_process` for an Ethernet/IPv4 request or reply
/// on `dev`:
/// - a target that is multicast, or loopback without `route_localnet`: dropped;
/// - a request for one of this host's addresses (the route decision for the
///   target from the sender gives `RTN_LOCAL`; `arp_ignore` and
///   `arp_filter` at 0): the sender's entry is made or refreshed
///   (`neigh_event_ns`, `NUD_STALE`) and a reply goes back (`arp_send_dst`);
///   a duplicate address probe (sender 0.0.0.0) gets the reply alone;
/// - otherwise an entry the sender already has is updated (`NUD_REACHABLE`
///   for a reply to this host, else `NUD_STALE`), which sends what was
///   queued.
///
/// Proxy ARP and `arp_accept` (unsolicited entries) are not modelled.
pub fn arp_process<T: Tracer>(ns: &mut Netns, dev: IfIndex, arp: &[u8], to_host: bool, t: &mut T) {
    if arp.len() < 28 || arp[0..6] != [0, 1, 8, 0, 6, 4] {
        return;
    }
    let op = u16::from_be_bytes([arp[6], arp[7]]);
    if op != 1 && op != 2 {
        return;
    }
    let mut sha = [0u8; 6];
    sha.copy_from_slice(&arp[8..14]);
    let sip = Ipv4Addr::new(arp[14], arp[15], arp[16], arp[17]);
    let tip = Ipv4Addr::new(arp[24], arp[25], arp[26], arp[27]);
    let localnet = ns.in_dev(dev).is_some_and(|i| ns.in_dev_route_localnet(i));
    if tip.is_multicast() || (!localnet && tip.is_loopback()) {
        return;
    }
    t.enter(KernelFn::arp_process);
    if op == 1 {
        if sip.is_unspecified() {
            // A duplicate address probe (RFC 2131): a reply, no entry.
            if ns.inet_lookup_ifaddr(tip).is_some() {
                arp_send_reply(ns, dev, sip, tip, sha, t);
            }
            t.leave();
            return;
        }
        let mut hdr = [0u8; 20];
        let mut skb = crate::core::skbuff::SkBuff::new(&mut hdr, dev, 0);
        skb.protocol = crate::ipv4::ip_output::ETH_P_ARP;
        if !to_host {
            skb.pkt_type = crate::core::skbuff::PacketType::Broadcast;
        }
        let routed =
            crate::ipv4::route::ip_route_input_noref(ns, &mut skb, tip, sip, 0, dev, &mut NoTrace);
        if let Err(reason) = routed {
            // The request is not answered: say why (rp_filter, a martian
            // source), where the kernel only consumes the frame.
            ns.arp_ignored = Some(ArpIgnored { sip, tip, reason });
            if T::ENABLED {
                t.step(Step::new(
                    KernelFn::arp_process,
                    Check::ArpRouteFailed { sip, tip, reason },
                    Branch::out,
                ));
            }
        }
        let local = routed.is_ok()
            && skb
                .dst
                .is_some_and(|rt| rt.rt_type == crate::uapi::RouteType::RTN_LOCAL);
        if local {
            neigh_event_ns(ns, dev, sip, sha, t);
            arp_send_reply(ns, dev, sip, tip, sha, t);
            t.leave();
            return;
        }
    }
    if let Some(i) = ns.neigh.iter().position(|n| n.dev == dev && n.ip == sip)
        && !matches!(
            ns.neigh[i].state,
            NudState::NUD_PERMANENT | NudState::NUD_NOARP
        )
    {
        neigh_update(ns, i, sha, op == 2 && to_host, t);
    }
    t.leave();
}

/// Kernel: `neigh_event_ns`: the entry of the asker, made if need be, takes
/// its MAC (`neigh_update(NUD_STALE, NEIGH_UPDATE_F_OVERRIDE)`); a valid
/// entry offered the same MAC keeps its state; a queue waiting on it goes
/// out.
fn neigh_event_ns<T: Tracer>(ns: &mut Netns, dev: IfIndex, ip: Ipv4Addr, mac: [u8; 6], t: &mut T) {
    let i = match ns.neigh.iter().position(|n| n.dev == dev && n.ip == ip) {
        Some(i) => i,
        None => {
            ns.neigh
                .push(Neighbour::new(dev, ip, None, NudState::NUD_NONE));
            ns.neigh.len() - 1
        }
    };
    let n = ns.neigh[i];
    if matches!(n.state, NudState::NUD_PERMANENT | NudState::NUD_NOARP)
        || (n.state.is_valid() && n.lladdr == Some(mac))
    {
        return;
    }
    neigh_update_with(ns, i, mac, false, true, t);
}

/// Kernel: `arp_send_dst(ARPOP_REPLY, ...)`: `tip is-at` this device's MAC,
/// to the asker's MAC and address.
fn arp_send_reply<T: Tracer>(
    ns: &mut Netns,
    dev: IfIndex,
    sip: Ipv4Addr,
    tip: Ipv4Addr,
    sha: [u8; 6],
    t: &mut T,
) {
    let mac = ns.dev(dev).map(|d| d.dev_addr).unwrap_or([0; 6]);
    let at = ns.jiffies;
    crate::core::dev::dev_queue_xmit(ns, dev, TxKind::Local, at, |b| {
        b.extend_from_slice(&sha);
        b.extend_from_slice(&mac);
        b.extend_from_slice(&crate::ipv4::ip_output::ETH_P_ARP.to_be_bytes());
        b.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]);
        b.extend_from_slice(&mac);
        b.extend_from_slice(&tip.octets());
        b.extend_from_slice(&sha);
        b.extend_from_slice(&sip.octets());
    });
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::arp_process,
            Check::ArpReply { ip: tip, to: sip },
            Branch::Next,
        ));
    }
}

/// Fires every timer due by `until` (jiffies), earliest first, with the
/// clock at each timer's time: neighbour resolution ([`neigh_timer_handler`])
/// and reassembly expiry (`ip_expire`). Frames sent go to `ns.tx` (with
/// their time), fates to `ns.settled`. Only the work of the neighbour
/// holding packets of `watch` (a received packet's number) is traced.
pub fn run_timers<T: Tracer>(ns: &mut Netns, until: u64, watch: Option<u64>, t: &mut T) {
    // A resolving entry holds a queued packet (the one that started it, or
    // a later one that pushed older ones out), unless a redirect started it
    // (`neigh_probing`): with neither and no reassembly in progress, no
    // timer is armed.
    if ns.arp_queue.is_empty() && !ns.neigh_probing && !ns.frags.q.iter().any(|q| q.live) {
        return;
    }
    if ns.neigh_probing && !ns.neigh.iter().any(|n| n.timer.is_some()) {
        ns.neigh_probing = false;
    }
    let start = ns.jiffies;
    let wall = ns.wall_ns;
    loop {
        let neigh = ns
            .neigh
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.timer.filter(|&w| w <= until).map(|w| (w, i)))
            .min();
        let frag = crate::ipv4::ip_input::next_frag_expiry(ns).filter(|&(w, _)| w <= until);
        match (neigh, frag) {
            (Some((w, i)), f) if f.is_none_or(|(fw, _)| w <= fw) => {
                set_clock(ns, w, start, wall);
                let n = ns.neigh[i];
                let watched = watch.is_some_and(|s| {
                    ns.arp_queue
                        .iter()
                        .any(|q| q.seq == s && q.dev == n.dev && q.ip == n.ip)
                });
                if watched {
                    neigh_timer_handler(ns, i, t);
                } else {
                    neigh_timer_handler(ns, i, &mut NoTrace);
                }
            }
            (_, Some((w, i))) => {
                set_clock(ns, w, start, wall);
                crate::ipv4::ip_input::ip_expire_queue(ns, i, &mut NoTrace);
            }
            _ => break,
        }
    }
}

/// Moves the clock to jiffy `w` (and the wall clock with it).
fn set_clock(ns: &mut Netns, w: u64, start: u64, wall: i128) {
    if w > ns.jiffies {
        ns.jiffies = w;
        ns.wall_ns = wall + (w.saturating_sub(start) as i128) * 1_000_000_000 / crate::HZ as i128;
    }
}

/// Runs the clock on until every packet waiting on a neighbour has its
/// fate (the last resolution timer with a queue fires), as the kernel does
/// after a capture ends. Reassembly timers due by then fire too.
pub fn settle_all<T: Tracer>(ns: &mut Netns, watch: Option<u64>, t: &mut T) {
    while !ns.arp_queue.is_empty() {
        let next = ns
            .neigh
            .iter()
            .filter(|n| ns.arp_queue.iter().any(|q| q.dev == n.dev && q.ip == n.ip))
            .filter_map(|n| n.timer)
            .min();
        let Some(w) = next else {
            // Nothing will wake these (an entry changed by hand): they stay.
            return;
        };
        run_timers(ns, w, watch, t);
    }
}

/// Walks a received frame (`netif_receive_skb`) and, when it waits on a
/// neighbour, runs the clock on until its fate is known: the outcome a
/// replay reports for it.
pub fn receive_settled<T: Tracer>(
    ns: &mut Netns,
    frame: &mut [u8],
    dev: IfIndex,
    t: &mut T,
) -> crate::core::dev::RxOutcome {
    let mut o = crate::core::dev::netif_receive_skb(ns, frame, dev, t);
    if o.verdict == Verdict::Queued {
        let seq = ns.rx_seq;
        settle_all(ns, Some(seq), t);
        if let Some(s) = ns.settled.iter().find(|s| s.seq == seq) {
            o.verdict = s.verdict;
            o.drop_reason = s.drop_reason;
            o.icmp = s.icmp;
        }
    }
    o
}
