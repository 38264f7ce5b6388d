//! The traffic of the netfilter suite: flows, not single frames.
//!
//! A flow is a list of [`Step`]s, each a frame from the client (into the
//! router's r0) or from the server (into r1). Client frames follow from
//! the flow's own tuple and sequence numbers. Server frames are answers,
//! built from the last frame of the flow **that reached the server**
//! (addresses and ports swapped, `ack = seq + len`), so that a NAT the
//! router applied on the way in is undone, or not, by the router itself on
//! the way back; a server step is skipped when nothing of the flow reached
//! the server (the router dropped or rejected it). The same holds the
//! other way for flows the server starts. A frame is recognised as the
//! flow's by its IP ID, which the lab gives every frame it injects and
//! which NAT keeps.
//!
//! A router runs one to three flows at once, their steps interleaved at
//! random, as real connections overlap.
//!
//! The kinds: a TCP connection (SYN, SYN-ACK, ACK, data, its ACK, then a
//! close by FIN from either side or a RST; sometimes a segment far outside
//! the window before the close), a UDP exchange, an ICMP echo
//! exchange, ICMP errors from the server quoting what it received (port
//! unreachable for UDP, host unreachable or admin prohibited for a SYN),
//! traffic to the router itself (echo, UDP and TCP to r0 or r1), a UDP
//! exchange the server starts, and INVALID packets: a bare RST, an ACK of
//! no connection (which `nf_conntrack_tcp_loose` picks up), SYN+FIN, a UDP
//! datagram with a bad checksum, an echo reply, a SYN-ACK and an ICMP
//! error from the server for nothing the client sent.

use std::net::Ipv4Addr;

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::packet::config::{BEYOND_SERVER, CLIENT_ADDR, R0_ADDR, R1_ADDR, SERVER_ADDR};
use crate::packet::lab::{CLIENT_MAC, R0_MAC, R1_MAC, SERVER_MAC};
use crate::packet::nf::pkt::{self, ACK, FIN, Ip, PSH, Pv, RST, SYN};
use crate::packet::nf::ruleset::{TCP_PORTS, TTLS, UDP_PORTS, VIP};

/// Which end a frame enters the router from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The client, into r0.
    Client,
    /// The server, into r1.
    Server,
}

impl Side {
    /// The router's device the frame enters through.
    pub fn dev(self) -> &'static str {
        match self {
            Side::Client => "r0",
            Side::Server => "r1",
        }
    }
}

/// One frame of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Client: TCP segment with these flags and payload bytes.
    CTcp(u8, usize),
    /// Client: a data segment far outside the window (sequence number a
    /// quarter of the space ahead; the flow's own sequence does not move).
    CTcpOutOfWindow,
    /// Server: TCP answer to the last segment it received, these flags and bytes.
    STcp(u8, usize),
    /// Client: UDP datagram of this many bytes.
    CUdp(usize),
    /// Client: UDP datagram with a bad checksum.
    CUdpBadCsum,
    /// Server: UDP answer to what it received.
    SUdp(usize),
    /// Client: UDP answer to what it received from the server.
    CUdpReply(usize),
    /// Server: a UDP datagram it starts (to the client's address).
    SUdpNew(usize),
    /// Client: echo request with this sequence number.
    CEcho(u16),
    /// Server: echo reply to what it received.
    SEchoReply,
    /// Server: ICMP error (type, code) quoting what it received.
    SIcmpErr(u8, u8),
    /// Server: echo reply nobody asked for.
    SEchoReplyStray,
    /// Server: SYN-ACK for no SYN.
    SSynAckStray,
    /// Server: port unreachable quoting a datagram the client never sent.
    SIcmpErrStray,
}

impl Step {
    /// The end it comes from.
    pub fn side(self) -> Side {
        match self {
            Step::CTcp(..)
            | Step::CTcpOutOfWindow
            | Step::CUdp(_)
            | Step::CUdpBadCsum
            | Step::CUdpReply(_)
            | Step::CEcho(_) => Side::Client,
            _ => Side::Server,
        }
    }

