//! The walk of a packet as text (one step a line, nested calls indented,
//! each check with the values it saw and the branch taken) and as JSON (an
//! array of steps with `function`, `file`, `depth`, `check` and `branch`).

use std::fmt::Write;

use fwdsim_kernel::Netns;
use fwdsim_kernel::ipv4::devinet::DevconfKey;
use fwdsim_kernel::trace::{Branch, Check, LookupOutcome, Step};
use fwdsim_kernel::uapi::RouteType;
use serde_json::{Value, json};

use crate::iproute2::table_name;

fn b(v: bool) -> u8 {
    v as u8
}

fn lookup(o: &LookupOutcome) -> String {
    match o {
        LookupOutcome::Found {
            rt_type,
            table,
            prefix,
            prefixlen,
        } => format!(
            "{} {}/{} table {}",
            rt_type.word().unwrap_or("?"),
            prefix,
            prefixlen,
            table_name(*table)
        ),
        LookupOutcome::Error(e) => format!("-{} ({})", e, e.message()),
    }
}

/// Where a device's devconf value comes from, as the sysctl a user reads.
fn conf(ns: &Netns, dev: fwdsim_kernel::IfIndex, k: DevconfKey) -> String {
    let name = ns.dev_name(dev);
    let v = ns.in_dev(dev).map(|i| i.cnf.get(k)).unwrap_or(0);
    format!("net.ipv4.conf.{}.{} = {}", name, k.sysctl_name(), v)
}

fn conf_all(ns: &Netns, k: DevconfKey) -> String {
    format!(
        "net.ipv4.conf.all.{} = {}",
        k.sysctl_name(),
        ns.devconf_all.get(k)
    )
}

/// The kernel's name of the `pkt_type` a `PktType` step records.
pub fn pkt_type_name(host: bool, broadcast: bool, multicast: bool) -> &'static str {
    if host {
        "PACKET_HOST"
    } else if broadcast {
        "PACKET_BROADCAST"
    } else if multicast {
        "PACKET_MULTICAST"
    } else {
        "PACKET_OTHERHOST"
    }
}

/// A MAC address as `ip` prints it.
fn mac(a: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        a[0], a[1], a[2], a[3], a[4], a[5]
    )
}

