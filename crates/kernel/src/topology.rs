//! Several network namespaces joined by links, and the frames in flight
//! between them: the model's counterpart of what joins namespaces in the
//! kernel (veth pairs, the backlog and the softirq loop that delivers a
//! frame sent on one end to the other end), owned beside the namespaces.
//! Each namespace stays a plain [`Netns`]; the [`Topology`] owns them, the
//! links, the queue of frames in flight and the clock.
//!
//! # Use
//!
//! 1. Build or load each namespace, then hand them over by name:
//!    [`Topology::add_netns`] (`"host"` for the root namespace, a named
//!    netns by its name, a container by its name).
//! 2. Join devices: [`Topology::link`]`("host", "veth1a2b", "ctr", "eth0")`
//!    for each `[[link]]` of `topology.toml`; [`Topology::link_veth_peers`]
//!    adds the veth pairs inside one namespace that the snapshot names
//!    (`DevKind::Veth { peer: PeerNetns::Same }`). A device without a link
//!    is "the outside": a frame sent on it leaves the topology. Bridge ports
//!    come from the namespaces themselves (`Netns::br_add_if`).
//! 3. Start packets:
//!    - [`Topology::inject`]`(ns, dev, frame, now)`: a captured frame
//!      received on `ns/dev`;
//!    - [`Topology::inject_sent`]`(ns, dev, frame, now)`: a captured frame
//!      that `ns` sent on `dev` (it goes onto the link, or through the bridge
//!      when `dev` is one);
//!    - [`Topology::send_from_stack`]`(ns, &StackSend, now)`: `ns`'s own
//!      stack sends an ICMP echo, a UDP datagram or a TCP SYN
//!      (`ip_route_output_key_hash_rcu`, `ip_local_out`: LOCAL_OUT,
//!      POST_ROUTING, the neighbour layer), as `ping` / `nc -u` / `nc` would,
//!      with a socket that takes the answer.
//! 4. [`Topology::run`] delivers frames until nothing is in flight and no
//!    timer holds a packet (ARP retries and failures run on the clock);
//!    [`Topology::run_until`]`(t)` fires no timer later than `t` (replaying
//!    a capture: run until the next frame's time, inject it, and so on).
//! 5. Read [`Topology::packets`]: every packet with its `hops` in order
//!    ([`Hop`]: namespace, device, [`HopVerdict`], drop reason). Replies
//!    and errors the destination's model made (echo reply, port
//!    unreachable, RST, ICMP errors) and ARP exchanges are packets of their
//!    own, with `cause` naming the packet that made them.
//!
//! [`Topology::build`] does 1 and 2 at once from `(name, Netns)` pairs and
//! `(ns_a, dev_a, ns_b, dev_b)` links. [`Start`] holds a start as data, so
//! `explain::explain` can re-run the same starts over a changed copy
//! (counterfactuals); `explain::why` names the condition behind a drop
//! (with [`Topology::record_steps`]), `doctor::doctor` checks the
//! namespaces and their joints.
//!
//! # Hops
//!
//! In the order they happen, each `{ns, dev, verdict, drop_reason}`:
//!
//! - a frame sent: `sent` on the device it leaves by, then `left` if that
//!   device has no link; a frame the host sends on a bridge: `sent` on the
//!   bridge, then `sent` on each port it goes out of;
//! - a frame received: the verdict at the device (`local`, `forward`,
//!   `drop` with the reason); on a bridge port `bridged` there, then — when
//!   the bridge handed it up — the bridge device's verdict (`host/veth0
//!   bridged`, `host/docker0 forward`); a frame only bridged on ends with
//!   `bridged`, its copies' hops follow;
//! - a forwarded packet waiting for ARP: `forward` at the input device,
//!   `queued` on the output device, then `sent` there, or `drop
//!   NEIGH_FAILED` when nobody answered;
//! - a frame the link refuses (peer down, larger than its MTU): `drop` at
//!   the peer.
//!
//! Jiffies are the topology's clock (`now`, HZ = 250); each namespace's
//! `jiffies` follows it when it handles a frame. Frames cross a link in no
//! time. Ageing (bridge FDB, conntrack) and neighbour timers run on it.
//!
//! # Example
//!
//! ```
//! use fwdsim_kernel::topology::{HopVerdict, StackProto, StackSend, Topology};
//! # use fwdsim_kernel::{Netns, netns::NetDevice, netns::DevKind};
//! # use fwdsim_kernel::uapi::{DevFlags, LinkType};
//! # fn ns_with(dev: &str, mac: u8, addr: &str) -> Netns {
//! #     let mut ns = Netns::with_loopback();
//! #     ns.fib_default_rules_init();
//! #     let i = ns.next_ifindex();
//! #     ns.register_netdev(NetDevice { name: dev.into(), ifindex: i,
//! #         flags: DevFlags(DevFlags::IFF_UP.0 | DevFlags::IFF_BROADCAST.0 | DevFlags::IFF_LOWER_UP.0),
//! #         mtu: 1500, dev_addr: [2, 0, 0, 0, 0, mac], broadcast: [0xff; 6],
//! #         link_type: LinkType::Ether, group: 0, carrier: true, ip_ptr: None,
//! #         kind: DevKind::Veth { peer: None }, master: None, brport: None }).unwrap();
//! #     let (a, l) = addr.split_once('/').unwrap();
//! #     let a = a.parse().unwrap();
//! #     ns.inet_insert_ifa(i, fwdsim_kernel::ipv4::devinet::InIfaddr {
//! #         ifa_local: a, ifa_address: a, ifa_prefixlen: l.parse().unwrap(),
//! #         ifa_broadcast: std::net::Ipv4Addr::UNSPECIFIED,
//! #         ifa_scope: fwdsim_kernel::uapi::RtScope::RT_SCOPE_UNIVERSE,
//! #         ifa_flags: fwdsim_kernel::ipv4::devinet::IfaFlags::IFA_F_PERMANENT,
//! #         ifa_label: None, ifa_rt_priority: 0 }, true).unwrap();
//! #     ns
//! # }
//! // Two namespaces, a veth pair between them (a: 10.0.0.1/24, b: 10.0.0.2/24).
//! let mut topo = Topology::new();
//! topo.add_netns("a", ns_with("veth0", 1, "10.0.0.1/24")).unwrap();
//! topo.add_netns("b", ns_with("veth1", 2, "10.0.0.2/24")).unwrap();
//! topo.link("a", "veth0", "b", "veth1").unwrap();
//!
//! // `ping -c1 10.0.0.2` in a.
//! let ping = topo
//!     .send_from_stack("a", &StackSend::new("10.0.0.2".parse().unwrap(), StackProto::echo(1, 1)), 0)
//!     .unwrap();
//! topo.run();
//!
//! // The request waited for ARP, crossed the link and was answered by b.
//! let hops: Vec<String> = topo.packet(ping).hops.iter().map(|h| topo.hop_text(h)).collect();
//! assert_eq!(hops, ["a/veth0 queued", "a/veth0 sent", "b/veth1 local"]);
//! let reply = topo.replies_to(ping).find(|p| !p.is_arp()).unwrap();
//! let last = reply.hops.last().unwrap();
//! assert_eq!((topo.hop_text(last).as_str(), last.verdict), ("a/veth0 local", HopVerdict::Local));
//! ```

