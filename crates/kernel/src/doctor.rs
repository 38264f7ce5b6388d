//! Checks a host for the conditions that silently break forwarding, most
//! likely first: forwarding off, strict reverse-path filtering with routes
//! that leave elsewhere, reject routes shadowing part of a wider route, a
//! default route through a device that is down or to a gateway without a
//! usable ARP entry, and MTUs that differ between the devices packets
//! cross.

use std::net::Ipv4Addr;

use crate::core::dev::{RxOutcome, Verdict};
use crate::ipv4::devinet::{DevconfKey, prefix_mask};
use crate::ipv4::ip_hdr::ip_compute_csum;
use crate::netfilter::NfVerdict;
use crate::netfilter::core::NfEventKind;
use crate::netns::{IfIndex, Netns, rt_table};
use crate::trace::NoTrace;
use crate::uapi::{RouteType, RtnhFlags};

/// An ICMP echo request from `src` to `dst` in a frame for `dev`'s MAC:
/// the packet a finding names and re-runs.
pub fn probe_frame(ns: &Netns, dev: IfIndex, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mac = ns.dev(dev).map_or([0; 6], |d| d.dev_addr);
    let mut f = Vec::with_capacity(14 + 28);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0xfe, 0x01]);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = [0u8; 28];
    ip[..12].copy_from_slice(&[0x45, 0, 0, 28, 0, 1, 0x40, 0, 64, 1, 0, 0]);
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let c = ip_compute_csum(&ip[..20]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip[20..28].copy_from_slice(&[8, 0, 0, 0, 0x12, 0x34, 0, 1]);
    let c = ip_compute_csum(&ip[20..]);
    ip[22..24].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f
}

/// Runs a probe on a copy of the host: its outcome (a packet waiting for
/// ARP counts as sent on its way) and the copy, whose netfilter trail says
/// what the hooks did.
pub fn probe(ns: &Netns, dev: IfIndex, src: Ipv4Addr, dst: Ipv4Addr) -> (RxOutcome, Netns) {
    let mut alt = ns.clone();
    let mut f = probe_frame(ns, dev, src, dst);
    let o = crate::core::dev::netif_receive_skb(&mut alt, &mut f, dev, &mut NoTrace);
    (o, alt)
}

/// A host on `dev`'s first subnet that is not the host itself (`.2`, or the
/// next free one).
fn neighbour_on(ns: &Netns, dev: IfIndex) -> Option<(Ipv4Addr, u8)> {
    let ifa = ns
        .in_dev(dev)?
        .ifa_list
        .iter()
        .find(|a| !a.is_secondary())?;
    if ifa.ifa_prefixlen >= 31 {
        return None;
    }
    let base = u32::from(ifa.prefix());
    (1..16)
        .map(|i| Ipv4Addr::from(base + i))
        .find(|a| *a != ifa.ifa_local)
        .map(|a| (a, ifa.ifa_prefixlen))
}