    /// A short name for reports and divergence queries.
    pub fn name(self) -> String {
        let fl = |f: u8| -> String {
            [
                (SYN, "syn"),
                (FIN, "fin"),
                (RST, "rst"),
                (PSH, "psh"),
                (ACK, "ack"),
            ]
            .iter()
            .filter(|(b, _)| f & b != 0)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join("+")
        };
        match self {
            Step::CTcp(f, _) => format!("client tcp {}", fl(f)),
            Step::CTcpOutOfWindow => "client tcp out-of-window".into(),
            Step::STcp(f, _) => format!("server tcp {}", fl(f)),
            Step::CUdp(_) => "client udp".into(),
            Step::CUdpBadCsum => "client udp bad-csum".into(),
            Step::SUdp(_) => "server udp reply".into(),
            Step::CUdpReply(_) => "client udp reply".into(),
            Step::SUdpNew(_) => "server udp new".into(),
            Step::CEcho(_) => "client echo-request".into(),
            Step::SEchoReply => "server echo-reply".into(),
            Step::SIcmpErr(t, c) => format!("server icmp-error {t}/{c}"),
            Step::SEchoReplyStray => "server stray echo-reply".into(),
            Step::SSynAckStray => "server stray syn+ack".into(),
            Step::SIcmpErrStray => "server stray icmp-error".into(),
        }
    }
}

/// One flow: its tuple as the client (or, for flows the server starts,
/// the server) sends it, its TCP state, and what each end last received.
#[derive(Clone, Debug)]
pub struct Flow {
    /// `flow 3 tcp`.
    pub label: String,
    /// The kind (`tcp`, `udp`, `echo`, `local-tcp`, `invalid-rst`...).
    pub kind: &'static str,
    /// Source as the initiator sends it.
    pub src: Ipv4Addr,
    /// Destination as the initiator sends it.
    pub dst: Ipv4Addr,
    /// Initiator's port (echo id for ICMP).
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// TTL of the client's frames.
    pub ttl: u8,
    /// Next client sequence number.
    pub c_seq: u32,
    /// Next server sequence number (its ISN until the SYN-ACK).
    pub s_seq: u32,
    /// The steps.
    pub steps: Vec<Step>,
    /// The last frame of this flow the server received.
    pub at_server: Option<Pv>,
    /// The last frame of this flow the client received.
    pub at_client: Option<Pv>,
}

fn client_src(rng: &mut StdRng) -> Ipv4Addr {
    if rng.gen_bool(0.5) {
        CLIENT_ADDR
    } else {
        Ipv4Addr::new(10, 200, rng.gen_range(0..4), rng.gen_range(1..250))
    }
}

fn remote_dst(rng: &mut StdRng) -> Ipv4Addr {
    let beyond: ipnet::Ipv4Net = BEYOND_SERVER.parse().expect("valid");
    match rng.gen_range(0..10) {
        0..=5 => SERVER_ADDR,
        6 | 7 => VIP,
        8 => R0_ADDR,
        _ => Ipv4Addr::from(u32::from(beyond.network()) + rng.gen_range(1..250)),
    }
}