use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;

use thiserror::Error;

use crate::core::dev::{Verdict, netif_receive_skb, netif_receive_skb_dst};
use crate::core::dropreason::SkbDropReason;
use crate::core::tx::TxKind;
use crate::ipv4::ip_hdr::ip_compute_csum;
use crate::netns::{DevKind, IfIndex, Netns, PeerNetns, Socket};
use crate::trace::NoTrace;
use crate::uapi::Errno;

/// A namespace of the topology (its index, in the order added).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NsId(pub usize);

/// A packet of the topology (its index in [`Topology::packets`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketId(pub usize);

/// One device of one namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The namespace.
    pub ns: NsId,
    /// The device.
    pub dev: IfIndex,
}

/// A link between two devices (a veth pair, or a wire between two hosts'
/// devices): what one sends, the other receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// One end.
    pub a: Endpoint,
    /// The other end.
    pub b: Endpoint,
}

/// What happened to a packet at one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HopVerdict {
    /// Sent on this device (by the namespace's stack, the IP forward path,
    /// or the bridge out of a port).
    Sent,
    /// Received, routed and sent on (`ip_forward`).
    Forward,
    /// Delivered to this namespace (a socket, ICMP, ARP) and consumed.
    Local,
    /// Freed, with a drop reason.
    Drop,
    /// Received on a bridge port and handled by the bridge: sent on to
    /// other ports, and/or handed up to the bridge device (the next hop is
    /// then the bridge device's).
    Bridged,
    /// Waiting for the next hop's ARP answer on this (output) device; what
    /// follows says how it ended. A received packet's `Forward` hop comes
    /// first.
    Queued,
    /// Sent on a device that has no link: it left the topology.
    Left,
}

impl HopVerdict {
    /// The word for output (`"sent"`, `"forward"`, `"local"`, `"drop"`,
    /// `"bridged"`, `"queued"`, `"left"`).
    pub fn word(self) -> &'static str {
        match self {
            HopVerdict::Sent => "sent",
            HopVerdict::Forward => "forward",
            HopVerdict::Local => "local",
            HopVerdict::Drop => "drop",
            HopVerdict::Bridged => "bridged",
            HopVerdict::Queued => "queued",
            HopVerdict::Left => "left",
        }
    }
}

/// One step of a packet: `{ns, dev, verdict, drop_reason}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hop {
    /// The namespace.
    pub ns: NsId,
    /// The device.
    pub dev: IfIndex,
    /// What happened there.
    pub verdict: HopVerdict,
    /// Why it was dropped (with `HopVerdict::Drop`).
    pub drop_reason: Option<SkbDropReason>,
    /// When (the topology's jiffies).
    pub at: u64,
}

/// How a packet started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketOrigin {
    /// A frame given to [`Topology::inject`] (received).
    Injected,
    /// A frame given to [`Topology::inject_sent`] (sent).
    InjectedSent,
    /// Sent by a namespace's stack ([`Topology::send_from_stack`]).
    Stack,
    /// Made by a namespace's model because of another packet: an echo
    /// reply, an ICMP error, a TCP reset.
    Reply,
    /// An ARP request or reply.
    Arp,
}

/// A packet and what happened to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopoPacket {
    /// Its id.
    pub id: PacketId,
    /// How it started.
    pub origin: PacketOrigin,
    /// The packet that made it (replies, ARP).
    pub cause: Option<PacketId>,
    /// Its first frame's bytes (Ethernet header on).
    pub frame: Vec<u8>,
    /// Every step, in order. A flooded frame's copies add their hops one
    /// after the other.
    pub hops: Vec<Hop>,
    /// With [`Topology::record_steps`]: the kernel's walk of each model call
    /// that handled the packet, under the index of the first hop it gave.
    pub steps: Vec<(usize, Vec<crate::trace::Step>)>,
}

impl TopoPacket {
    /// Whether it is an ARP frame.
    pub fn is_arp(&self) -> bool {
        self.origin == PacketOrigin::Arp
    }

    /// The last hop: the packet's fate.
    pub fn last(&self) -> Option<&Hop> {
        self.hops.last()
    }
}

