//! Models net/netfilter/xt_limit.c: a token bucket per rule, refilled on
//! the capture's clock (jiffies), `XT_LIMIT_SCALE` credits per second.

use crate::netfilter::xtables::ip_tables::LimitMatch;

/// `XT_LIMIT_SCALE`: `--limit 3/hour` is `avg = XT_LIMIT_SCALE * 3600 / 3`.
pub const XT_LIMIT_SCALE: u64 = 10_000;

/// `CREDITS_PER_JIFFY` as xt_limit computes it for HZ = 250 (a power of two
/// that keeps `avg * credits_per_jiffy` from overflowing).
pub const CREDITS_PER_JIFFY: u64 = 128;

/// `struct xt_limit_priv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct LimitState {
    /// `prev`: jiffies at the last packet.
    pub prev: u64,
    /// `credit`.
    pub credit: u64,
    /// Whether the bucket was set up (`limit_mt_check` fills it).
    pub started: bool,
}

/// `user2credits`: credits one packet costs.
pub fn user2credits(avg: u32) -> u64 {
    let hz = crate::HZ;
    // The kernel divides first when the product would overflow 32 bits.
    let avg = avg as u64;
    if avg > 0xFFFF_FFFF / (hz * CREDITS_PER_JIFFY) {
        (avg / XT_LIMIT_SCALE) * hz * CREDITS_PER_JIFFY
    } else {
        (avg * hz * CREDITS_PER_JIFFY) / XT_LIMIT_SCALE
    }
}

/// Kernel: `limit_mt`: whether this packet is within the rate.
pub fn limit_mt(spec: LimitMatch, st: &mut LimitState, now: u64) -> bool {
    let cost = user2credits(spec.avg);
    let cap = user2credits(spec.avg.saturating_mul(spec.burst));
    if !st.started {
        st.started = true;
        st.prev = now;
        st.credit = cap;
    }
    st.credit = (st.credit + now.saturating_sub(st.prev) * CREDITS_PER_JIFFY).min(cap);
    st.prev = now;
    if st.credit >= cost {
        st.credit -= cost;
        true
    } else {
        false
    }
}
