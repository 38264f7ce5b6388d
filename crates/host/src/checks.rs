//! Refusals of the kernel that the model's configuration API does not make
//! (yet), applied to TOML hosts before calling it so that a host that the
//! kernel would refuse is refused here too, with the kernel's message.
//! Each check names the kernel function it stands for; they belong in the
//! model (`Netns::fib_table_insert`, `fib_rule_add`, `inet_insert_ifa`) and
//! should be removed from here once it makes them.

use fwdsim_kernel::IfIndex;
use fwdsim_kernel::Netns;
use fwdsim_kernel::core::fib_rules::FibRule;
use fwdsim_kernel::ipv4::devinet::{IfaFlags, InIfaddr, prefix_mask};
use fwdsim_kernel::ipv4::fib_semantics::fib_props;
use fwdsim_kernel::netns::RouteSpec;
use fwdsim_kernel::uapi::{RtScope, RtnhFlags};

/// `rtm_to_fib_config`, `fib_table_insert` and `fib_create_info`: the
/// checks that need no FIB lookup. `Err` holds the kernel's message (its
/// extack text, or `strerror` of the errno when it sets none).
pub fn route(ns: &Netns, spec: &RouteSpec) -> Result<(), String> {
    // rtm_to_fib_config: inet_validate_dscp
    if spec.tos & 0x03 != 0 {
        return Err("Invalid dsfield (tos): ECN bits must be 0".into());
    }
    // fib_table_insert
    if u32::from(spec.dst) & !prefix_mask(spec.dst_len) != 0 {
        return Err("Invalid prefix for given prefix length".into());
    }
    // fib_create_info
    let scope = spec.scope.unwrap_or(RtScope::RT_SCOPE_UNIVERSE);
    let (error, type_scope) = fib_props(spec.rt_type);
    if type_scope > scope {
        return Err("Invalid scope".into());
    }
    if error.is_some() {
        if !spec.nexthops.is_empty() {
            return Err(
                "Gateway, device and multipath can not be specified for this route type".into(),
            );
        }
        return Ok(());
    }
    if scope > RtScope::RT_SCOPE_HOST {
        return Err("Invalid scope".into());
    }
    if spec.nexthops.is_empty() {
        return Err("No such device".into());
    }
    if scope == RtScope::RT_SCOPE_HOST {
        if spec.nexthops.len() > 1 {
            return Err("Route with host scope can not have multiple nexthops".into());
        }
        if spec.nexthops[0].gw.is_some() {
            return Err("Route with host scope can not have a gateway".into());
        }
        if spec.nexthops[0].dev.is_none() {
            return Err("No such device".into());
        }
        return Ok(());
    }
    for nh in &spec.nexthops {
        let onlink = nh.flags.contains(RtnhFlags::RTNH_F_ONLINK);
        let dev = nh.dev.and_then(|d| ns.dev(d));
        match nh.gw {
            // fib_check_nh_v4_gw, onlink branch
            Some(_) if onlink => {
                if scope >= RtScope::RT_SCOPE_LINK {
                    return Err("Nexthop has invalid scope".into());
                }
                let Some(dev) = dev else {
                    return Err("Nexthop device required for onlink".into());
                };
                if !dev.is_up() {
                    return Err("Nexthop device is not up".into());
                }
            }
            Some(gw) => {
                // The gateway's resolution is the model's (fib_table_insert);
                // through a device that is down only the device's own
                // addresses resolve (their local routes stay), and then the
                // device being down is the error.
                if let Some(d) = dev.filter(|d| !d.is_up()) {
                    let own = d
                        .ip_ptr
                        .as_ref()
                        .is_some_and(|i| i.ifa_list.iter().any(|a| a.ifa_local == gw));
                    return Err(if own {
                        "Network is down".into()
                    } else {
                        "Nexthop has invalid gateway".into()
                    });
                }
            }
            // fib_check_nh_nongw
            None => {
                if onlink {
                    return Err(
                        "Invalid flags for nexthop - PERVASIVE and ONLINK can not be set".into(),
                    );
                }
                let Some(dev) = dev else {
                    return Err("No such device".into());
                };
                if dev.ip_ptr.is_none() {
                    return Err("No such device".into());
                }
                if !dev.is_up() {
                    return Err("Device for nexthop is not up".into());
                }
            }
        }
    }
    if !fwdsim_kernel::ipv4::fib_frontend::fib_valid_prefsrc(ns, spec) {
        return Err("Invalid prefsrc address".into());
    }
    Ok(())
}

/// `fib_nl_newrule` (`rule_exists` under `NLM_F_EXCL`) and
/// `fib4_rule_configure`: the checks that the model's `fib_rule_add` does
/// not make. `pref` is the one the rule will get.
pub fn rule(ns: &Netns, r: &FibRule, pref: Option<u32>) -> Result<(), String> {
    if r.tos & 0x03 != 0 {
        return Err("Invalid dsfield (tos): ECN bits must be 0".into());
    }
    if r.tos & !0x1e != 0 {
        return Err("Invalid tos".into());
    }
    let pref = pref.unwrap_or_else(|| match ns.fib.rules.get(1) {
        Some(x) if x.pref > 0 => x.pref - 1,
        _ => 0,
    });
    if r.action == fwdsim_kernel::core::fib_rules::FibRuleAction::FR_ACT_GOTO && r.target <= pref {
        return Err("Backward goto not supported".into());
    }
    let key = |x: &FibRule| FibRule {
        pref: 0,
        ctarget: None,
        iifindex: None,
        oifindex: None,
        ..x.clone()
    };
    let new = FibRule { pref, ..key(r) };
    if ns.fib.rules.iter().any(|x| {
        FibRule {
            pref: x.pref,
            ..key(x)
        } == new
    }) {
        return Err("File exists".into());
    }
    Ok(())
}

/// `__inet_insert_ifa`: the same address and mask twice on one device is
/// refused, and an address in the subnet of another one (a secondary) must
/// have its scope.
pub fn address(ns: &Netns, dev: IfIndex, ifa: &InIfaddr) -> Result<(), String> {
    // fib_add_ifaddr adds no prefix route for IFA_F_NOPREFIXROUTE; the
    // model's does, so such a host would differ from the kernel.
    if ifa.ifa_flags.contains(IfaFlags::IFA_F_NOPREFIXROUTE) {
        return Err(
            "\"noprefixroute\" is not modelled yet (the prefix route would be added)".into(),
        );
    }
    let Some(idev) = ns.in_dev(dev) else {
        return Ok(());
    };
    for o in &idev.ifa_list {
        if o.ifa_prefixlen == ifa.ifa_prefixlen && o.matches(ifa.ifa_address) {
            if o.ifa_local == ifa.ifa_local {
                return Err("ipv4: Address already assigned".into());
            }
            if o.ifa_scope != ifa.ifa_scope {
                return Err("ipv4: Invalid scope value".into());
            }
        }
    }
    Ok(())
}
