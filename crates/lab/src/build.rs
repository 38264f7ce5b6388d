//! Builds a [`HostSpec`] in a network namespace, in the order of
//! docs/host-format.md ("The order of loading"):
//!
//! 1. `lo` up, then each interface: a veth whose peer lives in a second
//!    (helper) namespace, so the host namespace holds only `lo` and the
//!    declared devices; MAC, MTU, then peer up unless `carrier = false`,
//!    then the device up unless `state = "down"`;
//! 2. every address, `ip addr add ADDR [brd +] dev NAME`;
//! 3. `[sysctl]` in order; 4. each interface's `sysctl` table;
//! 5. routes; 6. rules.
//!
//! An address, sysctl, route or rule the kernel rejects is dropped from the
//! spec (and recorded in [`LabHost::dropped`]) so the TOML written from
//! [`LabHost::spec`] describes exactly what the namespace holds.
//!
//! IPv6 is disabled in both namespaces first (no DAD or router
//! solicitations; the tests are IPv4 only and send no traffic).

use std::path::Path;

use crate::error::{LabError, Result};
use crate::netns::Netns;
use crate::spec::HostSpec;

/// Something the kernel refused while building; removed from the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// `address`, `sysctl`, `route` or `rule`.
    pub kind: &'static str,
    /// The item as written in the spec (`dev: addr`, `key=value`, or the string).
    pub text: String,
    /// What the kernel (or iproute2) said.
    pub error: String,
}

/// A host built in a namespace. Dropping it deletes both namespaces.
#[derive(Debug)]
pub struct LabHost {
    /// The namespace holding the host (declared first: dropped first, which
    /// also destroys the veth pairs).
    pub ns: Netns,
    /// The helper namespace holding the veth peers.
    pub peer: Netns,
    /// The spec as built: what the kernel rejected is removed.
    pub spec: HostSpec,
    /// What was removed, in order.
    pub dropped: Vec<Dropped>,
    /// The commands run, with `$NS` / `$PEER` for the namespace names.
    pub commands: Vec<String>,
}

fn stderr_line(out: &std::process::Output) -> String {
    let s = String::from_utf8_lossy(&out.stderr);
    let s = s.trim();
    if s.is_empty() {
        format!("exit status {}", out.status)
    } else {
        s.lines().collect::<Vec<_>>().join(" / ")
    }
}

impl LabHost {
    /// Builds `spec` in fresh namespaces.
    pub fn build(spec: &HostSpec) -> Result<LabHost> {
        let ns = Netns::new()?;
        let peer = Netns::new()?;
        let mut host = LabHost {
            ns,
            peer,
            spec: HostSpec {
                title: spec.title.clone(),
                ..HostSpec::default()
            },
            dropped: Vec::new(),
            commands: Vec::new(),
        };
        host.setup(spec)?;
        Ok(host)
    }

    fn log(&mut self, ns_var: &str, args: &[&str]) {
        self.commands
            .push(format!("ip -n {ns_var} {}", args.join(" ")));
    }

    /// `ip -n $NS ARGS` that must succeed.
    fn must(&mut self, args: &[&str]) -> Result<()> {
        self.log("$NS", args);
        self.ns.ip(args).map(|_| ())
    }

    fn must_peer(&mut self, args: &[&str]) -> Result<()> {
        self.log("$PEER", args);
        self.peer.ip(args).map(|_| ())
    }

    /// `ip -n $NS ARGS` that may be refused; returns the error line.
    fn may(&mut self, args: &[&str]) -> Result<Option<String>> {
        self.log("$NS", args);
        let out = self.ns.run(args)?;
        Ok((!out.status.success()).then(|| stderr_line(&out)))
    }

    fn sysctl(&mut self, key: &str, value: &str) -> Result<Option<String>> {
        self.commands
            .push(format!("ip netns exec $NS sysctl -w {key}={value}"));
        match self.ns.sysctl(&[(key, value)]) {
            Ok(()) => Ok(None),
            Err(LabError::Command { stderr, .. }) => Ok(Some(stderr)),
            Err(e) => Err(e),
        }
    }

