//! Link-layer types and the normalisation of every supported one to an
//! Ethernet frame, so that the model always starts at `eth_type_trans`
//! (net/ethernet/eth.c).
//!
//! What is synthesized, and why:
//!
//! * **Ethernet** (`LINKTYPE_ETHERNET`, 1): the frame is the record, byte for
//!   byte.
//! * **Linux cooked v1/v2** (`LINKTYPE_LINUX_SLL`, 113; `LINKTYPE_LINUX_SLL2`,
//!   276): the SLL header is replaced by a 14-byte Ethernet header.
//!   - EtherType: the SLL protocol field (the skb's `protocol`). Values below
//!     0x0600 (`ETH_P_802_3`, `ETH_P_802_2`, ...: no EtherType on the wire)
//!     become an 802.3 length field (the payload length, at most 1500), which
//!     `eth_type_trans` turns back into `ETH_P_802_3`/`ETH_P_802_2`.
//!   - Source MAC: the SLL link-layer address when it is 6 bytes long, else
//!     zero.
//!   - Destination MAC, from the SLL packet type (`PACKET_*` of
//!     include/uapi/linux/if_packet.h), chosen so that `eth_type_trans`
//!     derives the same `pkt_type` again: `PACKET_BROADCAST` →
//!     ff:ff:ff:ff:ff:ff; `PACKET_MULTICAST` → the group's mapped MAC
//!     (01:00:5e + low 23 bits of an IPv4 destination, RFC 1112 §6.4;
//!     33:33 + low 32 bits of an IPv6 destination, RFC 2464 §7; else
//!     01:00:5e:00:00:00); `PACKET_OTHERHOST` → [`OTHERHOST_MAC`], a unicast
//!     address of the documentation range of RFC 7042 §2.1.2 that no real
//!     device owns. For `PACKET_HOST` (and `PACKET_OUTGOING` or any other
//!     type) the capture does not record the receiving device's address, so
//!     the destination is [`PLACEHOLDER_MAC`] (all zeros) and
//!     [`Packet::dst_is_placeholder`](crate::Packet::dst_is_placeholder) is
//!     true: the caller writes the ingress device's address there.
//! * **Raw IP** (`LINKTYPE_RAW`, 101; `LINKTYPE_IPV4`, 228; `LINKTYPE_IPV6`,
//!   229; the historical `DLT_RAW` values 12 and 14): a 14-byte Ethernet
//!   header is prepended, with EtherType 0x0800 (0x86dd when the version
//!   nibble is 6, or for 229), zero source and the placeholder destination as
//!   for `PACKET_HOST`: a device without a link layer delivers to its host.

use std::fmt;