/// One check in words, with the values it saw.
pub fn describe(ns: &Netns, c: &Check) -> String {
    match *c {
        Check::Enter => String::new(),
        Check::InDevice { dev, present } => {
            format!("in_device({}) present = {}", ns.dev_name(dev), b(present))
        }
        Check::DaddrMulticast { daddr, value } => {
            format!("ipv4_is_multicast(daddr {daddr}) = {}", b(value))
        }
        Check::McJoined { dev, group, value } => {
            format!(
                "group {group} joined on {} = {}",
                ns.dev_name(dev),
                b(value)
            )
        }
        Check::McForwarding { dev, value } => {
            format!(
                "!ipv4_is_local_multicast && IN_DEV_MFORWARD({}) = {}",
                ns.dev_name(dev),
                b(value)
            )
        }
        Check::SaddrMartian { saddr, value } => {
            format!(
                "ipv4_is_multicast(saddr {saddr}) || ipv4_is_lbcast(saddr) = {}",
                b(value)
            )
        }
        Check::DaddrBroadcast {
            daddr,
            saddr,
            value,
        } => format!(
            "ipv4_is_lbcast(daddr {daddr}) || (saddr {saddr} == 0 && daddr == 0) = {}",
            b(value)
        ),
        Check::SaddrZeronet { saddr, value } => {
            format!("ipv4_is_zeronet(saddr {saddr}) = {}", b(value))
        }
        Check::DaddrZeronet { daddr, value } => {
            format!("ipv4_is_zeronet(daddr {daddr}) = {}", b(value))
        }
        Check::DaddrLoopback {
            daddr,
            route_localnet,
            value,
        } => format!(
            "ipv4_is_loopback(daddr {daddr}) = {}, IN_DEV_NET_ROUTE_LOCALNET = {}",
            b(value),
            b(route_localnet)
        ),
        Check::SaddrLoopback {
            saddr,
            route_localnet,
            value,
        } => format!(
            "ipv4_is_loopback(saddr {saddr}) = {}, IN_DEV_NET_ROUTE_LOCALNET = {}",
            b(value),
            b(route_localnet)
        ),
        Check::Flow {
            daddr,
            saddr,
            iif,
            oif,
            mark,
            tos,
        } => {
            let mut s = format!(
                "flowi4: daddr {daddr} saddr {saddr} iif {}",
                ns.dev_name(iif)
            );
            if oif.0 != 0 {
                let _ = write!(s, " oif {}", ns.dev_name(oif));
            }
            if mark != 0 {
                let _ = write!(s, " mark 0x{mark:x}");
            }
            if tos != 0 {
                let _ = write!(s, " tos 0x{tos:x}");
            }
            s
        }
        Check::FibLookup { result } => format!("fib_lookup = {}", lookup(&result)),
        Check::TableLookup { table, result } => {
            format!("table {}: {}", table_name(table), lookup(&result))
        }
        Check::RuleMatch { pref, matched } => {
            format!(
                "rule {pref}: {}",
                if matched { "matches" } else { "does not match" }
            )
        }
        Check::RuleAction {
            pref,
            table,
            result,
        } => {
            format!(
                "rule {pref} lookup {}: {}",
                table_name(table),
                lookup(&result)
            )
        }
        Check::RuleSuppressed { pref } => format!("rule {pref}: result suppressed"),
        Check::InDevForward { dev, value } => format!(
            "IN_DEV_FORWARD({}) = {} ({})",
            ns.dev_name(dev),
            b(value),
            conf(ns, dev, DevconfKey::FORWARDING)
        ),
        Check::InDevBforward { dev, value } => format!(
            "IN_DEV_BFORWARD({}) = {} ({}, {})",
            ns.dev_name(dev),
            b(value),
            conf_all(ns, DevconfKey::BC_FORWARDING),
            conf(ns, dev, DevconfKey::BC_FORWARDING)
        ),
        Check::InDevSourceRoute { dev, value } => format!(
            "source route option, IN_DEV_SOURCE_ROUTE({}) = {} ({} AND {})",
            ns.dev_name(dev),
            b(value),
            conf_all(ns, DevconfKey::ACCEPT_SOURCE_ROUTE),
            conf(ns, dev, DevconfKey::ACCEPT_SOURCE_ROUTE)
        ),
        Check::ResType { rt_type } => {
            format!("res->type = {}", rt_type.kernel_name().unwrap_or("?"))
        }
        Check::ProtocolIp { value } => format!("skb->protocol == ETH_P_IP = {}", b(value)),
        Check::RpFilter { dev, value } => format!(
            "IN_DEV_RPFILTER({}) = {} (max of {}, {})",
            ns.dev_name(dev),
            value,
            conf_all(ns, DevconfKey::RP_FILTER),
            conf(ns, dev, DevconfKey::RP_FILTER)
        ),
        Check::AcceptLocal { dev, value } => {
            format!("IN_DEV_ACCEPT_LOCAL({}) = {}", ns.dev_name(dev), b(value))
        }
        Check::CustomRules { value } => {
            format!(
                "fib_has_custom_local_routes || fib4_has_custom_rules = {}",
                b(value)
            )
        }
        Check::SaddrIsLocal { saddr, value } => {
            format!(
                "inet_lookup_ifaddr_rcu(saddr {saddr}) (source is ours) = {}",
                b(value)
            )
        }
        Check::ReverseLookup {
            saddr,
            oif,
            mark,
            result,
        } => {
            let mut s = format!("reverse lookup to {saddr}");
            if oif.0 != 0 {
                let _ = write!(s, " oif {}", ns.dev_name(oif));
            }
            if mark != 0 {
                let _ = write!(s, " mark 0x{mark:x}");
            }
            let _ = write!(s, " = {}", lookup(&result));
            s
        }
        Check::DevMatch { dev, value } => {
            format!("reverse route uses {} = {}", ns.dev_name(dev), b(value))
        }
        Check::Validated { ret } => match ret {
            0 => "source valid (0)".to_string(),
            1 => "source valid, on-link (1)".to_string(),
            _ => "source invalid".to_string(),
        },
        Check::NhCache { hit } => format!("nhc_rth_input cached and valid = {}", b(hit)),
        Check::DoRedirect { value } => format!("IPSKB_DOREDIRECT = {}", b(value)),
        Check::Redirect {
            old_gw,
            new_gw,
            daddr,
            accepted,
        } => format!(
            "redirect for {daddr}: via {new_gw} instead of {old_gw}, accepted = {}",
            b(accepted)
        ),
        Check::ErrSocket {
            protocol,
            port,
            found,
        } => format!(
            "{} socket of port {port} for the error: {}",
            match protocol {
                1 => "ping",
                6 => "TCP",
                17 => "UDP",
                _ => "raw",
            },
            if found { "found" } else { "none" }
        ),
        Check::Multipath { hash, nh_sel } => format!("hash 0x{hash:08x} -> nexthop {nh_sel}"),
        Check::DstMade {
            input,
            output,
            rt_type,
            dev,
            error,
        } => {
            let mut s = format!(
                "rtable {} dev {}: dst.input = {}, dst.output = {}",
                rt_type.kernel_name().unwrap_or("?"),
                ns.dev_name(dev),
                input.name(),
                output.name()
            );
            if error.0 != 0 {
                let _ = write!(s, ", dst.error = {}", error);
            }
            s
        }
        Check::Counter { name } => format!("{name} += 1"),
        Check::DstInputCall { input } => format!("dst_input(skb) -> {}", input.name()),
        Check::IpError {
            error,
            forwarding,
            icmp_code,
        } => {
            let mut s = format!("dst.error = {error}, IN_DEV_FORWARD = {}", b(forwarding));
            if icmp_code != 255 {
                let _ = write!(s, ", ICMP 3/{icmp_code}");
            } else {
                s.push_str(", no ICMP");
            }
            s
        }
        Check::Drop { reason } => format!("drop: SKB_DROP_REASON_{}", reason.name()),
        Check::SourceAddress { saddr } => format!("source address {saddr}"),
        Check::PktType {
            host,
            broadcast,
            multicast,
        } => format!(
            "skb->pkt_type = {}",
            pkt_type_name(host, broadcast, multicast)
        ),
        Check::IpHeader {
            version,
            ihl,
            tot_len,
            len,
            csum_ok,
        } => format!(
            "version {version}, ihl {ihl}, tot_len {tot_len}, skb->len {len}, checksum {}",
            if csum_ok { "ok" } else { "bad" }
        ),
        Check::IpHeaderInvalid { version, ihl, len } => format!(
            "skb->len {len}, version {version}, ihl {ihl}: not an IPv4 header (needs skb->len >= 20, version 4, 5 <= ihl, ihl * 4 <= skb->len)"
        ),
        Check::Ttl { ttl } => format!("ttl {ttl} {} 1", if ttl > 1 { ">" } else { "<=" }),
        Check::Mtu { len, mtu, df } => format!("len {len}, mtu {mtu}, DF {}", b(df)),
        Check::DecreaseTtl {
            old_ttl,
            old_csum,
            new_csum,
        } => format!(
            "ip_decrease_ttl: {old_ttl} -> {}, csum 0x{old_csum:04x} -> 0x{new_csum:04x}",
            old_ttl.wrapping_sub(1)
        ),
        Check::Neigh { ip, mac, resolved } => {
            if resolved {
                format!(
                    "neigh: {ip} is {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                    mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
                )
            } else {
                format!("neigh: {ip} unresolved")
            }
        }
        Check::ArpSolicit { ip, sip, n } => format!(
            "who-has {ip} tell {sip} (solicitation {n} of {})",
            fwdsim_kernel::core::neighbour::MCAST_PROBES
        ),
        Check::ArpReply { ip, to } => format!("{ip} is-at this device, reply to {to}"),
        Check::NeighQueued { ip, qlen, bytes } => format!(
            "{ip} NUD_INCOMPLETE: packet queued (arp_queue {qlen} {}, {bytes} of {} bytes)",
            if qlen == 1 { "packet" } else { "packets" },
            fwdsim_kernel::core::neighbour::UNRES_QLEN_BYTES
        ),
        Check::NeighQueueFull { ip } => format!(
            "{ip}: arp_queue over unres_qlen_bytes, oldest packet dropped (SKB_DROP_REASON_NEIGH_QUEUEFULL)"
        ),
        Check::NeighTimer {
            ip,
            after_ms,
            probes,
            failed,
        } => {
            let max = fwdsim_kernel::core::neighbour::neigh_max_probes();
            if failed {
                format!("{ip} (+{after_ms} ms): probes {probes} >= {max}, no answer -> NUD_FAILED")
            } else {
                format!("{ip} (+{after_ms} ms): probes {probes} < {max}, solicit again")
            }
        }
        Check::NeighUpdate {
            ip,
            mac,
            reachable,
            sent,
        } => format!(
            "{ip} is {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, {}; {sent} queued {} sent",
            mac[0],
            mac[1],
            mac[2],
            mac[3],
            mac[4],
            mac[5],
            if reachable {
                "NUD_REACHABLE"
            } else {
                "NUD_STALE"
            },
            if sent == 1 { "packet" } else { "packets" }
        ),
        Check::FragTooFar { dropped, max_dist } => format!(
            "ip_frag_too_far: more than ipfrag_max_dist {max_dist} fragments of this source since the queue's last: {dropped} queued {} dropped (SKB_DROP_REASON_FRAG_TOO_FAR), the queue starts over",
            if dropped == 1 {
                "fragment"
            } else {
                "fragments"
            }
        ),
        Check::FragExpired {
            saddr,
            id,
            first_in,
        } => format!(
            "queue of {saddr} id 0x{id:04x} timed out (ipfrag_time){}",
            if first_in {
                ", first fragment in: ICMP time exceeded"
            } else {
                ", first fragment never came: no ICMP"
            }
        ),
        Check::IcmpSent { icmp_type, code } => format!("ICMP {icmp_type}/{code} sent"),
        Check::BrPortState { port, state } => format!(
            "port {} state {}",
            ns.dev_name(port),
            fwdsim_kernel::bridge::BrPortState(state).word()
        ),
        Check::BrLinkLocal { group, forwarded } => format!(
            "link-local group 01:80:c2:00:00:{group:02x}: {}",
            if forwarded {
                "forwarded"
            } else {
                "passed to the port's own protocols"
            }
        ),
        Check::BrFdbLearn { addr, port } => {
            format!("fdb: {} learned on {}", mac(&addr), ns.dev_name(port))
        }
        Check::BrFdbLookup {
            addr,
            found,
            dst,
            local,
        } => match (found, local) {
            (false, _) => format!("fdb: {} unknown", mac(&addr)),
            (true, true) => format!("fdb: {} is local", mac(&addr)),
            (true, false) => format!("fdb: {} is behind {}", mac(&addr), ns.dev_name(dst)),
        },
        Check::BrDeliver { to, sent } => format!(
            "to {}: {}",
            ns.dev_name(to),
            if sent { "sent" } else { "not delivered" }
        ),
        Check::BrPassUp { br } => format!("up to {}", ns.dev_name(br)),
        Check::ArpRouteFailed { sip, tip, reason } => format!(
            "ip_route_input_noref(daddr {tip}, saddr {sip}) failed ({}): the request is not answered",
            reason.name()
        ),
        Check::NfHook { .. }
        | Check::NfTable { .. }
        | Check::NfRule { .. }
        | Check::NfPolicy { .. }
        | Check::NfCt { .. }
        | Check::NfNat { .. }
        | Check::NftChain { .. }
        | Check::NftRule { .. }
        | Check::NftPolicy { .. } => crate::netfilter::describe(ns, c).unwrap_or_default(),
        Check::SocketLookup {
            protocol,
            daddr,
            dport,
            found,
        } => format!(
            "{} socket for {daddr}:{dport} = {}",
            if protocol == 6 {
                "tcp listening"
            } else {
                "udp"
            },
            if found { "found" } else { "none" }
        ),
        Check::OutputDev { dev } => format!("output device {}", ns.dev_name(dev)),
    }
}

