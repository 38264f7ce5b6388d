//! `doctor --topology`: the checks of `crate::doctor` for every namespace,
//! and those of the joints between them: a bridge port that is down or not
//! forwarding, a veth whose peer is not in the topology (or is down), a
//! namespace behind a bridge whose default gateway is not one of the
//! bridge's addresses.

use std::net::Ipv4Addr;

use crate::bridge::BrPortState;
use crate::netns::{DevKind, IfIndex, Netns};
use crate::topology::{Endpoint, Topology};

/// One finding, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopoFinding {
    /// The namespace.
    pub ns: String,
    /// The device, when the finding is about one.
    pub dev: Option<String>,
    /// The setting at fault.
    pub title: String,
    /// What it does to packets and what to change.
    pub detail: String,
}

/// The gateway and device of the namespace's route to the Internet
/// (8.8.8.8), if it has one.
fn default_gateway(ns: &Netns) -> Option<(Option<Ipv4Addr>, IfIndex)> {
    let fl4 = crate::flow::Flowi4::new(Ipv4Addr::new(8, 8, 8, 8), Ipv4Addr::UNSPECIFIED);
    let res = crate::ipv4::fib_rules::fib_lookup(ns, &fl4, 0, &mut crate::trace::NoTrace).ok()?;
    let nh = ns.fib.info(res.fi?).fib_nh.get(res.nh_sel)?;
    Some((nh.nh_gw, nh.nh_dev))
}

/// Checks every namespace and every link of `t`.
pub fn doctor(t: &Topology) -> Vec<TopoFinding> {
    let mut out = Vec::new();
    for (i, name) in t.names().iter().enumerate() {
        let ns = t.netns(crate::topology::NsId(i));
        // Bridge ports.
        for d in &ns.devices {
            let (Some(br), Some(p)) = (d.master, d.brport.as_ref()) else {
                continue;
            };
            let brname = ns.dev_name(br);
            if !d.is_up() {
                out.push(TopoFinding {
                    ns: name.clone(),
                    dev: Some(d.name.clone()),
                    title: format!("bridge port {} of {brname} is down", d.name),
                    detail: format!(
                        "frames for the namespace behind {} are not sent (the port is not up): `ip link set {} up`.",
                        d.name, d.name
                    ),
                });
            } else if p.state != BrPortState::BR_STATE_FORWARDING {
                out.push(TopoFinding {
                    ns: name.clone(),
                    dev: Some(d.name.clone()),
                    title: format!(
                        "bridge port {} of {brname} is {}",
                        d.name,
                        p.state.word()
                    ),
                    detail: format!(
                        "br_handle_frame drops what arrives on {} (BRIDGE_INGRESS_STP_STATE) and should_deliver sends nothing out of it: only a forwarding port carries traffic.",
                        d.name
                    ),
                });
            }
        }
        // veths and links.
        for d in &ns.devices {
            let e = Endpoint {
                ns: crate::topology::NsId(i),
                dev: d.ifindex,
            };
            let peer = t.peer(e);
            if matches!(d.kind, DevKind::Veth { .. }) && peer.is_none() {
                out.push(TopoFinding {
                    ns: name.clone(),
                    dev: Some(d.name.clone()),
                    title: format!("veth {} has no peer in the topology", d.name),
                    detail: "its peer is gone or its namespace was not dumped: what it sends leaves the topology, and nothing arrives on it.".into(),
                });
            }
            if let Some(pe) = peer
                && d.is_up()
                && !t.netns(pe.ns).dev(pe.dev).is_some_and(|p| p.is_up())
            {
                let pname = t.netns(pe.ns).dev_name(pe.dev).to_string();
                out.push(TopoFinding {
                    ns: t.name(pe.ns).to_string(),
                    dev: Some(pname.clone()),
                    title: format!("{}/{pname} is down", t.name(pe.ns)),
                    detail: format!(
                        "what {name}/{} sends is dropped on arrival (__dev_forward_skb: the peer is not up).",
                        d.name
                    ),
                });
            }
        }
        for f in crate::doctor::doctor(ns) {
            out.push(TopoFinding {
                ns: name.clone(),
                dev: None,
                title: f.title,
                detail: f.detail,
            });
        }
    }
    // A namespace behind a bridge port: its default gateway should be one
    // of the bridge's addresses.
    for l in t.links() {
        for (port, other) in [(l.a, l.b), (l.b, l.a)] {
            let hns = t.netns(port.ns);
            let Some(br) = hns.dev(port.dev).and_then(|d| d.master) else {
                continue;
            };
            let cns = t.netns(other.ns);
            let cname = t.name(other.ns);
            let brname = hns.dev_name(br);
            let braddrs: Vec<Ipv4Addr> = hns
                .in_dev(br)
                .map(|i| i.ifa_list.iter().map(|a| a.ifa_local).collect())
                .unwrap_or_default();
            match default_gateway(cns) {
                None => out.push(TopoFinding {
                    ns: cname.to_string(),
                    dev: None,
                    title: format!("{cname} has no default route"),
                    detail: format!(
                        "packets from {cname} to other networks get ENETUNREACH; behind {}/{brname} the gateway would be {}.",
                        t.name(port.ns),
                        braddrs.first().map_or("the bridge's address".into(), |a| a.to_string())
                    ),
                }),
                Some((gw, dev)) if dev == other.dev => {
                    if let Some(gw) = gw
                        && !braddrs.is_empty()
                        && !braddrs.contains(&gw)
                    {
                        out.push(TopoFinding {
                            ns: cname.to_string(),
                            dev: Some(cns.dev_name(dev).to_string()),
                            title: format!(
                                "default gateway {gw} of {cname} is not an address of {}/{brname}",
                                t.name(port.ns)
                            ),
                            detail: format!(
                                "{brname} has {}: ARP for {gw} is flooded on the bridge and, unless another port answers, fails (NEIGH_FAILED).",
                                braddrs
                                    .iter()
                                    .map(|a| a.to_string())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        });
                    }
                }
                Some(_) => {}
            }
        }
    }
    out
}
