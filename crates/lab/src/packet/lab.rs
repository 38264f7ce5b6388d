//! The three namespaces of the packet lab, built and torn down.
//!
//! Names are `fws-pkt-<pid>-<n>-c` (client), `-r` (router) and `-s`
//! (server); each is a [`PktNetns`] that deletes itself on drop, also when a
//! test panics. Leftovers of an earlier process with the same pid, or of a
//! process that no longer runs, are deleted before the first one is made. Everything runs through `ip -n NS`,
//! `ip netns exec NS` or `tc -n NS`: nothing touches the root namespace.
//!
//! Topology (kernel-notes.md's lab): `c0` (client) and `r0` (router) are a
//! veth pair, so are `s0` (server) and `r1` (router); fixed MACs; the
//! router has permanent neighbours for 10.0.1.2 (the client), 10.0.1.3 (the
//! second client-side gateway, [`GATEWAY_MAC`]), 10.0.2.2 (the server) and
//! the on-link source pool ([`ONLINK_POOL`], the client's MAC),
//! and the client and server one for the router. `c0` and `s0` are ports of
//! a bridge `fwsnull` that stays down (see [`crate::packet`]). Then the
//! [`RouterConfig`]: sysctls, routes, rules, r1's MTU.

use std::sync::Mutex;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{LabError, Result};
use crate::netns::{run_checked, run_program};
use crate::packet::config::{
    CLIENT_ADDR, ONLINK_POOL, R0_ADDR, R1_ADDR, REDIRECT_GW, RouterConfig, SERVER_ADDR, SOURCE_POOL,
};

/// The client's MAC (`c0`).
pub const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 1, 2];
/// The router's MAC on the client side (`r0`).
pub const R0_MAC: [u8; 6] = [2, 0, 0, 0, 1, 1];
/// The router's MAC on the server side (`r1`).
pub const R1_MAC: [u8; 6] = [2, 0, 0, 0, 2, 1];
/// The server's MAC (`s0`).
pub const SERVER_MAC: [u8; 6] = [2, 0, 0, 0, 2, 2];
/// The MAC of the second client-side gateway 10.0.1.3 (a permanent
/// neighbour on r0; its frames arrive at `c0` and are seen there).
pub const GATEWAY_MAC: [u8; 6] = [2, 0, 0, 0, 1, 3];

static COUNTER: AtomicU64 = AtomicU64::new(0);
static CLEANUP: Once = Once::new();
/// `ip netns add/del` of this module, one at a time (iproute2's mount of
/// /run/netns is racy; [`crate::netns::can_make_netns`] has set it up
/// before any lab is built).
static LOCK: Mutex<()> = Mutex::new(());