/// The walk as text: one step a line, nested calls indented by two spaces.
pub fn trace_text(ns: &Netns, steps: &[Step]) -> String {
    let mut s = String::new();
    for st in steps {
        let indent = "  ".repeat(st.depth as usize);
        if st.check == Check::Enter {
            let _ = writeln!(s, "{indent}{} ({})", st.func.name(), st.func.file());
            continue;
        }
        let _ = write!(s, "{indent}{}: {}", st.func.name(), describe(ns, &st.check));
        if st.branch != Branch::Next {
            let _ = write!(s, " -> {}", st.branch.name());
        }
        s.push('\n');
    }
    s
}

/// How a walk is printed on a terminal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    /// ANSI colours: functions bold, files dim, error labels red, success
    /// labels green.
    pub colour: bool,
    /// The terminal's width: the `-> branch` arrows are aligned in one
    /// column and long conditions wrap so every line fits (the arrow stays
    /// on the condition's last line). `None` (a pipe or a file): one step a
    /// line, as the contract's section 4 says.
    pub width: Option<usize>,
}

impl Style {
    /// Whether the walk is printed as [`trace_text`] prints it.
    fn plain(&self) -> bool {
        !self.colour && self.width.is_none()
    }
}

/// The narrowest a wrapped condition gets, however deep the call.
const MIN_CONDITION: usize = 24;

