//! `fwdsim`: ask a model of the Linux IPv4 input path what the kernel does
//! with a packet. The command line is parsed (clap), `--host` becomes a
//! loaded `Netns`, and the answer is printed by fwdsim-render.
//!
//! Exit status: 0 success; 1 bad input (file, address, device, sysctl);
//! 2 the route lookup failed (as `ip route get` exits with `RTNETLINK answers`).

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod capture;
mod send;
mod step;
mod topo;
mod topo_doctor;
mod topo_replay;
use fwdsim_kernel::Netns;
use fwdsim_kernel::ipv4::rtnetlink::{RouteGetRequest, inet_rtm_getroute};
use fwdsim_kernel::trace::{NoTrace, Recorder};
use fwdsim_render::{iproute2, trace};

#[derive(Parser)]
#[command(
    name = "fwdsim",
    version,
    about = "Simulate the Linux kernel's IPv4 input path on a host snapshot or a TOML host"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Routes: `route get` as iproute2's `ip route get`.
    #[command(subcommand)]
    Route(RouteCmd),
    /// Hosts: dump a real one, show a loaded one.
    #[command(subcommand)]
    Host(HostCmd),
    /// Run every packet of a capture through the host, as the kernel would.
    #[command(
        after_help = "Examples:\n  fwdsim replay fixtures/pcaps/docker.pcapng --host fixtures/hosts/docker-forwarding-off.toml   (the container's packets on a host with forwarding off)\n  fwdsim replay fixtures/pcaps/docker-masquerade.pcapng --host fixtures/hosts/docker-28.toml -j --out egress.pcapng --save-counters counters.txt   (Docker's rules: NAT both ways, the frames sent, the rules' counters)"
    )]
    Replay(ReplayArgs),
    /// Say why a packet gets the route (or error) it gets, and which changes
    /// to the host would give a different answer (each checked by re-running
    /// the decision on a modified copy).
    #[command(
        after_help = "Example:\n  fwdsim explain 8.8.8.8 from 172.17.0.2 iif docker0 --host fixtures/hosts/docker-forwarding-off.toml   (why the container's packet dies, and the sysctls that would save it)"
    )]
    Explain(ExplainArgs),
    /// Check a host for the conditions that silently break forwarding.
    #[command(
        after_help = "Example:\n  fwdsim doctor --host fixtures/hosts/docker-forwarding-off.toml   (ip_forward = 0 found first)"
    )]
    Doctor {
        #[command(flatten)]
        sim: SimArgs,
        /// Check a topology instead: every namespace, and the links between them.
        #[arg(long, value_name = "DIR", conflicts_with = "host")]
        topology: Option<PathBuf>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Example:\n  fwdsim completions bash > /etc/bash_completion.d/fwdsim   (install the bash completions)"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), generated from these definitions.
    #[command(after_help = "Example:\n  fwdsim man > fwdsim.1   (then: man ./fwdsim.1)")]
    Man,
    /// Sysctls: a host's values (get, set as `sysctl -w`) and where a value at boot comes from.
    #[command(subcommand)]
    Sysctl(SysctlCmd),
    /// The step-by-step walk of one packet of a capture.
    #[command(
        after_help = "Example:\n  fwdsim trace fixtures/pcaps/docker.pcapng --packet 1 --host fixtures/hosts/docker-forwarding-off.toml   (the first packet's walk to ip_error)"
    )]
    Trace(TraceArgs),
    /// Send a packet from a namespace's own stack across a topology, as
    /// ping, `nc -u` or `nc` would, and follow it and its reply hop by hop.
    #[command(
        after_help = "Examples:\n  fwdsim send icmp 8.8.8.8 --from ctr --topology fixtures/topologies/docker-forwarding-off\n  fwdsim send tcp 10.0.2.2 --port 80 --from a --topology fixtures/topologies/two-routers.toml -j\n  fwdsim send --script fixtures/send/ctr-ping-dns.txt --topology fixtures/topologies/docker-forwarding-on --out frames.pcapng   (a ping, then a DNS query a second later; every device's frames)"
    )]
    Send(send::SendArgs),
    /// Topologies: several namespaces and the links between them (dump one of this machine, show one).
    #[command(subcommand)]
    Topo(topo::TopoCmd),
}

#[derive(Args)]
struct ReplayArgs {
    /// A pcap or pcapng file (Ethernet, Linux cooked SLL/SLL2 or raw IP).
    capture: PathBuf,
    #[command(flatten)]
    sim: SimArgs,
    /// The ingress device of every packet (else the pcapng interface name, else the SLL ifindex).
    #[arg(long)]
    iif: Option<String>,
    /// Write every frame that leaves the host to this pcapng file.
    #[arg(long, value_name = "EGRESS.pcapng")]
    out: Option<PathBuf>,
    /// One JSON object per packet, then the counters.
    #[arg(short = 'j', long = "json")]
    json: bool,
    /// Write the host's iptables.txt rules back in `iptables-save -c`
    /// format, with every rule's and policy's counters counted over the replay.
    #[arg(long, value_name = "FILE")]
    save_counters: Option<PathBuf>,
    /// Start conntrack from the connections of this `conntrack -L` output
    /// (taken on the host with the snapshot), so replies of connections
    /// opened before the capture are known.
    #[arg(long, value_name = "FILE")]
    conntrack: Option<PathBuf>,
    /// Replay across a topology (a directory or a TOML topology) instead of
    /// one host; needs --at.
    #[arg(long, value_name = "DIR", requires = "at", conflicts_with = "host")]
    topology: Option<PathBuf>,
    /// With --topology: the namespace the capture was taken in, and the
    /// device (else the capture's interface names, as with `-i any`).
    #[arg(long, value_name = "NS[/DEV]", requires = "topology")]
    at: Option<String>,
}

#[derive(Args)]
struct ExplainArgs {
    /// `DST [from SRC] [iif DEV] [tos TOS] [mark MARK]`, as for `route get`.
    #[arg(required = true, num_args = 1..)]
    words: Vec<String>,
    #[command(flatten)]
    sim: SimArgs,
}

#[derive(Subcommand)]
enum SysctlCmd {
    /// Every assignment of KEY in the sysctl configuration files, in the
    /// order `sysctl --system` and systemd-sysctl apply them, and the one
    /// that wins at boot.
    #[command(
        after_help = "Examples:\n  fwdsim sysctl origin net.ipv4.ip_forward   (this machine's files, in the order they apply)\n  fwdsim sysctl origin net.ipv4.ip_forward --root fixtures/sysctl/cloud-image --host fixtures/hosts/router-snapshot   (a cloud image's files against a snapshot's live value)"
    )]
    Origin {
        /// The key (`net.ipv4.ip_forward`, `net/ipv4/conf/all/rp_filter`).
        key: String,
        /// The root of the system whose files to read (a mounted image, a copied /etc tree).
        #[arg(long, default_value = "/")]
        root: PathBuf,
        /// A host (snapshot or TOML) whose live value to compare with the boot value.
        #[arg(long)]
        host: Option<PathBuf>,
    },
    /// The values of sysctls on a host, as `sysctl KEY` prints them (a key
    /// naming a subtree, such as `net.ipv4.conf.eth0`, lists every key under it).
    #[command(
        after_help = "Examples:\n  fwdsim sysctl get net.ipv4.ip_forward --host fixtures/hosts/docker-forwarding-off.toml   (one key)\n  fwdsim sysctl get net.ipv4.conf.lan0 --host fixtures/hosts/router-snapshot   (every conf key of a device)"
    )]
    Get {
        /// Keys (`net.ipv4.ip_forward`, `net/ipv4/conf/all/rp_filter`, `net.ipv4.conf.eth0`).
        #[arg(required = true, num_args = 1..)]
        keys: Vec<String>,
        /// The host: a snapshot directory or a TOML file.
        #[arg(long)]
        host: PathBuf,
        /// Print the values only, as `sysctl -n`.
        #[arg(short = 'n', long = "values")]
        values: bool,
    },
    /// Changes a host file as `sysctl -w KEY=VALUE` changes the live host,
    /// propagation included (`ip_forward` reaches every device's forwarding),
    /// and lists every value that changed.
    #[command(
        after_help = "Examples:\n  fwdsim sysctl set net.ipv4.ip_forward=1 --host fixtures/hosts/docker-forwarding-off.toml   (edits the file, keeping its layout)\n  fwdsim sysctl set net.ipv4.conf.all.rp_filter=2 --host fixtures/hosts/router-snapshot   (edits the snapshot's sysctl.txt)"
    )]
    Set {
        /// `KEY=VALUE`, applied in order.
        #[arg(required = true, num_args = 1..)]
        assignments: Vec<String>,
        /// The host to change: a snapshot directory (its sysctl.txt) or a TOML file.
        #[arg(long)]
        host: PathBuf,
    },
}

#[derive(Args)]
struct TraceArgs {
    /// A pcap or pcapng file.
    capture: PathBuf,
    /// The 1-based index of the packet to walk (the packets before it run untraced).
    #[arg(long)]
    packet: u64,
    #[command(flatten)]
    sim: SimArgs,
    /// The ingress device (else the pcapng interface name, else the SLL ifindex).
    #[arg(long)]
    iif: Option<String>,
    /// The steps as a JSON array.
    #[arg(short = 'j', long = "json")]
    json: bool,
    /// Walk one step at a time, single keys on a terminal: Enter or `n`
    /// next, `b` back, `c` continue, `s` show the packet's headers and skb
    /// fields, `q` quit.
    #[arg(long, conflicts_with = "json")]
    step: bool,
    /// Start conntrack from the connections of this `conntrack -L` output.
    #[arg(long, value_name = "FILE")]
    conntrack: Option<PathBuf>,
    /// Walk the packet across a topology instead of one host; needs --at.
    #[arg(long, value_name = "DIR", requires = "at", conflicts_with = "host")]
    topology: Option<PathBuf>,
    /// With --topology: the namespace the capture was taken in, and the device.
    #[arg(long, value_name = "NS[/DEV]", requires = "topology")]
    at: Option<String>,
}

#[derive(Subcommand)]
enum RouteCmd {
    /// Ask the route decision for a packet, as `ip route get` does.
    #[command(
        after_help = "Examples:\n  fwdsim route get 8.8.8.8 from 172.17.0.2 iif docker0 --host fixtures/hosts/docker-forwarding-off.toml --trace   (the no_route walk; exits 2, as ip route get fails)\n  fwdsim route get 10.20.1.1 from 198.51.100.7 iif eth0 tos 0x10 mark 7 --host fixtures/hosts/router-snapshot -j   (the input path on a snapshot, as JSON)\n  fwdsim route get 8.8.8.8 --host fixtures/hosts/docker-forwarding-on.toml   (no iif: the host's own output path)"
    )]
    Get(RouteGetArgs),
}

