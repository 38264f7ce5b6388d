//! Models the semantics of net/ipv4/fib_trie.c: a FIB table as a
//! longest-prefix-match index whose entries are lists of `fib_alias`, and
//! `fib_table_lookup` with its per-alias checks, reject types and
//! backtracking to shorter prefixes. The index itself is `fwdsim-lpm`.

use std::net::Ipv4Addr;

use fwdsim_lpm::Lpm;

use crate::flow::{FIB_LOOKUP_IGNORE_LINKSTATE, FibResult, Flowi4};
use crate::ipv4::devinet::prefix_mask;
use crate::ipv4::fib_semantics::{FibInfo, FibInfoId, fib_props};
use crate::netns::Netns;
use crate::uapi::{Errno, RouteType, RtnhFlags};

/// The DSCP bits a route's legacy `tos` is compared on (`INET_DSCP_LEGACY_TOS_MASK`).
pub const INET_DSCP_LEGACY_TOS_MASK: u8 = 0x1c;

/// Kernel: `struct fib_alias`: one route at a prefix (type, TOS, fib_info).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FibAlias {
    /// `fa_dscp`: the route's TOS byte with ECN bits clear (0 = any).
    pub fa_dscp: u8,
    /// `fa_type`.
    pub fa_type: RouteType,
    /// `tb_id`.
    pub tb_id: u32,
    /// `fa_info`.
    pub fa_info: FibInfoId,
}

/// Kernel: `struct fib_table` backed by a trie: routes by prefix.
#[derive(Clone, Debug)]
pub struct FibTable {
    /// `tb_id`.
    pub tb_id: u32,
    /// Alias lists by prefix, each in the kernel's order: TOS descending,
    /// then metric ascending, then insertion.
    pub trie: Lpm<Vec<FibAlias>>,
}

impl FibTable {
    /// An empty table (`fib_trie_table`).
    pub fn new(tb_id: u32) -> Self {
        FibTable {
            tb_id,
            trie: Lpm::new(),
        }
    }

    /// Kernel: the placement part of `fib_table_insert`: before the first
    /// alias of lower TOS, or of equal TOS and higher metric. An alias with
    /// the same TOS and metric exists: `Err(EEXIST)` unless `append`, which
    /// puts the new one after those.
    pub fn insert(
        &mut self,
        dst: Ipv4Addr,
        len: u8,
        fa: FibAlias,
        prio: u32,
        infos: &[FibInfo],
        append: bool,
    ) -> Result<(), Errno> {
        let key = u32::from(dst) & prefix_mask(len);
        let list = match self.trie.get_mut(key, len) {
            Some(l) => l,
            None => {
                self.trie.insert(key, len, vec![fa]);
                return Ok(());
            }
        };
        let pr = |a: &FibAlias| infos[a.fa_info.0 as usize].fib_priority;
        let exists = list
            .iter()
            .any(|a| a.fa_dscp == fa.fa_dscp && pr(a) == prio);
        if exists && !append {
            return Err(Errno(17));
        }
        let pos = list
            .iter()
            .position(|a| a.fa_dscp < fa.fa_dscp || (a.fa_dscp == fa.fa_dscp && pr(a) > prio))
            .unwrap_or(list.len());
        list.insert(pos, fa);
        Ok(())
    }

    /// Every route of the table: (prefix, length, alias), in prefix order.
    pub fn iter(&self) -> impl Iterator<Item = (Ipv4Addr, u8, &FibAlias)> {
        self.trie
            .iter()
            .flat_map(|(k, l, v)| v.iter().map(move |fa| (Ipv4Addr::from(k), l, fa)))
    }
}