/// What a namespace's stack sends ([`Topology::send_from_stack`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackSend {
    /// Destination.
    pub dst: Ipv4Addr,
    /// Source (`ping -I ADDR`); chosen by the route when None.
    pub src: Option<Ipv4Addr>,
    /// Output device (`ping -I DEV`, `SO_BINDTODEVICE`).
    pub oif: Option<String>,
    /// TOS byte (`ping -Q`).
    pub tos: u8,
    /// TTL (`ping -t`); the namespace's `ip_default_ttl` when None.
    pub ttl: Option<u8>,
    /// `skb->mark` (`SO_MARK`).
    pub mark: u32,
    /// The transport part.
    pub proto: StackProto,
}

impl StackSend {
    /// `proto` to `dst`, everything else chosen by the stack.
    pub fn new(dst: Ipv4Addr, proto: StackProto) -> Self {
        StackSend {
            dst,
            src: None,
            oif: None,
            tos: 0,
            ttl: None,
            mark: 0,
            proto,
        }
    }
}

/// The transport part of a [`StackSend`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackProto {
    /// An ICMP echo request (`ping`): identifier, sequence, payload bytes.
    IcmpEcho {
        /// Identifier (the ping socket's port).
        id: u16,
        /// Sequence number.
        seq: u16,
        /// Payload length (56 for `ping`).
        payload_len: u16,
    },
    /// A UDP datagram (`nc -u`).
    Udp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Payload length.
        payload_len: u16,
    },
    /// A TCP SYN (`nc`, `connect()`).
    TcpSyn {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Initial sequence number.
        seq: u32,
    },
}

impl StackProto {
    /// `ping`'s echo request: 56 bytes of payload.
    pub fn echo(id: u16, seq: u16) -> Self {
        StackProto::IcmpEcho {
            id,
            seq,
            payload_len: 56,
        }
    }

    fn protocol(&self) -> u8 {
        match self {
            StackProto::IcmpEcho { .. } => 1,
            StackProto::Udp { .. } => 17,
            StackProto::TcpSyn { .. } => 6,
        }
    }
}

/// Bad input to the topology (not a packet's fate).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TopologyError {
    /// Two namespaces with one name.
    #[error("duplicate namespace {0:?}")]
    DuplicateNetns(String),
    /// A name that is no namespace of the topology.
    #[error("unknown namespace {0:?}")]
    UnknownNetns(String),
    /// A device that is not in the namespace.
    #[error("namespace {ns:?} has no device {dev:?}")]
    UnknownDevice {
        /// The namespace.
        ns: String,
        /// The device.
        dev: String,
    },
    /// A device linked twice.
    #[error("{ns}/{dev} is already linked")]
    AlreadyLinked {
        /// The namespace.
        ns: String,
        /// The device.
        dev: String,
    },
    /// The stack could not send: the output route failed, as `ping` reports
    /// "connect: Network is unreachable".
    #[error("{ns}: no route to {dst}: {errno:?}")]
    NoRoute {
        /// The namespace.
        ns: String,
        /// The destination.
        dst: Ipv4Addr,
        /// The error of `ip_route_output_key_hash_rcu`.
        errno: Errno,
    },
}

/// A frame on its way to a device.
#[derive(Clone, Debug)]
struct InFlight {
    pid: PacketId,
    to: Endpoint,
    frame: Vec<u8>,
    /// The route a frame looped through `lo` keeps.
    dst: Option<crate::core::dst::Rtable>,
}

/// A packet waiting on a neighbour of a namespace.
#[derive(Clone, Copy, Debug)]
struct Waiting {
    ns: NsId,
    seq: u64,
    pid: PacketId,
    dev: IfIndex,
    hops: usize,
}

/// How a packet enters the topology, as data: what [`Topology::start`]
/// replays (so a counterfactual can re-run the same packets on a changed
/// copy, `topology::explain`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// [`Topology::inject`].
    Received {
        /// Namespace.
        ns: String,
        /// Device.
        dev: String,
        /// The frame (Ethernet header on).
        frame: Vec<u8>,
        /// When (jiffies).
        now: u64,
    },
    /// [`Topology::inject_sent`].
    Sent {
        /// Namespace.
        ns: String,
        /// Device.
        dev: String,
        /// The frame (Ethernet header on).
        frame: Vec<u8>,
        /// When (jiffies).
        now: u64,
    },
    /// [`Topology::send_from_stack`].
    Stack {
        /// Namespace.
        ns: String,
        /// What its stack sends.
        req: StackSend,
        /// When (jiffies).
        now: u64,
    },
}

/// Several namespaces, their links, the frames in flight and the clock.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    names: Vec<String>,
    netns: Vec<Netns>,
    links: Vec<Link>,
    /// The clock (jiffies).
    pub now: u64,
    queue: VecDeque<InFlight>,
    packets: Vec<TopoPacket>,
    /// (namespace, `rx_seq`) → the packet it was.
    seqs: HashMap<(NsId, u64), PacketId>,
    /// (namespace, `rx_seq`) of packets the namespace's stack sent itself.
    stack_seqs: HashMap<(NsId, u64), PacketId>,
    waiting: Vec<Waiting>,
    /// Frames delivered by [`Topology::run`] before it stops (a loop guard).
    pub max_frames: usize,
    /// Record the kernel's steps (`trace::Recorder`) of every model call
    /// into `TopoPacket::steps` (for a trace across namespaces; off for
    /// replays at full speed).
    pub record_steps: bool,
    /// When `Some`, every frame a device sends or receives, in order, as a
    /// packet socket bound to that device sees it (`tcpdump -i DEV`):
    /// `dev_queue_xmit_nit` for sent frames, `__netif_receive_skb_core`
    /// for received ones (a bridge port's frame, then the bridge device's
    /// when the bridge hands it up). Off (`None`) by default.
    pub capture: Option<Vec<TapFrame>>,
}

/// One frame seen by a device ([`Topology::capture`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapFrame {
    /// The namespace.
    pub ns: NsId,
    /// The device.
    pub dev: IfIndex,
    /// Sent by the device (`PACKET_OUTGOING`), else received.
    pub outgoing: bool,
    /// When (the topology's jiffies).
    pub at: u64,
    /// The bytes, Ethernet header on.
    pub frame: Vec<u8>,
}

