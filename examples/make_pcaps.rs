//! Writes the captures of fixtures/pcaps/ (run from the repository root:
//! `cargo run --example make_pcaps`). Every frame is built with etherparse,
//! with fixed addresses and timestamps, so the files are reproducible; the
//! `pcaps_are_reproducible` test checks the committed files against this.

use std::path::Path;

use etherparse::PacketBuilder;
use fwdsim_pcap::{LinkType, PcapngWriter};

const CONTAINER: [u8; 4] = [172, 17, 0, 2];
const CONTAINER_MAC: [u8; 6] = [0x02, 0x42, 0xac, 0x11, 0x00, 0x02];
/// The MAC the docker fixtures give docker0.
const DOCKER0_MAC: [u8; 6] = [0x02, 0x42, 0xac, 0x11, 0x00, 0x01];

fn udp(src: [u8; 4], dst: [u8; 4], ttl: u8, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(CONTAINER_MAC, DOCKER0_MAC)
        .ipv4(src, dst, ttl)
        .udp(sport, dport);
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, payload).expect("in memory");
    v
}

fn ping(src: [u8; 4], dst: [u8; 4], ttl: u8, seq: u16, len: usize) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(CONTAINER_MAC, DOCKER0_MAC)
        .ipv4(src, dst, ttl)
        .icmpv4_echo_request(0x1234, seq);
    let data = vec![0x42u8; len];
    let mut v = Vec::with_capacity(b.size(len));
    b.write(&mut v, &data).expect("in memory");
    v
}

fn syn(src: [u8; 4], dst: [u8; 4], dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(CONTAINER_MAC, DOCKER0_MAC)
        .ipv4(src, dst, 64)
        .tcp(40000, dport, 1000, 64240)
        .syn();
    let mut v = Vec::with_capacity(b.size(0));
    b.write(&mut v, &[]).expect("in memory");
    v
}

/// The MACs of eth0 and its gateway in the docker fixture hosts.
const ETH0_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const GW_MAC: [u8; 6] = [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02];
/// eth0's address: the masqueraded source.
const HOST: [u8; 4] = [10, 0, 2, 15];

/// The Internet's answers, from the gateway to eth0 (to the masqueraded address).
fn udp_reply(src: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(GW_MAC, ETH0_MAC)
        .ipv4(src, HOST, 58)
        .udp(sport, dport);
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, payload).expect("in memory");
    v
}

fn echo_reply(src: [u8; 4], seq: u16, len: usize) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(GW_MAC, ETH0_MAC)
        .ipv4(src, HOST, 58)
        .icmpv4_echo_reply(0x1234, seq);
    let data = vec![0x42u8; len];
    let mut v = Vec::with_capacity(b.size(len));
    b.write(&mut v, &data).expect("in memory");
    v
}

/// An echo reply the host sends out docker0 to the container (from
/// `src`: its own address, or the Internet's, forwarded).
fn reply_to_container(src: [u8; 4], seq: u16, len: usize) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(DOCKER0_MAC, CONTAINER_MAC)
        .ipv4(src, CONTAINER, if src == [172, 17, 0, 1] { 64 } else { 57 })
        .icmpv4_echo_reply(0x1234, seq);
    let data = vec![0x42u8; len];
    let mut v = Vec::with_capacity(b.size(len));
    b.write(&mut v, &data).expect("in memory");
    v
}

/// docker0's IGMPv3 membership report (224.0.0.22), as the host sends it
/// when the bridge comes up.
fn igmp_report() -> Vec<u8> {
    let b = PacketBuilder::ethernet2(DOCKER0_MAC, [0x01, 0x00, 0x5e, 0x00, 0x00, 0x16]).ipv4(
        [172, 17, 0, 1],
        [224, 0, 0, 22],
        1,
    );
    // Type 0x22, no group records (checksum over the message).
    let msg = [0x22, 0, 0xdd, 0xff, 0, 0, 0, 0];
    let mut v = Vec::with_capacity(b.size(msg.len()));
    b.write(&mut v, etherparse::IpNumber::IGMP, &msg)
        .expect("in memory");
    v
}

fn syn_ack(src: [u8; 4], sport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(GW_MAC, ETH0_MAC)
        .ipv4(src, HOST, 58)
        .tcp(sport, 40000, 7000, 65535)
        .syn()
        .ack(1001);
    let mut v = Vec::with_capacity(b.size(0));
    b.write(&mut v, &[]).expect("in memory");
    v
}

fn ack(dst: [u8; 4], dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(CONTAINER_MAC, DOCKER0_MAC)
        .ipv4(CONTAINER, dst, 64)
        .tcp(40000, dport, 1001, 64240)
        .ack(7001);
    let mut v = Vec::with_capacity(b.size(0));
    b.write(&mut v, &[]).expect("in memory");
    v
}

/// A TCP SYN from the Internet (through the gateway) to one of the host's
/// ports on eth0.
fn syn_in(src: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(GW_MAC, ETH0_MAC)
        .ipv4(src, HOST, 58)
        .tcp(sport, dport, 5000, 64240)
        .syn();
    let mut v = Vec::with_capacity(b.size(0));
    b.write(&mut v, &[]).expect("in memory");
    v
}

