//! Models net/netfilter/core.c: the hooks a namespace registered
//! (`struct nf_hook_ops`: a priority and what runs), `nf_hook` on the path
//! and `nf_hook_slow`, which runs them in priority order until one drops.
//! A drop is `kfree_skb_reason(skb, SKB_DROP_REASON_NETFILTER_DROP)`.

use std::net::Ipv4Addr;

use crate::SkbDropReason;
use crate::netfilter::conntrack::{self, CtVerdict, IpConntrackInfo, Nfct};
use crate::netfilter::nat::{self, NatRewrite, NfNatManipType};
use crate::netfilter::nf_tables::nft_do_chain;
use crate::netfilter::xtables::eval::{NfPktInfo, ipt_do_table};
use crate::netfilter::xtables::ip_tables::{RejectWith, TableName};
use crate::netfilter::{Netfilter, NfInetHook};
use crate::netns::{IfIndex, Netns};
use crate::trace::{Branch, Check, KernelFn, Step, Tracer};

/// `NF_IP_PRI_CONNTRACK`.
pub const NF_IP_PRI_CONNTRACK: i32 = -200;
/// `NF_IP_PRI_CONNTRACK_CONFIRM`.
pub const NF_IP_PRI_CONNTRACK_CONFIRM: i32 = i32::MAX;

/// What a registered hook runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NfHookKind {
    /// An iptables table's chain for this hook (`iptable_*_hook`).
    Table(u16),
    /// The nat table (`nf_nat_ipv4_fn`): its chain runs for a connection's
    /// first packet, then the binding rewrites every packet.
    Nat(u16),
    /// `ipv4_conntrack_in` / `ipv4_conntrack_local`.
    ConntrackIn,
    /// `ipv4_confirm`.
    ConntrackConfirm,
    /// An nftables base chain (`nft_do_chain_ipv4` / `nft_do_chain_inet`;
    /// a nat chain through `nf_nat_inet_fn`): indices into `Netfilter::nft`.
    Nft {
        /// Table index.
        table: u16,
        /// Base chain index.
        chain: u16,
    },
}

/// `struct nf_hook_ops`: one registered hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NfHookOps {
    /// Lower runs first.
    pub priority: i32,
    /// What it runs.
    pub kind: NfHookKind,
}

/// A hook's verdict (`NF_ACCEPT`, `NF_DROP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NfVerdict {
    /// `NF_ACCEPT`: the next hook, then the path goes on.
    Accept,
    /// `NF_DROP`: freed with `NETFILTER_DROP`.
    Drop,
}

/// What decided at one table, or what else the hooks did: plain data, the
/// names are resolved from `Netfilter::tables` when printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NfEventKind {
    /// A rule's target decided (ACCEPT, DROP, REJECT, a NAT target, RETURN
    /// to the policy is `Policy`).
    Rule {
        /// Table index.
        table: u16,
        /// Chain index.
        chain: u16,
        /// Rule index in the chain.
        rule: u16,
        /// The verdict it gave.
        verdict: NfVerdict,
    },
    /// A built-in chain's policy decided.
    Policy {
        /// Table index.
        table: u16,
        /// Chain index.
        chain: u16,
        /// The verdict.
        verdict: NfVerdict,
    },
    /// The packet reached a rule whose match or target is not modelled.
    Unmodelled {
        /// Table index.
        table: u16,
        /// Chain index.
        chain: u16,
        /// Rule index.
        rule: u16,
    },
    /// A LOG or NFLOG rule logged the packet.
    Log {
        /// Table index.
        table: u16,
        /// Chain index.
        chain: u16,
        /// Rule index.
        rule: u16,
    },
    /// NAT rewrote the packet.
    Nat(NatRewrite),
    /// REJECT: the ICMP (or TCP reset) sent back.
    Reject(RejectWith),
    /// Conntrack dropped the packet (`nf_conntrack_in` said `NF_DROP`).
    ConntrackDrop,
    /// The packet's conntrack state when it entered the tables.
    Ct(Nfct),
    /// The packet met kernel behaviour the model does not have (named).
    NotModelled(&'static str),
    /// An nftables rule's verdict decided (`accept`, `drop`, `reject`, a
    /// NAT statement); indices into `Netfilter::nft`.
    NftRule {
        /// Table index.
        table: u16,
        /// Chain index.
        chain: u16,
        /// Rule index in the chain.
        rule: u16,
        /// The verdict it gave.
        verdict: NfVerdict,
    },
    /// An nftables base chain's policy decided.
    NftPolicy {
        /// Table index.
        table: u16,
        /// Base chain index.
        chain: u16,
        /// The verdict.
        verdict: NfVerdict,
    },
    /// The packet reached an nftables expression that is not modelled.
    NftUnmodelled {
        /// Table index.
        table: u16,
        /// Chain index.
        chain: u16,
        /// Rule index.
        rule: u16,
    },
    /// An nftables `log` statement logged the packet.
    NftLog {
        /// Table index.
        table: u16,
        /// Chain index.
        chain: u16,
        /// Rule index.
        rule: u16,
    },
}