/// Cuts `text` into pieces of at most `room` characters, at spaces. A
/// word longer than `room` stands alone on its piece when it fits `hard`
/// (an identifier is not cut for alignment's sake) and is cut at `hard`
/// only when it does not.
pub fn wrap_words(text: &str, room: usize, hard: usize) -> Vec<String> {
    let room = room.max(1);
    let hard = hard.max(room);
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0;
    // `x = y` is one word: a condition and its value stay on one line.
    let mut words: Vec<String> = Vec::new();
    let mut glue = false;
    for w in text.split(' ') {
        match words.last_mut() {
            Some(last) if glue || w == "=" => {
                last.push(' ');
                last.push_str(w);
            }
            _ => words.push(w.to_string()),
        }
        glue = w == "=";
    }
    for word in &words {
        let word = word.as_str();
        let wlen = word.chars().count();
        let need = if cur_len == 0 {
            wlen
        } else {
            cur_len + 1 + wlen
        };
        if need <= room || (cur_len == 0 && wlen <= hard) {
            if cur_len > 0 {
                cur.push(' ');
            }
            cur.push_str(word);
            cur_len = need;
            continue;
        }
        if cur_len > 0 {
            out.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        if wlen <= hard {
            cur.push_str(word);
            cur_len = wlen;
            continue;
        }
        let mut chars = word.chars().peekable();
        while chars.peek().is_some() {
            let piece: String = chars.by_ref().take(hard).collect();
            let n = piece.chars().count();
            if n == hard && chars.peek().is_some() {
                out.push(piece);
            } else {
                cur = piece;
                cur_len = n;
            }
        }
    }
    if cur_len > 0 || out.is_empty() {
        out.push(cur);
    }
    out
}

/// `line` wrapped to `width` columns, continuation lines indented by
/// `indent` spaces (the result lines and `why:` on a terminal).
pub fn wrap_line(line: &str, width: Option<usize>, indent: usize) -> String {
    let Some(w) = width else {
        return line.to_string();
    };
    if line.chars().count() <= w {
        return line.to_string();
    }
    let first = wrap_words(line, w, w);
    let head = first[0].clone();
    let rest: String = line.chars().skip(head.chars().count()).collect();
    let rest = rest.trim_start();
    let mut s = head;
    let room = w.saturating_sub(indent).max(MIN_CONDITION);
    for piece in wrap_words(rest, room, room) {
        s.push('\n');
        s.push_str(&" ".repeat(indent));
        s.push_str(&piece);
    }
    s
}

/// One step of a walk as printed: its text (more than one line when a
/// long condition wraps) and whether it is a function's header line
/// (`ip_rcv (net/ipv4/ip_input.c)`), which `--step` does not stop at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceLine {
    /// The step's text, without a final newline.
    pub text: String,
    /// A header: the function entered, with its file.
    pub header: bool,
}

