//! Models net/netfilter/nft_cmp.c, nft_range.c, nft_bitwise.c and
//! nft_lookup.c: comparing loaded values with constants, prefixes, ranges
//! and flag lists, and looking them up in anonymous or named sets and maps.

use crate::netfilter::nf_tables::{
    NftCmpOp, NftElem, NftMapData, NftMapRef, NftRhs, NftSet, NftValue,
};

/// Whether `vs` (one value, or one per part of a concatenation) is in the
/// anonymous set `elems` or in named set `sets[idx]`.
fn lookup(rhs: &NftRhs, vs: &[NftValue], sets: &[NftSet]) -> Option<bool> {
    match rhs {
        NftRhs::Set(elems) => Some(elems.iter().any(|e| e.matches_all(vs))),
        NftRhs::Named(i) => Some(sets.get(*i as usize)?.find(vs).is_some()),
        _ => None,
    }
}

/// Kernel: `nft_cmp_eval` / `nft_range_eval` / `nft_lookup_eval` of a
/// `match`: whether `vs op rhs` holds.
pub fn nft_cmp(op: NftCmpOp, rhs: &NftRhs, vs: &[NftValue], sets: &[NftSet]) -> bool {
    if let Some(found) = lookup(rhs, vs, sets) {
        return found != (op == NftCmpOp::Ne);
    }
    match rhs {
        NftRhs::Flags(f) => {
            let v = vs.first().map_or(0, |v| v.int());
            match op {
                NftCmpOp::Ne => v & f == 0,
                NftCmpOp::Eq if f.count_ones() > 1 => v == *f,
                _ => v & f != 0,
            }
        }
        NftRhs::Bool(b) => {
            let present = vs.first().is_some_and(|v| match v {
                NftValue::Int(x) => *x != 0,
                NftValue::Name(n) => !n.as_bytes().is_empty(),
            });
            (present == *b) != (op == NftCmpOp::Ne)
        }
        NftRhs::Elem(e) => {
            let hit = e.matches_all(vs);
            match op {
                NftCmpOp::Eq | NftCmpOp::In => hit,
                NftCmpOp::Ne => !hit,
                _ => {
                    let (Some(NftValue::Int(v)), NftElem::Val(NftValue::Int(c))) = (vs.first(), e)
                    else {
                        return false;
                    };
                    match op {
                        NftCmpOp::Lt => v < c,
                        NftCmpOp::Gt => v > c,
                        NftCmpOp::Le => v <= c,
                        NftCmpOp::Ge => v >= c,
                        _ => unreachable!("handled above"),
                    }
                }
            }
        }
        NftRhs::Set(_) | NftRhs::Named(_) => unreachable!("lookup handled sets"),
    }
}

/// Kernel: `nft_lookup_eval` of a map: the data of the element `vs` is.
pub fn nft_map_lookup<'a>(
    map: &'a NftMapRef,
    vs: &[NftValue],
    sets: &'a [NftSet],
) -> Option<&'a NftMapData> {
    match map {
        NftMapRef::Anon(es) => es.iter().find(|(e, _)| e.matches_all(vs)).map(|(_, d)| d),
        NftMapRef::Named(i) => sets.get(*i as usize)?.find(vs)?.1.as_ref(),
    }
}
