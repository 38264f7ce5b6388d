//! The frames injected into each router: valid ICMP echo, UDP and TCP SYN
//! to the server, beyond it, to the router's addresses, to broadcast and
//! multicast addresses, to unroutable and reject destinations, routed back
//! out r0; and malformed ones (wrong MAC, L2 broadcast with a unicast IP,
//! bad checksum, version 6, IHL < 5 or beyond the packet, tot_len beyond
//! the frame or below the header, trailing padding, TTL 0/1, DF over r1's
//! MTU and the same without DF, IP options, martian sources and
//! destinations, unknown protocols).
//!
//! Headers are built with etherparse ([`Ipv4Header`], [`Icmpv4Header`],
//! [`UdpHeader`], [`TcpHeader`], [`Ethernet2Header`]); the malformed ones
//! are valid frames with bytes patched afterwards.
//!
//! ## Time and rate limits
//!
//! The kernel's ICMP limits run on jiffies, fwdsim's on the capture's
//! timestamps. The frames are arranged so that both clocks see the same
//! conditions:
//!
//! - every **group** of frames has a source address of its own, drawn from
//!   10.200.0.0/16, which the router routes back via the client (so every
//!   answer reaches `c0` through a permanent neighbour, and rp_filter
//!   passes). The per-source `inet_peer` buckets (`ip_error`'s, ICMP's
//!   `icmpv4_xrlim_allow`, the redirect backoff of `ip_rt_send_redirect`)
//!   therefore start full for each group, whatever the clock says. Only the
//!   groups whose source is the subject itself (martians, own addresses,
//!   rp_filter sources, the one redirect group from 10.0.1.2) use fixed
//!   sources, and none of them but that redirect group can make the router
//!   send anything. Redirects go only to on-link sources, so their groups
//!   draw fresh sources from a second pool, 10.0.1.16-63, which the router
//!   has as permanent neighbours with the client's MAC;
//! - **bursts** (TTL 1, an unreachable route, redirects) are several frames
//!   of one group, 1 ms apart in the capture and well under a millisecond
//!   apart on the wire (the lab redoes a router whose group took longer
//!   than 5 jiffies, [`crate::packet::run::GROUP_BUDGET`]). Every
//!   `icmp_ratelimit` of [`crate::packet::config`] is 0 or at least
//!   25 jiffies and a burst lasts at most a few jiffies on either clock, so
//!   no token is earned mid-burst on either side; redirect bursts (backoff
//!   5 jiffies << n) are at most 4 frames;
//! - groups are 10 ms apart in the capture and at least 1 ms apart on the
//!   wire ([`crate::packet::run::GROUP_PAUSE`]). The netns-wide ICMP bucket
//!   (`icmp_msgs_per_sec` 1000, `icmp_msgs_burst` 50, each error taking 0
//!   to 2 credits at random, refilled when empty unless the last refill is
//!   less than 20 ms old) refuses only after more than 50 credits within
//!   20 ms: that is at most about 24 rate-limited errors on the wire (the
//!   three bursts and their neighbours) and two groups in the capture;
//! - one race remains: `ip_error` and `icmpv4_xrlim_allow` share a peer's
//!   tokens, and a jiffy tick between them within one frame empties
//!   `ip_error`'s bucket for the rest of a reject-route burst. The run
//!   tolerates exactly that outcome and notes it in the report.
//!
//! Each frame also has an IP ID of its own (`0x1000 + index`), so egress
//! frames can be told apart from what the router generates.

use std::net::Ipv4Addr;

use etherparse::{
    EtherType, Ethernet2Header, IcmpEchoHeader, Icmpv4Header, Icmpv4Type, IpDscp, IpEcn, IpNumber,
    Ipv4Header, TcpHeader, UdpHeader,
};
use ipnet::Ipv4Net;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::generate::host_in;
use crate::packet::config::{
    BEYOND_SERVER, CLIENT_ADDR, ONLINK_POOL, R0_ADDR, R1_ADDR, RULE_PROHIBIT, RULE_UNREACHABLE,
    RouterConfig, SERVER_ADDR,
};
use crate::packet::lab::{CLIENT_MAC, R0_MAC};

/// Offset of the IPv4 header in a frame.
pub const IP: usize = 14;

/// Capture time between two groups.
pub const GROUP_GAP_NS: i128 = 10_000_000;
/// Capture time between two frames of one group.
pub const BURST_GAP_NS: i128 = 1_000_000;

/// One frame to inject, with where it comes from in the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The catalogue entry (`ttl1-burst`, `bad-csum`, ...).
    pub kind: &'static str,
    /// Position in its group, 1-based, and the group's size.
    pub nth: (usize, usize),
    /// The group (one source address per group).
    pub group: usize,
    /// The Ethernet frame.
    pub frame: Vec<u8>,
    /// Its capture timestamp (nanoseconds since the epoch).
    pub ts_nanos: i128,
}

impl Probe {
    /// `kind` or `kind 2/5` for a burst.
    pub fn label(&self) -> String {
        if self.nth.1 > 1 {
            format!("{} {}/{}", self.kind, self.nth.0, self.nth.1)
        } else {
            self.kind.to_string()
        }
    }
}

