//! `fwdsim send icmp|udp|tcp DST [--port N] --from NS --topology DIR`: a
//! packet sent by a namespace's own stack, as `ping -c1`, `nc -u` or `nc`
//! would send it, followed through every namespace it reaches, and the
//! reply the destination's model makes followed back. Prints each hop and
//! ends with the outcome.
//!
//! Exit status: 0 when a reply reached the sender (or a UDP datagram was
//! delivered), 2 when none did (dropped, left the topology, no route), 1
//! for bad input.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use fwdsim_kernel::topology::{
    HopVerdict, PacketId, StackProto, StackSend, Start, TopoPacket, Topology,
};
use serde_json::{Value, json};

use crate::Failure;
use crate::topo::{drop_why, hop_json};

/// What `send` sends.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Proto {
    /// An ICMP echo request (`ping -c1 DST`).
    Icmp,
    /// A UDP datagram (`nc -u DST PORT`).
    Udp,
    /// A TCP SYN (`nc DST PORT`, `connect()`).
    Tcp,
}

/// `fwdsim send ...`.
#[derive(Args)]
pub struct SendArgs {
    /// icmp, udp or tcp.
    #[arg(required_unless_present = "script")]
    proto: Option<Proto>,
    /// The destination address.
    #[arg(required_unless_present = "script")]
    dst: Option<Ipv4Addr>,
    /// The destination port (udp, tcp).
    #[arg(short = 'p', long)]
    port: Option<u16>,
    /// The namespace whose stack sends (`ctr`, `host`, ...).
    #[arg(long, value_name = "NS", required_unless_present = "script")]
    from: Option<String>,
    /// The topology: a directory (`fwdsim topo dump`) or a TOML topology.
    #[arg(long, value_name = "DIR")]
    topology: PathBuf,
    /// The source address (as `ping -I ADDR`; default: the route's).
    #[arg(short = 'I', long = "src", value_name = "ADDR")]
    src: Option<Ipv4Addr>,
    /// The source port (udp, tcp; default 40000) or echo identifier (icmp; default 1).
    #[arg(long, value_name = "N")]
    sport: Option<u16>,
    /// The IP TTL (as `ping -t`; default: net.ipv4.ip_default_ttl).
    #[arg(short = 't', long)]
    ttl: Option<u8>,
    /// Send every line of FILE in turn, in one topology whose state
    /// (neighbours, bridge FDBs, conntrack, ICMP rate limits) carries from
    /// one line to the next: `[@SECONDS] PROTO DST [--port N] --from NS
    /// [--sport N] [-I ADDR] [-t TTL]`, or `[@SECONDS] neigh flush` (as
    /// `ip neigh flush all` in every namespace); `#` starts a comment.
    /// `@SECONDS` is the time since the first line (default: the line
    /// before's). Prints one answer per send.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["proto", "dst", "from", "trace"])]
    script: Option<PathBuf>,
    /// Set a sysctl in one namespace first, as `sysctl -w KEY=VALUE` would
    /// there (repeatable): `--sysctl host:net.ipv4.ip_forward=1`.
    #[arg(long = "sysctl", value_name = "NS:KEY=VALUE")]
    sysctl: Vec<String>,
    /// After the outcome, the model's walk of each hop, under a heading per
    /// namespace and device.
    #[arg(long, conflicts_with = "json")]
    trace: bool,
    /// Write every frame each device of the topology sent or received, as
    /// `tcpdump -i DEV` on it would see them, to a pcapng with one
    /// interface per device named `NS/DEV` (directions in `epb_flags`).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// One JSON object per send: the request's "hops", its last hop's
    /// fields, "reply" (its hops and fields, or null), "caused" (every
    /// packet it made the topology send, and those made in turn), "icmp" (the ICMP
    /// error that came back to the sender's device), "errno", "outcome",
    /// "counterfactuals" and every namespace's "counters" (with --script,
    /// also "line" and "at", one object a line).
    #[arg(short = 'j', long = "json")]
    json: bool,
}