#[derive(Args)]
struct RouteGetArgs {
    /// `DST [from SRC] [iif DEV] [oif DEV] [tos TOS] [mark MARK] [ipproto PROTO] [sport PORT] [dport PORT]`, as for `ip route get`.
    #[arg(required = true, num_args = 1..)]
    words: Vec<String>,
    #[command(flatten)]
    sim: SimArgs,
    /// Print JSON as `ip -j route get` does.
    #[arg(short = 'j', long = "json")]
    json: bool,
    /// Print the walk through the kernel's functions before the answer.
    #[arg(long)]
    trace: bool,
    /// Walk one step at a time (implies --trace), single keys on a
    /// terminal: Enter or `n` next, `b` back, `c` continue, `s` show the
    /// packet, `q` quit.
    #[arg(long, conflicts_with = "json")]
    step: bool,
}

#[derive(Args)]
struct SimArgs {
    /// The host: a snapshot directory (`fwdsim host dump`) or a TOML host file.
    #[arg(long, value_name = "PATH")]
    host: Option<PathBuf>,
    /// Set a sysctl on the loaded host as `sysctl -w KEY=VALUE` would (repeatable).
    #[arg(long = "sysctl", value_name = "KEY=VALUE")]
    sysctl: Vec<String>,
}

#[derive(Subcommand)]
enum HostCmd {
    /// Write a snapshot of this machine or of a network namespace into DIR.
    #[command(
        after_help = "Example:\n  fwdsim host dump snapshot   (this machine's namespace into ./snapshot; --netns NAME for a named one)"
    )]
    Dump {
        /// The directory to write addr.json, route.json, rule.json, neigh.json, sysctl.txt, fdb.json (the bridges' FDBs, where iproute2's `bridge` is installed) and the netfilter state (iptables.txt, nft.json; iptables-legacy.txt and ipset.txt where they exist) into.
        dir: PathBuf,
        /// The network namespace to snapshot (default: this one).
        #[arg(long)]
        netns: Option<String>,
    },
    /// Print a loaded host as `ip addr`, `ip route show table all` and `ip rule` would.
    #[command(
        after_help = "Example:\n  fwdsim host show --host fixtures/hosts/docker-forwarding-off.toml   (the host as ip addr, ip route and ip rule print it)"
    )]
    Show {
        #[command(flatten)]
        sim: SimArgs,
        /// Print JSON: {\"addr\": [...], \"route\": [...], \"rule\": [...]}.
        #[arg(short = 'j', long = "json")]
        json: bool,
    },
}

/// A bad input to the tool: printed as one line, exit status 1.
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

fn load(sim: &SimArgs) -> Result<Netns, Failure> {
    let host = sim.host.as_ref().ok_or_else(|| {
        Failure("give the host with --host PATH (a snapshot directory or a TOML host)".into())
    })?;
    let (mut ns, notes) = fwdsim_host::load_host_with_notes(host)?;
    for n in notes {
        eprintln!("fwdsim: {n}");
    }
    if ns.sysctl.fib_multipath_hash_policy == 3 {
        eprintln!(
            "fwdsim: {}: net.ipv4.fib_multipath_hash_policy = 3 (custom fields) is not modelled exactly: a multipath route may choose another path than the kernel's",
            host.display()
        );
    }
    for kv in &sim.sysctl {
        fwdsim_host::apply_sysctl_override(&mut ns, kv)
            .map_err(|e| Failure(format!("--sysctl {kv}: {e}")))?;
    }
    Ok(ns)
}

fn parse_addr(what: &str, s: &str) -> Result<Ipv4Addr, Failure> {
    s.parse()
        .map_err(|_| Failure(format!("route get: {what} {s:?} is not an IPv4 address")))
}

fn parse_num(what: &str, s: &str) -> Result<u32, Failure> {
    let r = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(h, 16)
    } else {
        s.parse()
    };
    r.map_err(|_| Failure(format!("route get: {what} {s:?} is not a number")))
}

fn dev_index(ns: &Netns, name: &str) -> Result<fwdsim_kernel::IfIndex, Failure> {
    ns.dev_by_name(name)
        .map(|d| d.ifindex)
        .ok_or_else(|| Failure(format!("Cannot find device \"{name}\"")))
}

fn parse_request(ns: &Netns, words: &[String]) -> Result<RouteGetRequest, Failure> {
    let mut it = words.iter().map(String::as_str);
    let mut dst = None;
    let mut req = RouteGetRequest::new(Ipv4Addr::UNSPECIFIED);
    while let Some(w) = it.next() {
        let mut val = |what: &str| {
            it.next()
                .ok_or_else(|| Failure(format!("route get: \"{what}\" needs a value")))
        };
        match w {
            "from" => req.src = parse_addr("from", val("from")?)?,
            "iif" => req.iif = Some(dev_index(ns, val("iif")?)?),
            "oif" => req.oif = Some(dev_index(ns, val("oif")?)?),
            "tos" | "dsfield" => req.tos = parse_num("tos", val("tos")?)? as u8,
            "mark" => req.mark = parse_num("mark", val("mark")?)?,
            "ipproto" => {
                let v = val("ipproto")?;
                req.ip_proto = match v {
                    "tcp" => 6,
                    "udp" => 17,
                    "icmp" => 1,
                    _ => parse_num("ipproto", v)? as u8,
                }
            }
            "sport" => req.sport = parse_port("sport", val("sport")?)?,
            "dport" => req.dport = parse_port("dport", val("dport")?)?,
            "to" => dst = Some(parse_addr("to", val("to")?)?),
            w if dst.is_none() => dst = Some(parse_addr("destination", w)?),
            w => return Err(Failure(format!("route get: unknown argument {w:?}"))),
        }
    }
    req.dst = dst.ok_or_else(|| Failure("route get: a destination is required".into()))?;
    Ok(req)
}

/// A port of `sport`/`dport` (0 to 65535).
fn parse_port(what: &str, s: &str) -> Result<u16, Failure> {
    s.parse().map_err(|_| {
        Failure(format!(
            "route get: {what} {s:?} is not a port (0 to 65535)"
        ))
    })
}

