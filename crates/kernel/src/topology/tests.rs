//! Topologies built in code, each asserting every packet's hops: the
//! Docker default bridge (container — veth — host's docker0 and eth0 —
//! uplink), and the bridge's own rules (learning, ageing, flooding, local
//! delivery, port states, hairpin, isolation, br_netfilter and physdev).

use std::net::Ipv4Addr;

use super::*;
use crate::bridge::{BrPortFlags, BrPortState, NetBridge};
use crate::netfilter::tests::{chain, entry, table, with_tables};
use crate::netfilter::xtables::ip_tables::*;
use crate::netns::DevKind;
use crate::testutil::HostBuilder;
use crate::uapi::RouteType;

const CTR_MAC: [u8; 6] = [0x02, 0x42, 0xac, 0x11, 0x00, 0x02];
const CTR2_MAC: [u8; 6] = [0x02, 0x42, 0xac, 0x11, 0x00, 0x03];
const DOCKER0_MAC: [u8; 6] = [0x02, 0x42, 0x8e, 0x00, 0x00, 0x01];
const VETH_MAC: [u8; 6] = [0x9a, 0x00, 0x00, 0x00, 0x00, 0x01];
const VETH2_MAC: [u8; 6] = [0x9a, 0x00, 0x00, 0x00, 0x00, 0x02];
const HOST_ETH0_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const UPLINK_MAC: [u8; 6] = [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02];

/// Adds a device with `mac` and `kind`, with `addr` unless empty.
fn dev(b: HostBuilder, name: &str, mac: [u8; 6], kind: DevKind, addr: &str) -> HostBuilder {
    let mut b = b.dev(name, "");
    let i = b.ns.dev_by_name(name).unwrap().ifindex;
    let d = b.ns.dev_mut(i).unwrap();
    d.dev_addr = mac;
    d.kind = kind;
    if !addr.is_empty() {
        b = b.addr(name, addr);
    }
    b
}

fn veth() -> DevKind {
    DevKind::Veth { peer: None }
}

fn default_via(b: HostBuilder, gw: &str, dev: &str) -> HostBuilder {
    b.route(
        RouteType::RTN_UNICAST,
        "0.0.0.0/0",
        Some(gw),
        Some(dev),
        254,
        0,
        0,
    )
}

fn container(mac: [u8; 6], addr: &str) -> Netns {
    let b = dev(HostBuilder::new(), "eth0", mac, veth(), addr);
    default_via(b, "172.17.0.1", "eth0").build()
}

/// The host: docker0 (172.17.0.1/16) with port `veth0` (and `veth1` when
/// `two`), eth0 10.0.2.15/24 default via 10.0.2.2.
fn host(ip_forward: bool, two: bool) -> Netns {
    let mut b = dev(
        HostBuilder::new(),
        "docker0",
        DOCKER0_MAC,
        DevKind::Bridge(Box::default()),
        "172.17.0.1/16",
    );
    b = dev(b, "veth0", VETH_MAC, veth(), "");
    if two {
        b = dev(b, "veth1", VETH2_MAC, veth(), "");
    }
    b = dev(b, "eth0", HOST_ETH0_MAC, DevKind::Ether, "10.0.2.15/24");
    b = default_via(b, "10.0.2.2", "eth0");
    if ip_forward {
        b = b.sysctl("net.ipv4.ip_forward", 1);
    }
    let mut ns = b.build();
    let br = ns.dev_by_name("docker0").unwrap().ifindex;
    for p in ["veth0", "veth1"] {
        if let Some(d) = ns.dev_by_name(p) {
            let i = d.ifindex;
            ns.br_add_if(br, i).unwrap();
        }
    }
    ns
}

/// The uplink router 10.0.2.2/24 with 8.8.8.8 on lo.
fn uplink() -> Netns {
    let b = dev(
        HostBuilder::new(),
        "eth0",
        UPLINK_MAC,
        DevKind::Ether,
        "10.0.2.2/24",
    );
    b.addr("lo", "8.8.8.8/32").build()
}

/// Docker's `-t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE`.
fn masquerade(ns: Netns, filter: Option<IptTable>) -> Netns {
    let ip = IptIp {
        src: Some(("172.17.0.0/16".parse().unwrap(), false)),
        outiface: Some(IfaceMatch {
            name: "docker0".into(),
            wildcard: false,
            invert: true,
        }),
        ..Default::default()
    };
    let nat = table(
        TableName::Nat,
        vec![
            chain("PREROUTING", Some(Policy::Accept), vec![]),
            chain("INPUT", Some(Policy::Accept), vec![]),
            chain("OUTPUT", Some(Policy::Accept), vec![]),
            chain(
                "POSTROUTING",
                Some(Policy::Accept),
                vec![entry(
                    1,
                    "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
                    ip,
                    vec![],
                    XtTarget::Masquerade(NatRange::default()),
                )],
            ),
        ],
    );
    let mut tables = vec![nat];
    tables.extend(filter);
    with_tables(ns, tables)
}

fn docker(ip_forward: bool, masq: bool) -> Topology {
    let mut h = host(ip_forward, false);
    if masq {
        h = masquerade(h, None);
    }
    let mut t = Topology::new();
    t.add_netns("ctr", container(CTR_MAC, "172.17.0.2/16"))
        .unwrap();
    t.add_netns("host", h).unwrap();
    t.add_netns("uplink", uplink()).unwrap();
    t.link("ctr", "eth0", "host", "veth0").unwrap();
    t.link("host", "eth0", "uplink", "eth0").unwrap();
    t
}

