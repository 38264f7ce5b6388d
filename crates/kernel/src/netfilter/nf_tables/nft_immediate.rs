//! Models net/netfilter/nft_immediate.c for verdicts (`accept`, `drop`,
//! `jump`, `goto`, `return`, `continue`) and what they do to the walk of
//! `nft_do_chain`.

use crate::netfilter::core::NfVerdict;
use crate::netfilter::nf_tables::NftVerdict;

/// The hook verdict a terminal nft verdict gives (None: the walk goes on).
pub const fn nf_verdict(v: NftVerdict) -> Option<NfVerdict> {
    match v {
        NftVerdict::Accept => Some(NfVerdict::Accept),
        NftVerdict::Drop => Some(NfVerdict::Drop),
        _ => None,
    }
}
