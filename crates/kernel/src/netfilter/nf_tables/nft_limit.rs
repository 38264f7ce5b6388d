//! Models net/netfilter/nft_limit.c: a token bucket in nanoseconds on the
//! capture's clock; `burst` packets (or bytes) may pass at once, then one
//! per `unit / rate`.

use crate::netfilter::nf_tables::NftLimit;

/// The bucket of one `limit` expression (`struct nft_limit_priv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct NftLimitState {
    /// Tokens (ns of credit).
    pub tokens: u64,
    /// When the last packet came, in ns.
    pub last: u64,
    /// Whether `nft_limit_init` filled the bucket.
    pub started: bool,
}

/// `NFT_LIMIT_PKT_BURST_DEFAULT`.
pub const NFT_LIMIT_PKT_BURST_DEFAULT: u64 = 5;

/// Kernel: `nft_limit_eval`: true when the packet matches (`over` inverts).
pub fn nft_limit_eval(l: &NftLimit, st: &mut NftLimitState, now_ns: u64, len: u32) -> bool {
    let nsecs = l.unit_secs.saturating_mul(1_000_000_000);
    let rate = l.rate.max(1);
    let burst = if !l.bytes && l.burst == 0 {
        NFT_LIMIT_PKT_BURST_DEFAULT
    } else {
        l.burst
    };
    let tokens_max = if l.bytes {
        nsecs.saturating_mul(burst.max(1)) / rate
    } else {
        (nsecs / rate).saturating_mul(burst)
    };
    if !st.started {
        st.started = true;
        st.tokens = tokens_max;
        st.last = now_ns;
    }
    let cost = if l.bytes {
        nsecs.saturating_mul(len as u64) / rate
    } else {
        nsecs / rate
    };
    let tokens = (st.tokens + now_ns.saturating_sub(st.last)).min(tokens_max);
    st.last = now_ns;
    let within = tokens >= cost;
    st.tokens = if within { tokens - cost } else { tokens };
    within != l.inv
}