/// The walk for a terminal, one [`TraceLine`] a step: see [`Style`].
pub fn trace_lines_styled(ns: &Netns, steps: &[Step], style: Style) -> Vec<TraceLine> {
    if style.plain() {
        return trace_text(ns, steps)
            .lines()
            .zip(steps)
            .map(|(l, st)| TraceLine {
                text: l.to_string(),
                header: st.check == Check::Enter,
            })
            .collect();
    }
    struct Body {
        indent: usize,
        name: &'static str,
        cond: String,
        arrow: Option<(String, Branch)>,
    }
    let bodies: Vec<Option<Body>> = steps
        .iter()
        .map(|st| {
            (st.check != Check::Enter).then(|| Body {
                indent: st.depth as usize * 2,
                name: st.func.name(),
                cond: describe(ns, &st.check),
                arrow: (st.branch != Branch::Next)
                    .then(|| (format!("-> {}", st.branch.name()), st.branch)),
            })
        })
        .collect();
    let len = |b: &Body| b.indent + b.name.len() + 2 + b.cond.chars().count();
    let arrow_max = bodies
        .iter()
        .flatten()
        .filter_map(|b| b.arrow.as_ref().map(|a| a.0.len()))
        .max()
        .unwrap_or(0);
    // The column the arrows are aligned after: the longest body with an
    // arrow, up to 100 columns without a width, or up to what leaves room
    // for the longest arrow on the terminal.
    let cap = match style.width {
        Some(w) => w.saturating_sub(arrow_max + 1),
        None => 100,
    };
    let longest = bodies
        .iter()
        .flatten()
        .filter(|b| b.arrow.is_some())
        .map(len);
    let col = match style.width {
        Some(_) => longest.max().unwrap_or(0).min(cap),
        None => longest.filter(|&l| l <= cap).max().unwrap_or(0),
    };
    steps
        .iter()
        .zip(&bodies)
        .map(|(st, b)| {
            let Some(b) = b else {
                return TraceLine {
                    text: format!(
                        "{}{} {}",
                        "  ".repeat(st.depth as usize),
                        paint(st.func.name(), "1;36", style.colour),
                        paint(&format!("({})", st.func.file()), "2", style.colour)
                    ),
                    header: true,
                };
            };
            let lead = b.indent + b.name.len() + 2;
            let alen = b.arrow.as_ref().map_or(0, |a| a.0.len() + 1);
            // Wrapped only on a terminal and only when the step, arrow
            // included, would not fit its width.
            let pieces = match style.width {
                Some(w) if len(b) + alen > w => {
                    let (room, hard) = if alen > 0 {
                        (col.saturating_sub(lead), w.saturating_sub(lead + alen))
                    } else {
                        (w.saturating_sub(lead), w.saturating_sub(lead))
                    };
                    let room = room.max(MIN_CONDITION);
                    wrap_words(&b.cond, room, hard)
                }
                _ => vec![b.cond.clone()],
            };
            let mut text = format!(
                "{}{}: ",
                " ".repeat(b.indent),
                paint(b.name, "2", style.colour)
            );
            let last = pieces.len() - 1;
            for (k, piece) in pieces.iter().enumerate() {
                if k > 0 {
                    text.push('\n');
                    text.push_str(&" ".repeat(lead));
                }
                text.push_str(piece);
                if k == last
                    && let Some((arrow, branch)) = &b.arrow
                {
                    let used = lead + piece.chars().count();
                    let pad = col.saturating_sub(used);
                    let _ = write!(
                        text,
                        "{:pad$} {}",
                        "",
                        paint(arrow, branch_colour(*branch), style.colour)
                    );
                }
            }
            TraceLine {
                text,
                header: false,
            }
        })
        .collect()
}