/// `aa:bb:cc:dd:ee:ff`.
pub fn mac_text(m: &[u8]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The prefix of every namespace this module makes: `fws-pkt-<pid>-`.
pub fn prefix() -> String {
    format!("fws-pkt-{}-", std::process::id())
}

/// Deletes namespaces `fws-pkt-<pid>-...` of this pid (an earlier process
/// with the same pid) or of a pid that no longer runs (a killed test).
fn remove_leftovers() {
    let me = std::process::id().to_string();
    let Ok(list) = run_checked("ip", &["netns", "list"]) else {
        return;
    };
    for line in list.lines() {
        let n = line.split_whitespace().next().unwrap_or("");
        let Some(pid) = n.strip_prefix("fws-pkt-").and_then(|r| r.split('-').next()) else {
            continue;
        };
        if pid.parse::<u32>().is_ok()
            && (pid == me || !std::path::Path::new(&format!("/proc/{pid}")).exists())
        {
            let _ = run_program("ip", &["netns", "del", n]);
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A namespace of the packet lab; dropping it deletes it.
#[derive(Debug)]
pub struct PktNetns {
    name: String,
}

impl PktNetns {
    /// Makes namespace `NAME` (which must start with [`prefix`]) with `lo` up
    /// and IPv6 off (no router solicitations or DAD on the links).
    pub fn new(name: String) -> Result<PktNetns> {
        {
            let _g = lock();
            CLEANUP.call_once(remove_leftovers);
            run_checked("ip", &["netns", "add", &name])?;
        }
        let ns = PktNetns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        // Failure is fine: IPv6 may be absent.
        let _ = ns.sysctl(&[
            ("net.ipv6.conf.all.disable_ipv6", "1"),
            ("net.ipv6.conf.default.disable_ipv6", "1"),
        ]);
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NAME ARGS...`; fails unless it exits 0; returns stdout.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        run_checked("ip", &full)
    }

    /// `tc -n NAME ARGS...`; fails unless it exits 0.
    pub fn tc(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        run_checked("tc", &full)
    }

    /// `ip netns exec NAME sysctl -q -w K=V...`, in order; fails on any
    /// complaint (sysctl exits 0 on some failures but says so on stderr).
    pub fn sysctl(&self, pairs: &[(&str, &str)]) -> Result<()> {
        let assigns: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut argv = vec!["netns", "exec", &self.name, "sysctl", "-q", "-w"];
        argv.extend(assigns.iter().map(String::as_str));
        let out = run_program("ip", &argv)?;
        if !out.status.success() || !out.stderr.is_empty() {
            return Err(LabError::from_output(&argv.join(" "), &out));
        }
        Ok(())
    }

    /// `ip netns exec NAME cat FILE`: a file of the namespace's /proc/net.
    pub fn read_proc(&self, file: &str) -> Result<String> {
        run_checked("ip", &["netns", "exec", &self.name, "cat", file])
    }
}

impl Drop for PktNetns {
    fn drop(&mut self) {
        let _g = lock();
        match run_program("ip", &["netns", "del", &self.name]) {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "fwdsim-lab: could not delete netns {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => eprintln!("fwdsim-lab: could not delete netns {}: {e}", self.name),
        }
    }
}

/// The client, router and server namespaces, configured.
#[derive(Debug)]
pub struct PktLab {
    /// The router (dropped first: deleting it destroys both veth pairs).
    pub router: PktNetns,
    /// The client (`c0`).
    pub client: PktNetns,
    /// The server (`s0`).
    pub server: PktNetns,
    /// The configuration applied.
    pub config: RouterConfig,
    /// What the kernel refused while applying it (`item: error`); the
    /// snapshot shows what was really applied.
    pub refused: Vec<String>,
}

impl PktLab {
    /// Builds the lab with `config` applied to the router.
    pub fn build(config: &RouterConfig) -> Result<PktLab> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let base = format!("{}{n}", prefix());
        let lab = PktLab {
            router: PktNetns::new(format!("{base}-r"))?,
            client: PktNetns::new(format!("{base}-c"))?,
            server: PktNetns::new(format!("{base}-s"))?,
            config: config.clone(),
            refused: Vec::new(),
        };
        let mut lab = lab;
        lab.setup()?;
        Ok(lab)
    }

    fn setup(&mut self) -> Result<()> {
        let (c, r, s) = (&self.client, &self.router, &self.server);
        let mtu = self.config.r1_mtu.to_string();
        c.ip(&[
            "link",
            "add",
            "c0",
            "type",
            "veth",
            "peer",
            "name",
            "r0",
            "netns",
            r.name(),
        ])?;
        s.ip(&[
            "link",
            "add",
            "s0",
            "type",
            "veth",
            "peer",
            "name",
            "r1",
            "netns",
            r.name(),
        ])?;
        c.ip(&["link", "set", "c0", "address", &mac_text(&CLIENT_MAC)])?;
        r.ip(&["link", "set", "r0", "address", &mac_text(&R0_MAC)])?;
        r.ip(&["link", "set", "r1", "address", &mac_text(&R1_MAC)])?;
        r.ip(&["link", "set", "r1", "mtu", &mtu])?;
        s.ip(&["link", "set", "s0", "address", &mac_text(&SERVER_MAC)])?;
        s.ip(&["link", "set", "s0", "mtu", &mtu])?;
        // The end hosts: address, default route, the router as a permanent
        // neighbour, and the port of a bridge that is down.
        for (ns, dev, addr, gw, gw_mac) in [
            (c, "c0", CLIENT_ADDR, R0_ADDR, R0_MAC),
            (s, "s0", SERVER_ADDR, R1_ADDR, R1_MAC),
        ] {
            ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", dev])?;
            ns.ip(&["link", "set", dev, "up"])?;
            ns.ip(&["route", "add", "default", "via", &gw.to_string()])?;
            ns.ip(&[
                "neigh",
                "add",
                &gw.to_string(),
                "lladdr",
                &mac_text(&gw_mac),
                "dev",
                dev,
                "nud",
                "permanent",
            ])?;
            ns.ip(&["link", "add", "fwsnull", "type", "bridge"])?;
            ns.ip(&["link", "set", dev, "master", "fwsnull"])?;
        }
        // The router.
        r.ip(&[
            "addr",
            "add",
            &format!("{R0_ADDR}/24"),
            "brd",
            "+",
            "dev",
            "r0",
        ])?;
        r.ip(&[
            "addr",
            "add",
            &format!("{R1_ADDR}/24"),
            "brd",
            "+",
            "dev",
            "r1",
        ])?;
        r.ip(&["link", "set", "r0", "up"])?;
        r.ip(&["link", "set", "r1", "up"])?;
        let mut neigh = vec![
            (CLIENT_ADDR, CLIENT_MAC, "r0"),
            (REDIRECT_GW, GATEWAY_MAC, "r0"),
            (SERVER_ADDR, SERVER_MAC, "r1"),
        ];
        for k in 0..ONLINK_POOL.1 {
            let a = std::net::Ipv4Addr::from(u32::from(ONLINK_POOL.0) + u32::from(k));
            neigh.push((a, CLIENT_MAC, "r0"));
        }
        for (addr, mac, dev) in neigh {
            r.ip(&[
                "neigh",
                "add",
                &addr.to_string(),
                "lladdr",
                &mac_text(&mac),
                "dev",
                dev,
                "nud",
                "permanent",
            ])?;
        }
        r.ip(&[
            "route",
            "add",
            SOURCE_POOL,
            "via",
            &CLIENT_ADDR.to_string(),
            "dev",
            "r0",
        ])?;
        r.ip(&[
            "route",
            "add",
            crate::packet::config::BEYOND_SERVER,
            "via",
            &SERVER_ADDR.to_string(),
            "dev",
            "r1",
        ])?;
        let sysctls = self.config.sysctls();
        let pairs: Vec<(&str, &str)> = sysctls
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.router.sysctl(&pairs)?;
        let mut refused = Vec::new();
        for (what, items) in [
            ("route", self.config.routes()),
            ("rule", self.config.rules()),
        ] {
            for item in items {
                let mut args = vec![what, "add"];
                args.extend(item.split_whitespace());
                if let Err(e) = self.router.ip(&args) {
                    refused.push(format!("{what} {item}: {e}"));
                }
            }
        }
        self.refused = refused;
        Ok(())
    }

    /// A readable account for failure reports: namespaces and configuration.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "namespaces: client {}, router {}, server {}\n",
            self.client.name(),
            self.router.name(),
            self.server.name()
        );
        s.push_str(&self.config.describe());
        for r in &self.refused {
            s.push_str(&format!("  refused by the kernel: {r}\n"));
        }
        s
    }
}