/// The transport part of a frame.
#[derive(Clone, Copy, Debug)]
enum L4 {
    /// ICMP echo request with this many payload bytes.
    Echo(usize),
    /// ICMP echo reply (answered by nobody).
    EchoReply,
    /// UDP to this port with this many payload bytes.
    Udp(u16, usize),
    /// TCP SYN to this port.
    Syn(u16),
    /// This IP protocol with this many bytes of filler.
    Raw(u8, usize),
}

/// A frame before patching.
#[derive(Clone, Debug)]
struct Pkt {
    dst_mac: [u8; 6],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    tos: u8,
    df: bool,
    options: Vec<u8>,
    l4: L4,
    /// Bytes after the IP packet (L2 padding).
    pad: usize,
}

fn pkt(src: Ipv4Addr, dst: Ipv4Addr, l4: L4) -> Pkt {
    Pkt {
        dst_mac: R0_MAC,
        src,
        dst,
        ttl: 64,
        tos: 0,
        df: false,
        options: Vec::new(),
        l4,
        pad: 0,
    }
}

/// The MAC of IPv4 multicast group `a` (RFC 1112).
fn mcast_mac(a: Ipv4Addr) -> [u8; 6] {
    let o = a.octets();
    [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
}

/// The IPv4 source address of a frame built by [`Pkt::build`].
fn frame_src(f: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(f[IP + 12], f[IP + 13], f[IP + 14], f[IP + 15])
}

/// A broadcast ARP request from the client (`sip`) asking for `tip`.
fn arp_request(sip: Ipv4Addr, tip: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&sip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&tip.octets());
    f
}