/// One event at one hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NfEvent {
    /// Where.
    pub hook: NfInetHook,
    /// What.
    pub kind: NfEventKind,
}

/// The events of the packet being handled, in order: a fixed buffer, so
/// recording allocates nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NfTrail {
    events: [Option<NfEvent>; 24],
    len: u8,
    /// Events that did not fit.
    pub overflow: u16,
    /// A REJECT to answer once the hook returned (its ICMP or reset goes
    /// out through the host's own output path).
    pub reject: Option<RejectWith>,
}

impl NfTrail {
    /// Records an event.
    #[inline]
    pub fn push(&mut self, e: NfEvent) {
        if (self.len as usize) < self.events.len() {
            self.events[self.len as usize] = Some(e);
            self.len += 1;
        } else {
            self.overflow = self.overflow.saturating_add(1);
        }
    }

    /// Forgets everything (between packets).
    pub fn clear(&mut self) {
        self.len = 0;
        self.overflow = 0;
        self.reject = None;
    }

    /// The events in order.
    pub fn events(&self) -> impl Iterator<Item = &NfEvent> {
        self.events[..self.len as usize].iter().flatten()
    }

    /// Whether the packet touched a rule that is not modelled.
    pub fn unmodelled(&self) -> bool {
        self.events().any(|e| {
            matches!(
                e.kind,
                NfEventKind::Unmodelled { .. }
                    | NfEventKind::NotModelled(_)
                    | NfEventKind::NftUnmodelled { .. }
            )
        })
    }
}

/// The packet as the hooks see it: its IPv4 bytes (header on), and the
/// skb fields netfilter reads and writes.
#[derive(Debug)]
pub struct NfPacket<'a> {
    /// From the IPv4 header to the end of the datagram.
    pub data: &'a mut [u8],
    /// `skb->mark`.
    pub mark: u32,
    /// `skb->_nfct`.
    pub nfct: &'a mut Nfct,
}

/// `struct nf_hook_state`: where the packet is.
#[derive(Clone, Copy, Debug)]
pub struct NfHookState {
    /// The hook.
    pub hook: NfInetHook,
    /// `in` (0: none).
    pub indev: IfIndex,
    /// `out` (0: none).
    pub outdev: IfIndex,
    /// The next hop of the route (`rt_nexthop`), for MASQUERADE.
    pub nexthop: Ipv4Addr,
    /// `skb->nf_bridge`: the bridge ports of a frame br_netfilter passed
    /// here (`-m physdev`); None for a routed packet.
    pub nf_bridge: Option<crate::bridge::NfBridgeInfo>,
}

