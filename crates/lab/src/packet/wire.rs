//! The lab's hands on the wire: an `AF_PACKET` socket on the client's `c0`
//! (inject, and see what comes back), one on the server's `s0` (see what
//! the router forwards), and the router's `/proc/net/snmp` and
//! `/proc/net/netstat`.
//!
//! All of them are opened by a short-lived thread that `setns()`s into each
//! namespace in turn: a socket belongs to the namespace it was created in,
//! and a `/proc/thread-self/net/*` file opened there keeps reading that
//! namespace's counters, from any thread, for as long as it is open. The
//! test thread never changes namespace.
//!
//! Veth delivery is synchronous: the sender's `dev_queue_xmit` enqueues the
//! frame on the peer's backlog and the softirq that runs when it re-enables
//! bottom halves, still inside `send()`, takes it through the router and on
//! to the other veth. So when [`Endpoints::send`] returns, everything the
//! frame caused has happened (measured: well under a millisecond; a late
//! effect is checked for after each router, [`Endpoints::settle`]), and the
//! `skb:kfree_skb` events it caused carry the sending thread's id.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sched::{CloneFlags, setns};
use nix::sys::socket::{
    AddressFamily, LinkAddr, MsgFlags, SockFlag, SockProtocol, SockType, bind, recvfrom, send,
    socket,
};

use crate::error::{LabError, Result};
use crate::packet::ktrace::DropEvent;
use crate::packet::lab::PktLab;
use crate::packet::snmp::{self, Counters};

/// `PACKET_OUTGOING` (include/uapi/linux/if_packet.h): a frame the
/// socket's device sent, not one it received.
const PACKET_OUTGOING: u8 = 4;

/// What the kernel did with one injected frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelObs {
    /// Frames that arrived at the server's `s0` (all come from r1).
    pub to_server: Vec<Vec<u8>>,
    /// Frames that came back to the client's `c0` (all come from r0:
    /// ICMP errors, replies, redirects, packets routed back out r0).
    pub to_client: Vec<Vec<u8>>,
    /// The `skb:kfree_skb` events of IPv4 skbs freed meanwhile, in order,
    /// without the end hosts' own drops (`BRIDGE_INGRESS_STP_STATE`).
    pub drops: Vec<DropEvent>,
    /// The router's counter deltas (only the counters that changed).
    pub snmp: Counters,
}

/// What [`Endpoints::inject`] collected, before the counters are parsed.
#[derive(Clone, Debug)]
pub struct Injected {
    /// Frames that arrived at the server.
    pub to_server: Vec<Vec<u8>>,
    /// Frames that came back to the client.
    pub to_client: Vec<Vec<u8>>,
    /// The router's counters after the frame ([`Endpoints::counters_text`]).
    pub counters_after: String,
    /// The frame's `kfree_skb` events.
    pub drops: Vec<DropEvent>,
}

impl Injected {
    /// The observation, given the counters before the frame.
    pub fn finish(self, before: &Counters) -> (KernelObs, Counters) {
        let after = snmp::parse_proc(&self.counters_after);
        let obs = KernelObs {
            to_server: self.to_server,
            to_client: self.to_client,
            drops: self.drops,
            snmp: snmp::delta(before, &after),
        };
        (obs, after)
    }
}

/// The lab's sockets and counter files; see the module documentation.
#[derive(Debug)]
pub struct Endpoints {
    client: OwnedFd,
    server: OwnedFd,
    snmp: File,
    netstat: File,
}

pub(crate) fn lab_err(what: &str, e: impl std::fmt::Display) -> LabError {
    LabError::Parse {
        what: what.to_string(),
        msg: e.to_string(),
    }
}

/// Enters the namespace `name` (this thread only).
pub(crate) fn enter(name: &str) -> Result<()> {
    let path = format!("/run/netns/{name}");
    let f = File::open(&path).map_err(|source| LabError::Io {
        path: path.clone(),
        source,
    })?;
    setns(&f, CloneFlags::CLONE_NEWNET).map_err(|e| lab_err(&format!("setns({path})"), e))
}

/// A non-blocking `AF_PACKET`/`SOCK_RAW`/`ETH_P_ALL` socket bound to
/// `dev` of the current thread's namespace. The address comes from
/// `getifaddrs` (its `AF_PACKET` entry, protocol 0 = keep `ETH_P_ALL`).
pub(crate) fn packet_socket(dev: &str) -> Result<OwnedFd> {
    let what = format!("packet socket on {dev}");
    let fd = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        SockProtocol::EthAll,
    )
    .map_err(|e| lab_err(&what, e))?;
    let addrs = nix::ifaddrs::getifaddrs().map_err(|e| lab_err(&what, e))?;
    let link = addrs
        .filter(|a| a.interface_name == dev)
        .find_map(|a| a.address.and_then(|s| s.as_link_addr().copied()))
        .ok_or_else(|| lab_err(&what, "no AF_PACKET address for the device"))?;
    bind(fd.as_raw_fd(), &link).map_err(|e| lab_err(&what, e))?;
    Ok(fd)
}

/// Every frame waiting on `fd` that the device received (not sent).
fn drain(fd: &OwnedFd) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        match recvfrom::<LinkAddr>(fd.as_raw_fd(), &mut buf) {
            Ok((n, addr)) => {
                if addr.is_some_and(|a| a.pkttype() == PACKET_OUTGOING) {
                    continue;
                }
                out.push(buf[..n].to_vec());
            }
            Err(Errno::EAGAIN) => return Ok(out),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(lab_err("recvfrom on a packet socket", e)),
        }
    }
}

