//! What a snapshot says of its devices beyond IPv4: each device's kind and
//! bridge port from `link.json` (`ip -d -j link show`, written by `fwdsim
//! topo dump`), or, without it, the bridge ports named by `master` in
//! addr.json. A topology needs them: a veth's sends go to its peer, a
//! bridge's ports are handled by `br_handle_frame`.

use std::path::Path;

use fwdsim_kernel::bridge::{BrPortFlags, BrPortState};
use fwdsim_kernel::netns::{DevKind, PeerNetns, VethPeer};
use fwdsim_kernel::{IfIndex, Netns};
use serde::Deserialize;

use crate::error::HostError;
use crate::snapshot::read;

#[derive(Deserialize, Debug)]
struct JDev {
    ifindex: u32,
    ifname: String,
    #[serde(default)]
    master: Option<String>,
    #[serde(default)]
    link_index: Option<u32>,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    link_netnsid: Option<i32>,
    #[serde(default)]
    linkinfo: Option<JInfo>,
}

#[derive(Deserialize, Debug)]
struct JInfo {
    #[serde(default)]
    info_kind: Option<String>,
    #[serde(default)]
    info_slave_data: Option<JSlave>,
}

#[derive(Deserialize, Debug)]
struct JSlave {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    hairpin: Option<bool>,
    #[serde(default)]
    learning: Option<bool>,
    #[serde(default)]
    flood: Option<bool>,
    #[serde(default)]
    mcast_flood: Option<bool>,
    #[serde(default)]
    bcast_flood: Option<bool>,
    #[serde(default)]
    proxy_arp: Option<bool>,
    #[serde(default)]
    isolated: Option<bool>,
}

/// Applies the device kinds and bridge ports of the snapshot directory
/// `dir` to `ns` (module documentation). Devices that already have a kind
/// other than Ethernet, or a master, are left as they are.
pub fn apply_link_details(ns: &mut Netns, dir: &Path) -> Result<(), HostError> {
    let link = dir.join(crate::topo_dump::LINK_FILE);
    let (file, devs) = if link.is_file() {
        let text = read(&link)?;
        let v: Vec<JDev> = serde_json::from_str(&text).map_err(|e| HostError::json(&link, &e))?;
        (link, v)
    } else {
        let addr = dir.join("addr.json");
        let text = read(&addr)?;
        let v: Vec<JDev> = serde_json::from_str(&text).map_err(|e| HostError::json(&addr, &e))?;
        (addr, v)
    };
    // Kinds first: a master must be a bridge before ports join it.
    let masters: Vec<String> = devs.iter().filter_map(|d| d.master.clone()).collect();
    for d in &devs {
        let kind = d.linkinfo.as_ref().and_then(|i| i.info_kind.as_deref());
        let Some(dev) = ns.dev_mut(IfIndex(d.ifindex)) else {
            continue;
        };
        if !matches!(dev.kind, DevKind::Ether) {
            continue;
        }
        let is_bridge = kind == Some("bridge") || (kind.is_none() && masters.contains(&d.ifname));
        if is_bridge {
            dev.kind = DevKind::Bridge(Box::default());
        } else if kind == Some("veth") {
            let peer = d.link_index.map(|i| VethPeer {
                netns: match d.link_netnsid {
                    Some(id) => PeerNetns::Id(id),
                    None => PeerNetns::Same,
                },
                ifindex: IfIndex(i),
            });
            let peer = peer.or_else(|| {
                // A pair inside one namespace: iproute2 names the peer.
                let p = d.link.as_ref()?;
                let i = devs.iter().find(|e| &e.ifname == p)?.ifindex;
                Some(VethPeer {
                    netns: PeerNetns::Same,
                    ifindex: IfIndex(i),
                })
            });
            dev.kind = DevKind::Veth { peer };
        }
    }
    for d in &devs {
        let Some(m) = &d.master else { continue };
        let Some(br) = ns.dev_by_name(m).map(|x| x.ifindex) else {
            return Err(HostError::UnknownDevice {
                file: file.clone(),
                name: m.clone(),
            });
        };
        let port = IfIndex(d.ifindex);
        if ns.dev(port).is_none_or(|p| p.master.is_some())
            || ns.dev(br).is_none_or(|b| b.bridge().is_none())
        {
            continue;
        }
        ns.br_add_if(br, port).map_err(|e| HostError::Config {
            file: file.clone(),
            msg: format!("{}: master {m}: {e}", d.ifname),
        })?;
        let Some(s) = d.linkinfo.as_ref().and_then(|i| i.info_slave_data.as_ref()) else {
            continue;
        };
        let Some(bp) = ns.dev_mut(port).and_then(|p| p.brport.as_mut()) else {
            continue;
        };
        if let Some(st) = s.state.as_deref() {
            bp.state = BrPortState::from_word(st).ok_or_else(|| HostError::BadValue {
                file: file.clone(),
                what: format!("{}: bridge port state {st:?}", d.ifname),
            })?;
        }
        for (v, f) in [
            (s.hairpin, BrPortFlags::BR_HAIRPIN_MODE),
            (s.learning, BrPortFlags::BR_LEARNING),
            (s.flood, BrPortFlags::BR_FLOOD),
            (s.mcast_flood, BrPortFlags::BR_MCAST_FLOOD),
            (s.bcast_flood, BrPortFlags::BR_BCAST_FLOOD),
            (s.proxy_arp, BrPortFlags::BR_PROXYARP),
            (s.isolated, BrPortFlags::BR_ISOLATED),
        ] {
            if let Some(on) = v {
                bp.flags.set(f, on);
            }
        }
    }
    Ok(())
}