/// The netfilter findings, each confirmed by a probe packet: FORWARD
/// dropping a bridge's traffic (and Docker's chains gone), a private subnet
/// leaving without SNAT, both iptables backends holding rules.
fn netfilter_findings(ns: &Netns, out: &mut Vec<Finding>) {
    let Some(nf) = ns.nf.as_ref() else {
        return;
    };
    let internet = Ipv4Addr::new(8, 8, 8, 8);
    let default_dev = {
        let fl4 = crate::flow::Flowi4::new(internet, Ipv4Addr::UNSPECIFIED);
        crate::ipv4::fib_rules::fib_lookup(ns, &fl4, 0, &mut NoTrace)
            .ok()
            .and_then(|res| {
                res.fi
                    .and_then(|fi| ns.fib.info(fi).fib_nh.get(res.nh_sel).map(|nh| nh.nh_dev))
            })
    };
    for d in traffic_devices(ns) {
        if Some(d.ifindex) == default_dev || default_dev.is_none() {
            continue;
        }
        let Some((src, plen)) = neighbour_on(ns, d.ifindex) else {
            continue;
        };
        if !crate::explain::is_private(src) {
            continue;
        }
        let (o, alt) = probe(ns, d.ifindex, src, internet);
        let Some(anf) = alt.nf.as_ref() else { continue };
        let out_name = ns.dev_name(default_dev.expect("checked"));
        let subnet = format!(
            "{}/{plen}",
            Ipv4Addr::from(u32::from(src) & prefix_mask(plen))
        );
        if o.drop_reason == Some(crate::SkbDropReason::NETFILTER_DROP) {
            let cause = anf.trail.events().find_map(|e| match e.kind {
                NfEventKind::Policy {
                    table,
                    chain,
                    verdict: NfVerdict::Drop,
                } => Some(format!(
                    "{} {} policy DROP",
                    anf.tables[table as usize].name.name(),
                    anf.tables[table as usize].chains[chain as usize].name
                )),
                NfEventKind::Rule {
                    table,
                    chain,
                    rule,
                    verdict: NfVerdict::Drop,
                } => {
                    let r = &anf.tables[table as usize].chains[chain as usize].rules[rule as usize];
                    Some(format!(
                        "{}:{}: {}",
                        r.origin.file, r.origin.line, r.origin.text
                    ))
                }
                _ => None,
            });
            let cause = cause.unwrap_or_else(|| "a netfilter rule".into());
            let docker_gone = d.name.starts_with("docker")
                && nf
                    .tables
                    .iter()
                    .filter(|t| t.name == crate::netfilter::xtables::ip_tables::TableName::Filter)
                    .all(|t| {
                        t.chain_index("DOCKER-FORWARD").is_none()
                            && t.chain_index("DOCKER").is_none()
                    });
            let mut detail = format!(
                "a packet from {src} on {} to {internet} is routed out {out_name} and dropped in NF_INET_FORWARD by {cause} (NETFILTER_DROP, no ICMP)",
                d.name
            );
            if docker_gone {
                detail += &format!(
                    "; Docker's chains (DOCKER-FORWARD, DOCKER) are missing from the filter table although {} exists: a firewall reload (`firewall-cmd --reload`, restarting iptables or nftables) removed them; `systemctl restart docker` recreates them, or accept the traffic yourself: `iptables -I FORWARD -i {} -o {out_name} -j ACCEPT` and `iptables -I FORWARD -o {} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`",
                    d.name, d.name, d.name
                );
            }
            out.push(Finding {
                title: format!("{cause} drops what {} forwards", d.name),
                detail,
            });
            continue;
        }
        if o.verdict == Verdict::Drop {
            continue;
        }
        let nat = anf
            .trail
            .events()
            .any(|e| matches!(e.kind, NfEventKind::Nat(_)));
        if !nat && ns.nf_recorded {
            out.push(Finding {
                title: format!("{subnet} leaves {out_name} without SNAT"),
                detail: format!(
                    "a packet from {src} on {} to {internet} is forwarded out {out_name} with its private source unchanged (no MASQUERADE or SNAT rule in nat POSTROUTING matched it), so the replies cannot come back; Docker adds `iptables -t nat -A POSTROUTING -s {subnet} ! -o {} -j MASQUERADE`",
                    d.name, d.name
                ),
            });
        }
    }
    if nf.both_backends() {
        out.push(Finding {
            title: "iptables-nft and iptables-legacy both hold rules".into(),
            detail: "both sets of tables run at every hook (a legacy table beside the nft one of the same name, at the same priority): a packet must be accepted by both, and `iptables` (nft) does not show the legacy rules (`iptables-legacy-save` does).".into(),
        });
    }
    if nf.sysctl.bridge_nf_call_iptables == Some(true) {
        out.push(Finding {
            title: "net.bridge.bridge-nf-call-iptables = 1".into(),
            detail: "br_netfilter passes frames bridged between ports of the same bridge (container to container) through the iptables FORWARD chain: a FORWARD policy of DROP also drops traffic that never leaves the bridge unless a rule accepts it (`-m physdev --physdev-is-bridged`). A topology (`--topology`) simulates it; on one host this is what the kernel does.".into(),
        });
    }
}

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