/// A random flow numbered `n` (its ports are unique in the router's run).
pub fn random(rng: &mut StdRng, n: usize) -> Flow {
    let kinds: &[(u32, &str)] = &[
        (8, "tcp"),
        (5, "udp"),
        (3, "echo"),
        (2, "udp-unreach"),
        (1, "tcp-unreach"),
        (2, "local"),
        (1, "server-udp"),
        (1, "invalid-rst"),
        (1, "invalid-ack"),
        (1, "invalid-synfin"),
        (1, "invalid-udp-csum"),
        (1, "stray-echo-reply"),
        (1, "stray-synack"),
        (1, "stray-icmp-error"),
    ];
    let total: u32 = kinds.iter().map(|k| k.0).sum();
    let mut x = rng.gen_range(0..total);
    let mut kind = kinds[0].1;
    for (w, k) in kinds {
        if x < *w {
            kind = k;
            break;
        }
        x -= w;
    }
    let sport = 40000 + (n as u16) * 16 + rng.gen_range(0..16);
    let tcp_port = *TCP_PORTS.choose(rng).expect("non-empty");
    let udp_port = *UDP_PORTS.choose(rng).expect("non-empty");
    let data = rng.gen_range(1..300);
    let mut f = Flow {
        label: format!("{kind} flow {n}"),
        kind,
        src: client_src(rng),
        dst: remote_dst(rng),
        sport,
        dport: tcp_port,
        ttl: *TTLS.choose(rng).expect("non-empty"),
        c_seq: rng.r#gen(),
        s_seq: rng.r#gen(),
        steps: Vec::new(),
        at_server: None,
        at_client: None,
    };
    use Step::*;
    f.steps = match kind {
        "tcp" => {
            let mut v = vec![
                CTcp(SYN, 0),
                STcp(SYN | ACK, 0),
                CTcp(ACK, 0),
                CTcp(PSH | ACK, data),
                STcp(ACK, 0),
            ];
            if rng.gen_bool(0.25) {
                v.push(CTcpOutOfWindow);
            }
            match rng.gen_range(0..4) {
                0 => v.extend([CTcp(FIN | ACK, 0), STcp(FIN | ACK, 0), CTcp(ACK, 0)]),
                1 => v.extend([
                    STcp(PSH | ACK, 40),
                    STcp(FIN | ACK, 0),
                    CTcp(FIN | ACK, 0),
                    STcp(ACK, 0),
                ]),
                2 => v.push(STcp(RST | ACK, 0)),
                _ => v.push(CTcp(RST | ACK, 0)),
            }
            v
        }
        "udp" | "udp-unreach" => {
            f.dport = udp_port;
            let mut v = vec![CUdp(data), SUdp(rng.gen_range(0..200))];
            if kind == "udp" {
                v.extend([CUdp(20), SUdp(30)]);
            } else {
                v.extend([CUdp(20), SIcmpErr(3, 3), CUdp(10)]);
            }
            v
        }
        "echo" => {
            f.dport = 0;
            vec![CEcho(1), SEchoReply, CEcho(2), SEchoReply]
        }
        "tcp-unreach" => {
            let code = *[1u8, 13, 10].choose(rng).expect("non-empty");
            vec![CTcp(SYN, 0), SIcmpErr(3, code), CTcp(SYN, 0)]
        }
        "local" => {
            f.dst = if rng.gen_bool(0.5) { R0_ADDR } else { R1_ADDR };
            match rng.gen_range(0..3) {
                0 => {
                    f.dport = 0;
                    vec![CEcho(1), CEcho(2)]
                }
                1 => {
                    f.dport = udp_port;
                    vec![CUdp(data)]
                }
                _ => vec![CTcp(SYN, 0), CTcp(ACK, 0)],
            }
        }
        "server-udp" => {
            f.src = SERVER_ADDR;
            f.dst = if rng.gen_bool(0.7) {
                CLIENT_ADDR
            } else {
                R1_ADDR
            };
            f.dport = udp_port;
            vec![SUdpNew(data), CUdpReply(20)]
        }
        "invalid-rst" => vec![CTcp(RST, 0)],
        "invalid-ack" => vec![CTcp(ACK, 0), STcp(RST, 0)],
        "invalid-synfin" => vec![CTcp(SYN | FIN, 0)],
        "invalid-udp-csum" => {
            f.dport = udp_port;
            vec![CUdpBadCsum]
        }
        "stray-echo-reply" => vec![SEchoReplyStray],
        "stray-synack" => vec![SSynAckStray],
        _ => vec![SIcmpErrStray],
    };
    f
}