impl Topology {
    /// An empty topology.
    pub fn new() -> Self {
        Topology {
            max_frames: 100_000,
            ..Default::default()
        }
    }

    /// Adds a namespace under `name`.
    pub fn add_netns(&mut self, name: &str, ns: Netns) -> Result<NsId, TopologyError> {
        if self.names.iter().any(|n| n == name) {
            return Err(TopologyError::DuplicateNetns(name.into()));
        }
        self.names.push(name.into());
        self.netns.push(ns);
        Ok(NsId(self.netns.len() - 1))
    }

    /// The id of a namespace.
    pub fn id(&self, name: &str) -> Option<NsId> {
        self.names.iter().position(|n| n == name).map(NsId)
    }

    /// The name of a namespace.
    pub fn name(&self, id: NsId) -> &str {
        &self.names[id.0]
    }

    /// The namespaces' names, in the order added.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// A namespace.
    pub fn netns(&self, id: NsId) -> &Netns {
        &self.netns[id.0]
    }

    /// A namespace, mutably (configuration between runs).
    pub fn netns_mut(&mut self, id: NsId) -> &mut Netns {
        &mut self.netns[id.0]
    }

    /// A namespace by name.
    pub fn ns(&self, name: &str) -> Option<&Netns> {
        self.id(name).map(|i| &self.netns[i.0])
    }

    /// A namespace by name, mutably.
    pub fn ns_mut(&mut self, name: &str) -> Option<&mut Netns> {
        self.id(name).map(|i| &mut self.netns[i.0])
    }

    /// The links.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// `NS/DEV` as an endpoint.
    pub fn endpoint(&self, ns: &str, dev: &str) -> Result<Endpoint, TopologyError> {
        let id = self
            .id(ns)
            .ok_or_else(|| TopologyError::UnknownNetns(ns.into()))?;
        let d = self.netns[id.0]
            .dev_by_name(dev)
            .ok_or_else(|| TopologyError::UnknownDevice {
                ns: ns.into(),
                dev: dev.into(),
            })?;
        Ok(Endpoint {
            ns: id,
            dev: d.ifindex,
        })
    }

    /// A topology of `netns` (name, namespace) joined by `links`
    /// (`ns_a, dev_a, ns_b, dev_b`), plus the veth pairs inside one namespace
    /// ([`Topology::link_veth_peers`]).
    pub fn build<S: AsRef<str>>(
        netns: impl IntoIterator<Item = (String, Netns)>,
        links: &[(S, S, S, S)],
    ) -> Result<Topology, TopologyError> {
        let mut t = Topology::new();
        for (name, ns) in netns {
            t.add_netns(&name, ns)?;
        }
        for (a, da, b, db) in links {
            t.link(a.as_ref(), da.as_ref(), b.as_ref(), db.as_ref())?;
        }
        t.link_veth_peers();
        Ok(t)
    }

    /// Starts a packet as `s` says.
    pub fn start(&mut self, s: &Start) -> Result<PacketId, TopologyError> {
        match s {
            Start::Received {
                ns,
                dev,
                frame,
                now,
            } => self.inject(ns, dev, frame, *now),
            Start::Sent {
                ns,
                dev,
                frame,
                now,
            } => self.inject_sent(ns, dev, frame, *now),
            Start::Stack { ns, req, now } => self.send_from_stack(ns, req, *now),
        }
    }

    /// Links `ns_a/dev_a` with `ns_b/dev_b` (a `[[link]]` of topology.toml).
    pub fn link(
        &mut self,
        ns_a: &str,
        dev_a: &str,
        ns_b: &str,
        dev_b: &str,
    ) -> Result<(), TopologyError> {
        let a = self.endpoint(ns_a, dev_a)?;
        let b = self.endpoint(ns_b, dev_b)?;
        for (e, ns, dev) in [(a, ns_a, dev_a), (b, ns_b, dev_b)] {
            if self.peer(e).is_some() {
                return Err(TopologyError::AlreadyLinked {
                    ns: ns.into(),
                    dev: dev.into(),
                });
            }
        }
        self.links.push(Link { a, b });
        Ok(())
    }

    /// Links the veth pairs whose both ends are in one namespace, as the
    /// snapshot's `DevKind::Veth { peer: PeerNetns::Same }` names them.
    /// Returns how many links it added.
    pub fn link_veth_peers(&mut self) -> usize {
        let mut add = Vec::new();
        for (i, ns) in self.netns.iter().enumerate() {
            for d in &ns.devices {
                if let DevKind::Veth { peer: Some(p), .. } = &d.kind
                    && p.netns == PeerNetns::Same
                    && d.ifindex < p.ifindex
                    && ns.dev(p.ifindex).is_some()
                {
                    add.push(Link {
                        a: Endpoint {
                            ns: NsId(i),
                            dev: d.ifindex,
                        },
                        b: Endpoint {
                            ns: NsId(i),
                            dev: p.ifindex,
                        },
                    });
                }
            }
        }
        let mut n = 0;
        for l in add {
            if self.peer(l.a).is_none() && self.peer(l.b).is_none() {
                self.links.push(l);
                n += 1;
            }
        }
        n
    }

    /// The other end of the link of `e`, if it has one.
    pub fn peer(&self, e: Endpoint) -> Option<Endpoint> {
        self.links.iter().find_map(|l| {
            if l.a == e {
                Some(l.b)
            } else if l.b == e {
                Some(l.a)
            } else {
                None
            }
        })
    }

    /// Every packet, in the order they appeared.
    pub fn packets(&self) -> &[TopoPacket] {
        &self.packets
    }

    /// One packet.
    pub fn packet(&self, id: PacketId) -> &TopoPacket {
        &self.packets[id.0]
    }

    /// The packets `id` caused (replies, errors, ARP).
    pub fn replies_to(&self, id: PacketId) -> impl Iterator<Item = &TopoPacket> {
        self.packets.iter().filter(move |p| p.cause == Some(id))
    }

