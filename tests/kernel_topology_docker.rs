//! Issue 8: the Docker default bridge as a topology (container — veth —
//! docker0 and eth0 — uplink), built for real by `fwdsim_lab::docker` and
//! in the model (`fwdsim_kernel::topology`) from the same addresses, MACs
//! and Docker 28's rules: the container's own ping of 8.8.8.8 crosses the
//! veth, the bridge (with `bridge-nf-call-iptables = 1`), the host's
//! forwarding and MASQUERADE, and the uplink answers. Compared with the
//! kernel: whether the echo reply comes back, and every namespace's SNMP
//! deltas, with forwarding on and off, and with ARP across the links.
//!
//! Needs root; without namespaces it skips with the reason, under
//! `CI=true` it fails.

use std::net::Ipv4Addr;
use std::time::Duration;

use fwdsim_kernel::Netns;
use fwdsim_kernel::core::neighbour::{Neighbour, NudState};
use fwdsim_kernel::ipv4::devinet::{IfaFlags, InIfaddr};
use fwdsim_kernel::netns::{DevKind, NetDevice, NexthopSpec, RouteSpec};
use fwdsim_kernel::topology::{StackProto, StackSend, Topology, explain};
use fwdsim_kernel::uapi::{DevFlags, LinkType, RouteType, RtScope, RtnhFlags};
use fwdsim_lab::docker::{self, CTR, DockerLab, PORT, REMOTE};
use fwdsim_lab::nflab::{self, PingResult};
use fwdsim_lab::packet::snmp;

const CTR_MAC: [u8; 6] = [0x02, 0x42, 0xac, 0x11, 0x00, 0x02];
const BRIDGE_MAC: [u8; 6] = [0x02, 0x42, 0xac, 0x11, 0x00, 0x01];
const HOST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const GW_MAC: [u8; 6] = [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02];

fn add_dev(ns: &mut Netns, name: &str, mac: [u8; 6], kind: DevKind) -> fwdsim_kernel::IfIndex {
    let ifindex = ns.next_ifindex();
    ns.register_netdev(NetDevice {
        name: name.into(),
        ifindex,
        flags: DevFlags(
            DevFlags::IFF_UP.0
                | DevFlags::IFF_BROADCAST.0
                | DevFlags::IFF_MULTICAST.0
                | DevFlags::IFF_LOWER_UP.0,
        ),
        mtu: 1500,
        dev_addr: mac,
        broadcast: [0xff; 6],
        link_type: LinkType::Ether,
        group: 0,
        carrier: true,
        ip_ptr: None,
        kind,
        master: None,
        brport: None,
    })
    .unwrap()
}

fn add_addr(ns: &mut Netns, dev: fwdsim_kernel::IfIndex, a: Ipv4Addr, len: u8) {
    ns.inet_insert_ifa(
        dev,
        InIfaddr {
            ifa_local: a,
            ifa_address: a,
            ifa_prefixlen: len,
            ifa_broadcast: Ipv4Addr::UNSPECIFIED,
            ifa_scope: RtScope::RT_SCOPE_UNIVERSE,
            ifa_flags: IfaFlags::IFA_F_PERMANENT,
            ifa_label: None,
            ifa_rt_priority: 0,
        },
        true,
    )
    .unwrap();
}

fn permanent(ns: &mut Netns, dev: fwdsim_kernel::IfIndex, ip: Ipv4Addr, mac: [u8; 6]) {
    ns.neigh
        .push(Neighbour::new(dev, ip, Some(mac), NudState::NUD_PERMANENT));
}

/// The lab in the model: the host from fixtures/hosts/docker-28.toml with
/// docker0 made a bridge and the container's veth its port.
fn model(toml: &str, forwarding: bool, arp: bool) -> Topology {
    let mut host = fwdsim_host::load_toml_str(toml, "docker-28.toml").unwrap();
    let br = host.dev_by_name("docker0").unwrap().ifindex;
    host.dev_mut(br).unwrap().kind = DevKind::Bridge(Box::default());
    let port = add_dev(
        &mut host,
        PORT,
        [0x9a, 0, 0, 0, 0, 1],
        DevKind::Veth { peer: None },
    );
    host.br_add_if(br, port).unwrap();
    if let Some(nf) = host.nf.as_mut() {
        nf.sysctl.bridge_nf_call_iptables = Some(true);
    }
    if !forwarding {
        host.sysctl_write("net.ipv4.ip_forward", 0).unwrap();
    }
    if arp {
        host.neigh.clear();
    }

    let mut ctr = Netns::with_loopback();
    ctr.fib_default_rules_init();
    let eth0 = add_dev(&mut ctr, "eth0", CTR_MAC, DevKind::Veth { peer: None });
    add_addr(&mut ctr, eth0, CTR, 16);
    let mut def = RouteSpec::new(RouteType::RTN_UNICAST, Ipv4Addr::UNSPECIFIED, 0);
    def.nexthops.push(NexthopSpec {
        gw: Some(Ipv4Addr::new(172, 17, 0, 1)),
        dev: Some(eth0),
        weight: 1,
        flags: RtnhFlags(0),
    });
    ctr.fib_table_insert(&def, false).unwrap();
    if !arp {
        permanent(&mut ctr, eth0, Ipv4Addr::new(172, 17, 0, 1), BRIDGE_MAC);
    }

    let mut uplink = Netns::with_loopback();
    uplink.fib_default_rules_init();
    let eth0 = add_dev(&mut uplink, "eth0", GW_MAC, DevKind::Veth { peer: None });
    add_addr(&mut uplink, eth0, Ipv4Addr::new(10, 0, 2, 2), 24);
    add_addr(
        &mut uplink,
        fwdsim_kernel::netns::LOOPBACK_IFINDEX,
        REMOTE,
        32,
    );
    if !arp {
        permanent(&mut uplink, eth0, Ipv4Addr::new(10, 0, 2, 15), HOST_MAC);
    }

    Topology::build(
        [
            ("ctr".to_string(), ctr),
            ("host".to_string(), host),
            ("uplink".to_string(), uplink),
        ],
        &[
            ("ctr", "eth0", "host", PORT),
            ("host", "eth0", "uplink", "eth0"),
        ],
    )
    .unwrap()
}

