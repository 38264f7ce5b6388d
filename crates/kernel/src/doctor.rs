//! Checks a host for the conditions that silently break forwarding, most
//! likely first: forwarding off, strict reverse-path filtering with routes
//! that leave elsewhere, reject routes shadowing part of a wider route, a
//! default route through a device that is down or to a gateway without a
//! usable ARP entry, and MTUs that differ between the devices packets
//! cross.

use crate::ipv4::devinet::{DevconfKey, prefix_mask};
use crate::netns::{Netns, rt_table};
use crate::uapi::{RouteType, RtnhFlags};

/// One finding: a title naming the setting, and what it does to packets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The setting or route at fault.
    pub title: String,
    /// What it does and what to change.
    pub detail: String,
}

/// The devices that carry IPv4 traffic: up, not loopback, with an address.
fn traffic_devices(ns: &Netns) -> Vec<&crate::netns::NetDevice> {
    ns.devices
        .iter()
        .filter(|d| {
            d.is_up()
                && !d.is_loopback()
                && d.ip_ptr.as_ref().is_some_and(|i| !i.ifa_list.is_empty())
        })
        .collect()
}

/// Kernel-informed checks of a host; the most likely cause of lost packets first.
pub fn doctor(ns: &Netns) -> Vec<Finding> {
    let mut out = Vec::new();
    let devs = traffic_devices(ns);
    let main = ns.fib.table(rt_table::RT_TABLE_MAIN);

    // 1. Forwarding off.
    if devs.len() >= 2 {
        let off: Vec<&str> = devs
            .iter()
            .filter(|d| d.ip_ptr.as_ref().is_some_and(|i| !ns.in_dev_forward(i)))
            .map(|d| d.name.as_str())
            .collect();
        if ns.devconf_all.get(DevconfKey::FORWARDING) == 0 && !off.is_empty() {
            out.push(Finding {
                title: "net.ipv4.ip_forward = 0".into(),
                detail: format!(
                    "packets arriving on {} for another host are not forwarded: ip_route_input_slow finds IN_DEV_FORWARD = 0, goes to no_route, and ip_error drops them silently (IP_INADDRERRORS, no ICMP). Set net.ipv4.ip_forward = 1 (and check where it is set at boot: fwdsim sysctl origin net.ipv4.ip_forward).",
                    off.join(", ")
                ),
            });
        } else if !off.is_empty() {
            out.push(Finding {
                title: format!("forwarding = 0 on {}", off.join(", ")),
                detail: "the input device's own forwarding flag decides (IN_DEV_FORWARD): packets arriving there are not forwarded even though net.ipv4.ip_forward = 1.".into(),
            });
        }
    }

    // 2. Strict rp_filter while the routes back leave through another device.
    let default_dev = main.and_then(|t| t.trie.get(0, 0)).and_then(|aliases| {
        aliases
            .iter()
            .find(|a| a.fa_type == RouteType::RTN_UNICAST)
            .and_then(|a| ns.fib.info(a.fa_info).fib_nh.first())
            .map(|nh| nh.nh_dev)
    });
    for d in &devs {
        let Some(idev) = d.ip_ptr.as_ref() else {
            continue;
        };
        if ns.in_dev_rpfilter(idev) == 1 && default_dev.is_some_and(|dd| dd != d.ifindex) {
            out.push(Finding {
                title: format!("rp_filter = 1 (strict) on {}", d.name),
                detail: format!(
                    "a packet arriving on {} is accepted only if the route back to its source leaves through {}; sources routed elsewhere (the default route uses {}) are dropped as IP_RPFILTER. Loose mode (2) accepts any routable source; the value in force is max(conf.all, conf.{}).",
                    d.name,
                    d.name,
                    ns.dev_name(default_dev.expect("checked")),
                    d.name
                ),
            });
        }
    }

    // 3. Reject routes inside a wider unicast route.
    if let Some(t) = main {
        let routes: Vec<_> = t.iter().collect();
        for (p, l, fa) in &routes {
            if !matches!(
                fa.fa_type,
                RouteType::RTN_BLACKHOLE | RouteType::RTN_UNREACHABLE | RouteType::RTN_PROHIBIT
            ) {
                continue;
            }
            let wider = routes.iter().find(|(q, m, ua)| {
                ua.fa_type == RouteType::RTN_UNICAST
                    && m < l
                    && (u32::from(*p) ^ u32::from(*q)) & prefix_mask(*m) == 0
            });
            if let Some((q, m, _)) = wider {
                out.push(Finding {
                    title: format!("{} {p}/{l}", fa.fa_type.word().unwrap_or("?")),
                    detail: format!(
                        "this route is more specific than {q}/{m}, so packets to {p}/{l} never use the wider route: fib_table_lookup returns the reject type's error at once (blackhole: dropped silently; unreachable, prohibit: ICMP)."
                    ),
                });
            }
        }
    }

    // 4. The default route through a device that is down or without carrier.
    if let Some(t) = main
        && let Some(aliases) = t.trie.get(0, 0)
    {
        for a in aliases
            .iter()
            .filter(|a| a.fa_type == RouteType::RTN_UNICAST)
        {
            for nh in &ns.fib.info(a.fa_info).fib_nh {
                let Some(d) = ns.dev(nh.nh_dev) else { continue };
                if !d.is_up() || nh.nh_flags.contains(RtnhFlags::RTNH_F_DEAD) {
                    out.push(Finding {
                        title: format!("default route through {}, which is down", d.name),
                        detail: "its next hop is dead: the route is skipped and packets for the Internet find no route (ENETUNREACH, ICMP net unreachable).".into(),
                    });
                } else if !d.carrier {
                    out.push(Finding {
                        title: format!("default route through {}, which has no carrier", d.name),
                        detail: "the next hop is linkdown: it is still used unless ignore_routes_with_linkdown = 1, and packets sent there are lost on the wire.".into(),
                    });
                }
            }
        }
    }

    // 4b. The default route's gateway without a usable ARP entry, on a host
    // whose neighbour table is known (a snapshot's, or a host file's).
    if !ns.neigh.is_empty()
        && let Some(t) = main
        && let Some(aliases) = t.trie.get(0, 0)
    {
        for a in aliases
            .iter()
            .filter(|a| a.fa_type == RouteType::RTN_UNICAST)
        {
            for nh in &ns.fib.info(a.fa_info).fib_nh {
                let Some(gw) = nh.nh_gw else { continue };
                if !ns.dev(nh.nh_dev).is_some_and(|d| d.is_up()) {
                    continue;
                }
                let entry = ns.neigh.iter().find(|n| n.dev == nh.nh_dev && n.ip == gw);
                let state = match entry {
                    None => "no ARP entry".to_string(),
                    Some(n) if !n.state.is_valid() => format!("its ARP entry is {:?}", n.state),
                    Some(_) => continue,
                };
                out.push(Finding {
                    title: format!(
                        "default gateway {gw} on {}: {state}",
                        ns.dev_name(nh.nh_dev)
                    ),
                    detail: format!(
                        "packets for the Internet wait in the neighbour queue while ARP asks for {gw} once a second; if it does not answer within three seconds they are dropped (NEIGH_FAILED) and their senders get ICMP host unreachable. An entry can also be missing only because no traffic went there lately; if packets die, check that the gateway is up and on that link (`ip neigh show {gw}`)."
                    ),
                });
            }
        }
    }

    // 5. MTUs that differ between the devices traffic crosses.
    if devs.len() >= 2 {
        let min = devs.iter().min_by_key(|d| d.mtu).expect("two devices");
        let max = devs.iter().max_by_key(|d| d.mtu).expect("two devices");
        if min.mtu < max.mtu {
            out.push(Finding {
                title: format!("MTU {} on {} but {} on {}", min.mtu, min.name, max.mtu, max.name),
                detail: format!(
                    "packets from {} larger than {} bytes leave {} only in fragments, and with DF set (path MTU discovery, most TCP) they are dropped with ICMP fragmentation needed (PKT_TOO_BIG); if that ICMP is filtered on the way back, connections stall.",
                    max.name, min.mtu, min.name
                ),
            });
        }
    }
    out
}