/// Kernel: `NF_HOOK` / `nf_hook`: runs the hooks registered at
/// `state.hook` over `pkt`. A namespace without rules returns at once.
/// `Err(NETFILTER_DROP)` when a hook dropped the packet (a REJECT's answer
/// is left in `ns.nf.trail.reject` for the caller to send).
#[inline]
pub fn nf_hook<T: Tracer>(
    ns: &mut Netns,
    state: NfHookState,
    pkt: &mut NfPacket<'_>,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    let Some(nf) = ns.nf.as_ref() else {
        return Ok(());
    };
    if nf.hooks[state.hook as usize].is_empty() {
        return Ok(());
    }
    let mut nf = ns.nf.take().expect("checked above");
    // A dropped packet keeps its entry until it is freed (`nf_ct_put` where
    // the path frees it): a REJECT's reset is sent first and belongs to it.
    let r = nf_hook_slow(&mut nf, ns, state, pkt, t);
    ns.nf = Some(nf);
    match r {
        NfVerdict::Accept => Ok(()),
        NfVerdict::Drop => Err(SkbDropReason::NETFILTER_DROP),
    }
}

/// The function `nf_hook_slow` reports a drop from: iptables-nft tables run
/// in `nft_do_chain`, legacy ones in `ipt_do_table`.
fn drop_location(nf: &Netfilter, kind: NfHookKind) -> KernelFn {
    match kind {
        NfHookKind::Table(ti) | NfHookKind::Nat(ti) => match nf.tables[ti as usize].backend {
            crate::netfilter::xtables::ip_tables::XtBackend::Nft => KernelFn::nft_do_chain,
            crate::netfilter::xtables::ip_tables::XtBackend::Legacy => KernelFn::ipt_do_table,
        },
        NfHookKind::Nft { .. } => KernelFn::nft_do_chain,
        _ => KernelFn::nf_conntrack_in,
    }
}

/// Kernel: `nf_hook_slow`: each hook in priority order; the first `NF_DROP` ends it.
pub fn nf_hook_slow<T: Tracer>(
    nf: &mut Netfilter,
    ns: &Netns,
    state: NfHookState,
    pkt: &mut NfPacket<'_>,
    t: &mut T,
) -> NfVerdict {
    t.enter(KernelFn::nf_hook_slow);
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::nf_hook_slow,
            Check::NfHook { hook: state.hook },
            Branch::Next,
        ));
    }
    let n = nf.hooks[state.hook as usize].len();
    let mut verdict = NfVerdict::Accept;
    for i in 0..n {
        let ops = nf.hooks[state.hook as usize][i];
        let v = run_hook(nf, ns, ops.kind, state, pkt, t);
        if v == NfVerdict::Drop {
            if T::ENABLED {
                t.step(Step::new(
                    drop_location(nf, ops.kind),
                    Check::Drop {
                        reason: SkbDropReason::NETFILTER_DROP,
                    },
                    Branch::out,
                ));
            }
            verdict = NfVerdict::Drop;
            break;
        }
    }
    t.leave();
    verdict
}