fn ping(t: &mut Topology, from: &str, dst: &str) -> PacketId {
    let req = StackSend::new(dst.parse().unwrap(), StackProto::echo(7, 1));
    t.send_from_stack(from, &req, 0).unwrap()
}

fn hops(t: &Topology, p: PacketId) -> Vec<String> {
    t.packet(p).hops.iter().map(|h| t.hop_text(h)).collect()
}

/// The first reply (not ARP) to `p`.
fn reply(t: &Topology, p: PacketId) -> PacketId {
    t.replies_to(p).find(|r| !r.is_arp()).expect("a reply").id
}

#[test]
fn container_ping_reaches_8_8_8_8_with_forwarding_and_masquerade() {
    let mut t = docker(true, true);
    let p = ping(&mut t, "ctr", "8.8.8.8");
    t.run();
    assert_eq!(
        hops(&t, p),
        [
            "ctr/eth0 queued",
            "ctr/eth0 sent",
            "host/veth0 bridged",
            "host/docker0 forward",
            "host/eth0 queued",
            "host/eth0 sent",
            "uplink/eth0 local",
        ]
    );
    let r = reply(&t, p);
    assert_eq!(
        hops(&t, r),
        [
            "uplink/eth0 sent",
            "host/eth0 forward",
            "host/docker0 sent",
            "host/veth0 sent",
            "ctr/eth0 local",
        ]
    );
    // The reply left the uplink to the masqueraded address and came back
    // de-NATed to the container.
    let f = &t.packet(r).frame;
    assert_eq!(&f[30..34], &[10, 0, 2, 15]);
    assert_eq!(t.packet(r).origin, PacketOrigin::Reply);
    // The host learned the container's MAC behind veth0.
    let br = t.ns("host").unwrap().dev_by_name("docker0").unwrap();
    let e = br
        .bridge()
        .unwrap()
        .fdb
        .iter()
        .find(|e| e.addr == CTR_MAC)
        .unwrap();
    let veth0 = t.ns("host").unwrap().dev_by_name("veth0").unwrap().ifindex;
    assert_eq!(e.dst, Some(veth0));
    // ARP went both ways: ctr asked for 172.17.0.1, host for 10.0.2.2.
    let arps: Vec<_> = t.packets().iter().filter(|p| p.is_arp()).collect();
    assert_eq!(arps.len(), 4, "two requests and two replies");
    assert_eq!(
        hops(&t, arps[0].id),
        ["ctr/eth0 sent", "host/veth0 bridged", "host/docker0 local"]
    );
    assert_eq!(
        hops(&t, arps[1].id),
        ["host/docker0 sent", "host/veth0 sent", "ctr/eth0 local"]
    );
}

#[test]
fn container_ping_without_forwarding_dies_in_ip_error() {
    let mut t = docker(false, true);
    let p = ping(&mut t, "ctr", "8.8.8.8");
    t.run();
    assert_eq!(
        hops(&t, p),
        [
            "ctr/eth0 queued",
            "ctr/eth0 sent",
            "host/veth0 bridged",
            "host/docker0 drop IP_INADDRERRORS",
        ]
    );
    assert_eq!(t.ns("host").unwrap().mib.ip.InAddrErrors, 1);
    // ip_error sends no ICMP when the device does not forward: ping
    // just times out.
    assert!(t.replies_to(p).all(|r| r.is_arp()));
}

#[test]
fn container_ping_without_masquerade_gets_no_reply() {
    let mut t = docker(true, false);
    let p = ping(&mut t, "ctr", "8.8.8.8");
    t.run();
    assert_eq!(t.packet(p).last().unwrap().verdict, HopVerdict::Local);
    // The uplink has no route back to 172.17.0.2: no reply is sent.
    assert!(t.replies_to(p).all(|r| r.is_arp()));
}

#[test]
fn ping_of_the_bridge_address_is_delivered_up_the_bridge() {
    let mut t = docker(false, false);
    let p = ping(&mut t, "ctr", "172.17.0.1");
    t.run();
    assert_eq!(
        hops(&t, p),
        [
            "ctr/eth0 queued",
            "ctr/eth0 sent",
            "host/veth0 bridged",
            "host/docker0 local"
        ]
    );
    let r = reply(&t, p);
    assert_eq!(
        hops(&t, r),
        ["host/docker0 sent", "host/veth0 sent", "ctr/eth0 local"]
    );
}

#[test]
fn udp_gets_port_unreachable_and_tcp_a_reset() {
    let mut t = docker(false, false);
    let req = StackSend::new(
        "172.17.0.1".parse().unwrap(),
        StackProto::Udp {
            sport: 40000,
            dport: 53,
            payload_len: 10,
        },
    );
    let u = t.send_from_stack("ctr", &req, 0).unwrap();
    t.run();
    assert_eq!(t.packet(u).last().unwrap().verdict, HopVerdict::Drop);
    assert_eq!(
        t.packet(u).last().unwrap().drop_reason,
        Some(SkbDropReason::NO_SOCKET)
    );
    let r = reply(&t, u);
    assert_eq!(t.hop_text(t.packet(r).last().unwrap()), "ctr/eth0 local");
    assert_eq!((t.packet(r).frame[34], t.packet(r).frame[35]), (3, 3));
    let req = StackSend::new(
        "172.17.0.1".parse().unwrap(),
        StackProto::TcpSyn {
            sport: 40001,
            dport: 80,
            seq: 1,
        },
    );
    let s = t.send_from_stack("ctr", &req, 1).unwrap();
    t.run();
    // The neighbour is known now: no ARP, no queue.
    assert_eq!(
        hops(&t, s),
        [
            "ctr/eth0 sent",
            "host/veth0 bridged",
            "host/docker0 drop NO_SOCKET"
        ]
    );
    let r = reply(&t, s);
    assert_eq!(
        hops(&t, r),
        ["host/docker0 sent", "host/veth0 sent", "ctr/eth0 local"]
    );
    assert_eq!(t.packet(r).frame[47] & 0x04, 0x04, "a reset");
}