fn route_get(a: &RouteGetArgs) -> Result<ExitCode, Failure> {
    let mut ns = load(&a.sim)?;
    let req = parse_request(&ns, &a.words)?;
    let mut buf = [0u8; 28];
    let (answer, steps) = if a.trace || a.step {
        let mut rec = Recorder::new();
        let r = inet_rtm_getroute(&mut ns, &req, &mut buf, &mut rec);
        (r, Some(rec.steps))
    } else {
        (
            inet_rtm_getroute(&mut ns, &req, &mut buf, &mut NoTrace),
            None,
        )
    };
    if let Some(steps) = &steps {
        let last = match &answer {
            Ok(r) => format!(
                "result: {}, dev {}",
                r.rt_type.kernel_name().unwrap_or("?"),
                ns.dev_name(r.dev)
            ),
            Err(e) => match e.drop_reason {
                Some(d) => format!(
                    "result: -{} ({}); a packet is dropped with SKB_DROP_REASON_{}",
                    e.errno,
                    e.errno.message(),
                    d.name()
                ),
                None => format!("result: -{} ({})", e.errno, e.errno.message()),
            },
        };
        if a.json {
            println!("{}", trace::trace_json(&ns, steps));
        } else {
            use std::io::IsTerminal;
            let style = terminal_style(std::io::stdout().is_terminal());
            let lines = trace::trace_lines_styled(&ns, steps, style);
            let mut result = trace::paint_result(
                &trace::wrap_line(&last, style.width, 8),
                answer.is_err(),
                style,
            );
            if answer.is_err()
                && let Some(w) = why_line(&ns, steps)
            {
                let w = format!("{w}; `fwdsim explain` lists what would change it");
                result += &format!("\n{}", trace::wrap_line(&w, style.width, 5));
            }
            if a.step {
                let dev = |i: Option<fwdsim_kernel::netns::IfIndex>| {
                    i.map_or("none".to_string(), |i| ns.dev_name(i).to_string())
                };
                let show = |i: usize| {
                    format!(
                        "  skb (inet_rtm_getroute's packet): dev {}, saddr {}, daddr {}, tos 0x{:02x}, protocol {}, mark {}\n{}",
                        dev(req.iif),
                        req.src,
                        req.dst,
                        req.tos,
                        req.ip_proto,
                        req.mark,
                        step::dst_lines(&step::walk_state(&ns, steps, i))
                    )
                };
                if !run_steps(&lines, &result, &show)? {
                    return Ok(ExitCode::SUCCESS);
                }
            } else {
                print!("{}", trace::join_lines(&lines));
                println!("{result}");
            }
        }
    }
    match answer {
        Ok(r) => {
            if a.json {
                println!("{}", iproute2::route_get_json(&ns, &r));
            } else {
                print!("{}", iproute2::route_get_text(&ns, &r));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if a.json {
                println!("{}", iproute2::route_get_error_json(&e));
            }
            eprintln!("{}", iproute2::route_get_error_text(&e));
            Ok(ExitCode::from(2))
        }
    }
}

/// Where a packet of a capture came in: `--iif`, else the pcapng interface
/// name, else the SLL ifindex.
fn packet_iif(
    ns: &Netns,
    iif: Option<&str>,
    p: &fwdsim_pcap::Packet<'_>,
) -> Result<fwdsim_kernel::IfIndex, String> {
    let by_name = |n: &str| {
        ns.dev_by_name(n)
            .map(|d| d.ifindex)
            .ok_or_else(|| format!("unknown device {n:?}"))
    };
    if let Some(n) = iif {
        return by_name(n);
    }
    if let Some(n) = p.iif_name {
        return by_name(n);
    }
    if let Some(i) = p.iif_index {
        let i = fwdsim_kernel::IfIndex(i);
        return ns
            .dev(i)
            .map(|d| d.ifindex)
            .ok_or_else(|| format!("no device with ifindex {}", i.0));
    }
    Err("no ingress device: give --iif (the capture names none)".into())
}

/// The capture's time as the model's clock (`jiffies`, HZ = 250).
fn jiffies(ts_nanos: i128) -> u64 {
    (ts_nanos.max(0) as u128 * fwdsim_kernel::HZ as u128 / 1_000_000_000) as u64
}

/// Loads a packet into the reusable frame buffer; a capture that does not
/// record the receiving MAC gets the ingress device's.
fn load_frame(
    ns: &Netns,
    dev: fwdsim_kernel::IfIndex,
    p: &fwdsim_pcap::Packet<'_>,
    buf: &mut Vec<u8>,
) {
    buf.clear();
    buf.extend_from_slice(p.frame);
    if p.dst_is_placeholder()
        && buf.len() >= 6
        && let Some(d) = ns.dev(dev)
    {
        buf[..6].copy_from_slice(&d.dev_addr);
    }
}

/// Set by Ctrl-C during a replay.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn replay(a: &ReplayArgs) -> Result<ExitCode, Failure> {
    // Ctrl-C stops after the packet in hand; the summary and counters of
    // what was simulated still print, and the exit status is 130.
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst));
    use fwdsim_kernel::core::dev::netif_receive_skb;
    use fwdsim_render::replay as out;
    use std::io::Write;
    let mut ns = load(&a.sim)?;
    // The connections start at the first packet's time (their timeouts
    // count from it).
    let mut conntrack = match &a.conntrack {
        Some(f) => Some((
            f.clone(),
            std::fs::read_to_string(f).map_err(|e| Failure(format!("{}: {e}", f.display())))?,
        )),
        None => None,
    };
    let mut reader = fwdsim_pcap::CaptureReader::open(&a.capture)
        .map_err(|e| Failure(format!("{}: {e}", a.capture.display())))?;
    let mut writer = match &a.out {
        Some(p) => {
            let mut w = fwdsim_pcap::PcapngWriter::create(p)
                .map_err(|e| Failure(format!("{}: {e}", p.display())))?;
            for d in &ns.devices {
                w.add_interface(&d.name, fwdsim_pcap::LinkType::ETHERNET)
                    .map_err(|e| Failure(format!("{}: {e}", p.display())))?;
            }
            Some(w)
        }
        None => None,
    };
    let before = ns.mib.clone();
    let rt_before = ns.rt_cache_stat.clone();
    let dev_before = ns.dev_stats.clone();
    let stdout = std::io::stdout();
    let mut so = std::io::BufWriter::new(stdout.lock());
    let mut sink = Sink {
        json: a.json,
        colour: false,
        summary: out::Summary::default(),
        causes: (!a.json).then(|| Causes::new(&ns)),
        view: capture::CaptureView::default(),
        gaps: Vec::new(),
    };
    let causes_on = sink.causes.is_some();
    let mut pending: std::collections::VecDeque<Row> = Default::default();
    let mut clock: (i128, u64) = (0, 0);
    let mut orig = Vec::with_capacity(65536);
    let mut failed = false;
    let mut buf = Vec::with_capacity(65536);
    if !a.json {
        let _ = write!(so, "{}", out::table_header());
    }
    use std::io::IsTerminal;
    sink.colour = !a.json && trace::colour_wanted(std::io::stdout().is_terminal());
    let progress = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let total_bytes = std::fs::metadata(&a.capture)
        .map(|m| m.len())
        .unwrap_or(0)
        .max(1);
    let mut last_progress = started;
    let mut interrupted = false;
    while let Some(r) = reader.next_packet() {
        if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        let p = match r {
            Ok(p) => p,
            Err(e) => {
                failed = true;
                eprintln!("fwdsim: {}: {e}", a.capture.display());
                if e.is_fatal() {
                    break;
                }
                continue;
            }
        };
        let dev = match packet_iif(&ns, a.iif.as_deref(), &p) {
            Ok(d) => d,
            Err(e) => {
                failed = true;
                eprintln!("fwdsim: {}: packet {}: {e}", a.capture.display(), p.index);
                continue;
            }
        };
        let (index, ts) = (p.index, p.ts_nanos);
        load_frame(&ns, dev, &p, &mut buf);
        let seen = capture::Seen::of(&p);
        sink.view.any |= a.iif.is_none() && p.iif_name.is_none() && p.iif_index.is_some();
        sink.view.cover_names(&ns, reader.interface_names());
        let ingress = sink.view.classify(&ns, dev, seen, &mut buf);
        // The timers due before this packet fire first (ARP retransmissions,
        // resolution failures, reassembly expiry), on the capture's clock.
        let now = jiffies(ts);
        if now > ns.jiffies {
            ns.tx.clear();
            fwdsim_kernel::core::neighbour::run_timers(&mut ns, now, None, &mut NoTrace);
            write_frames(&ns, writer.as_mut(), clock, a.out.as_deref())?;
            settle(&mut ns, &mut pending, &mut sink, &mut so);
        }
        ns.jiffies = now;
        ns.wall_ns = ts;
        if let Some((f, text)) = conntrack.take() {
            fwdsim_host::load_conntrack_list(&mut ns, &f, &text)?;
        }
        clock = (ts, now);
        let capture::Ingress::Receive { dev, .. } = ingress else {
            // Not received by this host's stack: its line only.
            let row = Row::unsimulated(index, ns.rx_seq, ingress, &buf);
            if pending.is_empty() {
                sink.emit(&ns, row, None, &mut so);
            } else {
                pending.push_back(row);
            }
            continue;
        };
        let flow = frame_flow(&buf);
        if causes_on {
            orig.clear();
            orig.extend_from_slice(&buf);
        }
        // A fragment's walk depends on the reassembly queues before it: keep
        // them so that its drop can be walked again as it happened.
        let pre_frags = (causes_on && is_fragment(&buf)).then(|| ns.frags.clone());
        let o = netif_receive_skb(&mut ns, &mut buf, dev, &mut NoTrace);
        write_frames(&ns, writer.as_mut(), clock, a.out.as_deref())?;
        let mut row = Row {
            index,
            seq: ns.rx_seq,
            dev,
            o,
            frame: None,
            flow,
            pre_frags,
            nf: NfRow::of(&ns, a.json),
            arp: ns.arp_ignored,
            ingress,
        };
        if o.verdict == fwdsim_kernel::core::dev::Verdict::Queued || !pending.is_empty() {
            // Held: it keeps its own copy of the frame for the causes.
            row.frame = causes_on.then(|| orig.clone());
            pending.push_back(row);
        } else {
            sink.emit(&ns, row, causes_on.then_some(&orig[..]), &mut so);
        }
        settle(&mut ns, &mut pending, &mut sink, &mut so);
        // A progress line on stderr for replays that take more than a second.
        if progress
            && started.elapsed().as_secs() >= 1
            && last_progress.elapsed().as_millis() >= 200
        {
            last_progress = std::time::Instant::now();
            let pct = (reader.offset() * 100 / total_bytes).min(100);
            eprint!("\r{index} packets, {pct}% of the capture");
        }
    }
    // After the capture the kernel's clock runs on: packets still waiting
    // for a neighbour get their fate.
    ns.tx.clear();
    fwdsim_kernel::core::neighbour::settle_all(&mut ns, None, &mut NoTrace);
    write_frames(&ns, writer.as_mut(), clock, a.out.as_deref())?;
    settle(&mut ns, &mut pending, &mut sink, &mut so);
    while let Some(mut row) = pending.pop_front() {
        let frame = row.frame.take();
        sink.emit(&ns, row, frame.as_deref(), &mut so);
    }
    let Sink {
        mut summary,
        causes,
        view,
        gaps,
        ..
    } = sink;
    let summary_total: u64 = summary.verdicts.values().sum();
    for (dev, n) in &view.own_mac_sent {
        summary
            .own_mac_sent
            .insert(ns.dev_name(*dev).to_string(), *n);
    }
    for (g, n) in gaps {
        let p = if n == 1 { "packet" } else { "packets" };
        summary.note(format!("{n} {p} dropped NEIGH_FAILED, uncertain: {g}"));
    }
    if progress && started.elapsed().as_secs() >= 1 {
        eprintln!();
    }
    if let Some(mut w) = writer {
        w.flush()
            .map_err(|e| Failure(format!("{}: {e}", a.out.as_ref().expect("set").display())))?;
    }
    if let Some(path) = &a.save_counters {
        let tag = ns
            .nf
            .as_ref()
            .and_then(|nf| {
                nf.tables
                    .iter()
                    .find(|t| &*t.file == "iptables.txt")
                    .or(nf.tables.first())
                    .map(|t| t.file.to_string())
            })
            .unwrap_or_default();
        std::fs::write(path, fwdsim_host::save_counters(&ns, &tag))
            .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    }
    let snmp = out::closing_object(&ns, &before, &rt_before, &dev_before);
    if a.json {
        let _ = writeln!(so, "{snmp}");
    } else {
        let _ = write!(so, "\n{}", summary.text());
        if let Some(c) = &causes {
            let _ = write!(so, "{}", c.text());
        }
        let _ = writeln!(so, "{snmp}");
    }
    let _ = so.flush();
    if interrupted {
        eprintln!(
            "fwdsim: interrupted: {} packets simulated, the summary and counters above are theirs",
            summary_total
        );
        return Ok(ExitCode::from(130));
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One packet's line of a replay, held while its fate (or an earlier
/// packet's) waits on a neighbour.
struct Row {
    index: u64,
    seq: u64,
    dev: fwdsim_kernel::netns::IfIndex,
    o: fwdsim_kernel::core::dev::RxOutcome,
    frame: Option<Vec<u8>>,
    flow: Option<(Ipv4Addr, Ipv4Addr, u8)>,
    pre_frags: Option<fwdsim_kernel::ipv4::ip_fragment::FragQueues>,
    nf: Option<NfRow>,
    arp: Option<fwdsim_kernel::core::neighbour::ArpIgnored>,
    /// What the capture made of the frame (received, or why not).
    ingress: capture::Ingress,
}

impl Row {
    /// The line of a frame not given to the kernel as received.
    fn unsimulated(index: u64, seq: u64, ingress: capture::Ingress, frame: &[u8]) -> Row {
        Row {
            index,
            seq,
            dev: ingress.iif(),
            o: fwdsim_kernel::core::dev::RxOutcome {
                verdict: fwdsim_kernel::core::dev::Verdict::Local,
                drop_reason: None,
                route: None,
                icmp: None,
                dev: ingress.iif(),
            },
            // The destination MAC, for the words of a switched frame.
            frame: Some(frame.get(..6).unwrap_or(&[]).to_vec()),
            flow: None,
            pre_frags: None,
            nf: None,
            arp: None,
            ingress,
        }
    }
}

/// Why an ARP request went unanswered, in words.
fn arp_ignored_text(a: &fwdsim_kernel::core::neighbour::ArpIgnored) -> String {
    let why = match a.reason.name() {
        "IP_RPFILTER" => format!(
            "strict rp_filter: the route back to {} does not leave through the device the request came in on",
            a.sip
        ),
        "IP_INVALID_SOURCE" => format!("{} is not a valid source (a martian)", a.sip),
        _ => "the route decision failed".into(),
    };
    format!(
        "ARP request from {} for {} not answered: arp_process's route lookup (ip_route_input_noref) failed with {}: {why}",
        a.sip,
        a.tip,
        a.reason.name()
    )
}

/// What netfilter did to a packet, taken when it was handled (a held row
/// is printed after later packets replaced the hooks' trail).
struct NfRow {
    /// The `netfilter` array of its JSON line.
    json: serde_json::Value,
    /// The lines under its row of the table: the rule or policy that
    /// dropped it, NAT applied, rules it reached that are not modelled.
    notes: Vec<String>,
}

impl NfRow {
    fn of(ns: &Netns, json: bool) -> Option<NfRow> {
        use fwdsim_kernel::netfilter::core::NfEventKind;
        use fwdsim_render::netfilter as nfr;
        let nf = ns.nf.as_ref()?;
        let mut notes = Vec::new();
        if !json {
            for e in nf.trail.events() {
                match e.kind {
                    NfEventKind::Nat(rw) => notes.push(nfr::nat_text(&rw)),
                    NfEventKind::Unmodelled { table, chain, rule } => notes.push(format!(
                        "depends on a rule that is not modelled: {}",
                        nfr::rule_ref(ns, table, chain, rule)
                    )),
                    NfEventKind::Reject(w) => {
                        notes.push(format!("REJECT --reject-with {}", w.name()))
                    }
                    _ => {}
                }
            }
            if let Some(c) = nfr::drop_cause(ns) {
                notes.push(format!("dropped by {c}"));
            }
        }
        Some(NfRow {
            json: if json {
                nfr::events_json(ns)
            } else {
                serde_json::Value::Null
            },
            notes,
        })
    }
}

/// Where a replay's packets go once their fate is known: the line, the
/// summary and the causes of drops.
struct Sink {
    json: bool,
    colour: bool,
    summary: fwdsim_render::replay::Summary,
    causes: Option<Causes>,
    /// What the capture covers and what it said of the frames so far.
    view: capture::CaptureView,
    /// Packets dropped `NEIGH_FAILED` whose ARP answer would come on a
    /// device the capture does not cover, by the words of the gap.
    gaps: Vec<(String, u64)>,
}

impl Sink {
    /// Writes the line of a frame the kernel was not given.
    fn emit_unsimulated(
        &mut self,
        ns: &Netns,
        row: &Row,
        frame: Option<&[u8]>,
        so: &mut impl std::io::Write,
    ) {
        use capture::Ingress;
        use fwdsim_render::replay as out;
        let iif = ns.dev_name(row.ingress.iif()).to_string();
        let dst = row.frame.as_deref().or(frame).unwrap_or(&[]);
        let (word, note, key, value) = match row.ingress {
            Ingress::Sent { by, .. } => (
                "sent",
                match by {
                    capture::SentBy::Direction => None,
                    capture::SentBy::OwnMac => Some(format!(
                        "taken as sent by the host: its source MAC is {iif}'s own and the capture does not record directions"
                    )),
                },
                "taken_as_sent",
                serde_json::json!(by.word()),
            ),
            Ingress::Bridged { bridge, action, .. } => {
                let note = capture::CaptureView::bridged_text(ns, bridge, action, dst);
                if action == capture::BrAction::DstUnknown {
                    self.summary.note(format!(
                        "frames captured on a port of {} by a cooked capture (no destination MAC) were passed up or switched by the bridge, which the capture cannot tell: capture on {} too, or with `tcpdump -i any`",
                        ns.dev_name(bridge),
                        ns.dev_name(bridge)
                    ));
                }
                (
                    // The bridge took the frame on (up, or out of a port).
                    "forward",
                    Some(note),
                    "bridge",
                    serde_json::json!({"master": ns.dev_name(bridge), "action": action.word()}),
                )
            }
            Ingress::Receive { .. } => return,
        };
        if self.json {
            let mut line = out::unsimulated_json(row.index, &iif, word);
            if let serde_json::Value::Object(m) = &mut line {
                m.insert(key.into(), value);
                if let (Some(n), "bridge") = (&note, key) {
                    m.insert("note".into(), serde_json::json!(n));
                }
            }
            let _ = writeln!(so, "{line}");
        } else {
            let _ = write!(
                so,
                "{}",
                out::unsimulated_row(row.index, &iif, word, self.colour)
            );
            if let (Some(n), Ingress::Bridged { .. }) = (&note, row.ingress) {
                let _ = writeln!(so, "        {n}");
            }
        }
        self.summary.add_word(word);
    }

    /// The gap in the capture a `NEIGH_FAILED` drop hangs on, in words:
    /// the next hop's device is not covered.
    fn neigh_gap(&self, ns: &Netns, row: &Row) -> Option<String> {
        let o = &row.o;
        if o.drop_reason != Some(fwdsim_kernel::core::dropreason::SkbDropReason::NEIGH_FAILED) {
            return None;
        }
        let rt = o.route?;
        if !capture::neigh_gap(&self.view, rt.dst.dev) {
            return None;
        }
        let hop = if rt.rt_uses_gateway {
            rt.rt_gw4
        } else {
            row.flow?.1
        };
        Some(capture::neigh_gap_text(ns, hop, rt.dst.dev))
    }

    /// Writes a row whose fate is known; `frame` is the packet as received
    /// (for the causes of drops).
    fn emit(&mut self, ns: &Netns, row: Row, frame: Option<&[u8]>, so: &mut impl std::io::Write) {
        use fwdsim_render::replay as out;
        if !matches!(row.ingress, capture::Ingress::Receive { .. }) {
            self.emit_unsimulated(ns, &row, frame, so);
            return;
        }
        let o = row.o;
        let gap = self.neigh_gap(ns, &row);
        if let Some(g) = &gap {
            match self.gaps.iter_mut().find(|(t, _)| t == g) {
                Some((_, n)) => *n += 1,
                None => self.gaps.push((g.clone(), 1)),
            }
        }
        if let (Some(c), Some(r), Some(frame)) = (self.causes.as_mut(), o.drop_reason, frame) {
            let covered = &self.view;
            match row.pre_frags {
                Some(f) => {
                    let mut before = ns.clone();
                    before.frags = f;
                    c.add(
                        &before,
                        frame,
                        row.index,
                        row.dev,
                        row.flow,
                        r.name(),
                        covered,
                    );
                }
                None => c.add(ns, frame, row.index, row.dev, row.flow, r.name(), covered),
            }
        }
        let iif = ns.dev_name(row.ingress.iif()).to_string();
        // A frame received on a bridge port: what the bridge did with it.
        let bridged = match row.ingress {
            capture::Ingress::Receive { port: Some(p), .. } => ns.br_port_master(p).map(|br| {
                if o.dev == br {
                    (br, capture::BrAction::Up)
                } else if o.verdict == fwdsim_kernel::core::dev::Verdict::Bridged {
                    (br, capture::BrAction::Switched)
                } else {
                    (br, capture::BrAction::Dropped)
                }
            }),
            _ => None,
        };
        if self.json {
            let mut line = out::packet_json(ns, row.index, &iif, &o);
            if let serde_json::Value::Object(m) = &mut line {
                if let Some((br, action)) = bridged {
                    m.insert(
                        "bridge".into(),
                        serde_json::json!({"master": ns.dev_name(br), "action": action.word()}),
                    );
                }
                if let Some(g) = &gap {
                    m.insert("capture_gap".into(), serde_json::json!(g));
                }
                if let Some(nf) = row.nf {
                    m.insert("netfilter".into(), nf.json);
                }
                if let Some(a) = &row.arp {
                    m.insert(
                        "arp_unanswered".into(),
                        serde_json::json!({"sip": a.sip.to_string(), "tip": a.tip.to_string(),
                            "reason": a.reason.name()}),
                    );
                }
            }
            let _ = writeln!(so, "{line}");
        } else {
            let _ = write!(
                so,
                "{}",
                out::table_row_styled(ns, row.index, &iif, &o, self.colour)
            );
            if let Some((br, action)) = bridged {
                let _ = writeln!(
                    so,
                    "        {}",
                    capture::CaptureView::bridged_text(ns, br, action, frame.unwrap_or(&[]))
                );
            }
            if let (Some(_), Some(rt)) = (&gap, o.route) {
                let _ = writeln!(
                    so,
                    "        fate uncertain: an ARP answer would arrive on {}, which this capture does not cover",
                    ns.dev_name(rt.dst.dev)
                );
            }
            for n in row.nf.iter().flat_map(|nf| nf.notes.iter()) {
                let _ = writeln!(so, "        {n}");
            }
            if let Some(a) = &row.arp {
                let _ = writeln!(so, "        {}", arp_ignored_text(a));
            }
        }
        self.summary.add(&o);
    }
}

/// Gives waiting rows the fates the kernel decided since, and emits the
/// rows at the front whose fate is known.
fn settle(
    ns: &mut Netns,
    pending: &mut std::collections::VecDeque<Row>,
    sink: &mut Sink,
    so: &mut impl std::io::Write,
) {
    for s in ns.settled.drain(..) {
        if let Some(r) = pending.iter_mut().find(|r| r.seq == s.seq) {
            r.o.verdict = s.verdict;
            r.o.drop_reason = s.drop_reason;
            r.o.icmp = s.icmp;
        }
    }
    while pending
        .front()
        .is_some_and(|r| r.o.verdict != fwdsim_kernel::core::dev::Verdict::Queued)
    {
        let mut row = pending.pop_front().expect("checked");
        let frame = row.frame.take();
        sink.emit(ns, row, frame.as_deref(), so);
    }
}

/// Writes the frames in `ns.tx` to the egress pcapng, each stamped with
/// its time: the packet's, or later for frames a timer sent.
fn write_frames(
    ns: &Netns,
    writer: Option<&mut fwdsim_pcap::PcapngWriter<std::io::BufWriter<std::fs::File>>>,
    clock: (i128, u64),
    path: Option<&std::path::Path>,
) -> Result<(), Failure> {
    let Some(w) = writer else { return Ok(()) };
    let (ts, j) = clock;
    // A frame the host sends on a bridge goes out of its ports too
    // (br_dev_xmit); the capture of a host is read on the bridge device,
    // as `tcpdump -i docker0` shows it, so the ports' copies are left out.
    for f in ns
        .tx
        .frames
        .iter()
        .filter(|f| !ns.dev(f.dev).is_some_and(|d| d.is_bridge_port()))
    {
        let at = ts + (f.at.saturating_sub(j) as i128) * 1_000_000_000 / fwdsim_kernel::HZ as i128;
        let id = w.interface_id(ns.dev_name(f.dev)).unwrap_or(0);
        w.write_packet(id, at, ns.tx.frame(f)).map_err(|e| {
            Failure(format!(
                "{}: {e}",
                path.map_or(String::new(), |p| p.display().to_string())
            ))
        })?;
    }
    Ok(())
}

/// The last line of a walk that ended in a drop or an error: the
/// condition that decided it.
fn why_line(ns: &Netns, steps: &[fwdsim_kernel::trace::Step]) -> Option<String> {
    let st = fwdsim_kernel::explain::why(steps)?;
    let mut line = format!(
        "why: decided by {}: {}",
        st.func.name(),
        trace::describe(ns, &st.check)
    );
    if st.branch != fwdsim_kernel::trace::Branch::Next {
        line += &format!(" -> {}", st.branch.name());
    }
    Some(line)
}

/// `--step` on the terminal: steps on stdout, prompts on stderr, keys from
/// stdin. False when the user quit.
fn run_steps(
    lines: &[trace::TraceLine],
    result: &str,
    show: &dyn Fn(usize) -> String,
) -> Result<bool, Failure> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    let (out, prompt) = (&mut std::io::stdout(), &mut std::io::stderr());
    if stdin.is_terminal() {
        step::step_through(lines, result, show, &mut step::TerminalKeys, out, prompt)
    } else {
        let mut keys = step::LineKeys(stdin.lock());
        step::step_through(lines, result, show, &mut keys, out, prompt)
    }
    .map_err(|e| Failure(format!("--step: {e}")))
}

