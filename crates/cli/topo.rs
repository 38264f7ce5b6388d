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