/// A capture's link-layer header type: the `LINKTYPE_*` number of a pcap
/// header or a pcapng Interface Description Block
/// (<https://www.tcpdump.org/linktypes.html>). Any value round-trips; the
/// named constants are the ones fwdsim reads or names in its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    /// `LINKTYPE_NULL`: BSD loopback.
    pub const NULL: LinkType = LinkType(0);
    /// `LINKTYPE_ETHERNET`: IEEE 802.3 Ethernet. Supported.
    pub const ETHERNET: LinkType = LinkType(1);
    /// `LINKTYPE_SLIP`.
    pub const SLIP: LinkType = LinkType(8);
    /// `LINKTYPE_PPP`.
    pub const PPP: LinkType = LinkType(9);
    /// `LINKTYPE_FDDI`.
    pub const FDDI: LinkType = LinkType(10);
    /// `DLT_RAW` as written by old libpcap on most platforms: raw IP. Supported.
    pub const DLT_RAW_12: LinkType = LinkType(12);
    /// `DLT_RAW` as written by old libpcap on OpenBSD: raw IP. Supported.
    pub const DLT_RAW_14: LinkType = LinkType(14);
    /// `LINKTYPE_PPP_HDLC`.
    pub const PPP_HDLC: LinkType = LinkType(50);
    /// `LINKTYPE_PPP_ETHER`: PPPoE.
    pub const PPP_ETHER: LinkType = LinkType(51);
    /// `LINKTYPE_RAW`: raw IPv4 or IPv6, told apart by the version nibble.
    /// Supported.
    pub const RAW: LinkType = LinkType(101);
    /// `LINKTYPE_C_HDLC`: Cisco HDLC.
    pub const C_HDLC: LinkType = LinkType(104);
    /// `LINKTYPE_IEEE802_11`: 802.11 without radio header.
    pub const IEEE802_11: LinkType = LinkType(105);
    /// `LINKTYPE_FRELAY`: Frame Relay.
    pub const FRELAY: LinkType = LinkType(107);
    /// `LINKTYPE_LOOP`: OpenBSD loopback.
    pub const LOOP: LinkType = LinkType(108);
    /// `LINKTYPE_LINUX_SLL`: Linux cooked capture v1. Supported.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// `LINKTYPE_IEEE802_11_RADIOTAP`: 802.11 with radiotap header.
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    /// `LINKTYPE_IPV4`: raw IPv4. Supported.
    pub const IPV4: LinkType = LinkType(228);
    /// `LINKTYPE_IPV6`: raw IPv6. Supported (the model drops what it does not
    /// handle).
    pub const IPV6: LinkType = LinkType(229);
    /// `LINKTYPE_NFLOG`: Linux netlink NFLOG messages.
    pub const NFLOG: LinkType = LinkType(239);
    /// `LINKTYPE_LINUX_SLL2`: Linux cooked capture v2. Supported.
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The `LINKTYPE_*` name without its prefix, for the named constants.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            LinkType::NULL => "NULL",
            LinkType::ETHERNET => "ETHERNET",
            LinkType::SLIP => "SLIP",
            LinkType::PPP => "PPP",
            LinkType::FDDI => "FDDI",
            LinkType::DLT_RAW_12 | LinkType::DLT_RAW_14 => "RAW",
            LinkType::PPP_HDLC => "PPP_HDLC",
            LinkType::PPP_ETHER => "PPP_ETHER",
            LinkType::RAW => "RAW",
            LinkType::C_HDLC => "C_HDLC",
            LinkType::IEEE802_11 => "IEEE802_11",
            LinkType::FRELAY => "FRELAY",
            LinkType::LOOP => "LOOP",
            LinkType::LINUX_SLL => "LINUX_SLL",
            LinkType::IEEE802_11_RADIOTAP => "IEEE802_11_RADIOTAP",
            LinkType::IPV4 => "IPV4",
            LinkType::IPV6 => "IPV6",
            LinkType::NFLOG => "NFLOG",
            LinkType::LINUX_SLL2 => "LINUX_SLL2",
            _ => return None,
        })
    }

    /// How fwdsim reads this link type, or `None` when it does not.
    pub fn kind(self) -> Option<LinkKind> {
        match self {
            LinkType::ETHERNET => Some(LinkKind::Ethernet),
            LinkType::LINUX_SLL => Some(LinkKind::LinuxSll),
            LinkType::LINUX_SLL2 => Some(LinkKind::LinuxSll2),
            LinkType::RAW
            | LinkType::IPV4
            | LinkType::IPV6
            | LinkType::DLT_RAW_12
            | LinkType::DLT_RAW_14 => Some(LinkKind::RawIp),
            _ => None,
        }
    }
}

impl fmt::Display for LinkType {
    /// `127 (IEEE802_11_RADIOTAP)`, or the bare number when it has no name here.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// The supported link types, by what was done to make an Ethernet frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkKind {
    /// Ethernet: the frame is the captured record.
    Ethernet,
    /// Linux cooked v1 (SLL): Ethernet header synthesized from the SLL header.
    LinuxSll,
    /// Linux cooked v2 (SLL2): Ethernet header synthesized from the SLL2 header.
    LinuxSll2,
    /// Raw IPv4/IPv6: Ethernet header synthesized.
    RawIp,
}