/// Two containers on docker0.
fn two_containers(host_ns: Netns) -> Topology {
    let mut t = Topology::new();
    t.add_netns("ctr", container(CTR_MAC, "172.17.0.2/16"))
        .unwrap();
    t.add_netns("ctr2", container(CTR2_MAC, "172.17.0.3/16"))
        .unwrap();
    t.add_netns("host", host_ns).unwrap();
    t.link("ctr", "eth0", "host", "veth0").unwrap();
    t.link("ctr2", "eth0", "host", "veth1").unwrap();
    t
}

#[test]
fn container_to_container_floods_then_forwards_to_the_learned_port() {
    let mut t = two_containers(host(false, true));
    let p = ping(&mut t, "ctr", "172.17.0.3");
    t.run();
    // ctr's ARP request (broadcast) is flooded to veth1 and goes up.
    let arp = t.packets().iter().find(|p| p.is_arp()).unwrap().id;
    assert_eq!(
        hops(&t, arp),
        [
            "ctr/eth0 sent",
            "host/veth0 bridged",
            "host/docker0 local",
            "host/veth1 sent",
            "ctr2/eth0 local"
        ]
    );
    // The request itself: the bridge knows ctr2's MAC from its ARP reply.
    assert_eq!(
        hops(&t, p),
        [
            "ctr/eth0 queued",
            "ctr/eth0 sent",
            "host/veth0 bridged",
            "host/veth1 sent",
            "ctr2/eth0 local"
        ]
    );
    let r = reply(&t, p);
    assert_eq!(
        hops(&t, r),
        [
            "ctr2/eth0 sent",
            "host/veth1 bridged",
            "host/veth0 sent",
            "ctr/eth0 local"
        ]
    );
    // No IP forwarding on the host was involved.
    assert_eq!(t.ns("host").unwrap().mib.ip.ForwDatagrams, 0);
}

/// The host's bridge, alone: frames injected on its ports.
fn bridge_only(two: bool) -> Topology {
    let mut t = Topology::new();
    t.add_netns("host", host(false, two)).unwrap();
    t
}

fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(&[0u8; 46]);
    f
}

fn fdb(t: &Topology) -> Vec<([u8; 6], Option<IfIndex>)> {
    let ns = t.ns("host").unwrap();
    let b: &NetBridge = ns.dev_by_name("docker0").unwrap().bridge().unwrap();
    b.fdb.iter().map(|e| (e.addr, e.dst)).collect()
}

const OTHER: [u8; 6] = [0x02, 0, 0, 0, 0, 0x99];
/// An EtherType nobody handles, so the host's copy is visibly refused.
const ETH_P_TEST: u16 = 0x88b5;

#[test]
fn fdb_learning_and_ageing() {
    let mut t = bridge_only(true);
    let (v0, v1) = {
        let ns = t.ns("host").unwrap();
        (
            ns.dev_by_name("veth0").unwrap().ifindex,
            ns.dev_by_name("veth1").unwrap().ifindex,
        )
    };
    // Unknown destination: flooded to veth1, not to the host.
    let p = t
        .inject("host", "veth0", &eth(OTHER, CTR_MAC, ETH_P_TEST), 0)
        .unwrap();
    t.run();
    assert_eq!(
        hops(&t, p),
        ["host/veth0 bridged", "host/veth1 sent", "host/veth1 left"]
    );
    assert_eq!(fdb(&t), [(CTR_MAC, Some(v0))]);
    // A frame back to CTR_MAC from veth1 goes to veth0 alone; OTHER is learned.
    let p = t
        .inject("host", "veth1", &eth(CTR_MAC, OTHER, ETH_P_TEST), crate::HZ)
        .unwrap();
    t.run();
    assert_eq!(
        hops(&t, p),
        ["host/veth1 bridged", "host/veth0 sent", "host/veth0 left"]
    );
    assert_eq!(fdb(&t), [(CTR_MAC, Some(v0)), (OTHER, Some(v1))]);
    // CTR_MAC moves when it shows up on veth1.
    t.inject(
        "host",
        "veth1",
        &eth(OTHER, CTR_MAC, ETH_P_TEST),
        2 * crate::HZ,
    )
    .unwrap();
    t.run();
    assert_eq!(fdb(&t), [(CTR_MAC, Some(v1)), (OTHER, Some(v1))]);
    // OTHER to CTR_MAC on veth1: both behind veth1, no hairpin: dropped.
    let p = t
        .inject(
            "host",
            "veth1",
            &eth(CTR_MAC, OTHER, ETH_P_TEST),
            3 * crate::HZ,
        )
        .unwrap();
    t.run();
    assert_eq!(hops(&t, p), ["host/veth1 drop NOT_SPECIFIED"]);
    // 300 s after the last frame from OTHER (at 3 s) it ages out, CTR_MAC
    // (last seen at 2 s) too: the next frame is flooded again.
    let at = 3 * crate::HZ + crate::bridge::BR_DEFAULT_AGEING_TIME;
    let p = t
        .inject(
            "host",
            "veth0",
            &eth(OTHER, [2, 0, 0, 0, 0, 0x77], ETH_P_TEST),
            at,
        )
        .unwrap();
    t.run();
    assert_eq!(
        hops(&t, p),
        ["host/veth0 bridged", "host/veth1 sent", "host/veth1 left"]
    );
    assert_eq!(fdb(&t), [([2, 0, 0, 0, 0, 0x77], Some(v0))]);
    // A static entry does not age.
    let br = t
        .ns("host")
        .unwrap()
        .dev_by_name("docker0")
        .unwrap()
        .ifindex;
    crate::bridge::br_fdb::br_fdb_add(
        t.ns_mut("host").unwrap(),
        br,
        OTHER,
        Some(v1),
        crate::bridge::FdbFlags::BR_FDB_STATIC,
    )
    .unwrap();
    let p = t
        .inject(
            "host",
            "veth0",
            &eth(OTHER, CTR_MAC, ETH_P_TEST),
            at + 10 * crate::bridge::BR_DEFAULT_AGEING_TIME,
        )
        .unwrap();
    t.run();
    assert_eq!(
        hops(&t, p),
        ["host/veth0 bridged", "host/veth1 sent", "host/veth1 left"]
    );
    assert!(fdb(&t).contains(&(OTHER, Some(v1))));
}