/// One line of a `--script`.
#[derive(clap::Parser)]
#[command(no_binary_name = true)]
struct ScriptSend {
    proto: Proto,
    dst: Ipv4Addr,
    #[arg(short = 'p', long)]
    port: Option<u16>,
    #[arg(long)]
    from: String,
    #[arg(short = 'I', long = "src")]
    src: Option<Ipv4Addr>,
    #[arg(long)]
    sport: Option<u16>,
    #[arg(short = 't', long)]
    ttl: Option<u8>,
}

/// One send: who, what, when.
struct OneSend {
    proto: Proto,
    dst: Ipv4Addr,
    port: Option<u16>,
    from: String,
    src: Option<Ipv4Addr>,
    sport: Option<u16>,
    ttl: Option<u8>,
    /// When (jiffies since the start).
    at: u64,
}

/// A step of a script.
enum Action {
    Send(OneSend),
    NeighFlush { at: u64 },
}

/// A script's steps with their line numbers, and its unreadable lines.
type Script = (Vec<(usize, Action)>, Vec<String>);

/// Reads a `--script`: its steps with their line numbers, and the lines
/// that could not be read (`FILE:LINE: what`), which are left out.
fn read_script(path: &std::path::Path) -> Result<Script, Failure> {
    use clap::Parser;
    let text =
        std::fs::read_to_string(path).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    let (mut out, mut bad) = (Vec::new(), Vec::new());
    let mut now = 0u64;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words: Vec<&str> = line.split_whitespace().collect();
        if let Some(t) = words[0].strip_prefix('@') {
            match t.parse::<f64>() {
                Ok(secs) if secs.is_finite() && secs >= 0.0 => {
                    let at = (secs * fwdsim_kernel::HZ as f64).round() as u64;
                    if at < now {
                        bad.push(format!(
                            "{}:{n}: @{t} is earlier than the line before (times only go forward)",
                            path.display()
                        ));
                        continue;
                    }
                    now = at;
                }
                _ => {
                    bad.push(format!(
                        "{}:{n}: @{t}: not a time in seconds (e.g. @0.25)",
                        path.display()
                    ));
                    continue;
                }
            }
            words.remove(0);
        }
        if words == ["neigh", "flush"] {
            out.push((n, Action::NeighFlush { at: now }));
            continue;
        }
        match ScriptSend::try_parse_from(&words) {
            Ok(s) => out.push((
                n,
                Action::Send(OneSend {
                    proto: s.proto,
                    dst: s.dst,
                    port: s.port,
                    from: s.from,
                    src: s.src,
                    sport: s.sport,
                    ttl: s.ttl,
                    at: now,
                }),
            )),
            Err(e) => {
                let msg = e.to_string();
                let first = msg
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim_start_matches("error: ");
                bad.push(format!("{}:{n}: {first}", path.display()));
            }
        }
    }
    Ok((out, bad))
}

