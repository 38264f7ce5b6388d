//! Models net/netfilter/nft_counter.c: `nft_counter_eval` adds the packet
//! and its bytes (the IP packet's length) to the rule's counter.

use crate::netfilter::xtables::ip_tables::XtCounters;

/// Kernel: `nft_counter_do_eval`.
#[inline]
pub fn nft_counter_eval(c: &mut XtCounters, len: u32) {
    c.add(len);
}