fn run_hook<T: Tracer>(
    nf: &mut Netfilter,
    ns: &Netns,
    kind: NfHookKind,
    state: NfHookState,
    pkt: &mut NfPacket<'_>,
    t: &mut T,
) -> NfVerdict {
    match kind {
        NfHookKind::ConntrackIn => {
            if *pkt.nfct != Nfct::None {
                // A packet already tracked (LOCAL_OUT after a REJECT's reply) keeps its entry.
                return NfVerdict::Accept;
            }
            // nf_defrag_ipv4 reassembles fragments before conntrack sees
            // them; the model tracks them one by one: say so.
            if pkt.data.len() >= 20 && u16::from_be_bytes([pkt.data[6], pkt.data[7]]) & 0x3fff != 0
            {
                nf.trail.push(NfEvent {
                    hook: state.hook,
                    kind: NfEventKind::NotModelled(
                        "nf_defrag_ipv4: conntrack (and NAT) see the reassembled datagram, the model each fragment",
                    ),
                });
            }
            let v = conntrack::nf_conntrack_in(
                &mut nf.ct, &nf.sysctl, pkt.data, state.hook, ns.jiffies, pkt.nfct,
            );
            nf.trail.push(NfEvent {
                hook: state.hook,
                kind: NfEventKind::Ct(*pkt.nfct),
            });
            if T::ENABLED {
                t.step(Step::new(
                    KernelFn::nf_conntrack_in,
                    Check::NfCt { nfct: *pkt.nfct },
                    Branch::Next,
                ));
            }
            match v {
                CtVerdict::Accept => NfVerdict::Accept,
                CtVerdict::Drop => {
                    nf.trail.push(NfEvent {
                        hook: state.hook,
                        kind: NfEventKind::ConntrackDrop,
                    });
                    NfVerdict::Drop
                }
            }
        }
        NfHookKind::ConntrackConfirm => {
            match conntrack::nf_conntrack_confirm(&mut nf.ct, pkt.nfct, ns.jiffies) {
                CtVerdict::Accept => NfVerdict::Accept,
                CtVerdict::Drop => NfVerdict::Drop,
            }
        }
        NfHookKind::Table(ti) => {
            let info = NfPktInfo::parse(pkt.data);
            ipt_do_table(nf, ns, ti as usize, state, &info, pkt, t)
        }
        NfHookKind::Nat(_) => nf_nat_inet_fn(nf, ns, kind, state, pkt, t),
        NfHookKind::Nft { table, chain } => {
            let is_nat = nf
                .nft
                .get(table as usize)
                .and_then(|tb| tb.chains.get(chain as usize))
                .and_then(|c| c.base)
                .is_some_and(|b| b.ty == crate::netfilter::nf_tables::NftChainType::Nat);
            if is_nat {
                nf_nat_inet_fn(nf, ns, kind, state, pkt, t)
            } else {
                nft_do_chain(nf, ns, table as usize, chain as usize, state, pkt, t)
            }
        }
    }
}

/// The chain a nat hook runs: the iptables nat table's, or an nft nat chain.
fn nat_chain<T: Tracer>(
    nf: &mut Netfilter,
    ns: &Netns,
    kind: NfHookKind,
    state: NfHookState,
    pkt: &mut NfPacket<'_>,
    t: &mut T,
) -> NfVerdict {
    match kind {
        NfHookKind::Nat(ti) => {
            debug_assert_eq!(nf.tables[ti as usize].name, TableName::Nat);
            let info = NfPktInfo::parse(pkt.data);
            ipt_do_table(nf, ns, ti as usize, state, &info, pkt, t)
        }
        NfHookKind::Nft { table, chain } => {
            nft_do_chain(nf, ns, table as usize, chain as usize, state, pkt, t)
        }
        _ => NfVerdict::Accept,
    }
}

/// Kernel: `nf_nat_inet_fn`: for a connection's first packet the nat
/// chain (the iptables nat table's, or an nft nat chain) chooses the
/// binding (a null binding when no rule does); then `nf_nat_packet`
/// rewrites this packet as the binding says.
fn nf_nat_inet_fn<T: Tracer>(
    nf: &mut Netfilter,
    ns: &Netns,
    kind: NfHookKind,
    state: NfHookState,
    pkt: &mut NfPacket<'_>,
    t: &mut T,
) -> NfVerdict {
    let nfct = *pkt.nfct;
    let Nfct::Ct { ctinfo, .. } = nfct else {
        // Untracked or INVALID: NAT does not touch it.
        return NfVerdict::Accept;
    };
    let manip = NfNatManipType::of_hook(state.hook);
    // A RELATED ICMP error is translated through its quoted header alone
    // (nf_nat_packet does it); any other RELATED packet (the TCP reset of a
    // REJECT) and a connection's first packet run the nat chain when this
    // manip has no binding yet.
    let icmp = pkt.data.get(9) == Some(&1);
    let related = matches!(
        ctinfo,
        IpConntrackInfo::Related | IpConntrackInfo::RelatedReply
    );
    if (ctinfo == IpConntrackInfo::New || (related && !icmp))
        && !nat::nf_nat_initialized(&nf.ct, nfct, manip)
    {
        if nat_chain(nf, ns, kind, state, pkt, t) == NfVerdict::Drop {
            return NfVerdict::Drop;
        }
        if !nat::nf_nat_initialized(&nf.ct, nfct, manip) {
            nat::nf_nat_alloc_null_binding(&mut nf.ct, nfct, manip);
        }
    }
    let (v, rw) = nat::nf_nat_packet(&nf.ct, nfct, state.hook, pkt.data);
    if let Some(rw) = rw {
        nf.trail.push(NfEvent {
            hook: state.hook,
            kind: NfEventKind::Nat(rw),
        });
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::nf_nat_packet,
                Check::NfNat { rw },
                Branch::Next,
            ));
        }
    }
    match v {
        nat::NatVerdict::Accept => NfVerdict::Accept,
        nat::NatVerdict::Drop => NfVerdict::Drop,
    }
}