/// The Internet checksum of `data` with `sum` already added.
pub(crate) fn inet_csum(mut sum: u32, data: &[u8]) -> u16 {
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from(c[0]) << 8
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Sets the type and code of an ICMP frame (no IP options) and its
/// checksum.
fn set_icmp_type(f: &mut [u8], t: u8, code: u8) {
    let o = IP + 20;
    f[o] = t;
    f[o + 1] = code;
    f[o + 2..o + 4].copy_from_slice(&[0, 0]);
    let c = inet_csum(0, &f[o..]);
    f[o + 2..o + 4].copy_from_slice(&c.to_be_bytes());
}

/// Writes into an ICMP frame's 28 bytes after its header the datagram it
/// quotes: an IPv4 header from r0 to the server, protocol `proto`, and 8
/// bytes of it (source port 33434 to port 53, or an echo request).
fn quote_datagram(f: &mut [u8], proto: u8) {
    let o = IP + 28;
    let mut q = [0u8; 28];
    q[0] = 0x45;
    q[2..4].copy_from_slice(&28u16.to_be_bytes());
    q[6] = 0x40;
    q[8] = 64;
    q[9] = proto;
    q[12..16].copy_from_slice(&R0_ADDR.octets());
    q[16..20].copy_from_slice(&SERVER_ADDR.octets());
    let c = inet_csum(0, &q[..20]);
    q[10..12].copy_from_slice(&c.to_be_bytes());
    if proto == 1 {
        q[20] = 8;
        q[24..26].copy_from_slice(&0x7777u16.to_be_bytes());
    } else {
        q[20..22].copy_from_slice(&33434u16.to_be_bytes());
        q[22..24].copy_from_slice(&53u16.to_be_bytes());
        q[24..26].copy_from_slice(&8u16.to_be_bytes());
    }
    f[o..o + 28].copy_from_slice(&q);
}

/// Recomputes the TCP checksum of a TCP frame (no IP options).
fn fix_l4_checksum(f: &mut [u8]) {
    let o = IP + 20;
    f[o + 16..o + 18].copy_from_slice(&[0, 0]);
    let mut sum: u32 = 6 + (f.len() - o) as u32;
    for c in f[IP + 12..IP + 20].chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    let c = inet_csum(sum, &f[o..]);
    f[o + 16..o + 18].copy_from_slice(&c.to_be_bytes());
}

/// Sets the UDP length field of a UDP frame (no IP options) to `ulen` and
/// its checksum to the one over the first `ulen` bytes of the payload, or
/// to 0 (none) when `ulen` is below the header's 8 bytes.
fn set_udp_len(f: &mut [u8], ulen: u16) {
    let u = IP + 20;
    f[u + 4..u + 6].copy_from_slice(&ulen.to_be_bytes());
    f[u + 6..u + 8].copy_from_slice(&[0, 0]);
    if ulen < 8 {
        return;
    }
    let mut sum: u32 = 17 + u32::from(ulen);
    for c in f[IP + 12..IP + 20].chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    let c = match inet_csum(sum, &f[u..u + usize::from(ulen)]) {
        0 => 0xffff,
        c => c,
    };
    f[u + 6..u + 8].copy_from_slice(&c.to_be_bytes());
}

/// The IPv4 header checksum of `frame`'s header as it stands (over IHL*4
/// bytes), written into the frame.
pub fn fix_ip_checksum(frame: &mut [u8]) {
    let ihl = usize::from(frame[IP] & 0x0f) * 4;
    frame[IP + 10] = 0;
    frame[IP + 11] = 0;
    let end = (IP + ihl).min(frame.len());
    let mut sum: u32 = 0;
    for c in frame[IP..end].chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from(c[0]) << 8
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let c = !(sum as u16);
    frame[IP + 10..IP + 12].copy_from_slice(&c.to_be_bytes());
}

impl Pkt {
    fn build(&self, id: u16, rng: &mut StdRng) -> Vec<u8> {
        let filler = |rng: &mut StdRng, n: usize| -> Vec<u8> {
            let mut v = b"fwdsim-lab packet ".repeat(n / 18 + 1);
            v.truncate(n);
            if let Some(x) = v.last_mut() {
                *x = rng.r#gen();
            }
            v
        };
        let (proto, payload) = match self.l4 {
            L4::Echo(n) => (IpNumber::ICMP, filler(rng, n)),
            L4::EchoReply => (IpNumber::ICMP, filler(rng, 8)),
            L4::Udp(_, n) => (IpNumber::UDP, filler(rng, n)),
            L4::Syn(_) => (IpNumber::TCP, Vec::new()),
            L4::Raw(p, n) => (IpNumber(p), filler(rng, n)),
        };
        let mut ip = Ipv4Header::new(0, self.ttl, proto, self.src.octets(), self.dst.octets())
            .expect("empty payload");
        ip.identification = id;
        ip.dont_fragment = self.df;
        ip.dscp = IpDscp::try_new(self.tos >> 2).expect("6 bits");
        ip.ecn = IpEcn::try_new(self.tos & 3).expect("2 bits");
        ip.options = self.options[..]
            .try_into()
            .expect("options are a multiple of 4 bytes, at most 40");
        let mut l4: Vec<u8> = match self.l4 {
            L4::Echo(_) | L4::EchoReply => {
                let echo = IcmpEchoHeader {
                    id: rng.r#gen(),
                    seq: rng.gen_range(1..100),
                };
                let t = if matches!(self.l4, L4::Echo(_)) {
                    Icmpv4Type::EchoRequest(echo)
                } else {
                    Icmpv4Type::EchoReply(echo)
                };
                Icmpv4Header::with_checksum(t, &payload).to_bytes().to_vec()
            }
            L4::Udp(port, _) => {
                UdpHeader::with_ipv4_checksum(rng.gen_range(1024..65535), port, &ip, &payload)
                    .expect("small")
                    .to_bytes()
                    .to_vec()
            }
            L4::Syn(port) => {
                let mut t = TcpHeader::new(rng.gen_range(1024..65535), port, rng.r#gen(), 64240);
                t.syn = true;
                t.checksum = t.calc_checksum_ipv4(&ip, &payload).expect("small");
                t.to_bytes().to_vec()
            }
            L4::Raw(..) => Vec::new(),
        };
        l4.extend_from_slice(&payload);
        ip.set_payload_len(l4.len()).expect("fits");
        ip.header_checksum = ip.calc_header_checksum();
        let eth = Ethernet2Header {
            source: CLIENT_MAC,
            destination: self.dst_mac,
            ether_type: EtherType::IPV4,
        };
        let mut f = eth.to_bytes().to_vec();
        f.extend_from_slice(&ip.to_bytes());
        f.extend_from_slice(&l4);
        f.extend(std::iter::repeat_n(0u8, self.pad));
        f
    }
}

/// Builds the catalogue group by group.
struct Cat {
    rng: StdRng,
    probes: Vec<Probe>,
    groups: usize,
    next_source: u32,
    next_onlink: u8,
}

impl Cat {
    /// A fresh source address of the pool (one per group).
    fn fresh(&mut self) -> Ipv4Addr {
        self.next_source += 1;
        let n = self.next_source;
        Ipv4Addr::new(10, 200, (n / 250) as u8, (n % 250 + 1) as u8)
    }

    /// A fresh on-link source address (a permanent neighbour of r0), for
    /// redirects; `None` when the pool is used up.
    fn fresh_onlink(&mut self) -> Option<Ipv4Addr> {
        (self.next_onlink < ONLINK_POOL.1).then(|| {
            self.next_onlink += 1;
            Ipv4Addr::from(u32::from(ONLINK_POOL.0) + u32::from(self.next_onlink - 1))
        })
    }

    /// Adds a group of `count` frames, each made by `make(src, i)` and
    /// patched by `patch`.
    fn group(
        &mut self,
        kind: &'static str,
        count: usize,
        src: Option<Ipv4Addr>,
        make: impl Fn(&mut StdRng, Ipv4Addr, usize) -> Pkt,
        patch: impl Fn(&mut Vec<u8>),
    ) {
        let src = src.unwrap_or_else(|| self.fresh());
        for i in 0..count {
            let id = 0x1000 + self.probes.len() as u16;
            let p = make(&mut self.rng, src, i);
            let mut frame = p.build(id, &mut self.rng);
            patch(&mut frame);
            self.probes.push(Probe {
                kind,
                nth: (i + 1, count),
                group: self.groups,
                frame,
                ts_nanos: 0,
            });
        }
        self.groups += 1;
    }

    /// A one-frame group from a fresh source.
    fn one(&mut self, kind: &'static str, make: impl Fn(&mut StdRng, Ipv4Addr, usize) -> Pkt) {
        self.group(kind, 1, None, make, |_| {});
    }

    /// A one-frame group from a fresh source, patched.
    fn bad(
        &mut self,
        kind: &'static str,
        make: impl Fn(&mut StdRng, Ipv4Addr, usize) -> Pkt,
        patch: impl Fn(&mut Vec<u8>),
    ) {
        self.group(kind, 1, None, make, patch);
    }

    /// A one-frame group from the fixed source `src`.
    fn from(&mut self, kind: &'static str, src: Ipv4Addr, dst: Ipv4Addr, l4: L4) {
        self.group(kind, 1, Some(src), move |_, s, _| pkt(s, dst, l4), |_| {});
    }
}

fn echo_len(rng: &mut StdRng) -> usize {
    rng.gen_range(0..64)
}

fn addr_in(rng: &mut StdRng, n: &str) -> Ipv4Addr {
    host_in(rng, n.parse::<Ipv4Net>().expect("valid prefix"))
}

/// Every frame for the router `cfg`, with capture timestamps from `base`.
pub fn catalogue(cfg: &RouterConfig, seed: u64, base_ns: i128) -> Vec<Probe> {
    let mut c = Cat {
        rng: StdRng::seed_from_u64(seed),
        probes: Vec::new(),
        groups: 0,
        next_source: 0,
        next_onlink: 0,
    };
    let srv = SERVER_ADDR;
    let echo = |r: &mut StdRng| L4::Echo(echo_len(r));

    // Valid traffic to and through the router.
    c.one("echo-server", |r, s, _| pkt(s, srv, echo(r)));
    c.one("udp-server", |r, s, _| {
        pkt(s, srv, L4::Udp(53, r.gen_range(0..40)))
    });
    c.one("syn-server", |_, s, _| pkt(s, srv, L4::Syn(80)));
    c.one("echo-beyond-server", |r, s, _| {
        pkt(s, addr_in(r, BEYOND_SERVER), echo(r))
    });
    c.one("echo-r0", |r, s, _| pkt(s, R0_ADDR, echo(r)));
    c.one("echo-r1", |r, s, _| pkt(s, R1_ADDR, echo(r)));
    c.one("udp-router-closed", |_, s, _| {
        pkt(s, R0_ADDR, L4::Udp(33434, 12))
    });
    c.one("syn-router-closed", |_, s, _| pkt(s, R1_ADDR, L4::Syn(22)));
    c.one("proto253-router", |_, s, _| {
        pkt(s, R0_ADDR, L4::Raw(253, 16))
    });
    c.one("proto253-server", |_, s, _| pkt(s, srv, L4::Raw(253, 16)));
    c.one("echo-r0-subnet-bcast-l2bcast", |r, s, _| Pkt {
        dst_mac: [0xff; 6],
        ..pkt(s, Ipv4Addr::new(10, 0, 1, 255), echo(r))
    });
    c.one("echo-r1-subnet-bcast", |r, s, _| {
        pkt(s, Ipv4Addr::new(10, 0, 2, 255), echo(r))
    });
    c.one("udp-limited-bcast", |_, s, _| Pkt {
        dst_mac: [0xff; 6],
        ..pkt(s, Ipv4Addr::BROADCAST, L4::Udp(67, 20))
    });
    c.one("echo-allhosts-224.0.0.1", |r, s, _| {
        let d = Ipv4Addr::new(224, 0, 0, 1);
        Pkt {
            dst_mac: mcast_mac(d),
            ..pkt(s, d, echo(r))
        }
    });
    c.one("udp-mcast-not-joined", |_, s, _| {
        let d = Ipv4Addr::new(239, 1, 2, 3);
        Pkt {
            dst_mac: mcast_mac(d),
            ..pkt(s, d, L4::Udp(5000, 10))
        }
    });
    c.one("echo-unroutable", |r, s, _| {
        pkt(s, Ipv4Addr::new(198, 51, 100, r.gen_range(1..255)), echo(r))
    });
    let reject = cfg.reject.clone();
    for (kind, p) in [
        ("echo-blackhole", reject.blackhole),
        ("echo-unreachable-route", reject.unreachable),
        ("echo-prohibit-route", reject.prohibit),
        ("echo-throw-route", reject.throw),
    ] {
        if let Some(p) = p {
            c.one(kind, move |r, s, _| pkt(s, host_in(r, p), echo(r)));
        }
    }
    if cfg.rules {
        c.one("echo-rule-unreachable", |r, s, _| {
            pkt(s, addr_in(r, RULE_UNREACHABLE), echo(r))
        });
        c.one("echo-rule-prohibit", |r, s, _| {
            pkt(s, addr_in(r, RULE_PROHIBIT), echo(r))
        });
    }
    // Routed back out r0 via 10.0.1.3: forwarded, and a redirect when the
    // source is on-link (fib_validate_source > 0).
    let rp = cfg.redirect_prefix;
    let n = c.rng.gen_range(1..=3);
    c.group(
        "routed-back-burst",
        n,
        None,
        move |r, s, _| pkt(s, host_in(r, rp), L4::Echo(16)),
        |_| {},
    );
    for _ in 0..3 {
        let n = c.rng.gen_range(1..=4);
        let src = c.fresh_onlink();
        c.group(
            "redirect-burst",
            n,
            src,
            move |r, s, _| pkt(s, host_in(r, rp), L4::Echo(16)),
            |_| {},
        );
    }
    let src = c.fresh_onlink();
    c.group(
        "redirect-ttl1",
        1,
        src,
        move |r, s, _| Pkt {
            ttl: 1,
            ..pkt(s, host_in(r, rp), L4::Echo(16))
        },
        |_| {},
    );
    // The one group from the client's own address (on-link source: a
    // redirect even without shared_media).
    let n = c.rng.gen_range(1..=3);
    c.group(
        "redirect-from-client",
        n,
        Some(CLIENT_ADDR),
        move |r, s, _| pkt(s, host_in(r, rp), L4::Udp(9, 8)),
        |_| {},
    );
    c.one("syn-r0-ce", |_, s, _| Pkt {
        tos: 0x03,
        ..pkt(s, R0_ADDR, L4::Syn(443))
    });
    c.one("echo-server-tos-ect1", |r, s, _| Pkt {
        tos: 0xb9,
        ..pkt(s, srv, echo(r))
    });

    // L2 oddities.
    c.one("otherhost-mac", |r, s, _| Pkt {
        dst_mac: [2, 0, 0, 0, 0x99, 0x99],
        ..pkt(s, srv, echo(r))
    });
    c.one("l2bcast-unicast-to-server", |r, s, _| Pkt {
        dst_mac: [0xff; 6],
        ..pkt(s, srv, echo(r))
    });
    c.one("l2bcast-unicast-to-r0", |r, s, _| Pkt {
        dst_mac: [0xff; 6],
        ..pkt(s, R0_ADDR, echo(r))
    });
    c.one("l2mcast-unicast-to-server", |r, s, _| Pkt {
        dst_mac: [0x01, 0x00, 0x5e, 0, 0, 0x42],
        ..pkt(s, srv, echo(r))
    });

    // Header errors (ip_rcv_core).
    c.bad(
        "bad-csum",
        |r, s, _| pkt(s, srv, echo(r)),
        |f| f[IP + 10] ^= 0x5a,
    );
    c.bad(
        "version-6",
        |r, s, _| pkt(s, srv, echo(r)),
        |f| f[IP] = 0x65,
    );
    c.bad("ihl-4", |r, s, _| pkt(s, srv, echo(r)), |f| f[IP] = 0x44);
    c.bad(
        "ihl-beyond-packet",
        |_, s, _| pkt(s, srv, L4::Udp(7, 2)),
        |f| {
            f[IP] = 0x4f;
            fix_ip_checksum(f);
        },
    );
    c.bad(
        "totlen-beyond-frame",
        |r, s, _| pkt(s, srv, echo(r)),
        |f| {
            let t = u16::from_be_bytes([f[IP + 2], f[IP + 3]]) + 100;
            f[IP + 2..IP + 4].copy_from_slice(&t.to_be_bytes());
            fix_ip_checksum(f);
        },
    );
    c.bad(
        "totlen-below-header",
        |r, s, _| pkt(s, srv, echo(r)),
        |f| {
            f[IP + 2..IP + 4].copy_from_slice(&16u16.to_be_bytes());
            fix_ip_checksum(f);
        },
    );
    c.bad(
        "ip-packet-12-bytes",
        |r, s, _| pkt(s, srv, echo(r)),
        |f| f.truncate(IP + 12),
    );
    // A UDP length shorter than the IP payload: udp_rcv trims to it and
    // checks the checksum over it; below the header's 8 bytes it is short.
    c.bad(
        "udp-len-short-to-r0",
        |_, s, _| pkt(s, R0_ADDR, L4::Udp(33434, 12)),
        |f| set_udp_len(f, 12),
    );
    c.bad(
        "udp-len-below-8-to-r0",
        |_, s, _| pkt(s, R0_ADDR, L4::Udp(33434, 12)),
        |f| set_udp_len(f, 4),
    );
    // Transport headers the local handlers check (udp_rcv, tcp_v4_rcv,
    // icmp_rcv, igmp_rcv).
    c.one("udp-7-bytes-to-r0", |_, s, _| {
        pkt(s, R0_ADDR, L4::Raw(17, 7))
    });
    c.one("tcp-12-bytes-to-r0", |_, s, _| {
        pkt(s, R0_ADDR, L4::Raw(6, 12))
    });
    c.bad(
        "tcp-doff-4-to-r0",
        |_, s, _| pkt(s, R1_ADDR, L4::Syn(22)),
        |f| {
            f[IP + 20 + 12] = 0x40;
            fix_l4_checksum(f);
        },
    );
    c.bad(
        "tcp-doff-past-segment-to-r0",
        |_, s, _| pkt(s, R1_ADDR, L4::Syn(22)),
        |f| {
            f[IP + 20 + 12] = 0xf0;
            fix_l4_checksum(f);
        },
    );
    c.one("icmp-3-bytes-to-r0", |_, s, _| {
        pkt(s, R0_ADDR, L4::Raw(1, 3))
    });
    c.bad(
        "icmp-type-40-to-r0",
        |_, s, _| pkt(s, R0_ADDR, L4::Echo(8)),
        |f| set_icmp_type(f, 40, 0),
    );
    c.bad(
        "icmp-unreach-short-quote-to-r0",
        |_, s, _| pkt(s, R0_ADDR, L4::Echo(8)),
        |f| set_icmp_type(f, 3, 1),
    );
    // ICMP errors about a datagram r0 would have sent, from a port no
    // socket holds: icmp_socket_deliver finds none (UDP and TCP count
    // InErrors; a redirect is then ignored).
    for (name, t, code, proto) in [
        ("icmp-port-unreach-quoting-udp-to-r0", 3, 3, 17),
        ("icmp-host-unreach-quoting-tcp-to-r0", 3, 1, 6),
        ("icmp-redirect-quoting-udp-to-r0", 5, 1, 17),
        ("icmp-time-exceeded-quoting-echo-to-r0", 11, 0, 1),
    ] {
        c.bad(
            name,
            |_, s, _| pkt(s, R0_ADDR, L4::Echo(28)),
            move |f| {
                quote_datagram(f, proto);
                if t == 5 {
                    // The new gateway: the client's own address.
                    let gw = [f[IP + 12], f[IP + 13], f[IP + 14], f[IP + 15]];
                    f[IP + 24..IP + 28].copy_from_slice(&gw);
                }
                set_icmp_type(f, t, code);
            },
        );
    }
    c.bad(
        "icmp-timestamp-reply-to-r0-bcast",
        |_, s, _| Pkt {
            dst_mac: [0xff; 6],
            ..pkt(s, Ipv4Addr::new(10, 0, 1, 255), L4::Echo(12))
        },
        |f| set_icmp_type(f, 14, 0),
    );
    c.bad(
        "icmp-echo-reply-to-r0-bcast",
        |_, s, _| Pkt {
            dst_mac: [0xff; 6],
            ..pkt(s, Ipv4Addr::new(10, 0, 1, 255), L4::Echo(8))
        },
        |f| set_icmp_type(f, 0, 0),
    );
    c.bad(
        "icmp-address-mask-to-r0-bcast",
        |_, s, _| Pkt {
            dst_mac: [0xff; 6],
            ..pkt(s, Ipv4Addr::new(10, 0, 1, 255), L4::Echo(8))
        },
        |f| set_icmp_type(f, 17, 0),
    );
    c.one("igmp-bad-csum-to-r0", |_, s, _| {
        pkt(s, R0_ADDR, L4::Raw(2, 8))
    });
    // ARP requests: for the router's address (answered, the asker learned),
    // a duplicate address probe for it, and one for another host (no
    // proxy ARP).
    c.bad(
        "arp-request-for-r0",
        |_, s, _| pkt(s, R0_ADDR, L4::Echo(8)),
        |f| *f = arp_request(frame_src(f), R0_ADDR),
    );
    c.bad(
        "arp-probe-for-r0",
        |_, s, _| pkt(s, R0_ADDR, L4::Echo(8)),
        |f| *f = arp_request(Ipv4Addr::UNSPECIFIED, R0_ADDR),
    );
    c.bad(
        "arp-request-for-server",
        |_, s, _| pkt(s, R0_ADDR, L4::Echo(8)),
        |f| *f = arp_request(frame_src(f), SERVER_ADDR),
    );
    c.bad(
        "icmp-timestamp-to-r0",
        |_, s, _| pkt(s, R0_ADDR, L4::Echo(12)),
        |f| set_icmp_type(f, 13, 0),
    );
    c.one("trailing-padding", |r, s, _| Pkt {
        pad: r.gen_range(1..40),
        tos: 0x01,
        ..pkt(s, srv, echo(r))
    });
    c.one("trailing-padding-to-r1", |r, s, _| Pkt {
        pad: r.gen_range(1..40),
        ..pkt(s, R1_ADDR, echo(r))
    });

    // TTL.
    c.one("ttl1-server", |r, s, _| Pkt {
        ttl: 1,
        ..pkt(s, srv, echo(r))
    });
    c.one("ttl0-server", |_, s, _| Pkt {
        ttl: 0,
        ..pkt(s, srv, L4::Udp(53, 8))
    });
    c.one("ttl0-r0", |r, s, _| Pkt {
        ttl: 0,
        ..pkt(s, R0_ADDR, echo(r))
    });
    c.one("ttl1-redirect-route", move |r, s, _| Pkt {
        ttl: 1,
        ..pkt(s, host_in(r, rp), L4::Echo(8))
    });
    let n = c.rng.gen_range(2..=8);
    c.group(
        "ttl1-burst",
        n,
        None,
        |_, s, _| Pkt {
            ttl: 1,
            ..pkt(s, srv, L4::Udp(33434, 24))
        },
        |_| {},
    );
    if let Some(p) = reject.unreachable.or(reject.prohibit) {
        let n = c.rng.gen_range(3..=10);
        c.group(
            "reject-route-burst",
            n,
            None,
            move |r, s, _| pkt(s, host_in(r, p), L4::Echo(8)),
            |_| {},
        );
    }
    let n = c.rng.gen_range(2..=6);
    c.group(
        "unroutable-burst",
        n,
        None,
        |_, s, _| pkt(s, Ipv4Addr::new(198, 51, 100, 99), L4::Udp(53, 8)),
        |_| {},
    );

    // Size against r1's MTU (the client side's MTU is 1500).
    let mtu = cfg.r1_mtu as usize;
    let over = (mtu + c.rng.gen_range(1..200)).min(1500);
    let payload = |len: usize| len - 28;
    c.one("df-over-r1-mtu", move |_, s, _| Pkt {
        df: true,
        ..pkt(s, srv, L4::Echo(payload(over)))
    });
    c.one("no-df-over-r1-mtu", move |_, s, _| {
        pkt(s, srv, L4::Udp(53, over - 28))
    });
    c.one("df-exactly-r1-mtu", move |_, s, _| Pkt {
        df: true,
        ..pkt(s, srv, L4::Echo(payload(mtu.min(1500))))
    });
    c.one("no-df-over-r1-mtu-with-rr", move |_, s, _| Pkt {
        options: vec![7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ..pkt(s, srv, L4::Udp(53, over - 40))
    });

    // IP options.
    c.one("opt-router-alert", |r, s, _| Pkt {
        options: vec![148, 4, 0, 0],
        ..pkt(s, srv, echo(r))
    });
    c.one("opt-record-route", |r, s, _| Pkt {
        options: vec![7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ..pkt(s, srv, echo(r))
    });
    c.one("opt-record-route-full", |r, s, _| Pkt {
        options: vec![7, 7, 8, 10, 9, 9, 9, 0],
        ..pkt(s, srv, echo(r))
    });
    c.one("opt-malformed-len1", |r, s, _| Pkt {
        options: vec![7, 1, 0, 0],
        ..pkt(s, srv, echo(r))
    });
    c.one("opt-malformed-to-r0", |r, s, _| Pkt {
        options: vec![68, 3, 5, 0],
        ..pkt(s, R0_ADDR, echo(r))
    });
    // An echo request to the router that came over a loose source route
    // through 10.0.1.3: the reply goes back through it (reversed route).
    c.one("opt-lsrr-used-to-r0", |r, s, _| Pkt {
        options: vec![131, 7, 8, 10, 0, 1, 3, 0],
        ..pkt(s, R0_ADDR, echo(r))
    });
    // The same route on a UDP datagram to a closed port: the error goes
    // back through 10.0.1.3 too.
    c.one("opt-lsrr-used-udp-to-r0", |_, s, _| Pkt {
        options: vec![131, 7, 8, 10, 0, 1, 3, 0],
        ..pkt(s, R0_ADDR, L4::Udp(33434, 12))
    });
    c.one("opt-rr-twice", |r, s, _| Pkt {
        options: vec![7, 3, 4, 7, 3, 4, 0, 0],
        ..pkt(s, srv, echo(r))
    });
    c.one("opt-ts-twice", |r, s, _| Pkt {
        options: vec![68, 4, 5, 0, 68, 4, 5, 0],
        ..pkt(s, srv, echo(r))
    });
    c.one("opt-record-route-to-r0", |r, s, _| Pkt {
        options: vec![7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ..pkt(s, R0_ADDR, echo(r))
    });
    c.one("opt-rr-then-bad-to-server", |r, s, _| Pkt {
        options: vec![7, 7, 4, 0, 0, 0, 0, 68, 3, 5, 0, 0],
        ..pkt(s, srv, echo(r))
    });
    c.one("opt-end-then-garbage", |r, s, _| Pkt {
        options: vec![1, 0, 7, 3],
        ..pkt(s, srv, echo(r))
    });
    c.one("opt-cipso-short", |r, s, _| Pkt {
        options: vec![134, 6, 0, 0, 0, 1, 0, 0],
        ..pkt(s, srv, echo(r))
    });
    c.one("opt-cipso-doi", |r, s, _| Pkt {
        options: vec![134, 8, 0, 0, 0, 1, 1, 2],
        ..pkt(s, srv, echo(r))
    });
    c.one("opt-timestamp-addr-forwarded", |r, s, _| Pkt {
        options: vec![68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        ..pkt(s, srv, echo(r))
    });
    c.one("opt-timestamp-to-r1", |r, s, _| Pkt {
        options: vec![68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ..pkt(s, R1_ADDR, echo(r))
    });
    let lsrr = |kind: u8, hop: Ipv4Addr| {
        let h = hop.octets();
        vec![kind, 7, 4, h[0], h[1], h[2], h[3], 1]
    };
    let to_server_opt = lsrr(131, srv);
    c.one("opt-lsrr-via-router", move |r, s, _| Pkt {
        options: to_server_opt.clone(),
        ..pkt(s, R0_ADDR, echo(r))
    });
    let onward = lsrr(131, Ipv4Addr::new(10, 0, 12, 1));
    c.one("opt-lsrr-onward", move |r, s, _| Pkt {
        options: onward.clone(),
        ..pkt(s, srv, echo(r))
    });
    let strict = lsrr(137, Ipv4Addr::new(10, 0, 12, 1));
    c.one("opt-ssrr-onward-gateway", move |r, s, _| Pkt {
        options: strict.clone(),
        ..pkt(s, addr_in(r, BEYOND_SERVER), echo(r))
    });

    // Martian sources and destinations (fixed sources: nothing they cause
    // can make the router send).
    let echo8 = L4::Echo(8);
    for (kind, src) in [
        ("src-loopback", Ipv4Addr::new(127, 0, 0, 1)),
        ("src-zero", Ipv4Addr::UNSPECIFIED),
        ("src-multicast", Ipv4Addr::new(224, 0, 0, 5)),
        ("src-limited-bcast", Ipv4Addr::BROADCAST),
        ("src-own-r0", R0_ADDR),
        ("src-own-r1", R1_ADDR),
        ("src-server-side-subnet", Ipv4Addr::new(10, 0, 2, 5)),
        ("src-unroutable", Ipv4Addr::new(198, 51, 100, 7)),
        ("src-zeronet-not-zero", Ipv4Addr::new(0, 1, 2, 3)),
        ("src-class-e", Ipv4Addr::new(240, 0, 0, 1)),
        ("src-r1-subnet-bcast", Ipv4Addr::new(10, 0, 2, 255)),
    ] {
        c.from(kind, src, srv, echo8);
    }
    c.from("src-own-dst-own", R0_ADDR, R0_ADDR, L4::EchoReply);
    c.from("src-own-r1-dst-r0", R1_ADDR, R0_ADDR, L4::EchoReply);
    c.from(
        "src-zero-to-limited-bcast",
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::BROADCAST,
        L4::Udp(67, 30),
    );
    c.one("dst-zero", |_, s, _| {
        pkt(s, Ipv4Addr::UNSPECIFIED, L4::Echo(8))
    });
    c.one("dst-loopback", |_, s, _| {
        pkt(s, Ipv4Addr::new(127, 0, 0, 1), L4::Echo(8))
    });
    c.one("dst-class-e", |_, s, _| {
        pkt(s, Ipv4Addr::new(240, 0, 0, 9), L4::Echo(8))
    });

    // Capture timestamps: groups GROUP_GAP_NS apart, frames of a group
    // BURST_GAP_NS apart.
    let mut t = base_ns;
    let mut last_group = usize::MAX;
    for p in &mut c.probes {
        t += if p.group == last_group {
            BURST_GAP_NS
        } else {
            GROUP_GAP_NS
        };
        last_group = p.group;
        p.ts_nanos = t;
    }
    c.probes
}

/// A one-line account of a frame: `02:..>ff:.. IPv4 10.200.0.3 > 10.0.2.2
/// ttl 64 id 0x1003 len 52 icmp 8/0 [options 94040000]`, robust to any
/// malformation, then the frame's length.
pub fn summary(frame: &[u8]) -> String {
    use crate::packet::lab::mac_text;
    if frame.len() < IP {
        return format!("{} bytes (runt)", frame.len());
    }
    let mut s = format!("{}>{}", mac_text(&frame[6..12]), mac_text(&frame[0..6]));
    let ip = &frame[IP..];
    if frame[12..14] != [8, 0] || ip.len() < 20 {
        s.push_str(&format!(
            " ethertype {:02x}{:02x}, {} bytes of IP",
            frame[12],
            frame[13],
            ip.len()
        ));
        return s;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let a = |o: usize| Ipv4Addr::new(ip[o], ip[o + 1], ip[o + 2], ip[o + 3]);
    s.push_str(&format!(
        " v{} ihl {} {} > {} tos {:#04x} ttl {} id {:#06x} tot_len {}{}{} proto {}",
        ip[0] >> 4,
        ip[0] & 0x0f,
        a(12),
        a(16),
        ip[1],
        ip[8],
        u16::from_be_bytes([ip[4], ip[5]]),
        u16::from_be_bytes([ip[2], ip[3]]),
        if ip[6] & 0x40 != 0 { " DF" } else { "" },
        if ip[6] & 0x20 != 0 || (ip[6] & 0x1f != 0 || ip[7] != 0) {
            " frag"
        } else {
            ""
        },
        ip[9]
    ));
    if ihl > 20 && ip.len() >= ihl {
        let o: String = ip[20..ihl].iter().map(|b| format!("{b:02x}")).collect();
        s.push_str(&format!(" options {o}"));
    }
    if ip[9] == 1 && ihl >= 20 && ip.len() >= ihl + 2 {
        s.push_str(&format!(" icmp {}/{}", ip[ihl], ip[ihl + 1]));
    }
    s.push_str(&format!(", frame {} bytes", frame.len()));
    s
}

/// The frame as hex (for reports).
pub fn hex(frame: &[u8]) -> String {
    frame.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_seeded_and_well_formed_where_meant() {
        let cfg = RouterConfig::random(3);
        let a = catalogue(&cfg, 9, 1_000);
        assert_eq!(a, catalogue(&cfg, 9, 1_000));
        assert!(a.len() >= 60, "{}", a.len());
        // Strictly increasing timestamps, unique IP IDs.
        assert!(a.windows(2).all(|w| w[0].ts_nanos < w[1].ts_nanos));
        let echo = a.iter().find(|p| p.kind == "echo-server").unwrap();
        let (ip, _) = Ipv4Header::from_slice(&echo.frame[IP..]).unwrap();
        assert_eq!(ip.calc_header_checksum(), ip.header_checksum);
        assert_eq!(ip.destination, SERVER_ADDR.octets());
        let bad = a.iter().find(|p| p.kind == "bad-csum").unwrap();
        let (ip, _) = Ipv4Header::from_slice(&bad.frame[IP..]).unwrap();
        assert_ne!(ip.calc_header_checksum(), ip.header_checksum);
        let t = a.iter().find(|p| p.kind == "totlen-beyond-frame").unwrap();
        let mut f = t.frame.clone();
        let c = [f[IP + 10], f[IP + 11]];
        fix_ip_checksum(&mut f);
        assert_eq!(c, [f[IP + 10], f[IP + 11]]);
        // One source per group, except the fixed ones.
        let mut seen = std::collections::BTreeMap::new();
        for p in a.iter().filter(|p| p.frame.len() >= IP + 20) {
            let src = [p.frame[IP + 12], p.frame[IP + 13]];
            if src == [10, 200] {
                let g = seen
                    .entry(p.frame[IP + 12..IP + 16].to_vec())
                    .or_insert(p.group);
                assert_eq!(*g, p.group, "{}", p.label());
            }
        }
        assert!(summary(&echo.frame).contains("10.0.2.2"));
        assert!(summary(&[1, 2]).contains("runt"));
    }
}