fn client_frame(ip: Ip, l4: Vec<u8>, bad: bool) -> Vec<u8> {
    pkt::frame(CLIENT_MAC, R0_MAC, &ip, l4, bad)
}

fn server_frame(ip: Ip, l4: Vec<u8>) -> Vec<u8> {
    pkt::frame(SERVER_MAC, R1_MAC, &ip, l4, false)
}

impl Flow {
    /// The frame of `step` with IP ID `id`, or `None` when it answers a
    /// frame that never arrived.
    pub fn build(&mut self, step: Step, id: u16) -> Option<Vec<u8>> {
        let cip = |proto: u8, f: &Flow| Ip {
            src: f.src,
            dst: f.dst,
            id,
            ttl: f.ttl,
            proto,
        };
        // The server's answer to `r`: addresses swapped.
        let sip = |proto: u8, r: &Pv| Ip {
            src: r.dst,
            dst: r.src,
            id,
            ttl: 64,
            proto,
        };
        let tag = id as u8;
        Some(match step {
            Step::CTcp(flags, n) => {
                let seq = self.c_seq;
                let ack = self.s_seq;
                let l4 = pkt::tcp(
                    self.sport,
                    self.dport,
                    seq,
                    ack,
                    flags,
                    &pkt::payload(n, tag),
                );
                let adv = n as u32 + u32::from(flags & (SYN | FIN) != 0);
                self.c_seq = self.c_seq.wrapping_add(adv);
                client_frame(cip(6, self), l4, false)
            }
            Step::CTcpOutOfWindow => {
                let seq = self.c_seq.wrapping_add(1 << 30);
                let l4 = pkt::tcp(
                    self.sport,
                    self.dport,
                    seq,
                    self.s_seq,
                    PSH | ACK,
                    &pkt::payload(30, tag),
                );
                client_frame(cip(6, self), l4, false)
            }
            Step::STcp(flags, n) => {
                let r = self.at_server.clone()?;
                if r.proto != 6 {
                    return None;
                }
                let ack = r.seq.wrapping_add(r.seq_len());
                let seq = if flags & RST != 0 && flags & ACK == 0 {
                    r.ack
                } else {
                    self.s_seq
                };
                let l4 = pkt::tcp(r.dport, r.sport, seq, ack, flags, &pkt::payload(n, tag));
                let adv = n as u32 + u32::from(flags & (SYN | FIN) != 0);
                self.s_seq = self.s_seq.wrapping_add(adv);
                server_frame(sip(6, &r), l4)
            }
            Step::CUdp(n) => client_frame(
                cip(17, self),
                pkt::udp(self.sport, self.dport, &pkt::payload(n, tag)),
                false,
            ),
            Step::CUdpBadCsum => client_frame(
                cip(17, self),
                pkt::udp(self.sport, self.dport, &pkt::payload(24, tag)),
                true,
            ),
            Step::SUdp(n) => {
                let r = self.at_server.clone()?;
                if r.proto != 17 {
                    return None;
                }
                server_frame(
                    sip(17, &r),
                    pkt::udp(r.dport, r.sport, &pkt::payload(n, tag)),
                )
            }
            Step::SUdpNew(n) => server_frame(
                Ip {
                    src: self.src,
                    dst: self.dst,
                    id,
                    ttl: 64,
                    proto: 17,
                },
                pkt::udp(self.sport, self.dport, &pkt::payload(n, tag)),
            ),
            Step::CUdpReply(n) => {
                let r = self.at_client.clone()?;
                if r.proto != 17 {
                    return None;
                }
                let ip = Ip {
                    src: r.dst,
                    dst: r.src,
                    id,
                    ttl: self.ttl,
                    proto: 17,
                };
                client_frame(ip, pkt::udp(r.dport, r.sport, &pkt::payload(n, tag)), false)
            }
            Step::CEcho(seq) => client_frame(
                cip(1, self),
                pkt::icmp(
                    8,
                    0,
                    pkt::echo_rest(self.sport, seq),
                    &pkt::payload(32, tag),
                ),
                false,
            ),
            Step::SEchoReply => {
                let r = self.at_server.clone()?;
                if r.icmp != Some((8, 0)) {
                    return None;
                }
                server_frame(
                    sip(1, &r),
                    pkt::icmp(0, 0, pkt::echo_rest(r.echo.0, r.echo.1), &r.data),
                )
            }
            Step::SIcmpErr(t, c) => {
                let r = self.at_server.clone()?;
                // The whole packet or, as old routers do, its header and 8 bytes.
                let q = if id.is_multiple_of(2) {
                    r.packet.len()
                } else {
                    28
                };
                let quote = &r.packet[..q.min(r.packet.len())];
                let ip = Ip {
                    src: r.dst,
                    dst: r.src,
                    id,
                    ttl: 64,
                    proto: 1,
                };
                server_frame(ip, pkt::icmp(t, c, [0; 4], quote))
            }
            Step::SEchoReplyStray => server_frame(
                Ip {
                    src: SERVER_ADDR,
                    dst: self.src,
                    id,
                    ttl: 64,
                    proto: 1,
                },
                pkt::icmp(0, 0, pkt::echo_rest(self.sport, 1), &pkt::payload(32, tag)),
            ),
            Step::SSynAckStray => server_frame(
                Ip {
                    src: SERVER_ADDR,
                    dst: self.src,
                    id,
                    ttl: 64,
                    proto: 6,
                },
                pkt::tcp(
                    self.dport,
                    self.sport,
                    self.s_seq,
                    self.c_seq,
                    SYN | ACK,
                    &[],
                ),
            ),
            Step::SIcmpErrStray => {
                let inner = pkt::frame(
                    CLIENT_MAC,
                    R0_MAC,
                    &Ip {
                        src: self.src,
                        dst: SERVER_ADDR,
                        id: id ^ 0x8000,
                        ttl: 63,
                        proto: 17,
                    },
                    pkt::udp(self.sport, 53, &pkt::payload(12, tag)),
                    false,
                );
                server_frame(
                    Ip {
                        src: SERVER_ADDR,
                        dst: self.src,
                        id,
                        ttl: 64,
                        proto: 1,
                    },
                    pkt::icmp(3, 3, [0; 4], &inner[crate::packet::frames::IP..]),
                )
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn flows_are_seeded_and_answers_need_a_frame() {
        let mut a = StdRng::seed_from_u64(1);
        let mut b = StdRng::seed_from_u64(1);
        let fa: Vec<_> = (0..50).map(|n| random(&mut a, n).steps).collect();
        let fb: Vec<_> = (0..50).map(|n| random(&mut b, n).steps).collect();
        assert_eq!(fa, fb);
        let mut f = random(&mut StdRng::seed_from_u64(2), 0);
        f.kind = "tcp";
        assert!(f.build(Step::STcp(SYN | ACK, 0), 1).is_none());
        let syn = f.build(Step::CTcp(SYN, 0), 2).unwrap();
        f.at_server = pkt::parse(&syn);
        let sa = pkt::parse(&f.build(Step::STcp(SYN | ACK, 0), 3).unwrap()).unwrap();
        let s = pkt::parse(&syn).unwrap();
        assert_eq!(
            (sa.src, sa.dst, sa.sport, sa.dport),
            (s.dst, s.src, s.dport, s.sport)
        );
        assert_eq!(sa.ack, s.seq.wrapping_add(1));
        let ack = pkt::parse(&f.build(Step::CTcp(ACK, 0), 4).unwrap()).unwrap();
        assert_eq!(ack.ack, sa.seq.wrapping_add(1));
    }
}