#[test]
fn broadcast_goes_to_every_other_port_and_up() {
    let mut t = bridge_only(true);
    let p = t
        .inject("host", "veth0", &eth([0xff; 6], CTR_MAC, ETH_P_TEST), 0)
        .unwrap();
    t.run();
    // The host's copy finds no protocol; veth1's copy left: bridged.
    assert_eq!(
        hops(&t, p),
        ["host/veth0 bridged", "host/veth1 sent", "host/veth1 left"]
    );
    assert_eq!(
        t.ns("host").unwrap().dev_stats[&t.endpoint("host", "docker0").unwrap().dev].rx_dropped,
        1
    );
    // Multicast likewise; with BR_MCAST_FLOOD off on veth1 only the host gets it.
    let v1 = t.endpoint("host", "veth1").unwrap().dev;
    let ns = t.ns_mut("host").unwrap();
    ns.dev_mut(v1)
        .unwrap()
        .brport
        .as_mut()
        .unwrap()
        .flags
        .set(BrPortFlags::BR_MCAST_FLOOD, false);
    let p = t
        .inject(
            "host",
            "veth0",
            &eth([0x01, 0, 0x5e, 0, 0, 1], CTR_MAC, ETH_P_TEST),
            0,
        )
        .unwrap();
    t.run();
    assert_eq!(
        hops(&t, p),
        ["host/veth0 bridged", "host/docker0 drop UNHANDLED_PROTO"]
    );
}

#[test]
fn frames_for_the_bridge_or_a_port_address_go_up() {
    let mut t = bridge_only(true);
    for dst in [DOCKER0_MAC, VETH2_MAC] {
        let p = t
            .inject("host", "veth0", &eth(dst, CTR_MAC, ETH_P_TEST), 0)
            .unwrap();
        t.run();
        assert_eq!(
            hops(&t, p),
            ["host/veth0 bridged", "host/docker0 drop UNHANDLED_PROTO"]
        );
    }
    // A source equal to the bridge's own address is not learned.
    t.inject("host", "veth0", &eth(OTHER, DOCKER0_MAC, ETH_P_TEST), 0)
        .unwrap();
    t.run();
    assert!(!fdb(&t).iter().any(|(a, _)| *a == DOCKER0_MAC));
}

#[test]
fn port_states_block_or_only_learn() {
    let mut t = bridge_only(true);
    let v0 = t.endpoint("host", "veth0").unwrap().dev;
    for (state, learns) in [
        (BrPortState::BR_STATE_BLOCKING, false),
        (BrPortState::BR_STATE_DISABLED, false),
        (BrPortState::BR_STATE_LISTENING, false),
        (BrPortState::BR_STATE_LEARNING, true),
    ] {
        let ns = t.ns_mut("host").unwrap();
        ns.dev_mut(v0).unwrap().brport.as_mut().unwrap().state = state;
        ns.dev_mut(ns.dev_by_name("docker0").unwrap().ifindex)
            .unwrap()
            .bridge_mut()
            .unwrap()
            .fdb
            .clear();
        let p = t
            .inject("host", "veth0", &eth(OTHER, CTR_MAC, ETH_P_TEST), 0)
            .unwrap();
        t.run();
        assert_eq!(
            hops(&t, p),
            ["host/veth0 drop BRIDGE_INGRESS_STP_STATE"],
            "{state:?}"
        );
        assert_eq!(!fdb(&t).is_empty(), learns, "{state:?}");
    }
    // A port that is not forwarding gets no copy of a flood.
    t.ns_mut("host")
        .unwrap()
        .dev_mut(v0)
        .unwrap()
        .brport
        .as_mut()
        .unwrap()
        .state = BrPortState::BR_STATE_BLOCKING;
    let p = t
        .inject("host", "veth1", &eth(OTHER, CTR2_MAC, ETH_P_TEST), 0)
        .unwrap();
    t.run();
    assert_eq!(hops(&t, p), ["host/veth1 drop NOT_SPECIFIED"]);
    // An invalid source MAC is refused first.
    let p = t
        .inject(
            "host",
            "veth1",
            &eth(OTHER, [0x01, 0, 0, 0, 0, 1], ETH_P_TEST),
            0,
        )
        .unwrap();
    t.run();
    assert_eq!(hops(&t, p), ["host/veth1 drop MAC_INVALID_SOURCE"]);
}

