//! Models net/ipv4/fib_semantics.c: what a route points at (`fib_info` with
//! its next hops `fib_nh`), the per-type lookup result (`fib_props`) and the
//! choice among equal-cost paths (`fib_rebalance`, `fib_select_multipath`).

use std::net::Ipv4Addr;

use crate::core::dst::Rtable;
use crate::netns::IfIndex;
use crate::uapi::{Errno, RouteType, RtProt, RtScope, RtnhFlags};

/// Index of a `FibInfo` in the namespace's arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FibInfoId(pub u32);

/// Kernel: `struct fib_nh` (with its `fib_nh_common`): one next hop.
#[derive(Clone, Debug)]
pub struct FibNh {
    /// `nh_dev`: the output device.
    pub nh_dev: IfIndex,
    /// `nh_gw`: the IPv4 gateway, if any.
    pub nh_gw: Option<Ipv4Addr>,
    /// `nh_flags`: DEAD, ONLINK, LINKDOWN.
    pub nh_flags: RtnhFlags,
    /// `nh_scope`: LINK for a gateway reached on a link, HOST for a
    /// device route (the gateway-less "directly connected" case).
    pub nh_scope: RtScope,
    /// `fib_nh_weight` (1..=256).
    pub nh_weight: u32,
    /// `fib_nh_upper_bound`: this path's share of the 31-bit hash space, -1 when unusable.
    pub nh_upper_bound: i32,
    /// `nh_saddr`: the preferred source address toward this hop.
    pub nh_saddr: Ipv4Addr,
    /// `nhc_rth_input`: the cached input route through this next hop.
    pub nh_rth_input: Option<Rtable>,
    /// The gateway could not be resolved when the route was added (a
    /// snapshot lists routes in dump order): resolved once all are in.
    pub nh_unresolved: bool,
}

impl FibNh {
    /// A next hop through `dev`, optionally via `gw`, weight 1.
    pub fn new(dev: IfIndex, gw: Option<Ipv4Addr>) -> Self {
        FibNh {
            nh_dev: dev,
            nh_gw: gw,
            nh_flags: RtnhFlags(0),
            nh_scope: if gw.is_some() {
                RtScope::RT_SCOPE_LINK
            } else {
                RtScope::RT_SCOPE_HOST
            },
            nh_weight: 1,
            nh_upper_bound: 0,
            nh_saddr: Ipv4Addr::UNSPECIFIED,
            nh_rth_input: None,
            nh_unresolved: false,
        }
    }
}

/// Kernel: `struct fib_info`: the shared part of a route (protocol, scope,
/// metric, preferred source, next hops).
#[derive(Clone, Debug)]
pub struct FibInfo {
    /// `fib_tb_id`: the table the route is in.
    pub fib_tb_id: u32,
    /// `fib_protocol`.
    pub fib_protocol: RtProt,
    /// `fib_scope`.
    pub fib_scope: RtScope,
    /// `fib_type`.
    pub fib_type: RouteType,
    /// `fib_priority`: the metric.
    pub fib_priority: u32,
    /// `fib_prefsrc`.
    pub fib_prefsrc: Option<Ipv4Addr>,
    /// `fib_flags` (RTNH_F_DEAD when every next hop is dead).
    pub fib_flags: RtnhFlags,
    /// `fib_dead`: the route was removed.
    pub fib_dead: bool,
    /// RTAX_MTU metric (0 = none) and whether it is locked.
    pub fib_mtu: u32,
    /// Whether the MTU metric is locked (`mtu lock`).
    pub fib_mtu_locked: bool,
    /// `fib_nh`: the next hops (empty for reject and local-only types).
    pub fib_nh: Vec<FibNh>,
}

impl FibInfo {
    /// `fib_info_num_path`.
    pub fn num_path(&self) -> usize {
        self.fib_nh.len()
    }
}

/// Kernel: `fib_props[type]`: the error a lookup returns when it lands on a
/// route of this type, and the type's scope.
pub fn fib_props(t: RouteType) -> (Option<Errno>, RtScope) {
    match t {
        RouteType::RTN_UNICAST => (None, RtScope::RT_SCOPE_UNIVERSE),
        RouteType::RTN_LOCAL => (None, RtScope::RT_SCOPE_HOST),
        RouteType::RTN_BROADCAST => (None, RtScope::RT_SCOPE_LINK),
        RouteType::RTN_ANYCAST => (None, RtScope::RT_SCOPE_LINK),
        RouteType::RTN_MULTICAST => (None, RtScope::RT_SCOPE_UNIVERSE),
        RouteType::RTN_BLACKHOLE => (Some(Errno::EINVAL), RtScope::RT_SCOPE_UNIVERSE),
        RouteType::RTN_UNREACHABLE => (Some(Errno::EHOSTUNREACH), RtScope::RT_SCOPE_UNIVERSE),
        RouteType::RTN_PROHIBIT => (Some(Errno::EACCES), RtScope::RT_SCOPE_UNIVERSE),
        RouteType::RTN_THROW => (Some(Errno::EAGAIN), RtScope::RT_SCOPE_UNIVERSE),
        RouteType::RTN_NAT | RouteType::RTN_XRESOLVE => {
            (Some(Errno::EINVAL), RtScope::RT_SCOPE_NOWHERE)
        }
        _ => (Some(Errno::EINVAL), RtScope::RT_SCOPE_NOWHERE),
    }
}