const RESET: &str = "\x1b[0m";

fn paint(s: &str, code: &str, on: bool) -> String {
    if on {
        format!("\x1b[{code}m{s}{RESET}")
    } else {
        s.to_string()
    }
}

/// The colour of a branch: red where the packet heads for an error label,
/// green where it heads for a route, yellow otherwise.
fn branch_colour(b: Branch) -> &'static str {
    match b {
        Branch::no_route
        | Branch::martian_source
        | Branch::martian_destination
        | Branch::e_inval
        | Branch::last_resort
        | Branch::out => "1;31",
        Branch::ok | Branch::make_route | Branch::cached => "32",
        _ => "33",
    }
}

/// The steps of [`trace_lines_styled`] as one text, a newline after each.
pub fn join_lines(lines: &[TraceLine]) -> String {
    let mut s = String::new();
    for l in lines {
        s.push_str(&l.text);
        s.push('\n');
    }
    s
}

/// [`trace_text`] for a terminal: the steps of [`trace_lines_styled`],
/// each ending in a newline; exactly [`trace_text`] without colour or width.
pub fn trace_text_styled(ns: &Netns, steps: &[Step], style: Style) -> String {
    join_lines(&trace_lines_styled(ns, steps, style))
}

/// The result line of a walk, bold, red for a drop or an error and green
/// otherwise (plain without colour).
pub fn paint_result(line: &str, failed: bool, style: Style) -> String {
    paint(line, if failed { "1;31" } else { "1;32" }, style.colour)
}

