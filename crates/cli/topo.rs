//! `fwdsim topo dump` and `fwdsim topo show`: write a topology of the
//! running machine, and print a loaded one (docs/topology.md).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::Failure;

/// `fwdsim topo ...`.
#[derive(Subcommand)]
pub enum TopoCmd {
    /// Write a topology of this machine into DIR: the root namespace as
    /// `host/`, every named namespace and every container's namespace, each
    /// a snapshot directory, and topology.toml with the veth pairs between them.
    #[command(
        after_help = "Examples:\n  fwdsim topo dump /tmp/topo\n  fwdsim topo dump /tmp/lab --netns fws-br=host --netns fws-c1=ctr"
    )]
    Dump {
        /// The directory to write (created if needed).
        dir: PathBuf,
        /// Dump only this namespace (`host`, a named namespace, a
        /// container's name or `pid-N`), as AS when given (repeatable);
        /// links to namespaces left out are left out too.
        #[arg(long = "netns", value_name = "NAME[=AS]", num_args = 1..)]
        netns: Vec<String>,
    },
    /// Print a topology: its namespaces, their devices and the links.
    #[command(
        after_help = "Example:\n  fwdsim topo show fixtures/topologies/docker-forwarding-off"
    )]
    Show {
        /// A topology directory or TOML topology file.
        topology: PathBuf,
        /// Print JSON: {"namespaces": [{"name", "source", "devices"}], "links": [{"a", "b"}]}.
        #[arg(short = 'j', long = "json")]
        json: bool,
    },
}

/// Loads `--topology PATH`, printing its notes on stderr.
pub fn load(path: &std::path::Path) -> Result<fwdsim_host::Topology, Failure> {
    let t = fwdsim_host::load_topology(path)?;
    for n in &t.namespaces {
        for note in &n.notes {
            eprintln!("fwdsim: {}: {note}", n.name);
        }
    }
    Ok(t)
}

/// [`load`], then each `--sysctl NS:KEY=VALUE` applied to namespace NS as
/// `sysctl -w KEY=VALUE` would.
pub fn load_with_sysctls(
    path: &std::path::Path,
    sysctls: &[String],
) -> Result<fwdsim_host::Topology, Failure> {
    let mut t = load(path)?;
    for kv in sysctls {
        let Some((ns, assign)) = kv.split_once(':') else {
            return Err(Failure(format!(
                "--sysctl {kv}: with --topology, name the namespace: NS:KEY=VALUE (e.g. host:net.ipv4.ip_forward=1)"
            )));
        };
        let Some(i) = t.ns_index(ns) else {
            return Err(Failure(format!(
                "--sysctl {kv}: no namespace {ns:?} in the topology (its namespaces: {})",
                t.names().join(", ")
            )));
        };
        fwdsim_host::apply_sysctl_override(&mut t.namespaces[i].netns, assign)
            .map_err(|e| Failure(format!("--sysctl {kv}: {e}")))?;
    }
    Ok(t)
}