/// Kernel: `fib_rebalance`: gives each usable next hop its upper bound in the
/// 31-bit hash space in proportion to its weight; unusable ones get -1.
/// `usable(nh)` is false for dead next hops and for link-down ones whose
/// device ignores routes with link down.
pub fn fib_rebalance(fi: &mut FibInfo, usable: impl Fn(&FibNh) -> bool) {
    if fi.fib_nh.len() < 2 {
        return;
    }
    let total: u64 = fi
        .fib_nh
        .iter()
        .filter(|nh| usable(nh))
        .map(|nh| nh.nh_weight as u64)
        .sum();
    let mut w: u64 = 0;
    for nh in fi.fib_nh.iter_mut() {
        if !usable(nh) || total == 0 {
            nh.nh_upper_bound = -1;
            continue;
        }
        w += nh.nh_weight as u64;
        // DIV_ROUND_CLOSEST_ULL(w << 31, total) - 1
        let ub = (((w << 31) + total / 2) / total) as i64 - 1;
        nh.nh_upper_bound = ub as i32;
    }
}

/// Kernel: `fib_select_multipath` on the input path (no source address):
/// the first usable next hop whose upper bound is at least `hash`, else the
/// first usable one.
pub fn fib_select_multipath(fi: &FibInfo, hash: u32) -> usize {
    let mut first = None;
    for (i, nh) in fi.fib_nh.iter().enumerate() {
        if nh.nh_upper_bound == -1 {
            continue;
        }
        if first.is_none() {
            first = Some(i);
        }
        if hash as i64 > nh.nh_upper_bound as i64 {
            continue;
        }
        return i;
    }
    first.unwrap_or(0)
}

/// Kernel: `fib_select_multipath` with the flow's source address (the
/// output path): each usable next hop scores 2 when its preferred source is
/// that address and 1 when the hash falls in its share; the first of the
/// best score wins (a perfect 3 at once).
pub fn fib_select_multipath_saddr(fi: &FibInfo, hash: u32, saddr: Ipv4Addr) -> usize {
    let mut score = -1;
    let mut sel = 0;
    for (i, nh) in fi.fib_nh.iter().enumerate() {
        if nh.nh_upper_bound == -1 {
            continue;
        }
        let mut nh_score = 0;
        if !saddr.is_unspecified() && nh.nh_saddr == saddr {
            nh_score += 2;
        }
        if hash as i64 <= nh.nh_upper_bound as i64 {
            nh_score += 1;
        }
        if score < nh_score {
            sel = i;
            if nh_score == 3 || (saddr.is_unspecified() && nh_score == 1) {
                return i;
            }
            score = nh_score;
        }
    }
    sel
}

/// The fields of `struct flow_keys` a multipath hash takes (the others
/// stay zero): addresses, `basic.ip_proto` and the ports (network order as
/// numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MpHashKeys {
    /// `addrs.v4addrs.src`.
    pub saddr: Ipv4Addr,
    /// `addrs.v4addrs.dst`.
    pub daddr: Ipv4Addr,
    /// `basic.ip_proto`.
    pub ip_proto: u8,
    /// `ports.src`.
    pub sport: u16,
    /// `ports.dst`.
    pub dport: u16,
}

impl MpHashKeys {
    /// Addresses only (policy 0).
    pub fn l3(saddr: Ipv4Addr, daddr: Ipv4Addr) -> Self {
        MpHashKeys {
            saddr,
            daddr,
            ip_proto: 0,
            sport: 0,
            dport: 0,
        }
    }
}

/// Kernel: `fib_multipath_hash_from_keys` → `flow_hash_from_keys_seed`:
/// `__flow_hash_consistentify` (the smaller address first, and the smaller
/// port first, each compared as the kernel's native little-endian value of
/// the network-order bytes), then SipHash-2-4 over the `struct flow_keys`
/// bytes from `basic` past the IPv4 addresses, keyed with
/// `fib_multipath_hash_seed` (0 is a random per-namespace key the kernel
/// does not show; fwdsim then uses key 0). 0 becomes 1.
pub fn flow_hash_from_keys_seed(seed: u32, k: MpHashKeys) -> u32 {
    use std::hash::Hasher;
    let (s, d) = (k.saddr.octets(), k.daddr.octets());
    let (a, b) = if u32::from_le_bytes(d) < u32::from_le_bytes(s) {
        (d, s)
    } else {
        (s, d)
    };
    let (ps, pd) = (k.sport.to_be_bytes(), k.dport.to_be_bytes());
    let (pa, pb) = if u16::from_le_bytes(pd) < u16::from_le_bytes(ps) {
        (pd, ps)
    } else {
        (ps, pd)
    };
    // flow_keys from `basic` on: basic 4 (n_proto, ip_proto, padding),
    // tags 4, vlan 8, cvlan 8, keyid 4, ports 4, icmp 4, then addrs.v4addrs;
    // the hashed length (`flow_keys_hash_length`) runs to the end of the
    // 8-byte aligned struct less the unused part of the address union: 48.
    let mut keys = [0u8; 48];
    keys[2] = k.ip_proto;
    keys[28..30].copy_from_slice(&pa);
    keys[30..32].copy_from_slice(&pb);
    keys[36..40].copy_from_slice(&a);
    keys[40..44].copy_from_slice(&b);
    let key = ((seed as u64) << 32) | seed as u64;
    let mut h = siphasher::sip::SipHasher24::new_with_keys(key, key);
    h.write(&keys);
    let hash = h.finish() as u32;
    if hash == 0 { 1 } else { hash }
}

