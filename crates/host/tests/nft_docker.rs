//! Docker 29's nftables ruleset (fixtures/netfilter/docker29-default-bridge.json)
//! on the Docker host of fixtures/hosts/docker-forwarding-on.toml: what a
//! container sends out is accepted by its bridge's "OUTGOING" rule, what
//! comes in for an unpublished port is dropped by "UNPUBLISHED PORT DROP".

use std::net::Ipv4Addr;
use std::path::Path;

use fwdsim_kernel::Netns;
use fwdsim_kernel::SkbDropReason;
use fwdsim_kernel::core::dev::{Verdict, netif_receive_skb};
use fwdsim_kernel::netfilter::Netfilter;
use fwdsim_kernel::netfilter::core::{NfEventKind, NfVerdict};
use fwdsim_kernel::trace::NoTrace;

fn root(p: &str) -> String {
    format!("{}/../../{p}", env!("CARGO_MANIFEST_DIR"))
}

fn docker_host() -> Netns {
    let mut ns =
        fwdsim_host::load_host(Path::new(&root("fixtures/hosts/docker-forwarding-on.toml")))
            .unwrap();
    let text =
        std::fs::read_to_string(root("fixtures/netfilter/docker29-default-bridge.json")).unwrap();
    let (nft, _) = fwdsim_host::nft_json::load_nft_json(Path::new("nft.json"), &text, &[]).unwrap();
    let mut nf = Netfilter {
        nft,
        ..Default::default()
    };
    nf.register_hooks();
    ns.nf = Some(Box::new(nf));
    ns
}

fn udp(dst_mac: [u8; 6], src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], dst_mac)
        .ipv4(src.octets(), dst.octets(), 64)
        .udp(40000, 5000);
    let mut out = Vec::new();
    b.write(&mut out, &[0u8; 12]).unwrap();
    out
}

fn rule_counter(ns: &Netns, chain: &str, handle: u64) -> u64 {
    let t = &ns.nf.as_ref().unwrap().nft[0];
    let c = &t.chains[t.chain_index(chain).unwrap()];
    c.rules
        .iter()
        .find(|r| r.handle == handle)
        .unwrap()
        .counters
        .pcnt
}

#[test]
fn container_traffic_out_is_accepted_by_outgoing() {
    let mut ns = docker_host();
    let docker0 = ns.dev_by_name("docker0").unwrap();
    let (ifindex, mac) = (docker0.ifindex, docker0.dev_addr);
    let mut f = udp(
        mac,
        "172.17.0.2".parse().unwrap(),
        "8.8.8.8".parse().unwrap(),
    );
    let o = netif_receive_skb(&mut ns, &mut f, ifindex, &mut NoTrace);
    assert_eq!((o.verdict, o.drop_reason), (Verdict::Forward, None));
    // filter-forward-out__docker0's `counter accept comment "OUTGOING"`.
    assert_eq!(rule_counter(&ns, "filter-forward-out__docker0", 25), 1);
    assert_eq!(rule_counter(&ns, "filter-forward-in__docker0", 23), 0);
}

#[test]
fn unpublished_port_from_outside_is_dropped() {
    let mut ns = docker_host();
    let eth0 = ns.dev_by_name("eth0").unwrap();
    let (ifindex, mac) = (eth0.ifindex, eth0.dev_addr);
    let mut f = udp(
        mac,
        "10.0.2.2".parse().unwrap(),
        "172.17.0.2".parse().unwrap(),
    );
    let o = netif_receive_skb(&mut ns, &mut f, ifindex, &mut NoTrace);
    assert_eq!(
        (o.verdict, o.drop_reason),
        (Verdict::Drop, Some(SkbDropReason::NETFILTER_DROP))
    );
    assert_eq!(rule_counter(&ns, "filter-forward-in__docker0", 23), 1);
    let nf = ns.nf.as_ref().unwrap();
    let t = &nf.nft[0];
    let chain = t.chain_index("filter-forward-in__docker0").unwrap() as u16;
    assert!(nf.trail.events().any(|e| e.kind
        == NfEventKind::NftRule {
            table: 0,
            chain,
            rule: 2,
            verdict: NfVerdict::Drop
        }));
}