/// `PACKET_HOST` (include/uapi/linux/if_packet.h): to this host.
pub const PACKET_HOST: u16 = 0;
/// `PACKET_BROADCAST`: to all (link-layer broadcast).
pub const PACKET_BROADCAST: u16 = 1;
/// `PACKET_MULTICAST`: to a link-layer group.
pub const PACKET_MULTICAST: u16 = 2;
/// `PACKET_OTHERHOST`: to another host (seen in promiscuous mode).
pub const PACKET_OTHERHOST: u16 = 3;
/// `PACKET_OUTGOING`: sent by this host.
pub const PACKET_OUTGOING: u16 = 4;

/// Destination MAC synthesized for `PACKET_OTHERHOST`: 00:00:5e:00:53:01, a
/// unicast address of the range RFC 7042 §2.1.2 reserves for documentation,
/// so it is never a device's own and `eth_type_trans` classifies the frame
/// `PACKET_OTHERHOST`.
pub const OTHERHOST_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x53, 0x01];

/// Destination MAC synthesized when the capture does not record the
/// receiving device's address (`PACKET_HOST`, raw IP, ...): all zeros. The
/// caller replaces it with the ingress device's address.
pub const PLACEHOLDER_MAC: [u8; 6] = [0; 6];

/// Length of the Linux cooked v1 header.
pub(crate) const SLL_HDR_LEN: usize = 16;
/// Length of the Linux cooked v2 header.
pub(crate) const SLL2_HDR_LEN: usize = 20;
/// Length of an Ethernet header.
const ETH_HLEN: usize = 14;
/// The smallest EtherType; smaller values are 802.3 lengths (`ETH_P_802_3_MIN`).
const ETH_P_802_3_MIN: u16 = 0x0600;
/// The largest 802.3 payload length (`ETH_DATA_LEN`).
const ETH_DATA_LEN: usize = 1500;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;

/// What normalisation learnt from the link-layer header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LinkMeta {
    pub kind: LinkKind,
    pub iif_index: Option<u32>,
    pub pkt_type: Option<u16>,
}

/// The record is shorter than the link-layer header it must start with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TooShort {
    pub need: usize,
}