/// Kernel: `fib_multipath_hash` with policy 0 (L3): the flow's source and
/// destination (for an ICMP error, those of the packet it quotes, which the
/// caller passes), `>> 1`.
pub fn fib_multipath_hash(seed: u32, saddr: Ipv4Addr, daddr: Ipv4Addr) -> u32 {
    flow_hash_from_keys_seed(seed, MpHashKeys::l3(saddr, daddr)) >> 1
}

/// `FIB_MULTIPATH_HASH_FIELD_*` bits of `fib_multipath_hash_fields`.
pub mod hash_field {
    /// Source address.
    pub const SRC_IP: u32 = 1 << 0;
    /// Destination address.
    pub const DST_IP: u32 = 1 << 1;
    /// IP protocol.
    pub const IP_PROTO: u32 = 1 << 2;
    /// Source port.
    pub const SRC_PORT: u32 = 1 << 4;
    /// Destination port.
    pub const DST_PORT: u32 = 1 << 5;
    /// The outer fields (an inner header is never hashed in the model:
    /// no encapsulation is dissected).
    pub const OUTER_MASK: u32 = 0x3f;
}

/// Kernel: `fib_multipath_custom_hash_fl4` / `_outer` (policy 3): only the
/// fields `fib_multipath_hash_fields` selects; 0 when it selects no outer
/// field.
pub fn fib_multipath_custom_hash(seed: u32, fields: u32, k: MpHashKeys) -> u32 {
    if fields & hash_field::OUTER_MASK == 0 {
        return 0;
    }
    let pick = |bit: u32, v: Ipv4Addr| {
        if fields & bit != 0 {
            v
        } else {
            Ipv4Addr::UNSPECIFIED
        }
    };
    let keys = MpHashKeys {
        saddr: pick(hash_field::SRC_IP, k.saddr),
        daddr: pick(hash_field::DST_IP, k.daddr),
        ip_proto: if fields & hash_field::IP_PROTO != 0 {
            k.ip_proto
        } else {
            0
        },
        sport: if fields & hash_field::SRC_PORT != 0 {
            k.sport
        } else {
            0
        },
        dport: if fields & hash_field::DST_PORT != 0 {
            k.dport
        } else {
            0
        },
    };
    flow_hash_from_keys_seed(seed, keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fi(weights: &[u32]) -> FibInfo {
        FibInfo {
            fib_tb_id: 254,
            fib_protocol: RtProt::RTPROT_BOOT,
            fib_scope: RtScope::RT_SCOPE_UNIVERSE,
            fib_type: RouteType::RTN_UNICAST,
            fib_priority: 0,
            fib_prefsrc: None,
            fib_flags: RtnhFlags(0),
            fib_dead: false,
            fib_mtu: 0,
            fib_mtu_locked: false,
            fib_nh: weights
                .iter()
                .map(|&w| FibNh {
                    nh_weight: w,
                    ..FibNh::new(IfIndex(2), None)
                })
                .collect(),
        }
    }

    #[test]
    fn rebalance_splits_the_hash_space_by_weight() {
        let mut f = fi(&[1, 1]);
        fib_rebalance(&mut f, |_| true);
        assert_eq!(f.fib_nh[0].nh_upper_bound, (1 << 30) - 1);
        assert_eq!(f.fib_nh[1].nh_upper_bound, i32::MAX);
        assert_eq!(fib_select_multipath(&f, 5), 0);
        assert_eq!(fib_select_multipath(&f, 1 << 30), 1);
    }

    #[test]
    fn unusable_next_hops_are_skipped() {
        let mut f = fi(&[1, 3]);
        fib_rebalance(&mut f, |nh| nh.nh_weight != 1);
        assert_eq!(f.fib_nh[0].nh_upper_bound, -1);
        assert_eq!(fib_select_multipath(&f, 0), 1);
    }

    #[test]
    fn props_match_the_kernel_table() {
        assert_eq!(fib_props(RouteType::RTN_PROHIBIT).0, Some(Errno::EACCES));
        assert_eq!(fib_props(RouteType::RTN_THROW).0, Some(Errno::EAGAIN));
        assert_eq!(
            fib_props(RouteType::RTN_LOCAL),
            (None, RtScope::RT_SCOPE_HOST)
        );
    }
}