/// Whether a route of the main table has a gateway on `dev`.
fn has_gateway_on(ns: &Netns, dev: IfIndex) -> bool {
    ns.fib.table(rt_table::RT_TABLE_MAIN).is_some_and(|t| {
        t.iter().any(|(_, _, fa)| {
            ns.fib
                .info(fa.fa_info)
                .fib_nh
                .iter()
                .any(|nh| nh.nh_dev == dev && nh.nh_gw.is_some())
        })
    })
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
    // Only a device with a gateway on it can bring packets from networks
    // routed elsewhere (a LAN or a container bridge sends from its own
    // subnet, which routes back through it); and the finding stands only
    // when a packet from such a source is in fact dropped.
    for d in &devs {
        let Some(idev) = d.ip_ptr.as_ref() else {
            continue;
        };
        let Some(dd) = default_dev else { continue };
        if ns.in_dev_rpfilter(idev) != 1 || dd == d.ifindex || !has_gateway_on(ns, d.ifindex) {
            continue;
        }
        let src = Ipv4Addr::new(198, 51, 100, 7);
        let Some(dst) = devs
            .iter()
            .filter(|o| o.ifindex != d.ifindex)
            .find_map(|o| neighbour_on(ns, o.ifindex))
            .map(|(a, _)| a)
        else {
            continue;
        };
        let (o, _) = probe(ns, d.ifindex, src, dst);
        if o.drop_reason != Some(crate::SkbDropReason::IP_RPFILTER) {
            continue;
        }
        out.push(Finding {
            title: format!("rp_filter = 1 (strict) on {}", d.name),
            detail: format!(
                "a packet arriving on {} is accepted only if the route back to its source leaves through {}: a packet from {src} (routed back via {}) to {dst} arriving there is dropped as IP_RPFILTER. Loose mode (2) accepts any routable source; the value in force is max(conf.all, conf.{}).",
                d.name,
                d.name,
                ns.dev_name(dd),
                d.name
            ),
        });
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

    // 4c. Netfilter, each finding re-run with a packet.
    netfilter_findings(ns, &mut out);

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netfilter::tests::{chain, entry, table, with_tables};
    use crate::netfilter::xtables::ip_tables::{IptIp, NatRange, Policy, TableName, XtTarget};
    use crate::testutil::HostBuilder;

    /// The Docker default bridge: docker0 172.17.0.1/16, eth0 10.0.2.15/24
    /// with the default route via 10.0.2.2, forwarding on.
    fn docker_host() -> Netns {
        HostBuilder::new()
            .dev("eth0", "10.0.2.15/24")
            .dev("docker0", "172.17.0.1/16")
            .route(
                RouteType::RTN_UNICAST,
                "0.0.0.0/0",
                Some("10.0.2.2"),
                Some("eth0"),
                254,
                0,
                0,
            )
            .sysctl("net.ipv4.ip_forward", 1)
            .neigh("eth0", "10.0.2.2", [2, 0, 0, 0, 0, 0x22])
            .build()
    }

    fn filter(forward: Policy) -> crate::netfilter::xtables::ip_tables::IptTable {
        table(
            TableName::Filter,
            vec![
                chain("INPUT", Some(Policy::Accept), vec![]),
                chain("FORWARD", Some(forward), vec![]),
                chain("OUTPUT", Some(Policy::Accept), vec![]),
            ],
        )
    }

    #[test]
    fn forward_drop_with_dockers_chains_gone_is_found_with_its_packet() {
        let ns = with_tables(docker_host(), vec![filter(Policy::Drop)]);
        let f = doctor(&ns);
        assert_eq!(
            f[0].title,
            "filter FORWARD policy DROP drops what docker0 forwards"
        );
        assert!(
            f[0].detail.starts_with(
                "a packet from 172.17.0.2 on docker0 to 8.8.8.8 is routed out eth0 and dropped in NF_INET_FORWARD by filter FORWARD policy DROP (NETFILTER_DROP, no ICMP); Docker's chains (DOCKER-FORWARD, DOCKER) are missing"
            ),
            "{}",
            f[0].detail
        );
    }

    #[test]
    fn a_private_bridge_without_masquerade_is_found_and_with_it_is_not() {
        let nat = |rules| {
            table(
                TableName::Nat,
                vec![
                    chain("PREROUTING", Some(Policy::Accept), vec![]),
                    chain("INPUT", Some(Policy::Accept), vec![]),
                    chain("OUTPUT", Some(Policy::Accept), vec![]),
                    chain("POSTROUTING", Some(Policy::Accept), rules),
                ],
            )
        };
        let ns = with_tables(docker_host(), vec![filter(Policy::Accept), nat(vec![])]);
        let f = doctor(&ns);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].title, "172.17.0.0/16 leaves eth0 without SNAT");
        let masq = entry(
            9,
            "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
            IptIp {
                src: Some(("172.17.0.0/16".parse().unwrap(), false)),
                outiface: Some(crate::netfilter::xtables::ip_tables::IfaceMatch {
                    name: "docker0".into(),
                    wildcard: false,
                    invert: true,
                }),
                ..Default::default()
            },
            vec![],
            XtTarget::Masquerade(NatRange::default()),
        );
        let ns = with_tables(docker_host(), vec![filter(Policy::Accept), nat(vec![masq])]);
        assert_eq!(doctor(&ns), vec![]);
    }

    #[test]
    fn strict_rp_filter_on_a_bridge_without_gateways_is_not_a_finding() {
        let ns = HostBuilder::new()
            .dev("eth0", "10.0.2.15/24")
            .dev("docker0", "172.17.0.1/16")
            .route(
                RouteType::RTN_UNICAST,
                "0.0.0.0/0",
                Some("10.0.2.2"),
                Some("eth0"),
                254,
                0,
                0,
            )
            .sysctl("net.ipv4.ip_forward", 1)
            .sysctl("net.ipv4.conf.all.rp_filter", 1)
            .build();
        assert_eq!(doctor(&ns), vec![]);
        // The container's own packets pass it.
        let docker0 = ns.dev_by_name("docker0").unwrap().ifindex;
        let (o, _) = probe(
            &ns,
            docker0,
            "172.17.0.2".parse().unwrap(),
            "8.8.8.8".parse().unwrap(),
        );
        assert_ne!(o.drop_reason, Some(crate::SkbDropReason::IP_RPFILTER));
    }
}