/// Runs a `topo` command.
pub fn run(cmd: TopoCmd) -> Result<ExitCode, Failure> {
    match cmd {
        TopoCmd::Dump { dir, netns } => {
            let d = fwdsim_host::topo_dump(&dir, &netns)?;
            for n in &d.notes {
                eprintln!("fwdsim: {n}");
            }
            for f in &d.namespaces {
                println!("{}: {}", f.name, f.what);
            }
            for (a, b) in &d.links {
                println!("link {a} <-> {b}");
            }
            println!("wrote {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        TopoCmd::Show { topology, json } => {
            let t = load(&topology)?;
            if json {
                let ns: Vec<serde_json::Value> = t
                    .namespaces
                    .iter()
                    .map(|n| {
                        serde_json::json!({
                            "name": n.name,
                            "source": n.source.display().to_string(),
                            "devices": n.netns.devices.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                let links: Vec<serde_json::Value> = t
                    .links
                    .iter()
                    .map(|l| serde_json::json!({"a": t.end_name(l.a), "b": t.end_name(l.b)}))
                    .collect();
                println!("{}", serde_json::json!({"namespaces": ns, "links": links}));
            } else {
                for n in &t.namespaces {
                    let devs: Vec<&str> = n.netns.devices.iter().map(|d| d.name.as_str()).collect();
                    println!("{}: {} ({})", n.name, devs.join(" "), n.source.display());
                }
                for l in &t.links {
                    println!("link {} <-> {}", t.end_name(l.a), t.end_name(l.b));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Builds the model's topology from a loaded one: every namespace by its
/// name, every link, and the veth pairs inside one namespace
/// (`Topology::build`).
pub fn engine(t: fwdsim_host::Topology) -> Result<fwdsim_kernel::topology::Topology, Failure> {
    let ends: Vec<(String, String, String, String)> = t
        .links
        .iter()
        .map(|l| {
            let split = |s: String| {
                let (n, d) = s.split_once('/').unwrap_or((&s, ""));
                (n.to_string(), d.to_string())
            };
            let ((na, da), (nb, db)) = (split(t.end_name(l.a)), split(t.end_name(l.b)));
            (na, da, nb, db)
        })
        .collect();
    let (parts, _) = t.into_parts();
    Ok(fwdsim_kernel::topology::Topology::build(parts, &ends)?)
}

/// `--at NS[/DEV]` or `--from NS`: a namespace of the topology and maybe
/// one of its devices.
pub fn at(
    topo: &fwdsim_kernel::topology::Topology,
    spec: &str,
) -> Result<(fwdsim_kernel::topology::NsId, Option<String>), Failure> {
    let (ns, dev) = match spec.split_once('/') {
        Some((n, d)) => (n, Some(d.to_string())),
        None => (spec, None),
    };
    let id = topo.id(ns).ok_or_else(|| {
        Failure(format!(
            "no namespace {ns:?} in the topology (its namespaces: {})",
            topo.names().join(", ")
        ))
    })?;
    if let Some(d) = &dev
        && topo.netns(id).dev_by_name(d).is_none()
    {
        let devs: Vec<&str> = topo
            .netns(id)
            .devices
            .iter()
            .map(|x| x.name.as_str())
            .collect();
        return Err(Failure(format!(
            "no device {d:?} in namespace {ns} (its devices: {})",
            devs.join(", ")
        )));
    }
    Ok((id, dev))
}

pub use fwdsim_render::topology::hop_json;

/// Why a packet was dropped at hop `h`, when the route decision explains
/// it: the input route lookup of `src -> dst` from the hop's device (its
/// bridge for a bridge port) re-run with a recorder on a copy of the
/// namespace, as "ip_route_input_slow (no_route): IN_DEV_FORWARD(docker0) = 0".
pub fn drop_why(
    topo: &fwdsim_kernel::topology::Topology,
    h: &fwdsim_kernel::topology::Hop,
    src: std::net::Ipv4Addr,
    dst: std::net::Ipv4Addr,
    proto: u8,
) -> Option<String> {
    use fwdsim_kernel::ipv4::rtnetlink::{RouteGetRequest, inet_rtm_getroute};
    let mut ns = topo.netns(h.ns).clone();
    let dev = ns.dev(h.dev)?;
    let iif = dev.master.unwrap_or(h.dev);
    if ns.dev(iif).is_some_and(|d| d.is_loopback()) {
        return None;
    }
    let mut req = RouteGetRequest::new(dst);
    req.src = src;
    req.iif = Some(iif);
    req.ip_proto = proto;
    let mut rec = fwdsim_kernel::trace::Recorder::new();
    let mut buf = [0u8; 28];
    let r = inet_rtm_getroute(&mut ns, &req, &mut buf, &mut rec);
    if r.is_ok() {
        return None;
    }
    let st = fwdsim_kernel::explain::why(&rec.steps)?;
    let mut s = st.func.name().to_string();
    if st.branch != fwdsim_kernel::trace::Branch::Next {
        s += &format!(" ({})", st.branch.name());
    }
    s += &format!(": {}", fwdsim_render::trace::describe(&ns, &st.check));
    Some(s)
}

/// Why namespace `ns` cannot send to `dst`, when its output route lookup
/// fails: "Network is unreachable (ENETUNREACH)".
pub fn no_route_back(
    topo: &fwdsim_kernel::topology::Topology,
    ns: fwdsim_kernel::topology::NsId,
    dst: std::net::Ipv4Addr,
) -> Option<String> {
    use fwdsim_kernel::ipv4::rtnetlink::{RouteGetRequest, inet_rtm_getroute};
    let mut n = topo.netns(ns).clone();
    let mut buf = [0u8; 28];
    let req = RouteGetRequest::new(dst);
    match inet_rtm_getroute(&mut n, &req, &mut buf, &mut fwdsim_kernel::trace::NoTrace) {
        Ok(_) => None,
        Err(e) => Some(format!("{} ({})", e.errno.message(), e.errno)),
    }
}
