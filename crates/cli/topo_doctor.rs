//! `fwdsim doctor --topology DIR`: every namespace's own findings (as
//! `doctor --host`), then the checks of what joins them: a bridge port
//! down or not forwarding, a veth whose peer is in no namespace of the
//! topology, and a namespace whose default gateway is not an address of
//! the device at the other end of its link (the bridge's address, for a
//! bridge port).

use std::net::Ipv4Addr;
use std::process::ExitCode;

use fwdsim_kernel::bridge::BrPortState;
use fwdsim_kernel::ipv4::devinet::DevconfKey;
use fwdsim_kernel::netns::DevKind;
use fwdsim_kernel::topology::{Endpoint, NsId, Topology};
use fwdsim_kernel::{IfIndex, Netns};

use crate::Failure;

/// The IPv4 addresses of a device.
fn addrs(ns: &Netns, dev: IfIndex) -> Vec<Ipv4Addr> {
    ns.dev(dev)
        .and_then(|d| d.ip_ptr.as_ref())
        .map(|i| i.ifa_list.iter().map(|a| a.ifa_local).collect())
        .unwrap_or_default()
}

/// The link checks (module documentation), one line each.
pub fn link_findings(topo: &Topology) -> Vec<String> {
    let mut out = Vec::new();
    for (i, name) in topo.names().iter().enumerate() {
        let id = NsId(i);
        let ns = topo.netns(id);
        for d in &ns.devices {
            if let Some(br) = d.master {
                let br_name = ns.dev_name(br);
                if !d.is_up() || !d.carrier {
                    out.push(format!(
                        "{name}/{}: bridge port of {br_name} is down (frames to and from it are lost); `ip link set {} up`",
                        d.name, d.name
                    ));
                } else if let Some(p) = &d.brport
                    && p.state != BrPortState::BR_STATE_FORWARDING
                {
                    out.push(format!(
                        "{name}/{}: bridge port of {br_name} is in state {} (it forwards nothing)",
                        d.name,
                        p.state.word()
                    ));
                }
            }
            if matches!(d.kind, DevKind::Veth { .. })
                && topo
                    .peer(Endpoint {
                        ns: id,
                        dev: d.ifindex,
                    })
                    .is_none()
            {
                out.push(format!(
                    "{name}/{}: a veth whose peer is in no namespace of the topology (gone, or in a namespace not dumped): what it sends goes nowhere",
                    d.name
                ));
            }
        }
        // The default gateway against the far end of the link.
        let routes = fwdsim_host::show_json(ns);
        for r in routes["route"].as_array().into_iter().flatten() {
            if r["dst"] != "default" || r.get("table").is_some_and(|t| t != "main") {
                continue;
            }
            let (Some(gw), Some(dev)) = (r["gateway"].as_str(), r["dev"].as_str()) else {
                continue;
            };
            let (Ok(gw), Some(d)) = (gw.parse::<Ipv4Addr>(), ns.dev_by_name(dev)) else {
                continue;
            };
            let Some(far) = topo.peer(Endpoint {
                ns: id,
                dev: d.ifindex,
            }) else {
                continue;
            };
            let fns = topo.netns(far.ns);
            let Some(fd) = fns.dev(far.dev) else { continue };
            // A bridge port: the gateway must be the bridge's.
            let (gdev, what) = match fd.master {
                Some(br) => (
                    br,
                    format!("the bridge {}/{}", topo.name(far.ns), fns.dev_name(br)),
                ),
                None => (far.dev, format!("{}/{}", topo.name(far.ns), fd.name)),
            };
            let proxy = fd
                .ip_ptr
                .as_ref()
                .is_some_and(|i| i.cnf.get(DevconfKey::PROXY_ARP) != 0);
            let have = addrs(fns, gdev);
            // Another host on the same bridge may be the gateway.
            let on_bridge = fd.master.is_some_and(|br| {
                topo.names().iter().enumerate().any(|(j, _)| {
                    let other = topo.netns(NsId(j));
                    other.devices.iter().any(|od| {
                        addrs(other, od.ifindex).contains(&gw)
                            && topo
                                .peer(Endpoint {
                                    ns: NsId(j),
                                    dev: od.ifindex,
                                })
                                .and_then(|e| topo.netns(e.ns).dev(e.dev))
                                .is_some_and(|p| p.master == Some(br))
                    })
                })
            });
            if !have.contains(&gw) && !proxy && !on_bridge {
                let list: Vec<String> = have.iter().map(Ipv4Addr::to_string).collect();
                out.push(format!(
                    "{name}: the default gateway {gw} (dev {dev}) is not an address of {what} ({}): its packets to other networks wait for an ARP answer that never comes",
                    if list.is_empty() { "it has none".to_string() } else { list.join(", ") }
                ));
            }
        }
    }
    out
}

/// Runs `doctor --topology`.
pub fn doctor(path: &std::path::Path) -> Result<ExitCode, Failure> {
    let t = crate::topo::load(path)?;
    let topo = crate::topo::engine(t)?;
    let mut n = 0;
    for (i, name) in topo.names().iter().enumerate() {
        let findings = fwdsim_kernel::doctor::doctor(topo.netns(NsId(i)));
        println!("{name}:");
        if findings.is_empty() {
            println!("  no known cause of lost packets found");
        }
        for f in findings {
            n += 1;
            println!("  {n}. {}: {}", f.title, f.detail);
        }
    }
    let links = link_findings(&topo);
    println!("links:");
    if links.is_empty() {
        println!("  no broken link found");
    }
    for l in links {
        n += 1;
        println!("  {n}. {l}");
    }
    Ok(ExitCode::SUCCESS)
}
