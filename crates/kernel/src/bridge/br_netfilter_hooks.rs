//! Models net/bridge/br_netfilter_hooks.c with
//! `net.bridge.bridge-nf-call-iptables = 1`: IPv4 frames crossing a bridge
//! pass the IPv4 netfilter hooks as if routed, with the bridge as the
//! device and the ports in `skb->nf_bridge` (what `-m physdev` reads):
//!
//! - `br_nf_pre_routing` (bridge PRE_ROUTING): `br_validate_ipv4`, then
//!   `NF_INET_PRE_ROUTING` with `in` = the bridge; a frame then delivered to
//!   the host does not run it again in `ip_rcv` (`ip_sabotage_in`);
//! - `br_nf_forward_ip` (bridge FORWARD): `NF_INET_FORWARD` with `in` and
//!   `out` = the bridge, `physoutdev` = the port it leaves by;
//! - `br_nf_post_routing` (bridge POST_ROUTING): `NF_INET_POST_ROUTING`
//!   with `out` = the bridge, for bridged frames only (the host's own frames
//!   ran it in the IP layer).
//!
//! Not modelled: the new route of a frame DNATed at the bridge's
//! PRE_ROUTING (`br_nf_pre_routing_finish`: bridged DNAT, or a frame routed
//! by the host instead of bridged — the trail says so), ARP and IPv6
//! (`bridge-nf-call-arptables`, `-ip6tables`), `bridge-nf-filter-vlan-tagged`
//! / PPPoE, the per-bridge `nf_call_iptables` option, and fragment
//! reassembly by conntrack defrag before bridging.

use crate::bridge::NfBridgeInfo;
use crate::bridge::br_forward::BrSkbCb;
use crate::core::dropreason::SkbDropReason;
use crate::core::skbuff::{ETH_P_IP, PacketType, SkBuff};
use crate::ipv4::ip_hdr::ip_compute_csum;
use crate::netfilter::NfInetHook;
use crate::netfilter::core::{NfEvent, NfEventKind, nf_hook_skb};
use crate::netns::{IfIndex, Netns};
use crate::trace::Tracer;

/// Whether br_netfilter passes bridged IPv4 to iptables here
/// (`brnf_call_iptables`): the module is loaded and the sysctl is 1.
pub fn br_nf_call_iptables(ns: &Netns) -> bool {
    ns.nf
        .as_ref()
        .is_some_and(|nf| nf.sysctl.bridge_nf_call_iptables == Some(true))
}

/// Kernel: `br_validate_ipv4`: the header checks of `ip_rcv_core` (length,
/// version, IHL, checksum, total length), counted as `ip_rcv_core` counts
/// them; the frame is trimmed to the datagram. Err: the drop reason.
fn br_validate_ipv4(ns: &mut Netns, skb: &mut SkBuff<'_>) -> Result<(), SkbDropReason> {
    let nh = skb.network_header as usize;
    let data = &skb.data[nh.min(skb.data.len())..];
    let hdr_err = |ns: &mut Netns| {
        ns.mib.ip.InHdrErrors += 1;
        Err(SkbDropReason::IP_INHDR)
    };
    if data.len() < 20 {
        return hdr_err(ns);
    }
    let ihl = (data[0] & 0x0f) as usize * 4;
    if data[0] >> 4 != 4 || ihl < 20 || data.len() < ihl {
        return hdr_err(ns);
    }
    if ip_compute_csum(&data[..ihl]) != 0 {
        ns.mib.ip_ext.InCsumErrors += 1;
        return hdr_err(ns);
    }
    let tot_len = u16::from_be_bytes([data[2], data[3]]) as usize;
    if data.len() < tot_len {
        ns.mib.ip_ext.InTruncatedPkts += 1;
        return Err(SkbDropReason::PKT_TOO_SMALL);
    }
    if tot_len < ihl {
        return hdr_err(ns);
    }
    skb.len = tot_len as u32;
    Ok(())
}

