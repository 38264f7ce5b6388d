//! Models net/netfilter/nft_nat.c: `snat`/`dnat` (and, through nft_masq.c,
//! `masquerade`/`redirect`) turned into a `struct nf_nat_range2` and bound
//! to the connection with `nf_nat_setup_info`; the chain ends with the
//! binding's verdict.

use std::net::Ipv4Addr;

use crate::netfilter::conntrack::{NfConntrack, Nfct};
use crate::netfilter::core::{NfHookState, NfVerdict};
use crate::netfilter::nat::{self, NatVerdict, NfNatManipType};
use crate::netfilter::nf_tables::nft_masq::{nft_masq_addr, nft_redir_addr};
use crate::netfilter::nf_tables::{NftElem, NftMapData, NftNat, NftNatKind, NftValue};
use crate::netfilter::xtables::ip_tables::NatRange;
use crate::netns::Netns;

/// An inclusive address range and, maybe, an inclusive port range.
pub type NatTo = ((Ipv4Addr, Ipv4Addr), Option<(u16, u16)>);

/// An address range and a port range from map data (`addr` or `addr . port`).
pub fn nat_from_map_data(d: &NftMapData) -> Option<NatTo> {
    let NftMapData::Value(e) = d else {
        return None;
    };
    let addr = |e: &NftElem| match e {
        NftElem::Val(NftValue::Int(a)) => {
            Some((Ipv4Addr::from(*a as u32), Ipv4Addr::from(*a as u32)))
        }
        NftElem::Range(a, b) => Some((Ipv4Addr::from(*a as u32), Ipv4Addr::from(*b as u32))),
        NftElem::Prefix { addr, len } => {
            let host = if *len >= 32 { 0 } else { u32::MAX >> len };
            Some((Ipv4Addr::from(*addr), Ipv4Addr::from(*addr | host)))
        }
        _ => None,
    };
    let port = |e: &NftElem| match e {
        NftElem::Val(NftValue::Int(p)) => Some((*p as u16, *p as u16)),
        NftElem::Range(a, b) => Some((*a as u16, *b as u16)),
        _ => None,
    };
    match e {
        NftElem::Concat(parts) if parts.len() == 2 => Some((addr(&parts[0])?, port(&parts[1]))),
        e => Some((addr(e)?, None)),
    }
}

/// Kernel: `nft_nat_eval` / `nft_masq_eval` / `nft_redir_eval`: binds the
/// connection; `addr` is the address range already resolved (from the
/// statement or its map), `ports` likewise.
pub fn nft_nat_eval(
    ct: &mut NfConntrack,
    ns: &Netns,
    state: &NfHookState,
    nat: &NftNat,
    addr: Option<(Ipv4Addr, Ipv4Addr)>,
    ports: Option<(u16, u16)>,
    nfct: Nfct,
) -> NfVerdict {
    let (addr, manip) = match nat.kind {
        NftNatKind::Snat => (addr, NfNatManipType::Src),
        NftNatKind::Dnat => (addr, NfNatManipType::Dst),
        NftNatKind::Masquerade => match nft_masq_addr(ns, state) {
            Some(a) => (Some((a, a)), NfNatManipType::Src),
            None => return NfVerdict::Drop,
        },
        NftNatKind::Redirect => match nft_redir_addr(ns, state) {
            Some(a) => (Some((a, a)), NfNatManipType::Dst),
            None => return NfVerdict::Drop,
        },
    };
    let range = NatRange {
        addr,
        ports,
        random: nat.random,
        random_fully: nat.random_fully,
        persistent: nat.persistent,
    };
    match nat::nf_nat_setup_info(ct, nfct, &range, manip) {
        NatVerdict::Accept => NfVerdict::Accept,
        NatVerdict::Drop => NfVerdict::Drop,
    }
}