#[test]
fn hairpin_sends_back_out_of_the_ingress_port() {
    let mut t = bridge_only(false);
    let v0 = t.endpoint("host", "veth0").unwrap().dev;
    t.inject("host", "veth0", &eth(OTHER, CTR_MAC, ETH_P_TEST), 0)
        .unwrap();
    t.run();
    // CTR_MAC is behind veth0: a frame to it from veth0 is dropped...
    let p = t
        .inject("host", "veth0", &eth(CTR_MAC, OTHER, ETH_P_TEST), 0)
        .unwrap();
    t.run();
    assert_eq!(hops(&t, p), ["host/veth0 drop NOT_SPECIFIED"]);
    // ...unless veth0 is in hairpin mode.
    let ns = t.ns_mut("host").unwrap();
    ns.dev_mut(v0)
        .unwrap()
        .brport
        .as_mut()
        .unwrap()
        .flags
        .set(BrPortFlags::BR_HAIRPIN_MODE, true);
    let p = t
        .inject("host", "veth0", &eth(CTR_MAC, OTHER, ETH_P_TEST), 0)
        .unwrap();
    t.run();
    assert_eq!(
        hops(&t, p),
        ["host/veth0 bridged", "host/veth0 sent", "host/veth0 left"]
    );
}

#[test]
fn isolated_ports_do_not_talk_to_each_other() {
    let mut t = two_containers(host(false, true));
    let (v0, v1) = (
        t.endpoint("host", "veth0").unwrap().dev,
        t.endpoint("host", "veth1").unwrap().dev,
    );
    let ns = t.ns_mut("host").unwrap();
    for v in [v0, v1] {
        ns.dev_mut(v)
            .unwrap()
            .brport
            .as_mut()
            .unwrap()
            .flags
            .set(BrPortFlags::BR_ISOLATED, true);
    }
    let p = ping(&mut t, "ctr", "172.17.0.3");
    t.run();
    // The ARP request reaches the host only; nobody answers for .3.
    let arp = t.packets().iter().find(|p| p.is_arp()).unwrap().id;
    assert_eq!(
        hops(&t, arp),
        ["ctr/eth0 sent", "host/veth0 bridged", "host/docker0 local"]
    );
    assert_eq!(
        hops(&t, p),
        ["ctr/eth0 queued", "ctr/eth0 drop NEIGH_FAILED"]
    );
    // One isolated port still talks to a non-isolated one.
    let mut t = two_containers(host(false, true));
    let ns = t.ns_mut("host").unwrap();
    ns.dev_mut(v0)
        .unwrap()
        .brport
        .as_mut()
        .unwrap()
        .flags
        .set(BrPortFlags::BR_ISOLATED, true);
    let p = ping(&mut t, "ctr", "172.17.0.3");
    t.run();
    assert_eq!(
        t.hop_text(
            t.packet(p)
                .hops
                .iter()
                .find(|h| h.verdict == HopVerdict::Local)
                .unwrap()
        ),
        "ctr2/eth0 local"
    );
}

/// filter FORWARD with policy DROP and `rules`.
fn forward_drop(rules: Vec<IptEntry>) -> IptTable {
    table(
        TableName::Filter,
        vec![
            chain("INPUT", Some(Policy::Accept), vec![]),
            chain("FORWARD", Some(Policy::Drop), rules),
            chain("OUTPUT", Some(Policy::Accept), vec![]),
        ],
    )
}

fn physdev_is_bridged_accept() -> IptEntry {
    entry(
        1,
        "-A FORWARD -m physdev --physdev-is-bridged -j ACCEPT",
        IptIp::default(),
        vec![XtMatch::Physdev(PhysdevMatch {
            is_bridged: Some(true),
            ..Default::default()
        })],
        XtTarget::Accept,
    )
}

fn br_nf_host(rules: Vec<IptEntry>, call_iptables: Option<bool>) -> Netns {
    let mut h = masquerade(host(false, true), Some(forward_drop(rules)));
    h.nf.as_mut().unwrap().sysctl.bridge_nf_call_iptables = call_iptables;
    h
}

#[test]
fn br_netfilter_passes_bridged_frames_through_forward() {
    // Off (or the module not loaded): FORWARD DROP does not see bridged frames.
    for call in [None, Some(false)] {
        let mut t = two_containers(br_nf_host(vec![], call));
        let p = ping(&mut t, "ctr", "172.17.0.3");
        t.run();
        assert!(
            hops(&t, p).contains(&"ctr2/eth0 local".to_string()),
            "{call:?}"
        );
    }
    // On: the request is dropped in the bridge's FORWARD.
    let mut t = two_containers(br_nf_host(vec![], Some(true)));
    let p = ping(&mut t, "ctr", "172.17.0.3");
    t.run();
    assert_eq!(
        hops(&t, p),
        [
            "ctr/eth0 queued",
            "ctr/eth0 sent",
            "host/veth0 drop NETFILTER_DROP"
        ]
    );
    let nf = t.ns("host").unwrap().nf.as_ref().unwrap();
    assert!(nf.trail.events().any(|e| matches!(
        e.kind,
        crate::netfilter::core::NfEventKind::Policy {
            verdict: crate::netfilter::core::NfVerdict::Drop,
            ..
        }
    ) && e.hook == crate::netfilter::NfInetHook::Forward));
    // `-m physdev --physdev-is-bridged -j ACCEPT` lets it through.
    let mut t = two_containers(br_nf_host(vec![physdev_is_bridged_accept()], Some(true)));
    let p = ping(&mut t, "ctr", "172.17.0.3");
    t.run();
    assert!(hops(&t, p).contains(&"ctr2/eth0 local".to_string()));
    let r = reply(&t, p);
    assert_eq!(
        hops(&t, r),
        [
            "ctr2/eth0 sent",
            "host/veth1 bridged",
            "host/veth0 sent",
            "ctr/eth0 local"
        ]
    );
}