    /// `NS/DEV VERDICT[ REASON]` for a hop.
    pub fn hop_text(&self, h: &Hop) -> String {
        let ns = &self.netns[h.ns.0];
        let mut s = format!(
            "{}/{} {}",
            self.names[h.ns.0],
            ns.dev_name(h.dev),
            h.verdict.word()
        );
        if let Some(r) = h.drop_reason {
            s.push(' ');
            s.push_str(r.name());
        }
        s
    }

    /// Forgets the packets, and the frames still in flight, for the next
    /// batch; the namespaces keep their state (neighbours, FDB, conntrack,
    /// packets queued on a neighbour, whose later frames become packets of
    /// their own).
    pub fn clear_packets(&mut self) {
        self.packets.clear();
        self.seqs.clear();
        self.stack_seqs.clear();
        self.waiting.clear();
        self.queue.clear();
    }

    fn new_packet(
        &mut self,
        origin: PacketOrigin,
        cause: Option<PacketId>,
        frame: &[u8],
    ) -> PacketId {
        let id = PacketId(self.packets.len());
        self.packets.push(TopoPacket {
            id,
            origin,
            cause,
            frame: frame.to_vec(),
            hops: Vec::new(),
            steps: Vec::new(),
        });
        id
    }

    fn hop(
        &mut self,
        pid: PacketId,
        ns: NsId,
        dev: IfIndex,
        verdict: HopVerdict,
        reason: Option<SkbDropReason>,
    ) {
        let at = self.now;
        self.packets[pid.0].hops.push(Hop {
            ns,
            dev,
            verdict,
            drop_reason: reason,
            at,
        });
    }

    fn advance(&mut self, now: u64) {
        if now > self.now {
            self.now = now;
        }
    }

    /// Brings a namespace's clock to the topology's and fires its timers.
    fn sync(&mut self, ns: NsId) {
        let now = self.now;
        let n = &mut self.netns[ns.0];
        if now > n.jiffies {
            n.wall_ns += (now - n.jiffies) as i128 * 1_000_000_000 / crate::HZ as i128;
            n.jiffies = now;
        }
        if !n.arp_queue.is_empty() || n.neigh_probing || n.frags.q.iter().any(|q| q.live) {
            n.tx.clear();
            crate::core::neighbour::run_timers(n, now, None, &mut NoTrace);
            self.drain_tx(ns);
            self.check_waiting(ns);
        }
    }

    /// A frame received on `ns/dev` at `now` (a capture's received frame).
    pub fn inject(
        &mut self,
        ns: &str,
        dev: &str,
        frame: &[u8],
        now: u64,
    ) -> Result<PacketId, TopologyError> {
        let to = self.endpoint(ns, dev)?;
        self.advance(now);
        for n in &mut self.netns {
            n.sock_owned = None;
        }
        let pid = self.new_packet(PacketOrigin::Injected, None, frame);
        self.queue.push_back(InFlight {
            pid,
            to,
            frame: frame.to_vec(),
            dst: None,
        });
        Ok(pid)
    }

    /// A frame `ns` sent on `dev` at `now` (a capture's sent frame): it goes
    /// onto the link (through the bridge first when `dev` is a bridge).
    pub fn inject_sent(
        &mut self,
        ns: &str,
        dev: &str,
        frame: &[u8],
        now: u64,
    ) -> Result<PacketId, TopologyError> {
        let e = self.endpoint(ns, dev)?;
        self.advance(now);
        for n in &mut self.netns {
            n.sock_owned = None;
        }
        self.sync(e.ns);
        let pid = self.new_packet(PacketOrigin::InjectedSent, None, frame);
        let n = &mut self.netns[e.ns.0];
        n.tx.clear();
        n.rx_seq += 1;
        n.tx.seq = n.rx_seq;
        self.seqs.insert((e.ns, n.rx_seq), pid);
        let at = n.jiffies;
        crate::core::dev::dev_queue_xmit(n, e.dev, TxKind::Forward, at, |b| {
            b.extend_from_slice(frame)
        });
        self.drain_tx(e.ns);
        Ok(pid)
    }

