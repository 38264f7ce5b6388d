//! Models net/netfilter/nft_payload.c for the fields fwdsim reads: the
//! load of an IPv4 or transport header field into a register. A transport
//! field of another protocol (or of a later fragment) breaks the rule, as
//! the protocol dependency `nft` adds in front of it does.

use crate::netfilter::nf_tables::PayloadField;
use crate::netfilter::xtables::eval::NfPktInfo;

/// Kernel: `nft_payload_eval` (with its implicit dependency): the field's
/// value, or None when the packet has no such header.
pub fn nft_payload_load(f: PayloadField, p: &NfPktInfo) -> Option<u64> {
    let l4 = |protos: &[u8]| p.fragoff == 0 && p.has_l4 && protos.contains(&p.proto);
    Some(match f {
        PayloadField::IpSaddr => u32::from(p.saddr) as u64,
        PayloadField::IpDaddr => u32::from(p.daddr) as u64,
        PayloadField::IpProtocol => p.proto as u64,
        PayloadField::IpTtl => p.ttl as u64,
        PayloadField::IpLength => p.tot_len as u64,
        PayloadField::TcpSport if l4(&[6]) => p.sport as u64,
        PayloadField::TcpDport if l4(&[6]) => p.dport as u64,
        PayloadField::TcpFlags if l4(&[6]) => p.tcp_flags as u64,
        PayloadField::UdpSport if l4(&[17]) => p.sport as u64,
        PayloadField::UdpDport if l4(&[17]) => p.dport as u64,
        PayloadField::ThSport if l4(&[6, 17, 136]) => p.sport as u64,
        PayloadField::ThDport if l4(&[6, 17, 136]) => p.dport as u64,
        PayloadField::IcmpType if l4(&[1]) => p.icmp_type as u64,
        PayloadField::IcmpCode if l4(&[1]) => p.icmp_code as u64,
        _ => return None,
    })
}