#[test]
fn physdev_match_follows_xt_physdev() {
    use crate::bridge::NfBridgeInfo;
    use crate::netfilter::xtables::eval::physdev_mt;
    let ns = host(false, true);
    let (v0, v1) = (
        ns.dev_by_name("veth0").unwrap().ifindex,
        ns.dev_by_name("veth1").unwrap().ifindex,
    );
    let m = |name: &str, invert: bool| IfaceMatch {
        name: name.into(),
        wildcard: name.ends_with("veth"),
        invert,
    };
    let bridged = Some(NfBridgeInfo {
        physindev: v0,
        physoutdev: v1,
        prerouting_done: true,
    });
    let up = Some(NfBridgeInfo {
        physindev: v0,
        physoutdev: IfIndex(0),
        prerouting_done: true,
    });
    let pd = |f: &dyn Fn(&mut PhysdevMatch)| {
        let mut p = PhysdevMatch::default();
        f(&mut p);
        p
    };
    let is_bridged = pd(&|p| p.is_bridged = Some(true));
    let not_bridged = pd(&|p| p.is_bridged = Some(false));
    let in_veth0 = pd(&|p| p.physindev = Some(m("veth0", false)));
    let out_veth0 = pd(&|p| p.physoutdev = Some(m("veth0", false)));
    let not_in_veth1 = pd(&|p| p.physindev = Some(m("veth1", true)));
    let out_any = pd(&|p| p.physoutdev = Some(m("veth", false)));
    for (what, pkt, want) in [
        (&is_bridged, bridged, true),
        (&is_bridged, up, false),
        (&is_bridged, None, false),
        (&not_bridged, None, true),
        (&not_bridged, up, true),
        (&in_veth0, bridged, true),
        (&in_veth0, None, false),
        (&out_veth0, bridged, false),
        // --physdev-out is not checked without an output port.
        (&out_veth0, up, true),
        (&out_any, bridged, true),
        (&not_in_veth1, bridged, true),
        (&not_in_veth1, None, true),
    ] {
        assert_eq!(physdev_mt(&ns, pkt, what), want, "{what:?} {pkt:?}");
    }
}

#[test]
fn veth_pair_inside_one_namespace_and_outside_links() {
    // A frame sent on a device with no link leaves the topology.
    let mut t = docker(true, true);
    let p = t
        .inject_sent("uplink", "eth0", &eth(OTHER, UPLINK_MAC, ETH_P_TEST), 0)
        .unwrap();
    t.run();
    assert_eq!(
        hops(&t, p),
        ["uplink/eth0 sent", "host/eth0 drop UNHANDLED_PROTO"]
    );
    let mut u = uplink();
    let i = u.dev_by_name("eth0").unwrap().ifindex;
    u.dev_mut(i).unwrap().kind = DevKind::Ether;
    let mut t = Topology::new();
    t.add_netns("u", u).unwrap();
    let p = t
        .inject_sent("u", "eth0", &eth(OTHER, UPLINK_MAC, ETH_P_TEST), 0)
        .unwrap();
    t.run();
    assert_eq!(hops(&t, p), ["u/eth0 sent", "u/eth0 left"]);
    // A veth pair whose ends are both in one namespace.
    let b = dev(
        HostBuilder::new(),
        "va",
        [2, 0, 0, 0, 0xa, 1],
        veth(),
        "10.9.0.1/24",
    );
    let mut b = dev(b, "vb", [2, 0, 0, 0, 0xa, 2], veth(), "");
    let (ia, ib) = (
        b.ns.dev_by_name("va").unwrap().ifindex,
        b.ns.dev_by_name("vb").unwrap().ifindex,
    );
    for (x, y) in [(ia, ib), (ib, ia)] {
        b.ns.dev_mut(x).unwrap().kind = DevKind::Veth {
            peer: Some(crate::netns::VethPeer {
                netns: PeerNetns::Same,
                ifindex: y,
            }),
        };
    }
    let mut t = Topology::new();
    t.add_netns("n", b.build()).unwrap();
    assert_eq!(t.link_veth_peers(), 1);
    let p = t
        .inject_sent("n", "va", &eth(OTHER, [2, 0, 0, 0, 0xa, 1], ETH_P_TEST), 0)
        .unwrap();
    t.run();
    assert_eq!(hops(&t, p), ["n/va sent", "n/vb drop UNHANDLED_PROTO"]);
    // A peer that is down drops the frame.
    let ns = t.ns_mut("n").unwrap();
    ns.dev_mut(ib).unwrap().flags.0 &= !crate::uapi::DevFlags::IFF_UP.0;
    let p = t
        .inject_sent("n", "va", &eth(OTHER, [2, 0, 0, 0, 0xa, 1], ETH_P_TEST), 0)
        .unwrap();
    t.run();
    assert_eq!(hops(&t, p), ["n/va sent", "n/vb drop NOT_SPECIFIED"]);
    let _ = Ipv4Addr::UNSPECIFIED;
}

