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
}

#[derive(Subcommand)]
enum RouteCmd {
    /// Ask the route decision for a packet, as `ip route get` does.
    #[command(
        after_help = "Examples:\n  fwdsim route get 8.8.8.8 from 172.17.0.2 iif docker0 --host fixtures/hosts/docker-forwarding-off.toml --trace\n  fwdsim route get 10.0.2.2 from 10.0.1.2 iif r0 tos 0x10 mark 7 --host snapshot/ -j\n  fwdsim route get 8.8.8.8 --host fixtures/hosts/docker-forwarding-on.toml   (no iif: the host's own output path)"
    )]
    Get(RouteGetArgs),
}

#[derive(Args)]
struct RouteGetArgs {
    /// `DST [from SRC] [iif DEV] [oif DEV] [tos TOS] [mark MARK] [ipproto PROTO]`, as for `ip route get`.
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
}

#[derive(Args)]
struct SimArgs {
    /// The host: a snapshot directory (`fwdsim host dump`) or a TOML host file.
    #[arg(long, value_name = "PATH")]
    host: PathBuf,
    /// Set a sysctl on the loaded host as `sysctl -w KEY=VALUE` would (repeatable).
    #[arg(long = "sysctl", value_name = "KEY=VALUE")]
    sysctl: Vec<String>,
}

#[derive(Subcommand)]
enum HostCmd {
    /// Write a snapshot of this machine or of a network namespace into DIR.
    #[command(after_help = "Example:\n  fwdsim host dump /tmp/router --netns router")]
    Dump {
        /// The directory to write addr.json, route.json, rule.json, neigh.json and sysctl.txt into.
        dir: PathBuf,
        /// The network namespace to snapshot (default: this one).
        #[arg(long)]
        netns: Option<String>,
    },
    /// Print a loaded host as `ip addr`, `ip route show table all` and `ip rule` would.
    #[command(
        after_help = "Example:\n  fwdsim host show --host fixtures/hosts/docker-forwarding-off.toml"
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
    let mut ns = fwdsim_host::load_host(&sim.host)?;
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
            "to" => dst = Some(parse_addr("to", val("to")?)?),
            w if dst.is_none() => dst = Some(parse_addr("destination", w)?),
            w => return Err(Failure(format!("route get: unknown argument {w:?}"))),
        }
    }
    req.dst = dst.ok_or_else(|| Failure("route get: a destination is required".into()))?;
    Ok(req)
}

fn route_get(a: &RouteGetArgs) -> Result<ExitCode, Failure> {
    let mut ns = load(&a.sim)?;
    let req = parse_request(&ns, &a.words)?;
    let mut buf = [0u8; 28];
    let (answer, steps) = if a.trace {
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
            print!("{}", trace::trace_text(&ns, steps));
            println!("{last}");
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

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.cmd {
        Cmd::Route(RouteCmd::Get(a)) => route_get(&a),
        Cmd::Host(HostCmd::Dump { dir, netns }) => {
            fwdsim_host::dump(&dir, netns.as_deref())?;
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
    let cli = Cli::parse();
    match run(cli) {
        Ok(c) => c,
        Err(Failure(msg)) => {
            eprintln!("fwdsim: {msg}");
            ExitCode::from(1)
        }
    }
}