/// Kernel: `NF_HOOK` for a packet with an skb: runs the hooks over the
/// skb's datagram, keeps `mark` and `_nfct`, and on a REJECT sends its
/// answer (`nf_send_unreach` / `nf_send_reset`) once the hook returned.
#[inline]
pub fn nf_hook_skb<T: Tracer>(
    ns: &mut Netns,
    hook: NfInetHook,
    skb: &mut crate::core::skbuff::SkBuff<'_>,
    indev: IfIndex,
    outdev: IfIndex,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    if ns.nf.is_none() {
        return Ok(());
    }
    let nh = skb.network_header as usize;
    let end = (nh + skb.len as usize).min(skb.data.len());
    if end < nh + 20 {
        return Ok(());
    }
    let nexthop = skb.dst.map_or(Ipv4Addr::UNSPECIFIED, |rt| {
        if rt.rt_uses_gateway {
            rt.rt_gw4
        } else {
            skb.ip_daddr().unwrap_or(Ipv4Addr::UNSPECIFIED)
        }
    });
    let state = NfHookState {
        hook,
        indev,
        outdev,
        nexthop,
        nf_bridge: skb.nf_bridge,
    };
    let mut nfct = skb.nfct;
    let r = {
        let mut p = NfPacket {
            data: &mut skb.data[nh..end],
            mark: skb.mark,
            nfct: &mut nfct,
        };
        let r = nf_hook(ns, state, &mut p, t);
        skb.mark = p.mark;
        r
    };
    skb.nfct = nfct;
    if r.is_err()
        && let Some(with) = ns.nf.as_mut().and_then(|nf| nf.trail.reject.take())
    {
        crate::netfilter::nf_reject_ipv4::reject(ns, skb, hook, with, t);
    }
    r
}

/// `NF_HOOK` for a datagram the host built itself (no skb): LOCAL_OUT and
/// POST_ROUTING of `ip_local_out`. A REJECT's answer is left in
/// `trail.reject` for `ip_local_out_ct`, which has the route.
#[inline]
pub fn nf_hook_local<T: Tracer>(
    ns: &mut Netns,
    hook: NfInetHook,
    pkt: &mut [u8],
    outdev: IfIndex,
    nexthop: Ipv4Addr,
    nfct: &mut Nfct,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    if ns.nf.is_none() {
        return Ok(());
    }
    let state = NfHookState {
        hook,
        indev: IfIndex(0),
        outdev,
        nexthop,
        nf_bridge: None,
    };
    let daddr = |d: &[u8]| d.get(16..20).map(|b| [b[0], b[1], b[2], b[3]]);
    let before = daddr(pkt);
    let mut p = NfPacket {
        data: pkt,
        mark: 0,
        nfct,
    };
    let r = nf_hook(ns, state, &mut p, t);
    let changed = before != daddr(p.data);
    if let Some(nf) = ns.nf.as_mut()
        && changed
        && hook == NfInetHook::LocalOut
    {
        // nf_nat_ipv4_local_fn reroutes a packet whose destination
        // LOCAL_OUT changed (ip_route_me_harder); the model keeps the route.
        nf.trail.push(NfEvent {
            hook,
            kind: NfEventKind::NotModelled(
                "the new route of a packet DNATed at LOCAL_OUT (ip_route_me_harder)",
            ),
        });
    }
    r
}