#[test]
fn steps_are_recorded_per_hop_when_asked() {
    use crate::trace::{Check, KernelFn};
    let mut t = docker(false, true);
    t.record_steps = true;
    let p = ping(&mut t, "ctr", "8.8.8.8");
    t.run();
    let pk = t.packet(p);
    let host = t.id("host").unwrap();
    let (_, steps) = pk
        .steps
        .iter()
        .find(|(at, _)| pk.hops[*at].ns == host)
        .expect("the host's walk");
    let funcs: Vec<KernelFn> = steps.iter().map(|s| s.func).collect();
    for f in [
        KernelFn::br_handle_frame,
        KernelFn::br_handle_frame_finish,
        KernelFn::br_pass_frame_up,
        KernelFn::ip_rcv,
        KernelFn::ip_error,
    ] {
        assert!(funcs.contains(&f), "{f:?} in {funcs:?}");
    }
    assert!(
        steps
            .iter()
            .any(|s| matches!(s.check, Check::BrFdbLearn { addr, .. } if addr == CTR_MAC))
    );
    // The same run without steps gives the same hops.
    let mut u = docker(false, true);
    let q = ping(&mut u, "ctr", "8.8.8.8");
    u.run();
    assert_eq!(hops(&t, p), hops(&u, q));
    assert!(u.packet(q).steps.is_empty());
}

#[test]
fn one_host_replay_of_a_frame_on_a_bridge_port_goes_up_the_bridge() {
    use crate::core::dev::{Verdict, netif_receive_skb};
    use crate::trace::Recorder;
    let mut ns = host(false, false);
    let v0 = ns.dev_by_name("veth0").unwrap().ifindex;
    let br = ns.dev_by_name("docker0").unwrap().ifindex;
    let mut f = crate::testutil::echo_frame(DOCKER0_MAC, "172.17.0.2", "172.17.0.1", 64, 8);
    f[6..12].copy_from_slice(&CTR_MAC);
    let mut twin = ns.clone();
    let mut g = f.clone();
    let a = netif_receive_skb(&mut ns, &mut f, v0, &mut NoTrace);
    let b = netif_receive_skb(&mut twin, &mut g, v0, &mut Recorder::new());
    assert_eq!(a, b);
    assert_eq!(ns.mib, twin.mib);
    assert_eq!((a.verdict, a.dev), (Verdict::Local, br));
    assert_eq!(ns.mib.ip.InReceives, 1);
    assert_eq!(
        ns.dev_stats.get(&v0).map_or(0, |s| s.rx_otherhost_dropped),
        0
    );
    // The echo reply is sent on docker0 and, through the bridge, on veth0
    // (the host has no neighbour entry for 172.17.0.2 yet: ARP first).
    let devs: Vec<IfIndex> = ns.tx.frames.iter().map(|f| f.dev).collect();
    assert_eq!(devs, [br, v0]);
    assert_eq!(ns.tx.frames[0].kind, TxKind::Arp);
}

fn ping_start() -> Vec<Start> {
    vec![Start::Stack {
        ns: "ctr".into(),
        req: StackSend::new("8.8.8.8".parse().unwrap(), StackProto::echo(7, 1)),
        now: 0,
    }]
}

#[test]
fn explain_names_forwarding_on_the_host() {
    let e = explain::explain(&docker(false, true), &ping_start(), 0).unwrap();
    assert_eq!(
        e.text,
        "no reply: dropped on host/docker0 (IP_INADDRERRORS)"
    );
    let c = &e.counterfactuals[0];
    assert_eq!(
        (c.ns.as_str(), c.change.as_str(), c.text.as_str()),
        (
            "host",
            "net.ipv4.ip_forward = 1",
            "the reply reaches ctr after 5 hops"
        )
    );
    // docker0's forwarding alone lets the request out; the reply then
    // dies on eth0, which does not forward.
    let c = e
        .counterfactuals
        .iter()
        .find(|c| c.change == "net.ipv4.conf.docker0.forwarding = 1")
        .unwrap();
    assert_eq!(
        c.text,
        "reached uplink/eth0; the reply is dropped on host/eth0 (IP_INADDRERRORS)"
    );
}

#[test]
fn explain_adds_masquerade_where_a_private_source_leaves_without_nat() {
    let e = explain::explain(&docker(true, false), &ping_start(), 0).unwrap();
    assert_eq!(
        e.text,
        "no reply: reached uplink/eth0, which sent nothing back"
    );
    assert_eq!(e.counterfactuals.len(), 1);
    let c = &e.counterfactuals[0];
    assert_eq!(
        c.change,
        "iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"
    );
    assert_eq!(c.text, "the reply reaches ctr after 5 hops");
    // Forwarding off too: both changes, the first one let the packet further.
    let e = explain::explain(&docker(false, false), &ping_start(), 0).unwrap();
    let c = &e.counterfactuals[0];
    assert_eq!(
        c.change,
        "net.ipv4.ip_forward = 1 and host: iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"
    );
    assert!(c.outcome.reply.is_some());
}