fn read_all(f: &mut File, what: &str) -> Result<String> {
    let mut s = String::new();
    f.seek(SeekFrom::Start(0))
        .and_then(|_| f.read_to_string(&mut s))
        .map_err(|source| LabError::Io {
            path: what.to_string(),
            source,
        })?;
    Ok(s)
}

/// Sends `frame` on the packet socket `fd` of device `dev`.
fn send_on(fd: &OwnedFd, dev: &str, frame: &[u8]) -> Result<()> {
    let what = format!("send on {dev}");
    for _ in 0..100 {
        match send(fd.as_raw_fd(), frame, MsgFlags::empty()) {
            Ok(n) if n == frame.len() => return Ok(()),
            Ok(n) => {
                return Err(lab_err(&what, format!("{n} of {} bytes sent", frame.len())));
            }
            Err(Errno::EAGAIN | Errno::ENOBUFS | Errno::EINTR) => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => return Err(lab_err(&what, e)),
        }
    }
    Err(lab_err(&what, "EAGAIN 100 times"))
}

impl Endpoints {
    /// Opens the sockets and counter files of `lab` (from a helper thread
    /// that enters the client, server and router namespaces in turn).
    pub fn open(lab: &PktLab) -> Result<Endpoints> {
        let (c, s, r) = (
            lab.client.name().to_string(),
            lab.server.name().to_string(),
            lab.router.name().to_string(),
        );
        let t = std::thread::Builder::new()
            .name("fws-pkt-setns".into())
            .spawn(move || -> Result<Endpoints> {
                enter(&c)?;
                let client = packet_socket("c0")?;
                enter(&s)?;
                let server = packet_socket("s0")?;
                enter(&r)?;
                let open = |p: &str| {
                    File::open(p).map_err(|source| LabError::Io {
                        path: p.to_string(),
                        source,
                    })
                };
                Ok(Endpoints {
                    client,
                    server,
                    snmp: open("/proc/thread-self/net/snmp")?,
                    netstat: open("/proc/thread-self/net/netstat")?,
                })
            })
            .map_err(|e| lab_err("spawning the setns thread", e))?;
        t.join()
            .map_err(|_| lab_err("the setns thread", "panicked"))?
    }

    /// Sends `frame` out of the client's `c0`.
    pub fn send(&self, frame: &[u8]) -> Result<()> {
        send_on(&self.client, "c0", frame)
    }

    /// Sends `frame` out of the server's `s0` (toward the router's `r1`).
    pub fn send_server(&self, frame: &[u8]) -> Result<()> {
        send_on(&self.server, "s0", frame)
    }

    /// Frames that came back to the client since the last call.
    pub fn drain_client(&self) -> Result<Vec<Vec<u8>>> {
        drain(&self.client)
    }

    /// Frames that arrived at the server since the last call.
    pub fn drain_server(&self) -> Result<Vec<Vec<u8>>> {
        drain(&self.server)
    }

    /// The text of the router's `/proc/net/snmp` and `/proc/net/netstat`,
    /// one after the other (parsed later, outside the timed bursts, with
    /// [`snmp::parse_proc`]).
    pub fn counters_text(&mut self) -> Result<String> {
        let mut t = read_all(&mut self.snmp, "router /proc/net/snmp")?;
        t.push_str(&read_all(&mut self.netstat, "router /proc/net/netstat")?);
        Ok(t)
    }

    /// The router's counters now.
    pub fn counters(&mut self) -> Result<Counters> {
        Ok(snmp::parse_proc(&self.counters_text()?))
    }

    /// Injects `frame` and collects what it caused: the frames at both
    /// ends, the drops (`trace` is drained), and the router's counters
    /// after it, as text. The counters before it are those after the
    /// previous frame (nothing else moves them: the settle check after the
    /// last frame verifies that nothing runs late).
    pub fn inject(
        &mut self,
        frame: &[u8],
        trace: &mut crate::packet::ktrace::KfreeTrace,
    ) -> Result<Injected> {
        self.inject_from(false, frame, trace)
    }

    /// [`Endpoints::inject`] from the client (`server` false) or from the
    /// server's `s0` into the router's `r1` (`server` true).
    pub fn inject_from(
        &mut self,
        server: bool,
        frame: &[u8],
        trace: &mut crate::packet::ktrace::KfreeTrace,
    ) -> Result<Injected> {
        if server {
            self.send_server(frame)?;
        } else {
            self.send(frame)?;
        }
        Ok(Injected {
            to_server: self.drain_server()?,
            to_client: self.drain_client()?,
            counters_after: self.counters_text()?,
            drops: trace.drain(),
        })
    }

    /// Waits `quiet` and reports anything that happened meanwhile (frames,
    /// counter changes, drops): a late effect of the last frame, which the
    /// per-frame observation missed. Empty when all is well.
    pub fn settle(
        &mut self,
        quiet: Duration,
        trace: &mut crate::packet::ktrace::KfreeTrace,
    ) -> Result<Vec<String>> {
        let before = self.counters()?;
        std::thread::sleep(quiet);
        let mut late = Vec::new();
        let c = self.drain_client()?;
        let s = self.drain_server()?;
        if !c.is_empty() {
            late.push(format!("{} frame(s) at the client", c.len()));
        }
        if !s.is_empty() {
            late.push(format!("{} frame(s) at the server", s.len()));
        }
        let d = snmp::delta(&before, &self.counters()?);
        if !d.is_empty() {
            late.push(format!("router counters changed: {}", snmp::render(&d)));
        }
        for e in trace.drain() {
            late.push(format!("kfree_skb {} at {}", e.reason, e.location));
        }
        Ok(late)
    }
}
