//! Models net/netfilter/nft_log.c: `log` writes to the kernel log (or an
//! nflog group) and the rule goes on; the model records that it logged.

use crate::netfilter::NfInetHook;
use crate::netfilter::core::{NfEvent, NfEventKind, NfTrail};

/// Kernel: `nft_log_eval`.
pub fn nft_log_eval(trail: &mut NfTrail, hook: NfInetHook, table: u16, chain: u16, rule: u16) {
    trail.push(NfEvent {
        hook,
        kind: NfEventKind::NftLog { table, chain, rule },
    });
}