/// The IPv4 header fields of a frame: (src, dst, protocol, transport bytes).
fn ip_of(frame: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, u8, &[u8])> {
    let ip = frame.get(14..)?;
    if ip.len() < 20 || ip[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    Some((src, dst, ip[9], ip.get(ihl..).unwrap_or(&[])))
}

/// What a reply is, in words: "ICMP echo reply", "ICMP port unreachable",
/// "TCP SYN-ACK", "TCP RST".
fn reply_words(frame: &[u8]) -> String {
    let Some((_, _, proto, l4)) = ip_of(frame) else {
        return "a frame".into();
    };
    match (proto, l4.first(), l4.get(1)) {
        (1, Some(0), _) => "ICMP echo reply".into(),
        (1, Some(3), Some(c)) => format!(
            "ICMP destination unreachable ({})",
            match c {
                0 => "net unreachable",
                1 => "host unreachable",
                2 => "protocol unreachable",
                3 => "port unreachable",
                4 => "fragmentation needed",
                9 | 10 | 13 => "administratively prohibited",
                _ => "other",
            }
        ),
        (1, Some(11), _) => "ICMP time exceeded".into(),
        (1, Some(5), _) => "ICMP redirect".into(),
        (1, Some(t), _) => format!("ICMP type {t}"),
        (6, _, _) if l4.len() >= 14 => {
            let flags = l4[13];
            if flags & 0x04 != 0 {
                "TCP RST".into()
            } else if flags & 0x12 == 0x12 {
                "TCP SYN-ACK".into()
            } else {
                format!("TCP flags 0x{flags:02x}")
            }
        }
        (17, _, _) => "UDP".into(),
        (p, _, _) => format!("IP protocol {p}"),
    }
}

/// The ICMP error of a reply: (type, code).
fn icmp_error(frame: &[u8]) -> Option<(u8, u8)> {
    let (_, _, proto, l4) = ip_of(frame)?;
    let (t, c) = (*l4.first()?, *l4.get(1)?);
    (proto == 1 && matches!(t, 3 | 4 | 5 | 11 | 12)).then_some((t, c))
}

/// The heading of a packet's walk: the request's words, or the reply's.
fn reply_words_or_request(p: &TopoPacket, request: &str) -> String {
    if p.cause.is_some() {
        reply_words(&p.frame)
    } else {
        request.to_string()
    }
}

fn hop_lines(topo: &Topology, p: &TopoPacket) -> Vec<String> {
    p.hops
        .iter()
        .map(|h| format!("  {}", topo.hop_text(h)))
        .collect()
}

/// The outcome of a packet whose fate is its last hop, in words: where it
/// was dropped and why, or where it left.
fn fate_words(topo: &Topology, p: &TopoPacket) -> String {
    let Some(h) = p.last() else {
        return "nothing happened to it".into();
    };
    let ns = topo.name(h.ns);
    let dev = topo.netns(h.ns).dev_name(h.dev);
    match h.verdict {
        HopVerdict::Drop => {
            let reason = h.drop_reason.map_or("NOT_SPECIFIED", |r| r.name());
            if reason == "NEIGH_FAILED" {
                return format!(
                    "dropped on {ns} at {dev}: NEIGH_FAILED (the next hop did not answer ARP)"
                );
            }
            // The walk the model recorded for this hop says why; else the
            // input route decision, re-run, explains a routing drop.
            let hop_index = p.hops.len() - 1;
            let why = p
                .steps
                .iter()
                .rev()
                .find(|(i, _)| *i <= hop_index)
                .and_then(|(_, steps)| {
                    let st = fwdsim_kernel::explain::why(steps)?;
                    let mut w = st.func.name().to_string();
                    if st.branch != fwdsim_kernel::trace::Branch::Next {
                        w += &format!(" ({})", st.branch.name());
                    }
                    w += &format!(
                        ": {}",
                        fwdsim_render::trace::describe(topo.netns(h.ns), &st.check)
                    );
                    Some(w)
                })
                .or_else(|| {
                    let routing = matches!(
                        reason,
                        "IP_INADDRERRORS"
                            | "IP_INNOROUTES"
                            | "IP_RPFILTER"
                            | "IP_INVALID_SOURCE"
                            | "IP_LOCAL_SOURCE"
                            | "IP_INVALID_DEST"
                            | "IP_LOCALNET"
                    );
                    ip_of(&p.frame)
                        .filter(|_| routing)
                        .and_then(|(s, d, pr, _)| drop_why(topo, h, s, d, pr))
                });
            match why {
                Some(w) => format!("dropped on {ns} by {w} ({reason})"),
                None => format!("dropped on {ns} at {dev}: {reason}"),
            }
        }
        HopVerdict::Left => {
            format!("left the topology on {ns}/{dev} (nothing beyond it is modelled)")
        }
        HopVerdict::Queued => format!("still waiting on {ns}/{dev} for the neighbour"),
        HopVerdict::Local => format!("delivered on {ns}"),
        v => format!("last seen on {ns}/{dev} ({})", v.word()),
    }
}

/// Whether a packet is an ICMP redirect (a router's side message, not the
/// answer to the request).
fn is_redirect(p: &TopoPacket) -> bool {
    ip_of(&p.frame).is_some_and(|(_, _, proto, l4)| proto == 1 && l4.first() == Some(&5))
}

/// The packet the request caused that went back (not ARP, not a redirect).
fn reply_of(topo: &Topology, id: PacketId) -> Option<&TopoPacket> {
    topo.replies_to(id).find(|p| !p.is_arp() && !is_redirect(p))
}

/// Runs `send`.
pub fn run(a: &SendArgs) -> Result<ExitCode, Failure> {
    let t = crate::topo::load_with_sysctls(&a.topology, &a.sysctl)?;
    let mut topo = crate::topo::engine(t)?;
    if a.out.is_some() {
        topo.capture = Some(Vec::new());
    }
    let (actions, bad) = match &a.script {
        Some(path) => read_script(path)?,
        None => (
            vec![(
                0,
                Action::Send(OneSend {
                    proto: a.proto.unwrap_or(Proto::Icmp),
                    dst: a.dst.unwrap_or(Ipv4Addr::UNSPECIFIED),
                    port: a.port,
                    from: a.from.clone().unwrap_or_default(),
                    src: a.src,
                    sport: a.sport,
                    ttl: a.ttl,
                    at: 0,
                }),
            )],
            Vec::new(),
        ),
    };
    let script = a.script.is_some();
    let mut all_answered = true;
    let mut failed = Vec::new();
    // Where each script line's frames start in the capture.
    let mut marks: Vec<(usize, usize)> = Vec::new();
    for (line, action) in &actions {
        let s = match action {
            Action::NeighFlush { at } => {
                topo.now = topo.now.max(*at);
                for i in 0..topo.names().len() {
                    let id = fwdsim_kernel::topology::NsId(i);
                    fwdsim_kernel::core::neighbour::neigh_flush(topo.netns_mut(id));
                }
                continue;
            }
            Action::Send(s) => s,
        };
        marks.push((topo.capture.as_ref().map_or(0, Vec::len), *line));
        match send_one(&mut topo, s, a, script.then_some(*line)) {
            Ok(answered) => all_answered &= answered,
            Err(e) if script => {
                let where_ = a.script.as_deref().unwrap_or(std::path::Path::new("-"));
                failed.push(format!("{}:{line}: {}", where_.display(), e.0));
            }
            Err(e) => return Err(e),
        }
        topo.clear_packets();
    }
    if let Some(path) = &a.out {
        write_frames(&topo, path, script.then_some(&marks[..]))?;
    }
    let errors: Vec<String> = bad.into_iter().chain(failed).collect();
    for e in &errors {
        eprintln!("fwdsim: {e}");
    }
    Ok(if !errors.is_empty() {
        ExitCode::from(1)
    } else if all_answered {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Sends `s` in `topo` and prints its answer (`line`: its script line).
/// Returns whether it was answered (a reply reached the sender, or a UDP
/// datagram was delivered).
fn send_one(
    topo: &mut Topology,
    s: &OneSend,
    a: &SendArgs,
    line: Option<usize>,
) -> Result<bool, Failure> {
    let (from, _) = crate::topo::at(topo, &s.from)?;
    let from_name = topo.name(from).to_string();
    let proto = match s.proto {
        Proto::Icmp => StackProto::echo(s.sport.unwrap_or(1), 1),
        Proto::Udp | Proto::Tcp => {
            let dport = s.port.ok_or_else(|| {
                let p = if matches!(s.proto, Proto::Udp) {
                    "udp"
                } else {
                    "tcp"
                };
                Failure(format!("send {p}: give the destination port with --port N"))
            })?;
            let sport = s.sport.unwrap_or(40000);
            match s.proto {
                Proto::Udp => StackProto::Udp {
                    sport,
                    dport,
                    payload_len: 5,
                },
                _ => StackProto::TcpSyn {
                    sport,
                    dport,
                    seq: 1,
                },
            }
        }
    };
    let mut req = StackSend::new(s.dst, proto);
    req.src = s.src;
    req.ttl = s.ttl;
    let before: Vec<_> = topo
        .names()
        .iter()
        .map(|n| topo.ns(n).map(|x| x.mib.clone()).unwrap_or_default())
        .collect();
    // The state the send starts from, for the counterfactuals (without the
    // frames captured so far).
    let mut pristine = topo.clone();
    pristine.capture = None;
    pristine.record_steps = false;
    topo.record_steps = true;
    let at = s.at.max(topo.now);
    let sent = topo.send_from_stack(&from_name, &req, at);
    let what = match s.proto {
        Proto::Icmp => "ICMP echo request".to_string(),
        Proto::Udp => format!("UDP to port {}", s.port.unwrap_or(0)),
        Proto::Tcp => format!("TCP SYN to port {}", s.port.unwrap_or(0)),
    };
    let stamp = |o: &mut Value| {
        if let Some(l) = line {
            o["line"] = json!(l);
            o["at"] = json!(at as f64 / fwdsim_kernel::HZ as f64);
        }
    };
    let id = match sent {
        Ok(id) => id,
        Err(fwdsim_kernel::topology::TopologyError::NoRoute { errno, .. }) => {
            let msg = errno.message();
            if a.json {
                let mut o = json!({"hops": [], "ns": from_name, "dev": null, "verdict": "error",
                       "drop_reason": null, "reply": null, "icmp": null,
                       "errno": errno.to_string(), "outcome": format!("connect: {msg}")});
                o["counters"] = counters_json(topo, &before);
                stamp(&mut o);
                println!("{o}");
            } else {
                println!("{what} from {from_name} to {}", s.dst);
                println!(
                    "no reply: connect: {msg} (the route lookup on {from_name} failed; nothing was sent)"
                );
            }
            return Ok(false);
        }
        Err(e) => return Err(e.into()),
    };
    topo.run();
    let p = topo.packet(id).clone();
    let reply = reply_of(topo, id).cloned();
    let reached = reply
        .as_ref()
        .and_then(|r| r.last())
        .is_some_and(|h| h.verdict == HopVerdict::Local && h.ns == from);
    let delivered_udp = matches!(s.proto, Proto::Udp)
        && reply.is_none()
        && p.last().is_some_and(|h| h.verdict == HopVerdict::Local);
    let src = ip_of(&p.frame).map_or(Ipv4Addr::UNSPECIFIED, |x| x.0);
    let outcome = match &reply {
        Some(r) if reached => format!(
            "reply: {} from {} reached {from_name} after {} hops",
            reply_words(&r.frame),
            ip_of(&r.frame).map_or(s.dst, |x| x.0),
            r.hops.len()
        ),
        Some(r) => format!(
            "no reply: the {} was {}",
            reply_words(&r.frame),
            fate_words(topo, r)
        ),
        None if delivered_udp => format!(
            "delivered on {} (UDP gives no answer to a delivered datagram)",
            p.last().map_or("?", |h| topo.name(h.ns))
        ),
        None => match p.last() {
            Some(h) if h.verdict == HopVerdict::Local => {
                let ns = topo.name(h.ns);
                match crate::topo::no_route_back(topo, h.ns, src) {
                    Some(why) => format!(
                        "no reply: delivered on {ns}, whose answer to {src} has no route: {why}"
                    ),
                    None => format!("no reply: delivered on {ns}, which did not answer"),
                }
            }
            _ => format!("no reply: {}", fate_words(topo, &p)),
        },
    };
    let counterfactuals = if reached || delivered_udp {
        Vec::new()
    } else {
        let start = Start::Stack {
            ns: from_name.clone(),
            req: req.clone(),
            now: at,
        };
        fwdsim_kernel::topology::explain::explain(&pristine, &[start], 0)
            .map(|e| e.counterfactuals)
            .unwrap_or_default()
    };
    if a.json {
        let last = |p: &TopoPacket| -> Value {
            match p.last() {
                Some(h) => hop_json(topo, h),
                None => json!({"ns": null, "dev": null, "verdict": null, "drop_reason": null}),
            }
        };
        let mut o = last(&p);
        o["hops"] = Value::Array(p.hops.iter().map(|h| hop_json(topo, h)).collect());
        o["reply"] = match &reply {
            Some(r) => {
                let mut v = last(r);
                v["hops"] = Value::Array(r.hops.iter().map(|h| hop_json(topo, h)).collect());
                v["what"] = json!(reply_words(&r.frame));
                v
            }
            None => Value::Null,
        };
        // The first ICMP error (a redirect too) that came back to the
        // sender's device, whatever the sender's stack then did with it.
        let back = |r: &TopoPacket| {
            r.hops
                .iter()
                .any(|h| h.ns == from && h.verdict != HopVerdict::Sent)
        };
        o["icmp"] = match topo
            .replies_to(id)
            .filter(|c| !c.is_arp() && back(c))
            .find_map(|c| icmp_error(&c.frame))
        {
            Some((t, c)) => json!({"type": t, "code": c}),
            None => Value::Null,
        };
        // Every packet the request made the topology send, and those they
        // made in turn (replies, ICMP errors, redirects; not ARP), in the
        // order they were made.
        let mut family = vec![id];
        let mut i = 0;
        while i < family.len() {
            family.extend(topo.replies_to(family[i]).map(|c| c.id));
            i += 1;
        }
        family.sort();
        o["caused"] = Value::Array(
            family[1..]
                .iter()
                .map(|&c| topo.packet(c))
                .filter(|c| !c.is_arp())
                .map(|c| {
                    let mut v = last(c);
                    v["what"] = json!(reply_words(&c.frame));
                    v["hops"] = Value::Array(c.hops.iter().map(|h| hop_json(topo, h)).collect());
                    v
                })
                .collect(),
        );
        o["errno"] = Value::Null;
        o["outcome"] = json!(outcome);
        o["counterfactuals"] = Value::Array(
            counterfactuals
                .iter()
                .map(|c| json!({"ns": c.ns, "change": c.change, "outcome": c.text}))
                .collect(),
        );
        o["counters"] = counters_json(topo, &before);
        stamp(&mut o);
        println!("{o}");
    } else {
        if let Some(l) = line {
            println!("line {l}:");
        }
        println!("{what} from {from_name} {src} to {}", s.dst);
        for l in hop_lines(topo, &p) {
            println!("{l}");
        }
        if let Some(r) = &reply {
            let (rs, rd) = ip_of(&r.frame).map_or((s.dst, src), |x| (x.0, x.1));
            println!("{} from {rs} to {rd}", reply_words(&r.frame));
            for l in hop_lines(topo, r) {
                println!("{l}");
            }
        }
        println!("{outcome}");
        for c in &counterfactuals {
            println!("  with {}: {}: {}", c.ns, c.change, c.text);
        }
        if a.trace {
            for pk in std::iter::once(&p).chain(reply.as_ref()) {
                println!();
                println!("{}", reply_words_or_request(pk, &what));
                print!("{}", fwdsim_render::topology::walk_text(topo, pk));
            }
        }
    }
    Ok(reached || delivered_udp)
}

/// Writes the frames the topology's devices saw (`Topology::capture`) to a
/// pcapng at `path`: one interface per device `NS/DEV`, in the order the
/// devices first saw a frame, each frame with its direction and, for a
/// script (`marks`: where each line's frames start), the comment `line N`.
fn write_frames(
    topo: &Topology,
    path: &std::path::Path,
    marks: Option<&[(usize, usize)]>,
) -> Result<(), Failure> {
    use fwdsim_pcap::{Direction, LinkType, PcapngWriter};
    let err = |e: &dyn std::fmt::Display| Failure(format!("{}: {e}", path.display()));
    let mut w = PcapngWriter::create(path).map_err(|e| err(&e))?;
    let mut comment = String::new();
    for (i, f) in topo.capture.as_deref().unwrap_or(&[]).iter().enumerate() {
        let name = format!("{}/{}", topo.name(f.ns), topo.netns(f.ns).dev_name(f.dev));
        let id = w
            .add_interface(&name, LinkType::ETHERNET)
            .map_err(|e| err(&e))?;
        let ts = i128::from(f.at) * 1_000_000_000 / i128::from(fwdsim_kernel::HZ);
        let dir = if f.outgoing {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        let line = marks.and_then(|m| m.iter().rev().find(|(start, _)| *start <= i));
        if let Some((_, l)) = line {
            comment.clear();
            comment.push_str(&format!("line {l}"));
        }
        w.write_packet_with_options(id, ts, &f.frame, Some(dir), line.map(|_| comment.as_str()))
            .map_err(|e| err(&e))?;
    }
    w.flush().map_err(|e| err(&e))
}

/// Every namespace's counter deltas since `before`: `{NS: {"snmp": ...}}`.
fn counters_json(topo: &Topology, before: &[fwdsim_kernel::ipv4::snmp::IpMib]) -> Value {
    let mut counters = serde_json::Map::new();
    for (i, n) in topo.names().iter().enumerate() {
        if let Some(ns) = topo.ns(n) {
            counters.insert(
                n.clone(),
                fwdsim_render::replay::snmp_delta(&before[i], &ns.mib),
            );
        }
    }
    Value::Object(counters)
}