/// Kernel: `br_nf_pre_routing` for a frame received on a port of `br`
/// (`skb.dev`): with `bridge-nf-call-iptables`, an IPv4 frame is
/// validated, gets its `nf_bridge` (`physindev` = the port) and passes
/// `NF_INET_PRE_ROUTING` with `in` = the bridge (conntrack, DNAT,
/// raw/mangle/nat PREROUTING). Err: the frame is dropped.
pub fn br_nf_pre_routing<T: Tracer>(
    ns: &mut Netns,
    br: IfIndex,
    skb: &mut SkBuff<'_>,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    if !br_nf_call_iptables(ns) || skb.protocol != ETH_P_IP {
        return Ok(());
    }
    t.enter(crate::trace::KernelFn::br_nf_pre_routing);
    let r = pre_routing(ns, br, skb, t);
    t.leave();
    r
}

fn pre_routing<T: Tracer>(
    ns: &mut Netns,
    br: IfIndex,
    skb: &mut SkBuff<'_>,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    br_validate_ipv4(ns, skb)?;
    skb.nf_bridge = Some(NfBridgeInfo {
        physindev: skb.dev,
        physoutdev: IfIndex(0),
        prerouting_done: true,
    });
    let before = skb.ip_daddr();
    let r = nf_hook_skb(ns, NfInetHook::PreRouting, skb, br, IfIndex(0), t);
    if r.is_err() {
        if let Some(nf) = ns.nf.as_mut() {
            crate::netfilter::conntrack::nf_ct_put(&mut nf.ct, skb.nfct);
        }
        return r;
    }
    if before != skb.ip_daddr()
        && skb.pkt_type != PacketType::Host
        && let Some(nf) = ns.nf.as_mut()
    {
        nf.trail.push(NfEvent {
            hook: NfInetHook::PreRouting,
            kind: NfEventKind::NotModelled(
                "the new route of a bridged frame DNATed at the bridge's PRE_ROUTING (br_nf_pre_routing_finish)",
            ),
        });
    }
    Ok(())
}

/// Kernel: `br_nf_forward_ip` then `br_nf_post_routing` for the copy of a
/// bridged frame (`frame`, rewritten in place by NAT) leaving `br` by port
/// `to`: `NF_INET_FORWARD` (in = out = the bridge, `physoutdev` = `to`),
/// then `NF_INET_POST_ROUTING` (out = the bridge). True when both accept;
/// frames br_netfilter did not take at PRE_ROUTING pass untouched.
pub fn br_nf_forward<T: Tracer>(
    ns: &mut Netns,
    br: IfIndex,
    to: IfIndex,
    frame: &mut [u8],
    cb: &BrSkbCb,
    t: &mut T,
) -> bool {
    let Some(info) = cb.nf_bridge else {
        return true;
    };
    if !br_nf_call_iptables(ns) || frame.len() < 34 {
        return true;
    }
    let tot_len = u16::from_be_bytes([frame[16], frame[17]]) as usize;
    let mut skb = SkBuff::new(frame, to, 14);
    skb.len = tot_len.min(skb.len as usize) as u32;
    skb.mac_header = 0;
    skb.nfct = cb.nfct;
    skb.nf_bridge = Some(NfBridgeInfo {
        physoutdev: to,
        ..info
    });
    // bridge_parent_rtable: the bridge's fake route (no flags, not an
    // input route), what a REJECT's icmp_send finds on the bridged skb.
    let mut fake = crate::ipv4::route::rt_dst_alloc(
        ns,
        br,
        crate::uapi::RtcFlags(0),
        crate::uapi::RouteType::RTN_UNSPEC,
        true,
    );
    fake.rt_is_input = false;
    skb.dst = Some(fake);
    nf_hook_skb(ns, NfInetHook::Forward, &mut skb, br, br, t).is_ok()
        && nf_hook_skb(ns, NfInetHook::PostRouting, &mut skb, IfIndex(0), br, t).is_ok()
}