#[test]
fn docker_topology_ping_matches_the_kernel() {
    let test = "kernel_topology_docker::docker_topology_ping_matches_the_kernel";
    if !nflab::require(test) {
        return;
    }
    let _guard = crate::KFREE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let toml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/hosts/docker-28.toml"
    ))
    .expect("fixtures/hosts/docker-28.toml");
    let rules = docker::docker_rules(&toml).unwrap();
    let (id, seq, len) = (0x5a17, 3, 48);
    // (forwarding, ARP): the lab's neighbours are permanent; with `arp`
    // they are flushed, and every namespace asks across the links.
    for (forwarding, arp) in [(true, false), (false, false), (true, true)] {
        let lab = DockerLab::build(&rules).unwrap();
        if !forwarding {
            lab.host.sysctl(&[("net.ipv4.ip_forward", "0")]).unwrap();
        }
        if arp {
            for ns in [&lab.ctr, &lab.host, &lab.uplink] {
                ns.ip(&["neigh", "flush", "all", "nud", "all"]).unwrap();
                let left = ns.ip(&["neigh", "show", "nud", "permanent"]).unwrap();
                assert!(left.trim().is_empty(), "{left}");
            }
        }
        // The new bridge's IGMP reports, and those a change of forwarding
        // sends (1 s apart at most), before the counters are read.
        nflab::settle(
            &lab.host,
            Duration::from_millis(1500),
            Duration::from_secs(8),
        )
        .unwrap();
        let nss = [
            ("ctr", &lab.ctr),
            ("host", &lab.host),
            ("uplink", &lab.uplink),
        ];
        let before: Vec<_> = nss
            .iter()
            .map(|(_, ns)| nflab::proc_counters(ns).unwrap())
            .collect();
        let r = nflab::ping(&lab.ctr, REMOTE, id, seq, len, Duration::from_secs(1)).unwrap();
        let kernel: Vec<_> = nss
            .iter()
            .zip(&before)
            .map(|((_, ns), b)| snmp::compared(&snmp::delta(b, &nflab::proc_counters(ns).unwrap())))
            .collect();

        let mut t = model(&toml, forwarding, arp);
        let mib0: Vec<_> = nss
            .iter()
            .map(|(name, _)| t.ns(name).unwrap().mib.clone())
            .collect();
        let req = StackSend::new(
            REMOTE,
            StackProto::IcmpEcho {
                id,
                seq,
                payload_len: len as u16,
            },
        );
        let p = t.send_from_stack("ctr", &req, 0).unwrap();
        t.run();
        let o = explain::outcome(&t, p);
        let hops: Vec<String> = t.packet(p).hops.iter().map(|h| t.hop_text(h)).collect();
        let text = explain::outcome_text(&t, &o);
        assert_eq!(
            r == PingResult::Reply,
            o.reply.is_some(),
            "forwarding {forwarding}, arp {arp}: kernel {r:?}, fwdsim {text} ({hops:?})"
        );
        for (i, (name, _)) in nss.iter().enumerate() {
            let mib1 = &t.ns(name).unwrap().mib;
            let fwdsim = snmp::compared(
                &snmp::from_json(&fwdsim_render::replay::snmp_delta(&mib0[i], mib1)["snmp"])
                    .unwrap(),
            );
            assert_eq!(
                snmp::differences(&kernel[i], &fwdsim),
                Vec::<(String, i64, i64)>::new(),
                "forwarding {forwarding}, arp {arp}: {name}'s counters (kernel, fwdsim)\nkernel {}\nfwdsim {}",
                snmp::render(&kernel[i]),
                snmp::render(&fwdsim)
            );
        }
    }
}