    /// `ns`'s own stack sends `req` at `now`: the packet is built, routed
    /// (`ip_route_output_key_hash_rcu`) and sent (`ip_local_out`); a socket
    /// for the answer is bound (a ping socket on the echo identifier, UDP
    /// or TCP on the source port). Err: the route failed (nothing is sent).
    pub fn send_from_stack(
        &mut self,
        ns: &str,
        req: &StackSend,
        now: u64,
    ) -> Result<PacketId, TopologyError> {
        let id = self
            .id(ns)
            .ok_or_else(|| TopologyError::UnknownNetns(ns.into()))?;
        self.advance(now);
        // The system call before this one has returned.
        for n in &mut self.netns {
            n.sock_owned = None;
        }
        self.sync(id);
        let n = &mut self.netns[id.0];
        let oif = match &req.oif {
            Some(d) => {
                n.dev_by_name(d)
                    .ok_or_else(|| TopologyError::UnknownDevice {
                        ns: ns.into(),
                        dev: d.clone(),
                    })?
                    .ifindex
            }
            None => IfIndex(0),
        };
        let (sport, dport) = match req.proto {
            StackProto::IcmpEcho { .. } => (0, 0),
            StackProto::Udp { sport, dport, .. } | StackProto::TcpSyn { sport, dport, .. } => {
                (sport, dport)
            }
        };
        let mut fl4 = crate::flow::Flowi4::new(req.dst, req.src.unwrap_or(Ipv4Addr::UNSPECIFIED));
        fl4.flowi4_oif = oif;
        fl4.flowi4_iif = crate::netns::LOOPBACK_IFINDEX;
        fl4.flowi4_mark = req.mark;
        fl4.flowi4_dscp = req.tos & 0xfc;
        fl4.flowi4_proto = req.proto.protocol();
        fl4.fl4_sport = sport;
        fl4.fl4_dport = dport;
        let mut res = crate::flow::FibResult::empty();
        let mut rec = crate::trace::Recorder::new();
        let routed = if self.record_steps {
            crate::ipv4::route_output::ip_route_output_key_hash_rcu(n, &mut fl4, &mut res, &mut rec)
        } else {
            crate::ipv4::route_output::ip_route_output_key_hash_rcu(
                n,
                &mut fl4,
                &mut res,
                &mut NoTrace,
            )
        };
        let rt = match routed {
            Ok(rt) => rt,
            Err(errno) => {
                // udp_sendmsg, ping_v4_sendmsg and tcp_v4_connect count a
                // failed route lookup for ENETUNREACH.
                if errno == Errno::ENETUNREACH {
                    n.mib.ip.OutNoRoutes += 1;
                }
                return Err(TopologyError::NoRoute {
                    ns: ns.into(),
                    dst: req.dst,
                    errno,
                });
            }
        };
        let saddr = fl4.saddr;
        let ttl = req.ttl.unwrap_or(n.sysctl.ip_default_ttl as u8);
        // ipv4_default_advmss: the route's MTU less the IP and TCP headers.
        let mtu = if rt.mtu_metric != 0 {
            rt.mtu_metric
        } else {
            n.dev(rt.dst.dev).map_or(1500, |d| d.mtu)
        };
        let advmss = mtu.saturating_sub(40).clamp(256, 65535 - 40) as u16;
        let mut pkt = build_packet(saddr, req, ttl, advmss);
        let port = match req.proto {
            StackProto::IcmpEcho { id, .. } => id,
            _ => sport,
        };
        let sock = Socket {
            protocol: req.proto.protocol(),
            addr: saddr,
            port,
        };
        if !n.sockets.contains(&sock) {
            n.sockets.push(sock);
        }
        // connect() holds the socket while its SYN, and whatever veth
        // delivers meanwhile, are handled.
        if matches!(req.proto, StackProto::TcpSyn { .. }) {
            n.sock_owned = Some((6, saddr, port));
        }
        n.tx.clear();
        n.rx_seq += 1;
        n.tx.seq = n.rx_seq;
        if let Some(nf) = n.nf.as_mut() {
            nf.trail.clear();
        }
        let seq = n.rx_seq;
        let mut frame = vec![0u8; 14];
        frame[12] = 0x08;
        frame.extend_from_slice(&pkt);
        let pid = self.new_packet(PacketOrigin::Stack, None, &frame);
        self.seqs.insert((id, seq), pid);
        self.stack_seqs.insert((id, seq), pid);
        let n = &mut self.netns[id.0];
        // The socket layer's counts: __ip_make_skb counts an ICMP message
        // of an ICMP socket (icmp_out_count) as it builds it; UDP and TCP
        // count the datagram or segment they hand to IP.
        match req.proto {
            StackProto::IcmpEcho { .. } => {
                n.mib.icmp.OutMsgs += 1;
                n.mib.icmp.OutEchos += 1;
                n.mib.icmp_msg.OutType8 += 1;
            }
            StackProto::Udp { .. } => n.mib.udp.OutDatagrams += 1,
            StackProto::TcpSyn { .. } => n.mib.tcp.OutSegs += 1,
        }
        let r = if self.record_steps {
            let r = crate::ipv4::ip_output::ip_local_out(n, &rt, &mut pkt, &mut rec);
            self.packets[pid.0].steps.push((0, rec.steps));
            r
        } else {
            crate::ipv4::ip_output::ip_local_out(n, &rt, &mut pkt, &mut NoTrace)
        };
        let n = &mut self.netns[id.0];
        let waiting = crate::core::neighbour::is_waiting(n, seq);
        if let Err(reason) = r {
            self.hop(pid, id, rt.dst.dev, HopVerdict::Drop, Some(reason));
        } else if waiting {
            self.hop(pid, id, rt.dst.dev, HopVerdict::Queued, None);
            let hops = self.packets[pid.0].hops.len();
            self.waiting.push(Waiting {
                ns: id,
                seq,
                pid,
                dev: rt.dst.dev,
                hops,
            });
        }
        self.drain_tx(id);
        Ok(pid)
    }

    /// Delivers frames until none is in flight and no timer holds a packet
    /// (ARP retries, neighbour failure, reassembly expiry). Returns the
    /// number of frames delivered.
    pub fn run(&mut self) -> usize {
        self.run_until(u64::MAX)
    }

    /// Delivers the frames in flight, and fires the timers due by `until`
    /// (jiffies) with what they send, but no later ones: for a capture
    /// replayed frame by frame, `run_until(next frame's time)` between
    /// frames, then [`Topology::run`] at the end. Returns the number of
    /// frames delivered.
    pub fn run_until(&mut self, until: u64) -> usize {
        let mut n = 0;
        loop {
            while let Some(f) = self.queue.pop_front() {
                if n >= self.max_frames {
                    self.queue.clear();
                    return n;
                }
                n += 1;
                self.receive(f);
            }
            // Quiet: the next timer of a namespace with a packet waiting.
            let next = self
                .netns
                .iter()
                .enumerate()
                .filter_map(|(i, ns)| next_timer(ns).map(|w| (w, i)))
                .min();
            let Some((w, i)) = next.filter(|&(w, _)| w <= until) else {
                return n;
            };
            self.advance(w);
            self.sync(NsId(i));
            if self.queue.is_empty() && next_timer(&self.netns[i]) == Some(w) {
                // A timer that fired nothing new: nothing more will come.
                return n;
            }
        }
    }

    /// Records a frame a device saw, when capturing.
    fn tap(&mut self, ns: NsId, dev: IfIndex, outgoing: bool, frame: &[u8]) {
        if let Some(c) = self.capture.as_mut() {
            c.push(TapFrame {
                ns,
                dev,
                outgoing,
                at: self.now,
                frame: frame.to_vec(),
            });
        }
    }

