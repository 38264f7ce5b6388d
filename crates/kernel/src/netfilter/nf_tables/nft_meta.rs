//! Models net/netfilter/nft_meta.c: `nft_meta_get_eval` for the keys
//! fwdsim reads (devices, protocols, mark, length) and `meta mark set`.

use crate::netfilter::core::NfHookState;
use crate::netfilter::nf_tables::{IfName, MetaKey, NftValue};
use crate::netfilter::xtables::eval::NfPktInfo;
use crate::netns::{IfIndex, Netns};

/// `NFPROTO_IPV4`.
pub const NFPROTO_IPV4: u64 = 2;
/// `ETH_P_IP`.
pub const ETH_P_IP: u64 = 0x0800;

fn ifname(ns: &Netns, dev: IfIndex) -> IfName {
    if dev.0 == 0 {
        return IfName::new("");
    }
    IfName::new(ns.dev(dev).map_or("", |d| d.name.as_str()))
}

/// Kernel: `nft_meta_get_eval`: the key's value (a device that is not
/// there is the empty name, ifindex 0).
pub fn nft_meta_get(
    key: MetaKey,
    ns: &Netns,
    state: &NfHookState,
    p: &NfPktInfo,
    mark: u32,
) -> NftValue {
    match key {
        MetaKey::Iifname => NftValue::Name(ifname(ns, state.indev)),
        MetaKey::Oifname => NftValue::Name(ifname(ns, state.outdev)),
        MetaKey::Iif => NftValue::Int(state.indev.0 as u64),
        MetaKey::Oif => NftValue::Int(state.outdev.0 as u64),
        MetaKey::L4proto => NftValue::Int(p.proto as u64),
        MetaKey::Protocol => NftValue::Int(ETH_P_IP),
        MetaKey::Nfproto => NftValue::Int(NFPROTO_IPV4),
        MetaKey::Mark => NftValue::Int(mark as u64),
        MetaKey::Length => NftValue::Int(p.tot_len as u64),
    }
}

/// Kernel: `nft_meta_set_eval` for `meta mark set`.
pub fn nft_meta_set_mark(mark: &mut u32, value: u32) {
    *mark = value;
}
