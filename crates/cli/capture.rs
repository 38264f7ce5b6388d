//! What the replay does with a captured frame before the kernel sees it
//! (shared/interfaces.md §3): a frame the host sent is not received; a
//! frame captured on a bridge port goes to the bridge, not to `ip_rcv` on
//! the port.
//!
//! [`CaptureView::classify`] is the one place that decides. A frame on a
//! bridge port is received on the port, where the bridge model
//! (`br_handle_frame`) learns its source and passes it up to the bridge
//! device, switches it to another port or floods it. Where the capture
//! also covers the bridge device (`-i any`, a pcapng of both), a frame
//! passed up is in the capture a second time, on the bridge: that copy is
//! the one simulated, and the port's line says so (its verdict `forward`:
//! the bridge took it on). So is a frame of a cooked capture of the port
//! alone that was not addressed to the port, whose destination MAC the
//! capture does not record.

use std::collections::{BTreeMap, BTreeSet};

use fwdsim_kernel::Netns;
use fwdsim_kernel::netns::IfIndex;
use fwdsim_pcap::{Direction, LinkKind};

/// Why a frame is taken as sent by the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SentBy {
    /// The capture marks it outbound (pcapng `epb_flags`, SLL/SLL2
    /// `PACKET_OUTGOING`).
    Direction,
    /// The capture records no direction and its source MAC is the capture
    /// device's own (or, on a bridge port, the bridge's).
    OwnMac,
}

impl SentBy {
    /// The `taken_as_sent` value of the JSON line.
    pub fn word(self) -> &'static str {
        match self {
            SentBy::Direction => "capture_direction",
            SentBy::OwnMac => "own_source_mac",
        }
    }
}

/// What the bridge does with a frame captured on one of its ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrAction {
    /// Passed up to the bridge device, simulated here (the capture does
    /// not cover the bridge).
    Up,
    /// Passed up to the bridge device; the capture has its copy on the
    /// bridge, which is simulated instead.
    UpCopy,
    /// For another MAC: switched to another port.
    Switched,
    /// A cooked capture (SLL/SLL2) says "to another host" without the
    /// destination MAC: passed up or switched, the capture cannot tell.
    DstUnknown,
    /// Freed by the bridge: no port took it and it was not for the host.
    Dropped,
}

impl BrAction {
    /// The `bridge.action` value of the JSON line.
    pub fn word(self) -> &'static str {
        match self {
            BrAction::Up => "up",
            BrAction::UpCopy => "up_copy",
            BrAction::Switched => "switched",
            BrAction::DstUnknown => "dst_unknown",
            BrAction::Dropped => "dropped",
        }
    }
}

/// What becomes of a captured frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ingress {
    /// Received: `netif_receive_skb` on `dev`; `port` is `Some(dev)` when
    /// `dev` is a bridge port (`br_handle_frame` takes the frame).
    Receive {
        /// The device whose stack receives it.
        dev: IfIndex,
        /// The bridge port it came in on.
        port: Option<IfIndex>,
    },
    /// Sent by the host through `dev`: not received.
    Sent {
        /// The capture device.
        dev: IfIndex,
        /// Why it is taken as sent.
        by: SentBy,
    },
    /// Captured on bridge port `port` and not simulated there (its copy on
    /// the bridge is; or a cooked capture does not say where it went).
    Bridged {
        /// The port.
        port: IfIndex,
        /// Its bridge.
        bridge: IfIndex,
        /// What the bridge does with it.
        action: BrAction,
    },
}

impl Ingress {
    /// The device to show as the line's `iif`.
    pub fn iif(self) -> IfIndex {
        match self {
            Ingress::Receive { dev, port } => port.unwrap_or(dev),
            Ingress::Sent { dev, .. } => dev,
            Ingress::Bridged { port, .. } => port,
        }
    }
}

/// What the capture says of one packet, besides its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Its direction, if recorded.
    pub direction: Option<Direction>,
    /// The capture's link type.
    pub link: LinkKind,
    /// The SLL packet type, for cooked captures.
    pub pkt_type: Option<u16>,
}