    fn receive(&mut self, f: InFlight) {
        let InFlight {
            pid,
            to,
            mut frame,
            dst,
        } = f;
        self.sync(to.ns);
        let original = self.capture.is_some().then(|| frame.clone());
        if let Some(b) = &original {
            self.tap(to.ns, to.dev, false, b);
        }
        let n = &mut self.netns[to.ns.0];
        let mut rec = crate::trace::Recorder::new();
        let o = match (dst, self.record_steps) {
            (None, true) => netif_receive_skb(n, &mut frame, to.dev, &mut rec),
            (None, false) => netif_receive_skb(n, &mut frame, to.dev, &mut NoTrace),
            (Some(_), true) => netif_receive_skb_dst(n, &mut frame, to.dev, dst, &mut rec),
            (Some(_), false) => netif_receive_skb_dst(n, &mut frame, to.dev, dst, &mut NoTrace),
        };
        let seq = n.rx_seq;
        if self.record_steps {
            let at = self.packets[pid.0].hops.len();
            self.packets[pid.0].steps.push((at, rec.steps));
        }
        self.seqs.insert((to.ns, seq), pid);
        let dev = if o.dev == IfIndex(0) { to.dev } else { o.dev };
        if dev != to.dev {
            self.hop(pid, to.ns, to.dev, HopVerdict::Bridged, None);
            // br_pass_frame_up: the frame is received again, on the bridge.
            if let Some(b) = &original {
                self.tap(to.ns, dev, false, b);
            }
        }
        let verdict = match o.verdict {
            Verdict::Forward => HopVerdict::Forward,
            Verdict::Local => HopVerdict::Local,
            Verdict::Drop => HopVerdict::Drop,
            Verdict::Queued => HopVerdict::Queued,
            Verdict::Bridged => HopVerdict::Bridged,
        };
        if verdict == HopVerdict::Queued {
            // Forwarded, then waiting on the output device's neighbour.
            let out = o.route.map_or(dev, |rt| rt.dst.dev);
            self.hop(pid, to.ns, dev, HopVerdict::Forward, None);
            self.hop(pid, to.ns, out, HopVerdict::Queued, None);
            let hops = self.packets[pid.0].hops.len();
            self.waiting.push(Waiting {
                ns: to.ns,
                seq,
                pid,
                dev: out,
                hops,
            });
        } else {
            self.hop(pid, to.ns, dev, verdict, o.drop_reason);
        }
        self.drain_tx(to.ns);
        self.check_waiting(to.ns);
    }

    /// The packet a frame of `ns`'s tx belongs to.
    fn packet_of(&mut self, ns: NsId, kind: TxKind, seq: u64, frame: &[u8]) -> PacketId {
        let cause = self.seqs.get(&(ns, seq)).copied();
        if let (TxKind::Forward, Some(p)) = (kind, cause) {
            // Forwarded, bridged or flooded: the same packet goes on.
            return p;
        }
        let arp = frame.get(12..14) == Some(&[0x08, 0x06]);
        if arp || kind == TxKind::Arp {
            return self.new_packet(PacketOrigin::Arp, cause, frame);
        }
        match (kind, cause) {
            (TxKind::Local, Some(p)) if self.stack_seqs.contains_key(&(ns, seq)) => p,
            _ => self.new_packet(PacketOrigin::Reply, cause, frame),
        }
    }

    /// Takes the frames `ns` sent and puts each on its way.
    fn drain_tx(&mut self, ns: NsId) {
        let n = &mut self.netns[ns.0];
        if n.tx.frames.is_empty() {
            return;
        }
        // Taken while its frames go on their way (which sends nothing in
        // this namespace), then given back emptied.
        let mut tx = std::mem::take(&mut n.tx);
        // The copies a bridge sends out of its ports belong to the frame
        // sent on the bridge just before them.
        let mut bridge: Option<(IfIndex, TxKind, u64, PacketId)> = None;
        for f in &tx.frames {
            let bytes = tx.frame(f);
            let master = self.netns[ns.0].dev(f.dev).and_then(|d| d.master);
            let pid = match bridge {
                Some((br, kind, seq, pid))
                    if master == Some(br) && kind == f.kind && seq == f.seq =>
                {
                    pid
                }
                _ => self.packet_of(ns, f.kind, f.seq, bytes),
            };
            if self.packets[pid.0].frame.is_empty() {
                self.packets[pid.0].frame = bytes.to_vec();
            }
            let is_bridge = self.netns[ns.0]
                .dev(f.dev)
                .is_some_and(|d| d.bridge().is_some());
            if is_bridge {
                bridge = Some((f.dev, f.kind, f.seq, pid));
            }
            self.transmit(pid, Endpoint { ns, dev: f.dev }, bytes, is_bridge, f.dst);
        }
        tx.clear();
        self.netns[ns.0].tx = tx;
    }

    /// A frame sent on `from`: onto its link, back in on `lo`, or out of
    /// the topology. A bridge's own frame already went to its ports.
    fn transmit(
        &mut self,
        pid: PacketId,
        from: Endpoint,
        frame: &[u8],
        is_bridge: bool,
        dst: Option<crate::core::dst::Rtable>,
    ) {
        self.hop(pid, from.ns, from.dev, HopVerdict::Sent, None);
        self.tap(from.ns, from.dev, true, frame);
        if is_bridge {
            return;
        }
        let tx_ns = &self.netns[from.ns.0];
        let Some(d) = tx_ns.dev(from.dev) else {
            return;
        };
        if d.is_loopback() {
            // loopback_xmit: the frame comes back in on lo, with its route.
            self.queue.push_back(InFlight {
                pid,
                to: from,
                frame: frame.to_vec(),
                dst,
            });
            return;
        }
        let up = d.is_up();
        let Some(to) = self.peer(from) else {
            self.hop(pid, from.ns, from.dev, HopVerdict::Left, None);
            return;
        };
        let r = crate::drivers::veth::veth_xmit(up, &mut self.netns[to.ns.0], to.dev, frame);
        match r {
            Ok(()) => self.queue.push_back(InFlight {
                pid,
                to,
                frame: frame.to_vec(),
                dst: None,
            }),
            Err(reason) => {
                let at = if reason == SkbDropReason::DEV_READY {
                    from
                } else {
                    to
                };
                self.hop(pid, at.ns, at.dev, HopVerdict::Drop, Some(reason));
            }
        }
    }

