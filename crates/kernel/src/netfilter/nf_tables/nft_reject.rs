//! Models net/ipv4/netfilter/nft_reject_ipv4.c and net/netfilter/
//! nft_reject_inet.c: `reject` drops the packet and answers with an ICMP
//! destination unreachable or a TCP reset (sent by `nf_reject_ipv4` once the
//! hook returned); `icmpx` codes map to their ICMP ones.

use crate::netfilter::NfInetHook;
use crate::netfilter::core::{NfEvent, NfEventKind, NfTrail};
use crate::netfilter::xtables::ip_tables::RejectWith;

/// The `icmp` code names `nft` prints (`reject with icmp NAME`).
pub fn icmp_code(name: &str) -> Option<RejectWith> {
    Some(match name {
        "net-unreachable" => RejectWith::NetUnreachable,
        "host-unreachable" => RejectWith::HostUnreachable,
        "prot-unreachable" => RejectWith::ProtoUnreachable,
        "port-unreachable" => RejectWith::PortUnreachable,
        "net-prohibited" => RejectWith::NetProhibited,
        "host-prohibited" => RejectWith::HostProhibited,
        "admin-prohibited" => RejectWith::AdminProhibited,
        _ => return None,
    })
}

/// The `icmpx` code names (`nft_reject_icmp_code`: `no-route` is net unreachable).
pub fn icmpx_code(name: &str) -> Option<RejectWith> {
    Some(match name {
        "no-route" => RejectWith::NetUnreachable,
        "port-unreachable" => RejectWith::PortUnreachable,
        "host-unreachable" => RejectWith::HostUnreachable,
        "admin-prohibited" => RejectWith::AdminProhibited,
        _ => return None,
    })
}

/// Kernel: `nft_reject_ipv4_eval`: the answer to send, and `NF_DROP`.
pub fn nft_reject_eval(trail: &mut NfTrail, hook: NfInetHook, with: RejectWith) {
    trail.reject = Some(with);
    trail.push(NfEvent {
        hook,
        kind: NfEventKind::Reject(with),
    });
}