/// Kernel: `fib_table_lookup` over the tables `tb_ids` seen as one trie (the
/// kernel merges `local` into `main` while a namespace has no custom rules;
/// at a shared prefix the higher table id comes first). The longest prefix
/// with a usable alias wins; a reject type answers with its error at once;
/// `throw` answers `EAGAIN` for the whole table. `report_table` is the table
/// the result names. `Err(EAGAIN)` means nothing matched.
pub fn fib_table_lookup(
    ns: &Netns,
    tb_ids: &[u32],
    report_table: u32,
    flp: &Flowi4,
    fib_flags: u32,
) -> Result<FibResult, Errno> {
    let key = u32::from(flp.daddr);
    // At most two tables are searched together (local merged into main).
    let mut tables: [Option<&FibTable>; 2] = [None, None];
    let mut cand: [Option<(u8, &Vec<FibAlias>)>; 2] = [None, None];
    for (i, id) in tb_ids.iter().take(2).enumerate() {
        tables[i] = ns.fib.tables.get(id);
        // The plain longest match first; `lookup_max` only to backtrack.
        cand[i] = tables[i]
            .and_then(|t| t.trie.lookup(key))
            .map(|(_, l, v)| (l, v));
    }
    loop {
        let Some(len) = cand.iter().flatten().map(|(l, _)| *l).max() else {
            return Err(Errno::EAGAIN);
        };
        let prefix = key & prefix_mask(len);
        for (l, aliases) in cand.iter().flatten() {
            if *l != len {
                continue;
            }
            for fa in aliases.iter() {
                if let Some(r) = check_alias(ns, fa, flp, fib_flags) {
                    return r.map(|nh_sel| {
                        let fi = ns.fib.info(fa.fa_info);
                        FibResult {
                            prefix: Ipv4Addr::from(prefix),
                            prefixlen: len,
                            nh_sel,
                            rt_type: fa.fa_type,
                            scope: fi.fib_scope,
                            dscp: fa.fa_dscp,
                            fi: Some(fa.fa_info),
                            table: report_table,
                        }
                    });
                }
            }
        }
        if len == 0 {
            return Err(Errno::EAGAIN);
        }
        // Nothing usable at this length: the next shorter prefix of the
        // tables that had this one.
        for i in 0..2 {
            if cand[i].is_some_and(|(l, _)| l == len) {
                cand[i] = tables[i]
                    .and_then(|t| t.trie.lookup_max(key, len - 1))
                    .map(|(_, l, v)| (l, v));
            }
        }
    }
}

/// The checks `fib_table_lookup` makes of one alias: `None` to skip it,
/// `Some(Err)` for a reject type, `Some(Ok(nh_sel))` for a usable route.
#[inline]
fn check_alias(
    ns: &Netns,
    fa: &FibAlias,
    flp: &Flowi4,
    fib_flags: u32,
) -> Option<Result<usize, Errno>> {
    if fa.fa_dscp != 0 && fa.fa_dscp != flp.flowi4_dscp & INET_DSCP_LEGACY_TOS_MASK {
        return None;
    }
    let fi = ns.fib.info(fa.fa_info);
    if fi.fib_dead || fi.fib_scope < flp.flowi4_scope {
        return None;
    }
    if let (Some(err), _) = fib_props(fa.fa_type) {
        return Some(Err(err));
    }
    if fi.fib_flags.contains(RtnhFlags::RTNH_F_DEAD) {
        return None;
    }
    for (nhsel, nh) in fi.fib_nh.iter().enumerate() {
        // fib_lookup_good_nhc
        if nh.nh_flags.contains(RtnhFlags::RTNH_F_DEAD) {
            continue;
        }
        if nh.nh_flags.contains(RtnhFlags::RTNH_F_LINKDOWN)
            && fib_flags & FIB_LOOKUP_IGNORE_LINKSTATE == 0
            && ns.ip_ignore_linkdown(nh.nh_dev)
        {
            continue;
        }
        if flp.flowi4_oif.0 != 0 && flp.flowi4_oif != nh.nh_dev {
            continue;
        }
        return Some(Ok(nhsel));
    }
    None
}
