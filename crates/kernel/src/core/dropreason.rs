//! Models `enum skb_drop_reason` (include/net/dropreason-core.h): why the
//! kernel freed a packet. One list yields the enum, its kernel names and `ALL`.

macro_rules! drop_reasons {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// Kernel: `enum skb_drop_reason`, written without the
        /// `SKB_DROP_REASON_` prefix. Names are the contract; the kernel's
        /// numbers change between releases and are not modelled.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum SkbDropReason {
            $($(#[$doc])* $name,)*
        }

        impl SkbDropReason {
            /// Every reason, in the kernel header's order.
            pub const ALL: &'static [SkbDropReason] = &[$(SkbDropReason::$name,)*];

            /// The kernel's name without the `SKB_DROP_REASON_` prefix, as
            /// the `skb:kfree_skb` tracepoint prints it.
            pub const fn name(self) -> &'static str {
                match self { $(SkbDropReason::$name => stringify!($name),)* }
            }
        }
    };
}

drop_reasons! {
    /// `SKB_NOT_DROPPED_YET`: the "no drop" return value.
    NOT_DROPPED_YET,
    /// No specific reason.
    NOT_SPECIFIED,
    /// No socket for the packet.
    NO_SOCKET,
    /// Shorter than its IP total length.
    PKT_TOO_SMALL,
    /// Netfilter verdict.
    NETFILTER_DROP,
    /// Frame addressed to another host's MAC.
    OTHERHOST,
    /// IP header checksum error.
    IP_CSUM,
    /// Bad IP header (InHdrErrors).
    IP_INHDR,
    /// Reverse-path filter failed.
    IP_RPFILTER,
    /// Unicast IP in an L2 multicast or broadcast frame.
    UNICAST_IN_L2_MULTICAST,
    /// IPsec policy check failed.
    XFRM_POLICY,
    /// No handler for the IP protocol.
    IP_NOPROTO,
    /// Neighbour entry could not be created.
    NEIGH_CREATEFAIL,
    /// Neighbour resolution failed.
    NEIGH_FAILED,
    /// The unresolved neighbour's queue was full (`unres_qlen_bytes`).
    NEIGH_QUEUEFULL,
    /// Allocation failure.
    NOMEM,
    /// ICMP checksum error.
    ICMP_CSUM,
    /// UDP checksum error.
    UDP_CSUM,
    /// TCP checksum error.
    TCP_CSUM,
    /// The packet violates its protocol.
    INVALID_PROTO,
    /// Host unreachable with forwarding off (InAddrErrors).
    IP_INADDRERRORS,
    /// Network unreachable (InNoRoutes).
    IP_INNOROUTES,
    /// The source address is one of the host's own.
    IP_LOCAL_SOURCE,
    /// Source is multicast, limited broadcast or zero, or routes back as non-unicast.
    IP_INVALID_SOURCE,
    /// 127/8 source or destination without route_localnet.
    IP_LOCALNET,
    /// Destination 0.0.0.0 or a non-unicast route type.
    IP_INVALID_DEST,
    /// Exceeds the MTU with DF set.
    PKT_TOO_BIG,
    /// Duplicate fragment.
    DUP_FRAG,
    /// Reassembly timed out.
    FRAG_REASM_TIMEOUT,
    /// Fragment too far ahead (ipfrag_max_dist).
    FRAG_TOO_FAR,
    /// Non-IP packet back out the same device without proxy_arp_pvlan.
    ARP_PVLAN_DISABLE,
    /// No handler for the link-layer protocol.
    UNHANDLED_PROTO,
    /// The device is not up (`__dev_forward_skb` to a veth peer that is down).
    DEV_READY,
    /// The source MAC is multicast or zero (`br_handle_frame`).
    MAC_INVALID_SOURCE,
    /// The bridge port's STP state refuses the frame (disabled, blocking,
    /// listening, or learning).
    BRIDGE_INGRESS_STP_STATE,
}

impl std::fmt::Display for SkbDropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_kernel_names() {
        assert_eq!(SkbDropReason::IP_INADDRERRORS.name(), "IP_INADDRERRORS");
        assert_eq!(SkbDropReason::ALL.len(), 35);
        assert_eq!(SkbDropReason::ALL[0], SkbDropReason::NOT_DROPPED_YET);
    }
}