    /// Packets of `ns` that waited for a neighbour and no longer do: a drop
    /// (`NEIGH_FAILED`, `NEIGH_QUEUEFULL`) when nothing was sent for them.
    fn check_waiting(&mut self, ns: NsId) {
        let settled = std::mem::take(&mut self.netns[ns.0].settled);
        let mut i = 0;
        while i < self.waiting.len() {
            let w = self.waiting[i];
            if w.ns != ns || crate::core::neighbour::is_waiting(&self.netns[ns.0], w.seq) {
                i += 1;
                continue;
            }
            self.waiting.swap_remove(i);
            let s = settled.iter().find(|s| s.seq == w.seq);
            let sent = self.packets[w.pid.0].hops.len() > w.hops;
            match s {
                Some(s) if s.verdict == Verdict::Drop => {
                    self.hop(w.pid, ns, w.dev, HopVerdict::Drop, s.drop_reason);
                }
                None if !sent => {
                    self.hop(
                        w.pid,
                        ns,
                        w.dev,
                        HopVerdict::Drop,
                        Some(SkbDropReason::NEIGH_FAILED),
                    );
                }
                _ => {}
            }
        }
    }
}

/// The next timer of a namespace that holds a packet (a neighbour
/// resolving with a queue, a reassembly queue).
fn next_timer(ns: &Netns) -> Option<u64> {
    let neigh = ns
        .neigh
        .iter()
        .filter(|n| ns.arp_queue.iter().any(|q| q.dev == n.dev && q.ip == n.ip))
        .filter_map(|n| n.timer)
        .min();
    let frag = crate::ipv4::ip_input::next_frag_expiry(ns).map(|(w, _)| w);
    match (neigh, frag) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The IPv4 datagram a stack sends: DF set and IP ID 0 (an unconnected
/// socket's `ip_select_ident`), checksums filled. A TCP SYN carries the
/// options `tcp_syn_options` writes with the default sysctls (MSS `advmss`,
/// SACK permitted, timestamps with TSval 0, window scale 7) and the window
/// `tcp_select_initial_window` offers (65535 rounded down to the MSS).
fn build_packet(saddr: Ipv4Addr, req: &StackSend, ttl: u8, advmss: u16) -> Vec<u8> {
    let mut l4 = Vec::new();
    match req.proto {
        StackProto::IcmpEcho {
            id,
            seq,
            payload_len,
        } => {
            l4.extend_from_slice(&[8, 0, 0, 0]);
            l4.extend_from_slice(&id.to_be_bytes());
            l4.extend_from_slice(&seq.to_be_bytes());
            l4.extend((0..payload_len).map(|i| i as u8));
            let c = ip_compute_csum(&l4);
            l4[2..4].copy_from_slice(&c.to_be_bytes());
        }
        StackProto::Udp {
            sport,
            dport,
            payload_len,
        } => {
            let len = 8 + payload_len;
            l4.extend_from_slice(&sport.to_be_bytes());
            l4.extend_from_slice(&dport.to_be_bytes());
            l4.extend_from_slice(&len.to_be_bytes());
            l4.extend_from_slice(&[0, 0]);
            l4.extend((0..payload_len).map(|i| i as u8));
            let c = l4_csum(saddr, req.dst, 17, &l4);
            l4[6..8].copy_from_slice(&if c == 0 { 0xffff } else { c }.to_be_bytes());
        }
        StackProto::TcpSyn { sport, dport, seq } => {
            l4.extend_from_slice(&sport.to_be_bytes());
            l4.extend_from_slice(&dport.to_be_bytes());
            l4.extend_from_slice(&seq.to_be_bytes());
            l4.extend_from_slice(&[0, 0, 0, 0, 0xa0, 0x02]);
            let window = 65535 / advmss * advmss;
            l4.extend_from_slice(&window.to_be_bytes());
            l4.extend_from_slice(&[0, 0, 0, 0]);
            // MSS, SACK permitted + timestamps (TSval, TSecr 0), NOP +
            // window scale.
            l4.extend_from_slice(&[2, 4]);
            l4.extend_from_slice(&advmss.to_be_bytes());
            l4.extend_from_slice(&[4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7]);
            let c = l4_csum(saddr, req.dst, 6, &l4);
            l4[16..18].copy_from_slice(&c.to_be_bytes());
        }
    }
    let tot = 20 + l4.len();
    let mut p = vec![
        0x45,
        req.tos,
        (tot >> 8) as u8,
        tot as u8,
        0,
        0,
        0x40,
        0,
        ttl,
        req.proto.protocol(),
        0,
        0,
    ];
    p.extend_from_slice(&saddr.octets());
    p.extend_from_slice(&req.dst.octets());
    let c = ip_compute_csum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&l4);
    p
}

/// The transport checksum over the IPv4 pseudo-header.
fn l4_csum(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4: &[u8]) -> u16 {
    let mut buf = Vec::with_capacity(12 + l4.len());
    buf.extend_from_slice(&src.octets());
    buf.extend_from_slice(&dst.octets());
    buf.extend_from_slice(&[0, proto]);
    buf.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    buf.extend_from_slice(l4);
    ip_compute_csum(&buf)
}

pub mod doctor;
pub mod explain;

#[cfg(test)]
mod tests;
