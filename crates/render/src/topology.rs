//! A packet's hops across the namespaces of a topology
//! (`fwdsim_kernel::topology`): the `"hops"` array of the replay contract
//! (interfaces.md section 5: `{"ns", "dev", "verdict", "drop_reason"}` in
//! order), one line a hop, and the walk with a heading per namespace and
//! device followed by the kernel's steps there (when the topology recorded
//! them).

use std::fmt::Write;

use fwdsim_kernel::topology::{Hop, TopoPacket, Topology};
use serde_json::{Value, json};

/// One hop as the contract's JSON object.
pub fn hop_json(t: &Topology, h: &Hop) -> Value {
    json!({
        "ns": t.name(h.ns),
        "dev": t.netns(h.ns).dev_name(h.dev),
        "verdict": h.verdict.word(),
        "drop_reason": h.drop_reason.map(|r| r.name()),
    })
}

/// The packet's `"hops"` array.
pub fn hops_json(t: &Topology, p: &TopoPacket) -> Value {
    Value::Array(p.hops.iter().map(|h| hop_json(t, h)).collect())
}

/// The hops, one a line: `NS/DEV VERDICT[ REASON]`, indented by `indent`.
pub fn hops_text(t: &Topology, p: &TopoPacket, indent: &str) -> String {
    let mut s = String::new();
    for h in &p.hops {
        let _ = writeln!(s, "{indent}{}", t.hop_text(h));
    }
    s
}

/// The walk across namespaces: for each hop a heading `== NS/DEV: VERDICT
/// ==`, and under the first hop of each model call the steps it recorded
/// (`Topology::record_steps`), resolved against that namespace.
pub fn walk_text(t: &Topology, p: &TopoPacket) -> String {
    let mut s = String::new();
    for (i, h) in p.hops.iter().enumerate() {
        let _ = writeln!(s, "== {} ==", t.hop_text(h));
        for (_, steps) in p.steps.iter().filter(|(at, _)| *at == i) {
            for line in crate::trace::trace_text(t.netns(h.ns), steps).lines() {
                let _ = writeln!(s, "  {line}");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use fwdsim_kernel::ipv4::devinet::{IfaFlags, InIfaddr};
    use fwdsim_kernel::netns::{DevKind, NetDevice};
    use fwdsim_kernel::topology::{StackProto, StackSend};
    use fwdsim_kernel::uapi::{DevFlags, LinkType, RtScope};
    use fwdsim_kernel::{IfIndex, Netns};

    fn ns_with(dev: &str, mac: u8, addr: [u8; 4]) -> Netns {
        let mut ns = Netns::with_loopback();
        ns.fib_default_rules_init();
        let i = IfIndex(2);
        ns.register_netdev(NetDevice {
            name: dev.into(),
            ifindex: i,
            flags: DevFlags(DevFlags::IFF_UP.0 | DevFlags::IFF_BROADCAST.0),
            mtu: 1500,
            dev_addr: [2, 0, 0, 0, 0, mac],
            broadcast: [0xff; 6],
            link_type: LinkType::Ether,
            group: 0,
            carrier: true,
            ip_ptr: None,
            kind: DevKind::Veth { peer: None },
            master: None,
            brport: None,
        })
        .unwrap();
        let a = addr.into();
        ns.inet_insert_ifa(
            i,
            InIfaddr {
                ifa_local: a,
                ifa_address: a,
                ifa_prefixlen: 24,
                ifa_broadcast: std::net::Ipv4Addr::UNSPECIFIED,
                ifa_scope: RtScope::RT_SCOPE_UNIVERSE,
                ifa_flags: IfaFlags::IFA_F_PERMANENT,
                ifa_label: None,
                ifa_rt_priority: 0,
            },
            true,
        )
        .unwrap();
        ns
    }

    fn pinged(record: bool) -> (Topology, fwdsim_kernel::topology::PacketId) {
        let mut t = Topology::new();
        t.record_steps = record;
        t.add_netns("a", ns_with("v0", 1, [10, 0, 0, 1])).unwrap();
        t.add_netns("b", ns_with("v1", 2, [10, 0, 0, 2])).unwrap();
        t.link("a", "v0", "b", "v1").unwrap();
        let req = StackSend::new([10, 0, 0, 9].into(), StackProto::echo(1, 1));
        let p = t.send_from_stack("a", &req, 0).unwrap();
        t.run();
        (t, p)
    }

    #[test]
    fn hops_as_the_contract_says() {
        let (t, p) = pinged(false);
        assert_eq!(
            hops_json(&t, t.packet(p)),
            json!([
                {"ns": "a", "dev": "v0", "verdict": "queued", "drop_reason": null},
                {"ns": "a", "dev": "v0", "verdict": "drop", "drop_reason": "NEIGH_FAILED"},
            ])
        );
        assert_eq!(
            hops_text(&t, t.packet(p), "  "),
            "  a/v0 queued\n  a/v0 drop NEIGH_FAILED\n"
        );
    }

    #[test]
    fn the_walk_has_a_heading_per_hop_and_the_steps_under_it() {
        let (t, p) = pinged(true);
        let w = walk_text(&t, t.packet(p));
        assert!(
            w.starts_with("== a/v0 queued ==\n  ip_route_output_slow"),
            "{w}"
        );
        assert!(w.contains("== a/v0 drop NEIGH_FAILED =="), "{w}");
    }
}