/// Whether output to stdout is coloured: never with `NO_COLOR` set (any
/// value), always with `CLICOLOR_FORCE` set to anything but `0`, else when
/// stdout is a terminal.
pub fn colour_wanted(stdout_is_terminal: bool) -> bool {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return false;
    }
    if std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") {
        return true;
    }
    stdout_is_terminal
}

/// The walk as a JSON array of steps.
pub fn trace_json(ns: &Netns, steps: &[Step]) -> Value {
    Value::Array(
        steps
            .iter()
            .map(|st| {
                json!({
                    "depth": st.depth,
                    "function": st.func.name(),
                    "file": st.func.file(),
                    "check": if st.check == Check::Enter { Value::Null } else { json!(describe(ns, &st.check)) },
                    "branch": if st.branch == Branch::Next { Value::Null } else { json!(st.branch.name()) },
                })
            })
            .collect(),
    )
}

/// The last line of a walk: where the packet goes, or why it dies.
pub fn trace_result_line(
    rt_type: Option<RouteType>,
    input: Option<&str>,
    drop: Option<&str>,
) -> String {
    match (drop, input) {
        (Some(d), _) => format!("result: drop, SKB_DROP_REASON_{d}"),
        (None, Some(i)) => format!(
            "result: {}, dst.input = {}",
            rt_type.and_then(|t| t.kernel_name()).unwrap_or("?"),
            i
        ),
        _ => "result: none".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_wrap_at_spaces_and_keep_a_value_with_its_condition() {
        assert_eq!(
            wrap_words("ipv4_is_multicast(daddr 8.8.8.8) = 0", 30, 30),
            ["ipv4_is_multicast(daddr", "8.8.8.8) = 0"]
        );
        assert_eq!(wrap_words("a b c", 3, 3), ["a b", "c"]);
        assert_eq!(wrap_words("short", 80, 80), ["short"]);
        assert_eq!(wrap_words("", 10, 10), [""]);
    }

    #[test]
    fn a_long_word_stands_alone_up_to_hard_and_is_cut_past_it() {
        assert_eq!(
            wrap_words("x (net.ipv4.conf.docker0.forwarding y", 10, 40),
            ["x", "(net.ipv4.conf.docker0.forwarding", "y"]
        );
        assert_eq!(wrap_words("abcdefghij", 4, 4), ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn a_line_wraps_to_the_width_with_its_continuation_indented() {
        assert_eq!(
            wrap_line("result: one two three four", Some(16), 8),
            "result: one two\n        three four"
        );
        assert_eq!(wrap_line("result: fits", Some(80), 8), "result: fits");
        assert_eq!(
            wrap_line("result: one two three four", None, 8),
            "result: one two three four"
        );
    }
}