#[test]
fn doctor_checks_the_joints_between_namespaces() {
    let mut t = docker(true, true);
    assert!(
        doctor::doctor(&t).iter().all(|f| f.dev.is_none()),
        "{:?}",
        doctor::doctor(&t)
    );
    let v0 = t.endpoint("host", "veth0").unwrap().dev;
    t.ns_mut("host")
        .unwrap()
        .dev_mut(v0)
        .unwrap()
        .brport
        .as_mut()
        .unwrap()
        .state = BrPortState::BR_STATE_BLOCKING;
    let mut c = HostBuilder::new();
    c = dev(c, "eth0", CTR2_MAC, veth(), "172.17.0.3/16");
    c = default_via(c, "172.17.0.254", "eth0");
    t.add_netns("ctr2", c.build()).unwrap();
    let mut h = t.ns("host").unwrap().clone();
    let mut b = HostBuilder { ns: h.clone() };
    b = dev(b, "veth9", VETH2_MAC, veth(), "");
    h = b.build();
    let br = h.dev_by_name("docker0").unwrap().ifindex;
    let v9 = h.dev_by_name("veth9").unwrap().ifindex;
    h.br_add_if(br, v9).unwrap();
    *t.ns_mut("host").unwrap() = h;
    t.link("ctr2", "eth0", "host", "veth9").unwrap();
    let mut u = dev(
        HostBuilder::new(),
        "eth0",
        [2, 0, 0, 0, 0x55, 1],
        veth(),
        "10.1.0.1/24",
    );
    u = u.sysctl("net.ipv4.conf.all.forwarding", 0);
    t.add_netns("lonely", u.build()).unwrap();
    let titles: Vec<String> = doctor::doctor(&t)
        .into_iter()
        .filter(|f| f.dev.is_some())
        .map(|f| format!("{}: {}", f.ns, f.title))
        .collect();
    assert_eq!(
        titles,
        [
            "host: bridge port veth0 of docker0 is blocking",
            "lonely: veth eth0 has no peer in the topology",
            "ctr2: default gateway 172.17.0.254 of ctr2 is not an address of host/docker0",
        ]
    );
}

#[test]
fn run_until_leaves_later_timers_for_later() {
    // ctr asks for 172.17.0.9, which nobody has: ARP retries every second,
    // then NEIGH_FAILED.
    let mut t = docker(false, false);
    let p = ping(&mut t, "ctr", "172.17.0.9");
    t.run_until(crate::HZ / 2);
    assert_eq!(hops(&t, p), ["ctr/eth0 queued"]);
    let asked = |t: &Topology| {
        t.packets()
            .iter()
            .filter(|p| p.is_arp() && p.hops[0].ns == t.id("ctr").unwrap())
            .count()
    };
    assert_eq!(asked(&t), 1);
    t.run_until(crate::HZ + crate::HZ / 2);
    assert_eq!(asked(&t), 2);
    t.run();
    assert_eq!(asked(&t), 3);
    assert_eq!(
        hops(&t, p),
        ["ctr/eth0 queued", "ctr/eth0 drop NEIGH_FAILED"]
    );
    assert_eq!(t.packet(p).last().unwrap().at, 3 * crate::HZ);
}

/// Checked on 6.18: an IPv4 frame for another port's address goes up to the
/// bridge with the `pkt_type` it got on the ingress port (OTHERHOST), so
/// `ip_rcv` drops it and the bridge counts it in `otherhost`; the same
/// packet for the bridge's address is answered.
#[test]
fn a_frame_for_another_ports_address_goes_up_as_otherhost() {
    let mut t = bridge_only(true);
    let mut f = crate::testutil::echo_frame(VETH2_MAC, "172.17.0.2", "172.17.0.1", 64, 16);
    f[6..12].copy_from_slice(&CTR_MAC);
    let p = t.inject("host", "veth0", &f, 0).unwrap();
    t.run();
    assert_eq!(
        hops(&t, p),
        ["host/veth0 bridged", "host/docker0 drop OTHERHOST"]
    );
    let ns = t.ns("host").unwrap();
    let br = ns.dev_by_name("docker0").unwrap().ifindex;
    assert_eq!(ns.dev_stats[&br].rx_otherhost_dropped, 1);
    assert_eq!(ns.mib.ip.InReceives, 0);
    f[0..6].copy_from_slice(&DOCKER0_MAC);
    let p = t.inject("host", "veth0", &f, 0).unwrap();
    t.run();
    assert_eq!(hops(&t, p), ["host/veth0 bridged", "host/docker0 local"]);
}

#[test]
fn why_names_the_deciding_condition_in_the_namespace_that_dropped() {
    use crate::trace::{Branch, Check, KernelFn};
    let mut t = docker(false, true);
    t.record_steps = true;
    let p = ping(&mut t, "ctr", "8.8.8.8");
    t.run();
    let (hop, step) = explain::why(&t, p).unwrap();
    assert_eq!(t.hop_text(&hop), "host/docker0 drop IP_INADDRERRORS");
    let docker0 = t.endpoint("host", "docker0").unwrap().dev;
    assert_eq!(step.func, KernelFn::ip_route_input_slow);
    assert_eq!(
        step.check,
        Check::InDevForward {
            dev: docker0,
            value: false
        }
    );
    assert_eq!(step.branch, Branch::no_route);
    // Nothing dropped: no answer.
    let mut t = docker(true, true);
    t.record_steps = true;
    let p = ping(&mut t, "ctr", "8.8.8.8");
    t.run();
    assert!(explain::why(&t, p).is_none());
}

#[test]
fn clear_packets_keeps_what_the_namespaces_learned() {
    let mut t = docker(true, true);
    ping(&mut t, "ctr", "8.8.8.8");
    // Cleared while the request still waits for ARP: its frames go on as
    // packets of their own, nothing refers to the forgotten ids.
    t.clear_packets();
    t.run();
    t.clear_packets();
    let p = ping(&mut t, "ctr", "8.8.8.8");
    t.run();
    assert_eq!(p, PacketId(0));
    // Neighbours, FDB and conntrack were kept: no ARP this time.
    assert!(t.packets().iter().all(|p| !p.is_arp()));
    assert_eq!(
        hops(&t, reply(&t, p)).last().map(String::as_str),
        Some("ctr/eth0 local")
    );
}