fn fix_csum(f: &mut [u8]) {
    let ihl = (f[14] & 0xf) as usize * 4;
    f[24] = 0;
    f[25] = 0;
    let mut sum: u32 = 0;
    for c in f[14..14 + ihl].chunks(2) {
        sum += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    f[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

fn write(name: &str, frames: &[(u64, Vec<u8>)]) {
    let frames: Vec<(u64, u32, Vec<u8>)> = frames.iter().map(|(t, f)| (*t, 0, f.clone())).collect();
    write_on(name, &["docker0"], &frames);
}

/// Writes `frames` (milliseconds, interface index, bytes) with one pcapng
/// interface per name in `ifaces`.
fn write_on(name: &str, ifaces: &[&str], frames: &[(u64, u32, Vec<u8>)]) {
    let path = Path::new("fixtures/pcaps").join(name);
    let mut w = PcapngWriter::create(&path).expect("create");
    for i in ifaces {
        w.add_interface(i, LinkType::ETHERNET).expect("interface");
    }
    for (ms, id, f) in frames {
        let ts = 1_764_115_200_000_000_000i128 + *ms as i128 * 1_000_000;
        w.write_packet(*id, ts, f).expect("write");
    }
    w.flush().expect("flush");
}

fn main() {
    let dns_query = [
        0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3,
        b'c', b'o', b'm', 0, 0, 1, 0, 1,
    ];
    // The motivating case: the container's DNS query, ping and TCP SYN.
    write(
        "docker.pcapng",
        &[
            (0, udp(CONTAINER, [8, 8, 8, 8], 64, 53000, 53, &dns_query)),
            (1000, ping(CONTAINER, [8, 8, 8, 8], 64, 1, 56)),
            (2000, syn(CONTAINER, [93, 184, 216, 34], 443)),
            (3000, ping(CONTAINER, [172, 17, 0, 1], 64, 2, 56)),
        ],
    );
    // A burst of TTL 1 packets: the time-exceeded errors are rate limited.
    write(
        "ttl-burst.pcapng",
        &(0..10)
            .map(|i| (i, ping(CONTAINER, [8, 8, 8, 8], 1, i as u16, 56)))
            .collect::<Vec<_>>(),
    );
    // A 1400-byte packet with DF toward a next hop whose MTU is 1280 (see the
    // mtu fixture host), and the same without DF.
    let mut df = ping(CONTAINER, [8, 8, 8, 8], 64, 1, 1372);
    df[20] |= 0x40;
    fix_csum(&mut df);
    let mut no_df = ping(CONTAINER, [8, 8, 8, 8], 64, 2, 1372);
    no_df[20] &= !0x40;
    fix_csum(&mut no_df);
    write("df-over-mtu.pcapng", &[(0, df), (1000, no_df)]);
    // Martian sources.
    write(
        "martians.pcapng",
        &[
            (0, ping([127, 0, 0, 1], [8, 8, 8, 8], 64, 1, 8)),
            (1000, ping([0, 0, 0, 0], [8, 8, 8, 8], 64, 2, 8)),
            (2000, ping([224, 0, 0, 5], [8, 8, 8, 8], 64, 3, 8)),
            (3000, ping([172, 17, 0, 1], [8, 8, 8, 8], 64, 4, 8)),
            (4000, ping(CONTAINER, [127, 0, 0, 1], 64, 5, 8)),
            (5000, ping(CONTAINER, [0, 0, 0, 0], 64, 6, 8)),
        ],
    );
    // A UDP datagram to the host in two fragments.
    let whole = udp(CONTAINER, [172, 17, 0, 1], 64, 53000, 9999, &[0x55; 100]);
    let ip = &whole[14..];
    let (hdr, body) = ip.split_at(20);
    let mut f1 = whole[..14].to_vec();
    f1.extend_from_slice(hdr);
    f1.extend_from_slice(&body[..64]);
    f1[16..18].copy_from_slice(&(20u16 + 64).to_be_bytes());
    f1[20..22].copy_from_slice(&0x2000u16.to_be_bytes());
    fix_csum(&mut f1);
    let mut f2 = whole[..14].to_vec();
    f2.extend_from_slice(hdr);
    f2.extend_from_slice(&body[64..]);
    f2[16..18].copy_from_slice(&(20 + body.len() as u16 - 64).to_be_bytes());
    f2[20..22].copy_from_slice(&8u16.to_be_bytes());
    fix_csum(&mut f2);
    write("fragments.pcapng", &[(0, f1), (10, f2)]);
    // Malformed headers: bad checksum, version 6, IHL 4, total length beyond
    // the frame, total length below the header, a frame for another MAC.
    let base = ping(CONTAINER, [8, 8, 8, 8], 64, 1, 8);
    let mut bad_csum = base.clone();
    bad_csum[24] ^= 0xff;
    let mut v6 = base.clone();
    v6[14] = 0x65;
    fix_csum(&mut v6);
    let mut ihl4 = base.clone();
    ihl4[14] = 0x44;
    fix_csum(&mut ihl4);
    let mut long = base.clone();
    long[16..18].copy_from_slice(&200u16.to_be_bytes());
    fix_csum(&mut long);
    let mut short = base.clone();
    short[16..18].copy_from_slice(&16u16.to_be_bytes());
    fix_csum(&mut short);
    let mut other = base.clone();
    other[..6].copy_from_slice(&[0x02, 0, 0, 0, 0x99, 0x99]);
    write(
        "malformed.pcapng",
        &[
            (0, bad_csum),
            (1, v6),
            (2, ihl4),
            (3, long),
            (4, short),
            (5, other),
        ],
    );
    // A ping to the host that asks, with a loose source route, to be sent
    // on to 8.8.8.8 (LSRR, pointer 4, then a NOP to pad the header to 28
    // bytes); accept_source_route is off by default (conf.all = 0).
    let mut lsrr = ping(CONTAINER, [172, 17, 0, 1], 64, 1, 8);
    let opts = [0x83, 7, 4, 8, 8, 8, 8, 1];
    lsrr.splice(34..34, opts);
    lsrr[14] = 0x47;
    let tot = u16::from_be_bytes([lsrr[16], lsrr[17]]) + opts.len() as u16;
    lsrr[16..18].copy_from_slice(&tot.to_be_bytes());
    fix_csum(&mut lsrr);
    write("source-route.pcapng", &[(0, lsrr)]);
    // The gateway's ARP entry is gone: the container's DNS query and ping
    // wait while the host asks for 10.0.2.2 on eth0; 1.5 s later the
    // gateway (52:55:0a:00:02:02) answers the host's eth0
    // (52:54:00:12:34:56), and a second ping goes straight out.
    let gw_mac = [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02];
    let eth0_mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    let mut answer = Vec::with_capacity(42);
    answer.extend_from_slice(&eth0_mac);
    answer.extend_from_slice(&gw_mac);
    answer.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 2]);
    answer.extend_from_slice(&gw_mac);
    answer.extend_from_slice(&[10, 0, 2, 2]);
    answer.extend_from_slice(&eth0_mac);
    answer.extend_from_slice(&[10, 0, 2, 15]);
    write_on(
        "arp-answer.pcapng",
        &["docker0", "eth0"],
        &[
            (
                0,
                0,
                udp(CONTAINER, [8, 8, 8, 8], 64, 53000, 53, &dns_query),
            ),
            (500, 0, ping(CONTAINER, [8, 8, 8, 8], 64, 1, 56)),
            (1500, 1, answer),
            (2000, 0, ping(CONTAINER, [8, 8, 8, 8], 64, 2, 56)),
        ],
    );
    // The container's flows through MASQUERADE, both ways: what a capture
    // of docker0 and eth0 receives (replay it on docker-28.toml).
    let dns_answer = [
        0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 7, b'e', b'x', b'a', b'm', b'p', b'l',
        b'e', 3, b'c', b'o', b'm', 0, 0, 1, 0, 1, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4,
        93, 184, 216, 34,
    ];
    write_on(
        "docker-masquerade.pcapng",
        &["docker0", "eth0"],
        &[
            (
                0,
                0,
                udp(CONTAINER, [8, 8, 8, 8], 64, 53000, 53, &dns_query),
            ),
            (20, 1, udp_reply([8, 8, 8, 8], 53, 53000, &dns_answer)),
            (1000, 0, ping(CONTAINER, [8, 8, 8, 8], 64, 1, 56)),
            (1015, 1, echo_reply([8, 8, 8, 8], 1, 56)),
            (2000, 0, syn(CONTAINER, [93, 184, 216, 34], 443)),
            (2030, 1, syn_ack([93, 184, 216, 34], 443)),
            (2031, 0, ack([93, 184, 216, 34], 443)),
        ],
    );
    // The DNS answer alone, for a connection the host's conntrack already
    // had when the capture started (replay it with --conntrack).
    write_on(
        "docker-answer-only.pcapng",
        &["eth0"],
        &[(0, 0, udp_reply([8, 8, 8, 8], 53, 53000, &dns_answer))],
    );
    // A client on the Internet opens connections to the host's eth0
    // address: port 8080 (published by a container, DNAT to 172.17.0.2:80)
    // and port 22 (denied by ufw on docker-ufw/).
    write_on(
        "published-port.pcapng",
        &["eth0"],
        &[
            (0, 0, syn_in([203, 0, 113, 7], 50000, 8080)),
            (1000, 0, syn_in([203, 0, 113, 7], 50001, 22)),
        ],
    );
    // What `tcpdump -i docker0` records: both directions, without
    // direction marks (the host's own frames have docker0's source MAC).
    write(
        "docker0-both-ways.pcapng",
        &[
            (0, igmp_report()),
            (1000, ping(CONTAINER, [172, 17, 0, 1], 64, 1, 56)),
            (1001, reply_to_container([172, 17, 0, 1], 1, 56)),
            (2000, ping(CONTAINER, [8, 8, 8, 8], 64, 2, 56)),
            (2015, reply_to_container([8, 8, 8, 8], 2, 56)),
        ],
    );
}