impl Seen {
    /// Of a packet read.
    pub fn of(p: &fwdsim_pcap::Packet<'_>) -> Seen {
        Seen {
            direction: p.direction,
            link: p.link,
            pkt_type: p.pkt_type,
        }
    }
}

/// What the replay has learnt about the capture as it reads it.
#[derive(Debug, Default)]
pub struct CaptureView {
    /// Devices the capture covers: every device a packet was captured on,
    /// and the pcapng interfaces named so far.
    pub covered: BTreeSet<IfIndex>,
    /// The capture covers every device (a cooked capture whose records
    /// name their interface: `tcpdump -i any`).
    pub any: bool,
    /// Frames taken as sent by the own-MAC rule, per capture device.
    pub own_mac_sent: BTreeMap<IfIndex, u64>,
}

fn is_multicast(mac: &[u8]) -> bool {
    mac.first().is_some_and(|b| b & 1 == 1)
}

impl CaptureView {
    /// Adds the pcapng interfaces the reader knows of to the covered
    /// devices.
    pub fn cover_names<'a>(&mut self, ns: &Netns, names: impl Iterator<Item = &'a str>) {
        for n in names {
            if let Some(d) = ns.dev_by_name(n) {
                self.covered.insert(d.ifindex);
            }
        }
    }

    /// Whether the capture covers `dev`.
    pub fn covers(&self, dev: IfIndex) -> bool {
        self.any || self.covered.contains(&dev)
    }

    /// Decides what becomes of a packet captured on `dev`, loaded in `buf`
    /// (its destination MAC already filled in where the capture does not
    /// record it). Rewrites the destination MAC of a frame for a port's
    /// own address to the bridge's: the bridge passes it up as for itself
    /// (`PACKET_HOST`).
    pub fn classify(&mut self, ns: &Netns, dev: IfIndex, seen: Seen, buf: &mut [u8]) -> Ingress {
        self.covered.insert(dev);
        let bridge = ns.br_port_master(dev);
        match seen.direction {
            Some(Direction::Outbound) => {
                return Ingress::Sent {
                    dev,
                    by: SentBy::Direction,
                };
            }
            Some(Direction::Inbound) => {}
            None => {
                // Without direction, the host's own frames are told by
                // their source MAC: the device's, or on a bridge port the
                // bridge's (what the host sends through the bridge).
                let src = buf.get(6..12);
                let own = |i: IfIndex| ns.dev(i).map(|d| &d.dev_addr[..]);
                if seen.link == LinkKind::Ethernet
                    && src.is_some()
                    && src != Some(&[0u8; 6][..])
                    && (src == own(dev) || (bridge.is_some() && src == bridge.and_then(own)))
                {
                    *self.own_mac_sent.entry(dev).or_default() += 1;
                    return Ingress::Sent {
                        dev,
                        by: SentBy::OwnMac,
                    };
                }
            }
        }
        let Some(br) = bridge else {
            return Ingress::Receive { dev, port: None };
        };
        // br_handle_frame: local delivery for the bridge's FDB's local
        // entries (the bridge's and the ports' addresses), flooding with
        // a copy up for broadcast and multicast.
        let dst = buf.get(..6).unwrap_or(&[]);
        let br_mac = ns.dev(br).map(|d| d.dev_addr).unwrap_or_default();
        let port_mac = ns.dev(dev).map(|d| d.dev_addr).unwrap_or_default();
        let cooked_otherhost =
            seen.link != LinkKind::Ethernet && seen.pkt_type == Some(fwdsim_pcap::PACKET_OTHERHOST);
        let action = if cooked_otherhost {
            // The port's eth_type_trans said "not for the port": for the
            // bridge or for another host, the capture does not say which.
            if self.covers(br) {
                BrAction::UpCopy
            } else {
                BrAction::DstUnknown
            }
        } else if dst == br_mac || dst == port_mac || is_multicast(dst) {
            if self.covers(br) {
                BrAction::UpCopy
            } else {
                BrAction::Up
            }
        } else {
            BrAction::Switched
        };
        if !matches!(action, BrAction::Up | BrAction::Switched) {
            return Ingress::Bridged {
                port: dev,
                bridge: br,
                action,
            };
        }
        // Received on the port: br_handle_frame learns its source and
        // passes it up, switches it to another port or floods it.
        Ingress::Receive {
            dev,
            port: Some(dev),
        }
    }

    /// The words of a bridge port's line that is not simulated.
    pub fn bridged_text(ns: &Netns, bridge: IfIndex, action: BrAction, buf: &[u8]) -> String {
        let br = ns.dev_name(bridge);
        match action {
            BrAction::Up => format!("delivered up to {br} by the bridge"),
            BrAction::UpCopy => format!(
                "delivered up to {br} by the bridge: its copy on {br}, later in this capture, is the one simulated"
            ),
            BrAction::Switched => match buf.get(..6) {
                Some(m) => format!(
                    "switched by {br} to another port (br_handle_frame: {} is not the bridge's), not passed up to IP",
                    mac(m)
                ),
                None => format!("switched by {br} to another port, not passed up to IP"),
            },
            BrAction::Dropped => format!(
                "dropped by {br} (br_handle_frame): not for the host, and no other port took it (a port not forwarding, or an unknown destination flooded to no other port)"
            ),
            BrAction::DstUnknown => format!(
                "captured on a port of {br} and not addressed to the port: {br} passes it up or switches it by its destination MAC, which a cooked capture does not record; capture on {br} too (or with `tcpdump -i any`) to see it passed up"
            ),
        }
    }
}