    fn setup(&mut self, spec: &HostSpec) -> Result<()> {
        let v6off = [
            ("net.ipv6.conf.all.disable_ipv6", "1"),
            ("net.ipv6.conf.default.disable_ipv6", "1"),
        ];
        // Not part of the host: keeps the namespaces quiet. Failure is fine
        // (IPv6 may be absent).
        let _ = self.ns.sysctl(&v6off);
        let _ = self.peer.sysctl(&v6off);
        let peer_name = self.peer.name().to_string();

        // 1. Devices.
        for (k, ifc) in spec.interfaces.iter().enumerate() {
            let p = format!("p{k}");
            let ifindex = k + 2;
            self.commands.push(format!(
                "ip -n $NS link add {} type veth peer name {p} netns $PEER",
                ifc.name
            ));
            self.ns.ip(&[
                "link", "add", &ifc.name, "type", "veth", "peer", "name", &p, "netns", &peer_name,
            ])?;
            let mac = ifc
                .mac
                .clone()
                .unwrap_or_else(|| format!("02:00:00:00:00:{ifindex:02x}"));
            self.must(&["link", "set", &ifc.name, "address", &mac])?;
            let mtu = ifc.mtu.unwrap_or(1500).to_string();
            self.must(&["link", "set", &ifc.name, "mtu", &mtu])?;
            self.must_peer(&["link", "set", &p, "mtu", &mtu])?;
            if ifc.carrier {
                self.must_peer(&["link", "set", &p, "up"])?;
            }
            if ifc.up {
                self.must(&["link", "set", &ifc.name, "up"])?;
            }
        }
        let mut interfaces = spec.interfaces.clone();
        for ifc in &mut interfaces {
            ifc.addresses.clear();
            ifc.sysctl.clear();
        }

        // 2. Addresses.
        for (k, ifc) in spec.interfaces.iter().enumerate() {
            for a in &ifc.addresses {
                let mut args = vec!["addr", "add"];
                let words: Vec<&str> = a.split_whitespace().collect();
                args.extend(&words);
                if !words.iter().any(|w| *w == "brd" || *w == "broadcast") {
                    args.extend(["brd", "+"]);
                }
                args.extend(["dev", &ifc.name]);
                match self.may(&args)? {
                    None => interfaces[k].addresses.push(a.clone()),
                    Some(error) => self.dropped.push(Dropped {
                        kind: "address",
                        text: format!("{}: {a}", ifc.name),
                        error,
                    }),
                }
            }
        }

        // 3. [sysctl] in order.
        let mut sysctl = Vec::new();
        for (key, value) in &spec.sysctl {
            match self.sysctl(key, value)? {
                None => sysctl.push((key.clone(), value.clone())),
                Some(error) => self.dropped.push(Dropped {
                    kind: "sysctl",
                    text: format!("{key}={value}"),
                    error,
                }),
            }
        }

        // 4. Per-interface sysctl.
        for (k, ifc) in spec.interfaces.iter().enumerate() {
            for (key, value) in &ifc.sysctl {
                let full = format!("net.ipv4.conf.{}.{key}", ifc.name);
                match self.sysctl(&full, value)? {
                    None => interfaces[k].sysctl.push((key.clone(), value.clone())),
                    Some(error) => self.dropped.push(Dropped {
                        kind: "sysctl",
                        text: format!("{full}={value}"),
                        error,
                    }),
                }
            }
        }

        // 5. Routes.
        let mut routes = Vec::new();
        for r in &spec.routes {
            let mut args = vec!["route", "add"];
            args.extend(r.split_whitespace());
            match self.may(&args)? {
                None => routes.push(r.clone()),
                Some(error) => self.dropped.push(Dropped {
                    kind: "route",
                    text: r.clone(),
                    error,
                }),
            }
        }

        // 6. Rules.
        let mut rules = Vec::new();
        for r in &spec.rules {
            let mut args = vec!["rule", "add"];
            args.extend(r.split_whitespace());
            match self.may(&args)? {
                None => rules.push(r.clone()),
                Some(error) => self.dropped.push(Dropped {
                    kind: "rule",
                    text: r.clone(),
                    error,
                }),
            }
        }

        self.spec.interfaces = interfaces;
        self.spec.sysctl = sysctl;
        self.spec.routes = routes;
        self.spec.rules = rules;
        Ok(())
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        self.ns.name()
    }

    /// `ip -j -4 route show table all` of the host, parsed.
    pub fn route_show(&self) -> Result<serde_json::Value> {
        let text = self.ns.ip(&["-j", "-4", "route", "show", "table", "all"])?;
        serde_json::from_str(&text).map_err(|e| LabError::Parse {
            what: "ip -j -4 route show table all".into(),
            msg: e.to_string(),
        })
    }

    /// Writes a snapshot directory of the host with the lab's own commands
    /// (see [`snapshot`]). Used when the fwdsim binary cannot dump, so the
    /// route comparison can still run.
    pub fn snapshot(&self, dir: &Path) -> Result<()> {
        snapshot(self.ns.name(), dir)
    }

    /// A readable account of the host for failure reports: the TOML, the
    /// commands run and what was dropped.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        s.push_str("--- host TOML ---\n");
        s.push_str(&self.spec.to_toml());
        s.push_str("--- commands ($NS = host namespace, $PEER = veth peers) ---\n");
        for c in &self.commands {
            s.push_str(c);
            s.push('\n');
        }
        if !self.dropped.is_empty() {
            s.push_str("--- rejected by the kernel, left out of the TOML ---\n");
            for d in &self.dropped {
                s.push_str(&format!("{} `{}`: {}\n", d.kind, d.text, d.error));
            }
        }
        s
    }
}

/// Writes a snapshot directory of namespace `netns` by running the commands
/// of interfaces.md §1 (what `fwdsim host dump DIR --netns NS` runs):
/// `addr.json`, `route.json`, `rule.json`, `neigh.json`, `sysctl.txt`.
pub fn snapshot(netns: &str, dir: &Path) -> Result<()> {
    use crate::netns::{run_checked, run_program};
    let write = |file: &str, text: String| -> Result<()> {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|source| LabError::Io {
            path: path.display().to_string(),
            source,
        })
    };
    let ip = |args: &[&str]| -> Result<String> {
        let mut full = vec!["-n", netns];
        full.extend_from_slice(args);
        run_checked("ip", &full)
    };
    write("addr.json", ip(&["-j", "addr", "show"])?)?;
    write(
        "route.json",
        ip(&["-j", "-4", "route", "show", "table", "all"])?,
    )?;
    write("rule.json", ip(&["-j", "-4", "rule", "show"])?)?;
    write("neigh.json", ip(&["-j", "-4", "neigh", "show"])?)?;
    let out = run_program("ip", &["netns", "exec", netns, "sysctl", "net.ipv4"])?;
    if !out.status.success() {
        return Err(LabError::from_output("sysctl net.ipv4", &out));
    }
    write(
        "sysctl.txt",
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}
