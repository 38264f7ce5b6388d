//! Models net/netfilter/nft_masq.c and nft_redir.c: the address a
//! `masquerade` takes from the output device (`nf_nat_masquerade_ipv4`) and
//! the one a `redirect` takes from the input device (`nf_nat_redirect_ipv4`).

use std::net::Ipv4Addr;

use crate::netfilter::NfInetHook;
use crate::netfilter::core::NfHookState;
use crate::netfilter::nat::nf_nat_masquerade::masquerade_source;
use crate::netns::Netns;

/// Kernel: `nft_masq_ipv4_eval`'s address: None when the output device has
/// none (the packet is dropped).
pub fn nft_masq_addr(ns: &Netns, state: &NfHookState) -> Option<Ipv4Addr> {
    masquerade_source(ns, state.outdev, state.nexthop)
}

/// Kernel: `nft_redir_ipv4_eval`'s address: loopback for locally generated
/// packets, else the input device's primary address (none: dropped).
pub fn nft_redir_addr(ns: &Netns, state: &NfHookState) -> Option<Ipv4Addr> {
    if state.hook == NfInetHook::LocalOut {
        return Some(Ipv4Addr::LOCALHOST);
    }
    ns.in_dev(state.indev)
        .and_then(|i| i.primary())
        .map(|ifa| ifa.ifa_local)
}