/// How the walk is printed: coloured as `colour_wanted` says, and fitted
/// to the terminal's width when stdout is one (its window size, else
/// `COLUMNS`, else 80 columns).
fn terminal_style(stdout_is_terminal: bool) -> trace::Style {
    let width = stdout_is_terminal.then(|| {
        crossterm::terminal::size()
            .ok()
            .map(|(w, _)| w as usize)
            .filter(|&w| w > 0)
            .or_else(|| {
                std::env::var("COLUMNS")
                    .ok()
                    .and_then(|c| c.parse().ok())
                    .filter(|&w: &usize| w > 0)
            })
            .unwrap_or(80)
    });
    trace::Style {
        colour: trace::colour_wanted(stdout_is_terminal),
        width,
    }
}

fn trace_packet(a: &TraceArgs) -> Result<ExitCode, Failure> {
    use fwdsim_kernel::core::dev::netif_receive_skb;
    use fwdsim_kernel::core::neighbour::{is_waiting, run_timers};
    let mut ns = load(&a.sim)?;
    // The connections start at the first packet's time (their timeouts
    // count from it).
    let mut conntrack = match &a.conntrack {
        Some(f) => Some((
            f.clone(),
            std::fs::read_to_string(f).map_err(|e| Failure(format!("{}: {e}", f.display())))?,
        )),
        None => None,
    };
    let mut reader = fwdsim_pcap::CaptureReader::open(&a.capture)
        .map_err(|e| Failure(format!("{}: {e}", a.capture.display())))?;
    let mut buf = Vec::with_capacity(65536);
    let mut view = capture::CaptureView::default();
    while let Some(r) = reader.next_packet() {
        let p = r.map_err(|e| Failure(format!("{}: {e}", a.capture.display())))?;
        let dev = packet_iif(&ns, a.iif.as_deref(), &p)
            .map_err(|e| Failure(format!("{}: packet {}: {e}", a.capture.display(), p.index)))?;
        let (index, ts) = (p.index, p.ts_nanos);
        load_frame(&ns, dev, &p, &mut buf);
        let seen = capture::Seen::of(&p);
        view.any |= a.iif.is_none() && p.iif_name.is_none() && p.iif_index.is_some();
        view.cover_names(&ns, reader.interface_names());
        let ingress = view.classify(&ns, dev, seen, &mut buf);
        let now = jiffies(ts);
        if now > ns.jiffies {
            run_timers(&mut ns, now, None, &mut NoTrace);
        }
        ns.jiffies = now;
        ns.wall_ns = ts;
        if let Some((f, text)) = conntrack.take() {
            fwdsim_host::load_conntrack_list(&mut ns, &f, &text)?;
        }
        let capture::Ingress::Receive { dev, .. } = ingress else {
            if index == a.packet {
                println!(
                    "packet {index} ({}) is not received by the host: {}",
                    ns.dev_name(ingress.iif()),
                    match ingress {
                        capture::Ingress::Sent { by: capture::SentBy::Direction, .. } =>
                            "the capture marks it as sent by the host".to_string(),
                        capture::Ingress::Sent { .. } =>
                            "it is taken as sent by the host (its source MAC is the capture device's own and the capture does not record directions)".to_string(),
                        capture::Ingress::Bridged { bridge, action, .. } =>
                            capture::CaptureView::bridged_text(&ns, bridge, action, &buf),
                        capture::Ingress::Receive { .. } => String::new(),
                    }
                );
                return Ok(ExitCode::SUCCESS);
            }
            continue;
        };
        if index < a.packet {
            netif_receive_skb(&mut ns, &mut buf, dev, &mut NoTrace);
            continue;
        }
        let frame = buf.clone();
        let mut rec = Recorder::new();
        let mut o = netif_receive_skb(&mut ns, &mut buf, dev, &mut rec);
        if o.verdict == fwdsim_kernel::core::dev::Verdict::Queued {
            // Its fate comes later: the rest of the capture runs untraced
            // (but for what it tells the neighbour) and the clock runs on,
            // its timers traced, until the packet is sent or dropped.
            let seq = ns.rx_seq;
            let mut later = Vec::with_capacity(65536);
            while is_waiting(&ns, seq) {
                let Some(Ok(p)) = reader.next_packet() else {
                    break;
                };
                let Ok(dev) = packet_iif(&ns, a.iif.as_deref(), &p) else {
                    continue;
                };
                load_frame(&ns, dev, &p, &mut later);
                let ts = p.ts_nanos;
                let seen = capture::Seen::of(&p);
                let capture::Ingress::Receive { dev, .. } =
                    view.classify(&ns, dev, seen, &mut later)
                else {
                    continue;
                };
                let now = jiffies(ts);
                if now > ns.jiffies {
                    run_timers(&mut ns, now, Some(seq), &mut rec);
                }
                if !is_waiting(&ns, seq) {
                    break;
                }
                ns.jiffies = now;
                ns.wall_ns = ts;
                let mut r2 = Recorder::new();
                netif_receive_skb(&mut ns, &mut later, dev, &mut r2);
                if !is_waiting(&ns, seq) {
                    use fwdsim_kernel::trace::KernelFn;
                    rec.steps.extend(r2.steps.into_iter().filter(|s| {
                        matches!(s.func, KernelFn::arp_process | KernelFn::neigh_update)
                    }));
                }
            }
            fwdsim_kernel::core::neighbour::settle_all(&mut ns, Some(seq), &mut rec);
            if let Some(s) = ns.settled.iter().find(|s| s.seq == seq) {
                o.verdict = s.verdict;
                o.drop_reason = s.drop_reason;
                o.icmp = s.icmp;
            }
        }
        if a.json {
            println!("{}", trace::trace_json(&ns, &rec.steps));
        } else {
            use std::io::IsTerminal;
            let style = terminal_style(std::io::stdout().is_terminal());
            let lines = trace::trace_lines_styled(&ns, &rec.steps, style);
            let mut last = format!("result: {}", o.verdict.word());
            if let Some(r) = o.drop_reason {
                last += &format!(", SKB_DROP_REASON_{}", r.name());
            }
            if let Some(rt) = o.route {
                last += &format!(", dst.input = {}", rt.dst.input.name.name());
            }
            if let Some(i) = o.icmp {
                last += &format!(", ICMP {}/{} sent", i.icmp_type, i.code);
            }
            let mut result = trace::paint_result(
                &trace::wrap_line(&last, style.width, 8),
                o.drop_reason.is_some(),
                style,
            );
            if o.drop_reason.is_some()
                && let Some(w) = why_line(&ns, &rec.steps)
            {
                result += &format!("\n{}", trace::wrap_line(&w, style.width, 5));
            }
            if a.step {
                let show = |i: usize| step::skb_at(&ns, &frame, dev, &rec.steps, i);
                run_steps(&lines, &result, &show)?;
            } else {
                print!("{}", trace::join_lines(&lines));
                println!("{result}");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    Err(Failure(format!(
        "{}: there is no packet {}",
        a.capture.display(),
        a.packet
    )))
}

fn answer_words(ns: &Netns, a: &fwdsim_kernel::explain::Answer) -> String {
    match a {
        Ok(r) => {
            let text = iproute2::route_get_text(ns, r);
            let first = text.lines().next().unwrap_or("").trim_end().to_string();
            let what = match r.rt_type {
                // Without `iif` the question is the host's own output path.
                fwdsim_kernel::uapi::RouteType::RTN_UNICAST if r.iif.is_none() => {
                    "sent by this host"
                }
                fwdsim_kernel::uapi::RouteType::RTN_UNICAST => "forwarded",
                fwdsim_kernel::uapi::RouteType::RTN_LOCAL => "delivered to this host",
                fwdsim_kernel::uapi::RouteType::RTN_BROADCAST => "delivered as a broadcast",
                _ => "routed",
            };
            format!("{first} ({what})")
        }
        Err(e) => match e.drop_reason {
            Some(d) => format!(
                "{} ({}); a packet is dropped with SKB_DROP_REASON_{}",
                e.errno,
                e.errno.message(),
                d.name()
            ),
            None => format!("{} ({})", e.errno, e.errno.message()),
        },
    }
}

fn explain(a: &ExplainArgs) -> Result<ExitCode, Failure> {
    let ns = load(&a.sim)?;
    let req = parse_request(&ns, &a.words)?;
    let x = fwdsim_kernel::explain::explain(&ns, &req);
    println!("{}: {}", a.words.join(" "), answer_words(&ns, &x.answer));
    for l in explanation_lines(&ns, &req, &x) {
        println!("{l}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The lines of an explanation after the answer: the deciding step, then
/// the changes that would give another answer (with the SNAT note where a
/// private source would be forwarded).
fn explanation_lines(
    ns: &Netns,
    req: &RouteGetRequest,
    x: &fwdsim_kernel::explain::Explanation,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(st) = &x.deciding {
        let mut line = format!(
            "decided by {}: {}",
            st.func.name(),
            trace::describe(ns, &st.check)
        );
        if st.branch != fwdsim_kernel::trace::Branch::Next {
            line += &format!(" -> {}", st.branch.name());
        }
        out.push(line);
    }
    if let (Err(e), Some(_)) = (&x.answer, req.iif)
        && e.drop_reason == Some(fwdsim_kernel::SkbDropReason::IP_RPFILTER)
        && !req.dst.is_loopback()
        && ns.inet_lookup_ifaddr(req.dst).is_some()
    {
        out.push(format!(
            "an ARP request from {} asking for {} makes the same lookup (arp_process): it is not answered either",
            req.src, req.dst
        ));
    }
    if x.answer.is_err() {
        if x.counterfactuals.is_empty() {
            out.push(
                "no single sysctl change makes a difference (look at the routes and rules)".into(),
            );
        } else {
            out.push("what would change it:".into());
        }
    }
    for c in &x.counterfactuals {
        let mut line = format!("  with {}: {}", c.change, answer_words(ns, &c.answer));
        if let Ok(r) = &c.answer
            && r.rt_type == fwdsim_kernel::uapi::RouteType::RTN_UNICAST
        {
            // With rules loaded, the packet goes on through netfilter on the
            // changed host: say what the hooks do to it there.
            let alt = c.change.split_once(" = ").and_then(|(k, v)| {
                let mut alt = ns.clone();
                alt.sysctl_write(k, v.parse().ok()?).ok()?;
                Some(alt)
            });
            match (ns.nf.is_some(), alt, req.iif) {
                (true, Some(alt), Some(iif)) => {
                    let (o, after) = fwdsim_kernel::doctor::probe(&alt, iif, req.src, req.dst);
                    line += &probe_words(&after, &o, req, r.dev);
                }
                _ => {
                    if fwdsim_kernel::explain::is_private(req.src) && !ns.subnet_of(r.dev, req.src)
                    {
                        line += &format!(
                            "; note that {} is a private address: without SNAT (masquerade) on {} its replies cannot come back",
                            req.src,
                            ns.dev_name(r.dev)
                        );
                    }
                }
            }
        }
        out.push(line);
    }
    if let (Ok(r), Some(iif), true) = (&x.answer, req.iif, ns.nf.is_some())
        && r.rt_type == fwdsim_kernel::uapi::RouteType::RTN_UNICAST
    {
        let (o, after) = fwdsim_kernel::doctor::probe(ns, iif, req.src, req.dst);
        if o.drop_reason == Some(fwdsim_kernel::SkbDropReason::NETFILTER_DROP) {
            let cause = fwdsim_render::netfilter::drop_cause(&after).unwrap_or_default();
            out.push(format!(
                "but netfilter drops it: an ICMP echo request {} -> {} arriving on {} is dropped by {cause} (NETFILTER_DROP)",
                req.src,
                req.dst,
                ns.dev_name(iif)
            ));
            let frame = fwdsim_kernel::doctor::probe_frame(ns, iif, req.src, req.dst);
            let mut helped = Vec::new();
            for (change, mut alt) in netfilter_changes(ns, &frame, iif, &o) {
                helped.push(format!("  with {change}: {}", rerun(&mut alt, &frame, iif)));
            }
            if !helped.is_empty() {
                out.push("what would change it:".into());
                out.extend(helped);
            }
        } else {
            let w = probe_words(&after, &o, req, r.dev);
            if let Some(words) = w.strip_prefix("; ") {
                out.push(format!("netfilter: {words}"));
            }
            if w.starts_with("; no NAT rule matched")
                && let Some((rule, alt)) =
                    fwdsim_kernel::topology::explain::with_masquerade(ns, iif, req.src)
            {
                let change = format!("iptables {rule}");
                let (o2, after2) = fwdsim_kernel::doctor::probe(&alt, iif, req.src, req.dst);
                out.push("what would change it:".into());
                out.push(format!(
                    "  with `{change}`: {}{}",
                    answer_words(ns, &x.answer),
                    probe_words(&after2, &o2, req, r.dev)
                ));
            }
        }
    }
    out
}

/// What netfilter did to a probe that the route decision forwards, as the
/// tail of a sentence: dropped by which rule, translated how, or left with
/// a private source.
fn probe_words(
    after: &Netns,
    o: &fwdsim_kernel::core::dev::RxOutcome,
    req: &RouteGetRequest,
    out_dev: fwdsim_kernel::IfIndex,
) -> String {
    use fwdsim_kernel::netfilter::core::NfEventKind;
    if o.drop_reason == Some(fwdsim_kernel::SkbDropReason::NETFILTER_DROP) {
        return format!(
            "; then netfilter drops it: {} (NETFILTER_DROP)",
            fwdsim_render::netfilter::drop_cause(after).unwrap_or_default()
        );
    }
    let nat: Vec<String> = after
        .nf
        .iter()
        .flat_map(|nf| nf.trail.events())
        .filter_map(|e| match e.kind {
            NfEventKind::Nat(rw) => Some(fwdsim_render::netfilter::nat_text(&rw)),
            _ => None,
        })
        .collect();
    if !nat.is_empty() {
        return format!("; NAT: {}", nat.join(", "));
    }
    if fwdsim_kernel::explain::is_private(req.src) && !after.subnet_of(out_dev, req.src) {
        return format!(
            "; no NAT rule matched it: {} leaves {} with its private source, so its replies cannot come back",
            req.src,
            after.dev_name(out_dev)
        );
    }
    String::new()
}

/// The drops of a replay grouped by cause, each cause explained once: a
/// packet whose route decision fails is explained as `fwdsim explain`
/// explains it (on the host as loaded), the others by their drop reason.
struct Causes {
    ns: Netns,
    /// (iif, saddr, daddr, tos) -> group.
    flows: std::collections::HashMap<(u32, Ipv4Addr, Ipv4Addr, u8), usize>,
    /// Packets without an IPv4 header walked again so far.
    unparsed: usize,
    groups: Vec<CauseGroup>,
}

struct CauseGroup {
    key: String,
    reason: &'static str,
    packets: u64,
    first: u64,
    lines: Vec<String>,
}

/// At most this many distinct flows are explained; later ones group by
/// their drop reason alone.
const MAX_EXPLAINED_FLOWS: usize = 1024;

impl Causes {
    fn new(ns: &Netns) -> Causes {
        Causes {
            ns: ns.clone(),
            flows: Default::default(),
            unparsed: 0,
            groups: Vec::new(),
        }
    }

    fn group(
        &mut self,
        key: String,
        reason: &'static str,
        index: u64,
        lines: Vec<String>,
    ) -> usize {
        if let Some(i) = self.groups.iter().position(|g| g.key == key) {
            return i;
        }
        self.groups.push(CauseGroup {
            key,
            reason,
            packets: 0,
            first: index,
            lines,
        });
        self.groups.len() - 1
    }

    /// Counts a dropped packet; `flow` is its (saddr, daddr, tos) when it is IPv4.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        now: &Netns,
        frame: &[u8],
        index: u64,
        dev: fwdsim_kernel::netns::IfIndex,
        flow: Option<(Ipv4Addr, Ipv4Addr, u8)>,
        reason: &'static str,
        view: &capture::CaptureView,
    ) {
        let g = match flow {
            Some((src, dst, tos)) => {
                let k = (dev.0, src, dst, tos);
                match self.flows.get(&k) {
                    Some(&g) if self.groups[g].reason == reason => g,
                    _ if self.flows.len() < MAX_EXPLAINED_FLOWS => {
                        let mut req = RouteGetRequest::new(dst);
                        req.src = src;
                        req.iif = Some(dev);
                        req.tos = tos;
                        let x = fwdsim_kernel::explain::explain(&self.ns, &req);
                        let g = if x.answer.is_err() {
                            let lines = explanation_lines(&self.ns, &req, &x);
                            let key =
                                format!("{reason}|{}", lines.first().cloned().unwrap_or_default());
                            self.group(key, reason, index, lines)
                        } else {
                            match later_cause(now, frame, dev, reason, view) {
                                Some(lines) => {
                                    let key = format!("{reason}|{}", lines[0]);
                                    self.group(key, reason, index, lines)
                                }
                                None => self.group(reason.to_string(), reason, index, Vec::new()),
                            }
                        };
                        self.flows.insert(k, g);
                        g
                    }
                    _ => self.group(reason.to_string(), reason, index, Vec::new()),
                }
            }
            None if self.unparsed < MAX_EXPLAINED_FLOWS => {
                self.unparsed += 1;
                match later_cause(now, frame, dev, reason, view) {
                    Some(lines) => {
                        let key = format!("{reason}|{}", lines[0]);
                        self.group(key, reason, index, lines)
                    }
                    None => self.group(reason.to_string(), reason, index, Vec::new()),
                }
            }
            None => self.group(reason.to_string(), reason, index, Vec::new()),
        };
        self.groups[g].packets += 1;
    }

    fn text(&self) -> String {
        if self.groups.is_empty() {
            return String::new();
        }
        let mut groups: Vec<&CauseGroup> = self.groups.iter().collect();
        groups.sort_by(|a, b| b.packets.cmp(&a.packets).then(a.first.cmp(&b.first)));
        let mut s = String::from("causes of drops, most packets first:\n");
        for g in groups {
            let n = if g.packets == 1 { "packet" } else { "packets" };
            s += &format!(
                "  {} {n} (first: packet {}), SKB_DROP_REASON_{}\n",
                g.packets, g.first, g.reason
            );
            for l in &g.lines {
                s += &format!("    {l}\n");
            }
        }
        s
    }
}

/// Why a packet whose route decision succeeded was dropped: the frame is
/// walked again, traced, on a copy of the host as it is now, and the
/// condition before the drop is named when the copy drops it for the same
/// reason.
fn later_cause(
    now: &Netns,
    frame: &[u8],
    dev: fwdsim_kernel::netns::IfIndex,
    reason: &'static str,
    view: &capture::CaptureView,
) -> Option<Vec<String>> {
    let mut ns = now.clone();
    let mut buf = frame.to_vec();
    let mut rec = Recorder::new();
    let o = fwdsim_kernel::core::neighbour::receive_settled(&mut ns, &mut buf, dev, &mut rec);
    if o.drop_reason.map(|r| r.name()) != Some(reason) {
        return None;
    }
    let st = fwdsim_kernel::explain::drop_condition(&rec.steps)?;
    let mut line = format!(
        "decided by {}: {}",
        st.func.name(),
        trace::describe(&ns, &st.check)
    );
    if st.branch != fwdsim_kernel::trace::Branch::Next {
        line += &format!(" -> {}", st.branch.name());
    }
    if let fwdsim_kernel::trace::Check::Ttl { ttl } = st.check {
        return Some(vec![
            line,
            format!(
                "no setting of this host changes it: ip_forward drops a packet to forward that arrives with a TTL of 1 or less (this one: {ttl}) and answers ICMP time exceeded, rate limited; the sender or a loop before this host used the TTL up (a traceroute probe does it on purpose)"
            ),
        ]);
    }
    // Too big with DF: would the packet pass with the output device's MTU
    // raised to its length? Re-run on a copy with that MTU.
    if let (fwdsim_kernel::trace::Check::Mtu { len, .. }, Some(rt)) = (st.check, o.route) {
        let out_dev = rt.dst.dev;
        let mut alt = now.clone();
        if let Some(d) = alt.dev_mut(out_dev) {
            d.mtu = len;
            alt.rt_cache_flush();
            let name = now.dev_name(out_dev);
            return Some(vec![
                line,
                "what would change it:".into(),
                format!(
                    "  with `ip link set {name} mtu {len}` (and as much on the path beyond): {}",
                    rerun(&mut alt, frame, dev)
                ),
                "  or the sender sends smaller packets (path MTU discovery reads the ICMP 3/4 this host sends)".into(),
            ]);
        }
    }
    let mut lines = vec![line];
    lines.extend(later_changes(now, frame, dev, &o, &rec.steps, reason, view));
    Some(lines)
}

/// What a frame's walk gives on a modified copy of the host, in words.
fn rerun(alt: &mut Netns, frame: &[u8], dev: fwdsim_kernel::netns::IfIndex) -> String {
    let mut buf = frame.to_vec();
    let o = fwdsim_kernel::core::neighbour::receive_settled(alt, &mut buf, dev, &mut NoTrace);
    match (o.drop_reason, o.verdict) {
        (Some(r), _) => format!("still dropped, SKB_DROP_REASON_{}", r.name()),
        (None, fwdsim_kernel::core::dev::Verdict::Forward) => match o.route {
            Some(rt) if rt.rt_uses_gateway => format!(
                "forwarded via {} dev {}",
                rt.rt_gw4,
                alt.dev_name(rt.dst.dev)
            ),
            Some(rt) => format!("forwarded dev {}", alt.dev_name(rt.dst.dev)),
            None => "forwarded".into(),
        },
        (None, v) => match v.word() {
            "local" => "delivered to this host".into(),
            w => w.into(),
        },
    }
}

/// The changes of the host that would save a packet dropped after its
/// route decision, each re-run on a copy; or, where no setting of the host
/// decides, a line that says so and what did.
fn later_changes(
    now: &Netns,
    frame: &[u8],
    dev: fwdsim_kernel::netns::IfIndex,
    o: &fwdsim_kernel::core::dev::RxOutcome,
    steps: &[fwdsim_kernel::trace::Step],
    reason: &str,
    view: &capture::CaptureView,
) -> Vec<String> {
    use fwdsim_kernel::trace::Check;
    let mut out = Vec::new();
    let mut changes: Vec<(String, Netns)> = Vec::new();
    match reason {
        "NO_SOCKET" => {
            if let Some((protocol, daddr, dport)) = steps.iter().find_map(|s| match s.check {
                Check::SocketLookup {
                    protocol,
                    daddr,
                    dport,
                    found: false,
                } => Some((protocol, daddr, dport)),
                _ => None,
            }) {
                let (word, how) = if protocol == 6 {
                    ("tcp", "listening")
                } else {
                    ("udp", "bound")
                };
                let mut alt = now.clone();
                alt.sockets.push(fwdsim_kernel::netns::Socket {
                    protocol,
                    addr: daddr,
                    port: dport,
                });
                changes.push((
                    format!(
                        "a {word} socket {how} on {daddr}:{dport} (a program serving that port; `[[socket]]` in a host file)"
                    ),
                    alt,
                ));
            }
        }
        "NEIGH_FAILED" => {
            let hop = steps.iter().find_map(|s| match s.check {
                Check::Neigh {
                    ip,
                    resolved: false,
                    ..
                } => Some(ip),
                _ => None,
            });
            if let (Some(ip), Some(rt)) = (hop, o.route) {
                let name = now.dev_name(rt.dst.dev).to_string();
                if capture::neigh_gap(view, rt.dst.dev) {
                    // The answer may have come where the capture does not
                    // look: say so, and suggest no address.
                    out.push(capture::neigh_gap_text(now, ip, rt.dst.dev));
                } else {
                    out.push(format!(
                        "{ip} did not answer ARP on {name}: the host has no valid neighbour entry for it, so the kernel queued the packet, sent ARP requests (mcast_solicit, one a second) and gave up, answering ICMP host unreachable"
                    ));
                    // Any MAC stands for the real one in the re-run.
                    let mut alt = now.clone();
                    let mac = [0x02, 0, 0, 0, 0, 0x01];
                    alt.neigh.retain(|n| !(n.dev == rt.dst.dev && n.ip == ip));
                    alt.neigh.push(fwdsim_kernel::core::neighbour::Neighbour::new(
                        rt.dst.dev,
                        ip,
                        Some(mac),
                        fwdsim_kernel::core::neighbour::NudState::NUD_PERMANENT,
                    ));
                    let whose = if rt.rt_uses_gateway && rt.rt_gw4 == ip {
                        "the gateway's MAC".to_string()
                    } else {
                        format!("the MAC of {ip}")
                    };
                    changes.push((
                        format!(
                            "`ip neigh replace {ip} lladdr <{whose}> dev {name}` (or {ip} answering ARP; check that it is up and on that link)"
                        ),
                        alt,
                    ));
                }
            }
        }
        "IP_CSUM" | "PKT_TOO_SMALL" | "UDP_CSUM" | "TCP_CSUM" | "ICMP_CSUM" | "IP_INHDR" => {
            out.push(
                "no setting of this host changes it: the packet was malformed when it arrived (corrupted on the way, or built wrong by its sender)"
                    .into(),
            );
        }
        "OTHERHOST" => {
            let mac = |m: &[u8]| {
                m.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            };
            out.push(format!(
                "no setting of this host changes it: the frame is addressed to {} and {} is {}; such a frame reaches IP only when the device is promiscuous, and ip_rcv drops it there",
                mac(frame.get(0..6).unwrap_or(&[])),
                now.dev_name(dev),
                now.dev(dev).map_or(String::new(), |d| mac(&d.dev_addr))
            ));
        }
        "NETFILTER_DROP" => changes.extend(netfilter_changes(now, frame, dev, o)),
        "IP_NOPROTO" => out.push(format!(
            "no setting of this host changes it: no handler is registered for IP protocol {}; the sender gets ICMP protocol unreachable",
            frame.get(23).copied().unwrap_or(0)
        )),
        _ => {}
    }
    // Per-device switches that drop a routed packet on their own.
    let name = now.dev_name(dev).to_string();
    for (keys, v) in [
        (
            vec![
                "net.ipv4.conf.all.accept_source_route".to_string(),
                format!("net.ipv4.conf.{name}.accept_source_route"),
            ],
            1,
        ),
        (
            vec![format!("net.ipv4.conf.{name}.drop_unicast_in_l2_multicast")],
            0,
        ),
    ] {
        if keys.iter().all(|k| now.sysctl_get(k).ok() == Some(v)) {
            continue;
        }
        let keys: Vec<&String> = keys
            .iter()
            .filter(|k| now.sysctl_get(k).ok() != Some(v))
            .collect();
        let mut alt = now.clone();
        if keys.iter().all(|k| alt.sysctl_write(k, v).is_ok()) {
            let words: Vec<String> = keys.iter().map(|k| format!("{k} = {v}")).collect();
            changes.push((words.join(" and "), alt));
        }
    }
    let mut helped = Vec::new();
    for (change, mut alt) in changes {
        let r = rerun(&mut alt, frame, dev);
        if r != format!("still dropped, SKB_DROP_REASON_{reason}") {
            helped.push(format!("  with {change}: {r}"));
        }
    }
    if !helped.is_empty() {
        out.push("what would change it:".into());
        out.extend(helped);
    }
    out
}

/// The rule changes that would let a packet through that a netfilter rule
/// or policy dropped: the policy ACCEPT, an ACCEPT rule inserted first (in
/// DOCKER-USER where Docker has it, as Docker's documentation asks), the
/// dropping rule deleted. Each is re-run by the caller.
fn netfilter_changes(
    now: &Netns,
    frame: &[u8],
    dev: fwdsim_kernel::netns::IfIndex,
    o: &fwdsim_kernel::core::dev::RxOutcome,
) -> Vec<(String, Netns)> {
    use fwdsim_kernel::netfilter::NfVerdict;
    use fwdsim_kernel::netfilter::core::NfEventKind;
    use fwdsim_kernel::netfilter::xtables::ip_tables::{
        IfaceMatch, IptEntry, IptIp, Policy, RuleOrigin, XtCounters, XtTarget,
    };
    let mut ns = now.clone();
    let mut buf = frame.to_vec();
    let _ = fwdsim_kernel::core::neighbour::receive_settled(&mut ns, &mut buf, dev, &mut NoTrace);
    let Some(nf) = ns.nf.as_ref() else {
        return Vec::new();
    };
    if let Some((table, chain, rule)) = nf.trail.events().find_map(|e| match e.kind {
        NfEventKind::NftPolicy {
            table,
            chain,
            verdict: NfVerdict::Drop,
        } => Some((table as usize, chain as usize, None)),
        NfEventKind::NftRule {
            table,
            chain,
            rule,
            verdict: NfVerdict::Drop,
        } => Some((table as usize, chain as usize, Some(rule as usize))),
        _ => None,
    }) {
        let t = &nf.nft[table];
        let (fam, tname, cname) = (
            t.family.name(),
            t.name.clone(),
            t.chains[chain].name.clone(),
        );
        let mut alt = now.clone();
        let words = match rule {
            None => {
                if let Some(nf) = alt.nf.as_mut()
                    && let Some(b) = nf.nft[table].chains[chain].base.as_mut()
                {
                    b.policy = fwdsim_kernel::netfilter::nf_tables::NftPolicy::Accept;
                }
                format!("`nft chain {fam} {tname} {cname} '{{ policy accept; }}'`")
            }
            Some(r) => {
                let handle = t.chains[chain].rules[r].handle;
                if let Some(nf) = alt.nf.as_mut() {
                    nf.nft[table].chains[chain].rules.remove(r);
                }
                format!(
                    "`nft delete rule {fam} {tname} {cname} handle {handle}` (the rule that dropped it)"
                )
            }
        };
        if let Some(nf) = alt.nf.as_mut() {
            nf.register_hooks();
        }
        return vec![(words, alt)];
    }
    let Some((hook, table, chain, rule)) = nf.trail.events().find_map(|e| match e.kind {
        NfEventKind::Policy {
            table,
            chain,
            verdict: NfVerdict::Drop,
        } => Some((e.hook, table as usize, chain as usize, None)),
        NfEventKind::Rule {
            table,
            chain,
            rule,
            verdict: NfVerdict::Drop,
        } => Some((e.hook, table as usize, chain as usize, Some(rule as usize))),
        _ => None,
    }) else {
        return Vec::new();
    };
    let t = &nf.tables[table];
    let tname = t.name.name();
    let chain_name = t.chains[chain].name.clone();
    let flag = if tname == "filter" {
        String::new()
    } else {
        format!("-t {tname} ")
    };
    let mut out = Vec::new();
    let alter = |f: &mut dyn FnMut(&mut fwdsim_kernel::netfilter::Netfilter)| {
        let mut alt = now.clone();
        if let Some(nf) = alt.nf.as_mut() {
            f(nf);
            nf.register_hooks();
        }
        alt
    };
    let indev = now.dev_name(dev).to_string();
    let outdev = o.route.map(|rt| now.dev_name(rt.dst.dev).to_string());
    match rule {
        None => {
            out.push((
                format!("`iptables {flag}-P {chain_name} ACCEPT`"),
                alter(&mut |nf| nf.tables[table].chains[chain].policy = Some(Policy::Accept)),
            ));
        }
        Some(r) => {
            let text = t.chains[chain].rules[r].origin.text.to_string();
            let del = text.replacen("-A ", "-D ", 1);
            out.push((
                format!("`iptables {flag}{del}` (the rule that dropped it)"),
                alter(&mut |nf| {
                    nf.tables[table].chains[chain].rules.remove(r);
                }),
            ));
        }
    }
    // An ACCEPT for this packet's devices, first in the chain Docker leaves
    // to the user when it exists, else first in the chain that dropped.
    let target = match t.chain_index("DOCKER-USER") {
        Some(c) if hook == fwdsim_kernel::netfilter::NfInetHook::Forward => c,
        _ => chain,
    };
    let target_name = t.chains[target].name.clone();
    let mut words = format!("-I {target_name} -i {indev}");
    if let Some(od) = &outdev
        && hook == fwdsim_kernel::netfilter::NfInetHook::Forward
    {
        words += &format!(" -o {od}");
    }
    words += " -j ACCEPT";
    let origin_text: std::sync::Arc<str> = std::sync::Arc::from(words.replacen("-I ", "-A ", 1));
    let accept = IptEntry {
        ip: IptIp {
            iniface: Some(IfaceMatch {
                name: indev.clone(),
                wildcard: false,
                invert: false,
            }),
            outiface: outdev
                .clone()
                .filter(|_| hook == fwdsim_kernel::netfilter::NfInetHook::Forward)
                .map(|name| IfaceMatch {
                    name,
                    wildcard: false,
                    invert: false,
                }),
            ..Default::default()
        },
        matches: Vec::new(),
        target: XtTarget::Accept,
        origin: RuleOrigin {
            file: std::sync::Arc::from("(suggested)"),
            line: 0,
            text: origin_text,
        },
        saved: XtCounters::default(),
        counters: XtCounters::default(),
        unmodelled: false,
    };
    let a2 = accept.clone();
    out.push((
        format!("`iptables {flag}{words}`"),
        alter(&mut |nf| nf.tables[table].chains[target].rules.insert(0, a2.clone())),
    ));
    out
}

/// Whether an Ethernet frame carries an IPv4 fragment (MF set or a
/// non-zero offset).
fn is_fragment(frame: &[u8]) -> bool {
    frame.get(12..14) == Some(&[0x08, 0x00][..])
        && frame
            .get(20..22)
            .is_some_and(|b| u16::from_be_bytes([b[0], b[1]]) & 0x3fff != 0)
}

/// The IPv4 source, destination and TOS of an Ethernet frame.
fn frame_flow(frame: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, u8)> {
    if frame.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let h = etherparse::Ipv4HeaderSlice::from_slice(frame.get(14..)?).ok()?;
    Some((h.source_addr(), h.destination_addr(), frame[15]))
}

fn sysctl_origin(
    key: &str,
    root: &std::path::Path,
    host: Option<&std::path::Path>,
) -> Result<ExitCode, Failure> {
    use fwdsim_host::sysctl_origin as so;
    let mut key = so::normalize(key);
    if let Some(linux) = so::linux_name_for(&key) {
        eprintln!("fwdsim: {key} is a BSD/macOS name; on Linux it is {linux}");
        key = linux.to_string();
    }
    let o =
        so::sysctl_origin(root, &key).map_err(|e| Failure(format!("{}: {e}", root.display())))?;
    println!(
        "{key}, in the order sysctl --system and systemd-sysctl apply it (root {}):",
        root.display()
    );
    if o.assignments.is_empty() {
        println!("  no configuration file sets it: the kernel's default stays at boot");
    }
    let n = o.assignments.len();
    for (i, a) in o.assignments.iter().enumerate() {
        let win = if i + 1 == n { "   <- wins at boot" } else { "" };
        println!(
            "  {}:{}  {} = {}{win}",
            a.file.display(),
            a.line,
            a.written,
            a.value
        );
    }
    for m in &o.masked {
        println!(
            "  (not read: {} is hidden by {})",
            m.file.display(),
            m.by.display()
        );
    }
    if let Some(h) = host {
        let ns = fwdsim_host::load_host(h)?;
        let live = ns
            .sysctl_get(&key)
            .map_err(|e| Failure(format!("{}: {e}", h.display())))?;
        match o.winner() {
            Some(w) if w.value.trim() != live.to_string() => println!(
                "live value {live} (from {}) differs from the boot value {}: a change made with sysctl -w is lost at the next boot; to keep it, change {}:{}",
                h.display(),
                w.value,
                w.file.display(),
                w.line
            ),
            Some(_) => println!("live value {live} (from {}) is the boot value", h.display()),
            None => println!("live value {live} (from {})", h.display()),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    use clap::CommandFactory;
    match cli.cmd {
        Cmd::Explain(a) => explain(&a),
        Cmd::Doctor {
            topology: Some(t), ..
        } => topo_doctor::doctor(&t),
        Cmd::Doctor { sim, .. } => {
            let ns = load(&sim)?;
            let findings = fwdsim_kernel::doctor::doctor(&ns);
            if findings.is_empty() {
                println!("no known cause of lost packets found");
                for n in fwdsim_kernel::doctor::quiet_notes(&ns) {
                    println!("note: {n}");
                }
            }
            for (i, f) in findings.iter().enumerate() {
                println!("{}. {}: {}", i + 1, f.title, f.detail);
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "fwdsim", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Sysctl(SysctlCmd::Origin { key, root, host }) => {
            sysctl_origin(&key, &root, host.as_deref())
        }
        Cmd::Sysctl(SysctlCmd::Get { keys, host, values }) => {
            let ns = fwdsim_host::load_host(&host)?;
            for k in &keys {
                for (k, v) in fwdsim_host::sysctl_edit::sysctl_get(&ns, &host, k)? {
                    if values {
                        println!("{v}");
                    } else {
                        println!("{k} = {v}");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Sysctl(SysctlCmd::Set { assignments, host }) => {
            use fwdsim_host::sysctl_edit as se;
            let arg = std::path::Path::new("sysctl set");
            let parsed = assignments
                .iter()
                .map(|a| se::parse_assignment(arg, a))
                .collect::<Result<Vec<_>, _>>()?;
            let changes = se::sysctl_set(&host, &parsed)?;
            for (k, v) in &parsed {
                println!("{k} = {v}");
            }
            for c in changes
                .iter()
                .filter(|c| !parsed.iter().any(|(k, _)| *k == c.key))
            {
                println!("  also changed: {} {} -> {}", c.key, c.old, c.new);
            }
            println!("wrote {}", host.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Topo(c) => topo::run(c),
        Cmd::Send(a) => send::run(&a),
        Cmd::Replay(a) => match (&a.topology, &a.at) {
            (Some(t), Some(at)) => topo_replay::replay(&a, t, at),
            _ => replay(&a),
        },
        Cmd::Trace(a) => match (&a.topology, &a.at) {
            (Some(t), Some(at)) => topo_replay::trace(&a, t, at),
            _ => trace_packet(&a),
        },
        Cmd::Route(RouteCmd::Get(a)) => route_get(&a),
        Cmd::Host(HostCmd::Dump { dir, netns }) => {
            fwdsim_host::dump(&dir, netns.as_deref())?;
            // Say what was written, and what it holds once loaded.
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            let held = match fwdsim_host::load_host_with_notes(&dir) {
                Ok((ns, _)) => {
                    let routes: usize = ns.fib.tables.values().map(|t| t.iter().count()).sum();
                    let (tables, nft) = ns
                        .nf
                        .as_ref()
                        .map_or((0, 0), |nf| (nf.tables.len(), nf.nft.len()));
                    format!(
                        "{} devices, {routes} routes, {} rules, {} neighbours, {tables} iptables tables, {nft} nftables tables",
                        ns.devices.len(),
                        ns.fib.rules.len(),
                        ns.neigh.len()
                    )
                }
                Err(e) => format!("it does not load: {e}"),
            };
            println!("wrote {}: {} ({held})", dir.display(), files.join(", "));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Host(HostCmd::Show { sim, json }) => {
            let ns = load(&sim)?;
            if json {
                println!("{}", fwdsim_host::show_json(&ns));
            } else {
                print!("{}", fwdsim_host::show_text(&ns));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    // A closed pipe (`fwdsim ... | head`) ends the process quietly, as it
    // does for the C tools, instead of a failed write panicking.
    #[allow(unsafe_code)]
    // SAFETY: restores the default action of SIGPIPE before any thread
    // starts; no handler code runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A usage error is bad input like any other: exit status 1 (clap's own
    // 2 would read as "the route lookup failed" to a script).
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(c) => c,
        Err(Failure(msg)) => {
            eprintln!("fwdsim: {msg}");
            ExitCode::from(1)
        }
    }
}
