//! Models net/netfilter/nft_ct.c: `nft_ct_get_eval` (state, status, mark,
//! direction and the tuple keys) and `nft_ct_set_eval` for `ct mark set`.

use crate::netfilter::conntrack::{IpConntrackDir, IpConntrackInfo, NfConntrack, Nfct};
use crate::netfilter::nf_tables::{CtKey, NftValue, ct_state};

/// `NF_CT_STATE_BIT` of the packet's relation to its connection.
pub fn nft_ct_state(nfct: Nfct) -> u64 {
    match nfct {
        Nfct::None => ct_state::INVALID,
        Nfct::Untracked => ct_state::UNTRACKED,
        Nfct::Ct { ctinfo, .. } => match ctinfo {
            IpConntrackInfo::Established | IpConntrackInfo::EstablishedReply => {
                ct_state::ESTABLISHED
            }
            IpConntrackInfo::Related | IpConntrackInfo::RelatedReply => ct_state::RELATED,
            IpConntrackInfo::New => ct_state::NEW,
        },
    }
}

/// Kernel: `nft_ct_get_eval`: `ct state` is known for every packet; the
/// other keys need a connection (none: the rule breaks).
pub fn nft_ct_get(
    key: CtKey,
    dir: Option<IpConntrackDir>,
    nfct: Nfct,
    ct: &NfConntrack,
) -> Option<NftValue> {
    if key == CtKey::State {
        return Some(NftValue::Int(nft_ct_state(nfct)));
    }
    let Nfct::Ct { idx, ctinfo } = nfct else {
        return None;
    };
    let conn = ct.conns.get(idx as usize)?;
    let d = dir.unwrap_or(ctinfo.dir()) as usize;
    let t = conn.tuple[d];
    Some(NftValue::Int(match key {
        CtKey::State => unreachable!("handled above"),
        CtKey::Status => conn.status as u64,
        CtKey::Mark => conn.mark as u64,
        CtKey::Direction => ctinfo.dir() as u64,
        CtKey::Saddr => u32::from(t.src) as u64,
        CtKey::Daddr => u32::from(t.dst) as u64,
        CtKey::ProtoSrc => t.sport as u64,
        CtKey::ProtoDst => t.dport as u64,
    }))
}

/// Kernel: `nft_ct_set_eval` for `ct mark set` (no connection: nothing).
pub fn nft_ct_set_mark(nfct: Nfct, ct: &mut NfConntrack, value: u32) {
    if let Nfct::Ct { idx, .. } = nfct
        && let Some(c) = ct.conns.get_mut(idx as usize)
    {
        c.mark = value;
    }
}