/// Writes into `out` (cleared first, capacity reused) the Ethernet frame for
/// `data` captured with link `kind`; see the module documentation.
pub(crate) fn normalize(
    kind: LinkKind,
    link_type: LinkType,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<LinkMeta, TooShort> {
    out.clear();
    match kind {
        LinkKind::Ethernet => {
            out.extend_from_slice(data);
            Ok(LinkMeta {
                kind,
                iif_index: None,
                pkt_type: None,
            })
        }
        LinkKind::LinuxSll => {
            // pkttype(2) hatype(2) halen(2) addr(8) protocol(2), big-endian.
            let Some((hdr, payload)) = data.split_at_checked(SLL_HDR_LEN) else {
                return Err(TooShort { need: SLL_HDR_LEN });
            };
            let pkt_type = be16(hdr, 0);
            let halen = be16(hdr, 4);
            let protocol = be16(hdr, 14);
            let src = if halen == 6 { mac(&hdr[6..12]) } else { [0; 6] };
            push_eth(out, pkt_type, src, protocol, payload);
            Ok(LinkMeta {
                kind,
                iif_index: None,
                pkt_type: Some(pkt_type),
            })
        }
        LinkKind::LinuxSll2 => {
            // protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1)
            // addr(8), big-endian.
            let Some((hdr, payload)) = data.split_at_checked(SLL2_HDR_LEN) else {
                return Err(TooShort { need: SLL2_HDR_LEN });
            };
            let protocol = be16(hdr, 0);
            let ifindex = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
            let pkt_type = u16::from(hdr[10]);
            let halen = hdr[11];
            let src = if halen == 6 {
                mac(&hdr[12..18])
            } else {
                [0; 6]
            };
            push_eth(out, pkt_type, src, protocol, payload);
            Ok(LinkMeta {
                kind,
                iif_index: Some(ifindex),
                pkt_type: Some(pkt_type),
            })
        }
        LinkKind::RawIp => {
            let protocol = match (link_type, data.first().map(|b| b >> 4)) {
                (LinkType::IPV4, _) => ETH_P_IP,
                (LinkType::IPV6, _) | (_, Some(6)) => ETH_P_IPV6,
                _ => ETH_P_IP,
            };
            out.extend_from_slice(&PLACEHOLDER_MAC);
            out.extend_from_slice(&[0; 6]);
            out.extend_from_slice(&protocol.to_be_bytes());
            out.extend_from_slice(data);
            Ok(LinkMeta {
                kind,
                iif_index: None,
                pkt_type: None,
            })
        }
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn mac(b: &[u8]) -> [u8; 6] {
    [b[0], b[1], b[2], b[3], b[4], b[5]]
}

/// Appends the synthesized Ethernet header and the payload.
fn push_eth(out: &mut Vec<u8>, pkt_type: u16, src: [u8; 6], protocol: u16, payload: &[u8]) {
    let dst = match pkt_type {
        PACKET_BROADCAST => [0xff; 6],
        PACKET_MULTICAST => multicast_mac(protocol, payload),
        PACKET_OTHERHOST => OTHERHOST_MAC,
        _ => PLACEHOLDER_MAC,
    };
    let ether_type = if protocol >= ETH_P_802_3_MIN {
        protocol
    } else {
        // At most 1500, so the cast cannot truncate.
        payload.len().min(ETH_DATA_LEN) as u16
    };
    out.reserve(ETH_HLEN + payload.len());
    out.extend_from_slice(&dst);
    out.extend_from_slice(&src);
    out.extend_from_slice(&ether_type.to_be_bytes());
    out.extend_from_slice(payload);
}

/// The link-layer group address an IPv4 (RFC 1112 §6.4) or IPv6 (RFC 2464
/// §7) multicast destination maps to.
fn multicast_mac(protocol: u16, payload: &[u8]) -> [u8; 6] {
    match protocol {
        ETH_P_IP if payload.len() >= 20 && payload[0] >> 4 == 4 => [
            0x01,
            0x00,
            0x5e,
            payload[17] & 0x7f,
            payload[18],
            payload[19],
        ],
        ETH_P_IPV6 if payload.len() >= 40 && payload[0] >> 4 == 6 => [
            0x33,
            0x33,
            payload[36],
            payload[37],
            payload[38],
            payload[39],
        ],
        _ => [0x01, 0x00, 0x5e, 0x00, 0x00, 0x00],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sll(pkt_type: u16, halen: u16, addr: [u8; 8], protocol: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&pkt_type.to_be_bytes());
        v.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
        v.extend_from_slice(&halen.to_be_bytes());
        v.extend_from_slice(&addr);
        v.extend_from_slice(&protocol.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn ipv4_to(dst: [u8; 4]) -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1];
        ip.extend_from_slice(&dst);
        ip
    }

    #[test]
    fn sll_destination_follows_packet_type() {
        let src = [2, 0, 0, 0, 0, 9, 0xaa, 0xbb];
        let mut out = Vec::new();
        for (pt, ipdst, want) in [
            (PACKET_HOST, [10, 0, 0, 2], PLACEHOLDER_MAC),
            (PACKET_BROADCAST, [10, 0, 0, 255], [0xff; 6]),
            (
                PACKET_MULTICAST,
                [239, 129, 2, 3],
                [0x01, 0x00, 0x5e, 0x01, 0x02, 0x03],
            ),
            (PACKET_OTHERHOST, [10, 0, 0, 3], OTHERHOST_MAC),
            (PACKET_OUTGOING, [10, 0, 0, 3], PLACEHOLDER_MAC),
        ] {
            let rec = sll(pt, 6, src, ETH_P_IP, &ipv4_to(ipdst));
            let meta = normalize(LinkKind::LinuxSll, LinkType::LINUX_SLL, &rec, &mut out).unwrap();
            assert_eq!(
                meta,
                LinkMeta {
                    kind: LinkKind::LinuxSll,
                    iif_index: None,
                    pkt_type: Some(pt)
                }
            );
            assert_eq!(out[0..6], want, "pkt_type {pt}");
            assert_eq!(out[6..12], src[..6]);
            assert_eq!(out[12..14], [0x08, 0x00]);
            assert_eq!(out[14..], ipv4_to(ipdst)[..]);
        }
    }

    #[test]
    fn sll_short_address_and_802_2_protocol() {
        let mut out = Vec::new();
        let payload = [0x42, 0x42, 0x03, 1, 2, 3];
        let rec = sll(PACKET_HOST, 4, [1, 2, 3, 4, 0, 0, 0, 0], 0x0004, &payload);
        normalize(LinkKind::LinuxSll, LinkType::LINUX_SLL, &rec, &mut out).unwrap();
        assert_eq!(out[6..12], [0; 6]);
        assert_eq!(out[12..14], (payload.len() as u16).to_be_bytes());
    }

    #[test]
    fn sll_too_short() {
        let mut out = Vec::new();
        assert_eq!(
            normalize(LinkKind::LinuxSll, LinkType::LINUX_SLL, &[0; 15], &mut out),
            Err(TooShort { need: 16 })
        );
        assert_eq!(
            normalize(
                LinkKind::LinuxSll2,
                LinkType::LINUX_SLL2,
                &[0; 19],
                &mut out
            ),
            Err(TooShort { need: 20 })
        );
    }

    #[test]
    fn sll2_ifindex_and_ipv6_multicast() {
        let mut rec = Vec::new();
        rec.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
        rec.extend_from_slice(&[0, 0]);
        rec.extend_from_slice(&7u32.to_be_bytes());
        rec.extend_from_slice(&1u16.to_be_bytes());
        rec.push(PACKET_MULTICAST as u8);
        rec.push(6);
        rec.extend_from_slice(&[2, 1, 1, 1, 1, 1, 0, 0]);
        let mut ip6 = vec![0x60; 40];
        ip6[36..40].copy_from_slice(&[0xff, 0, 0, 1]);
        rec.extend_from_slice(&ip6);
        let mut out = Vec::new();
        let meta = normalize(LinkKind::LinuxSll2, LinkType::LINUX_SLL2, &rec, &mut out).unwrap();
        assert_eq!(meta.iif_index, Some(7));
        assert_eq!(meta.pkt_type, Some(PACKET_MULTICAST));
        assert_eq!(out[0..6], [0x33, 0x33, 0xff, 0, 0, 1]);
        assert_eq!(out[6..12], [2, 1, 1, 1, 1, 1]);
        assert_eq!(out[12..14], [0x86, 0xdd]);
        assert_eq!(out.len(), 14 + 40);
    }

    #[test]
    fn raw_ip_ethertype_from_version_or_link_type() {
        let mut out = Vec::new();
        for (lt, first, want) in [
            (LinkType::RAW, 0x45, [0x08, 0x00]),
            (LinkType::RAW, 0x60, [0x86, 0xdd]),
            (LinkType::DLT_RAW_12, 0x60, [0x86, 0xdd]),
            (LinkType::IPV4, 0x60, [0x08, 0x00]),
            (LinkType::IPV6, 0x45, [0x86, 0xdd]),
            (LinkType::DLT_RAW_14, 0x00, [0x08, 0x00]),
        ] {
            let meta = normalize(LinkKind::RawIp, lt, &[first, 1, 2], &mut out).unwrap();
            assert_eq!(meta.pkt_type, None);
            assert_eq!(out[..12], [0; 12]);
            assert_eq!(out[12..14], want, "{lt}");
            assert_eq!(out[14..], [first, 1, 2]);
        }
        normalize(LinkKind::RawIp, LinkType::RAW, &[], &mut out).unwrap();
        assert_eq!(out.len(), 14);
    }

    #[test]
    fn link_type_names_and_kinds() {
        assert_eq!(LinkType(127).to_string(), "127 (IEEE802_11_RADIOTAP)");
        assert_eq!(LinkType(4242).to_string(), "4242");
        assert_eq!(LinkType::ETHERNET.kind(), Some(LinkKind::Ethernet));
        assert_eq!(LinkType(14).kind(), Some(LinkKind::RawIp));
        assert_eq!(LinkType::NULL.kind(), None);
    }
}