fn mac(m: &[u8]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Whether a packet that the kernel dropped with `NEIGH_FAILED` for a next
/// hop on `out_dev` may have had its ARP answer outside the capture: the
/// capture does not cover `out_dev`.
pub fn neigh_gap(view: &CaptureView, out_dev: IfIndex) -> bool {
    !view.covers(out_dev)
}

/// The words of such a gap: where the answer would arrive and how to
/// capture it.
pub fn neigh_gap_text(ns: &Netns, hop: std::net::Ipv4Addr, out_dev: IfIndex) -> String {
    let name = ns.dev_name(out_dev);
    format!(
        "the ARP answer from {hop} would arrive on {name}, which this capture does not cover: capture with `tcpdump -i any` or on {name} too; the packets' fate is unknown"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use fwdsim_pcap::{CaptureReader, LinkType, PcapngWriter};

    const BR: [u8; 6] = [0x02, 0x42, 0xac, 0x11, 0x00, 0x01];
    const PORT: [u8; 6] = [0x42, 0x74, 0xd3, 0x77, 0x35, 0x41];
    const CTR: [u8; 6] = [0x02, 0x42, 0xac, 0x11, 0x00, 0x02];
    const OTHER: [u8; 6] = [0x02, 0x42, 0xac, 0x11, 0x00, 0x03];

    fn host() -> Netns {
        fwdsim_host::load_host(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/hosts/docker-29-nft"
        )))
        .unwrap()
    }

    fn frame(dst: [u8; 6], src: [u8; 6], payload: u8) -> Vec<u8> {
        let mut f = dst.to_vec();
        f.extend_from_slice(&src);
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&[0x45, payload]);
        f
    }

    /// Classifies each `(if_id, direction, frame)` of a pcapng written with
    /// interfaces `names`, or of a pcap when `names` is empty (on `iif`).
    fn classify_all(
        ns: &Netns,
        names: &[&str],
        iif: &str,
        packets: &[(u32, Option<Direction>, Vec<u8>)],
    ) -> (Vec<Ingress>, CaptureView) {
        let bytes = if names.is_empty() {
            let mut b = Vec::new();
            // A little-endian pcap, Ethernet.
            b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
            b.extend_from_slice(&2u16.to_le_bytes());
            b.extend_from_slice(&4u16.to_le_bytes());
            b.extend_from_slice(&[0; 8]);
            b.extend_from_slice(&65535u32.to_le_bytes());
            b.extend_from_slice(&1u32.to_le_bytes());
            for (_, _, f) in packets {
                b.extend_from_slice(&[0; 8]);
                b.extend_from_slice(&(f.len() as u32).to_le_bytes());
                b.extend_from_slice(&(f.len() as u32).to_le_bytes());
                b.extend_from_slice(f);
            }
            b
        } else {
            let mut w = PcapngWriter::new(Vec::new()).unwrap();
            for n in names {
                w.add_interface(n, LinkType::ETHERNET).unwrap();
            }
            for (id, d, f) in packets {
                w.write_packet_with_direction(*id, 1, f, *d).unwrap();
            }
            w.into_inner()
        };
        let mut r = CaptureReader::new(&bytes[..]).unwrap();
        let mut read = Vec::new();
        while let Some(p) = r.next_packet() {
            let p = p.unwrap();
            let name = p.iif_name.unwrap_or(iif);
            let dev = ns.dev_by_name(name).unwrap().ifindex;
            read.push((dev, Seen::of(&p), p.frame.to_vec()));
        }
        // The interfaces are known before the packets (their blocks come
        // first), as the replay adds them.
        let mut view = CaptureView::default();
        view.cover_names(ns, r.interface_names());
        let out = read
            .into_iter()
            .map(|(dev, seen, mut buf)| view.classify(ns, dev, seen, &mut buf))
            .collect();
        (out, view)
    }

    #[test]
    fn pcap_own_mac_rule_on_the_bridge() {
        let ns = host();
        let d0 = ns.dev_by_name("docker0").unwrap().ifindex;
        let (got, view) = classify_all(
            &ns,
            &[],
            "docker0",
            &[
                (0, None, frame(BR, CTR, 1)),
                (0, None, frame(CTR, BR, 2)),
                (0, None, frame([0x01, 0, 0x5e, 0, 0, 0x16], BR, 3)),
            ],
        );
        assert_eq!(
            got,
            [
                Ingress::Receive {
                    dev: d0,
                    port: None
                },
                Ingress::Sent {
                    dev: d0,
                    by: SentBy::OwnMac
                },
                Ingress::Sent {
                    dev: d0,
                    by: SentBy::OwnMac
                },
            ]
        );
        assert_eq!(view.own_mac_sent.get(&d0), Some(&2));
    }

    #[test]
    fn pcapng_epb_flags_decide_and_the_mac_rule_stays_out() {
        let ns = host();
        let d0 = ns.dev_by_name("docker0").unwrap().ifindex;
        let e0 = ns.dev_by_name("eth0").unwrap().ifindex;
        let (got, view) = classify_all(
            &ns,
            &["docker0", "eth0"],
            "",
            &[
                (0, Some(Direction::Inbound), frame(BR, CTR, 1)),
                (1, Some(Direction::Outbound), frame(OTHER, CTR, 1)),
                // Inbound although the source is docker0's own: the flags win.
                (0, Some(Direction::Inbound), frame(BR, BR, 2)),
                // No flags in this block: the rule applies.
                (0, None, frame(CTR, BR, 3)),
            ],
        );
        assert_eq!(
            got,
            [
                Ingress::Receive {
                    dev: d0,
                    port: None
                },
                Ingress::Sent {
                    dev: e0,
                    by: SentBy::Direction
                },
                Ingress::Receive {
                    dev: d0,
                    port: None
                },
                Ingress::Sent {
                    dev: d0,
                    by: SentBy::OwnMac
                },
            ]
        );
        assert_eq!(view.own_mac_sent.get(&d0), Some(&1));
        assert!(view.covered.contains(&e0) && view.covered.contains(&d0));
    }

    #[test]
    fn bridge_port_frames_go_to_the_bridge() {
        let ns = host();
        let d0 = ns.dev_by_name("docker0").unwrap().ifindex;
        let port = ns.dev_by_name("vethc").unwrap().ifindex;
        let packets = [
            // For docker0's MAC: up to docker0.
            (0, None, frame(BR, CTR, 1)),
            // Broadcast: up too.
            (0, None, frame([0xff; 6], CTR, 2)),
            // Another container's MAC: switched by the bridge.
            (0, None, frame(OTHER, CTR, 3)),
            // Sent by the host through the bridge (docker0's MAC).
            (0, None, frame(CTR, BR, 4)),
            // The port's own MAC: up as well.
            (0, Some(Direction::Inbound), frame(PORT, CTR, 5)),
        ];
        // Received on the port: the bridge decides (up or switched).
        let on_port = Ingress::Receive {
            dev: port,
            port: Some(port),
        };
        let sent = Ingress::Sent {
            dev: port,
            by: SentBy::OwnMac,
        };
        // A capture of the port alone: every frame the host did not send
        // goes through the bridge on the port.
        let (got, _) = classify_all(&ns, &["vethc"], "", &packets);
        assert_eq!(got, [on_port, on_port, on_port, sent, on_port]);
        // A capture of the port and the bridge: the copies on the bridge
        // are simulated instead.
        let copy = Ingress::Bridged {
            port,
            bridge: d0,
            action: BrAction::UpCopy,
        };
        let (got, _) = classify_all(&ns, &["vethc", "docker0"], "", &packets);
        assert_eq!(got, [copy, copy, on_port, sent, copy]);
    }

    #[test]
    fn cooked_captures_take_direction_from_the_packet_type() {
        use fwdsim_pcap::{PACKET_HOST, PACKET_OTHERHOST, PACKET_OUTGOING};
        let ns = host();
        let d0 = ns.dev_by_name("docker0").unwrap().ifindex;
        let port = ns.dev_by_name("vethc").unwrap().ifindex;
        for link in [LinkKind::LinuxSll, LinkKind::LinuxSll2] {
            let seen = |t: u16| Seen {
                direction: Direction::from_pkt_type(t),
                link,
                pkt_type: Some(t),
            };
            let mut view = CaptureView::default();
            // PACKET_OUTGOING: sent, whatever the source.
            let mut f = frame(CTR, CTR, 1);
            assert_eq!(
                view.classify(&ns, d0, seen(PACKET_OUTGOING), &mut f),
                Ingress::Sent {
                    dev: d0,
                    by: SentBy::Direction
                }
            );
            // PACKET_HOST with docker0's own source: still received (the
            // own-MAC rule is for captures without direction).
            let mut f = frame(BR, BR, 2);
            assert_eq!(
                view.classify(&ns, d0, seen(PACKET_HOST), &mut f),
                Ingress::Receive {
                    dev: d0,
                    port: None
                }
            );
            // On the port, "to another host" (the port's view of a frame
            // for docker0) without the MAC: unknown unless docker0 is
            // covered, then its copy there is simulated.
            let mut f = frame(fwdsim_pcap::OTHERHOST_MAC, CTR, 3);
            let unknown = Ingress::Bridged {
                port,
                bridge: d0,
                action: BrAction::DstUnknown,
            };
            let mut fresh = CaptureView::default();
            assert_eq!(
                fresh.classify(&ns, port, seen(PACKET_OTHERHOST), &mut f),
                unknown
            );
            let mut any = CaptureView {
                any: true,
                ..Default::default()
            };
            assert_eq!(
                any.classify(&ns, port, seen(PACKET_OTHERHOST), &mut f),
                Ingress::Bridged {
                    port,
                    bridge: d0,
                    action: BrAction::UpCopy,
                }
            );
            // PACKET_HOST on the port (for the port's own MAC, filled in
            // by the replay): received on the port, where the bridge
            // passes it up (the port's MAC is a local FDB entry).
            let mut f = frame(PORT, CTR, 4);
            assert_eq!(
                fresh.classify(&ns, port, seen(PACKET_HOST), &mut f),
                Ingress::Receive {
                    dev: port,
                    port: Some(port)
                }
            );
        }
    }

    #[test]
    fn neigh_gap_words() {
        let ns = host();
        let e0 = ns.dev_by_name("eth0").unwrap().ifindex;
        let d0 = ns.dev_by_name("docker0").unwrap().ifindex;
        let mut view = CaptureView::default();
        view.covered.insert(d0);
        assert!(neigh_gap(&view, e0));
        assert!(!neigh_gap(&view, d0));
        assert_eq!(
            neigh_gap_text(&ns, std::net::Ipv4Addr::new(10, 0, 2, 2), e0),
            "the ARP answer from 10.0.2.2 would arrive on eth0, which this capture does not cover: capture with `tcpdump -i any` or on eth0 too; the packets' fate is unknown"
        );
    }
}
