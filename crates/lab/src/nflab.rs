//! The pieces shared by the netfilter labs ([`crate::docker`],
//! [`crate::selftests`]): hosts whose own stacks send and answer, seen
//! from the namespace that holds the rules, and that namespace's frames
//! replayed through `fwdsim replay`.
//!
//! - [`in_netns`] runs a closure on a thread that entered a namespace
//!   (sockets made there belong to it; the test thread never moves);
//! - [`Tap`] is one unbound `AF_PACKET`/`ETH_P_ALL` socket in the rules'
//!   namespace: it sees what every device of that namespace receives and
//!   sends, in the order the kernel's packet taps ran, with the kernel's
//!   receive timestamp (`SO_TIMESTAMPNS`);
//! - [`ping`], [`udp_query`], [`udp_responder`] are the end hosts' traffic
//!   through real sockets (raw ICMP, UDP);
//! - [`Observation`] splits what the tap saw into the frames the host
//!   received (the replay's input, [`Observation::write_capture`]) and, for
//!   each, the frames it sent until the next one arrived;
//! - [`replay`] runs `fwdsim replay CAPTURE --host SNAP -j --out EGRESS
//!   --save-counters FILE`, and [`compare`] sets both sides side by side:
//!   per received frame the verdict (the kernel forwarded it when it left
//!   through another device) and the egress frames byte for byte, then the
//!   SNMP deltas and the iptables rule and policy counters
//!   ([`IptCounters`], `iptables-save -c` after minus before against
//!   `--save-counters`).
//!
//! Masking: a frame the host forwarded keeps the input's IP ID and must be
//! identical, NAT included; a frame the host built itself (an echo reply,
//! an ICMP error: its IP ID is not the input's) is compared with its IP ID
//! and header checksum masked, as the packet lab does.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::IoSliceMut;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sched::{CloneFlags, setns};
use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, LinkAddr, MsgFlags, SockFlag, SockProtocol, SockType,
    SockaddrIn, recvmsg, setsockopt, socket, sockopt,
};

use crate::netns::Netns;
use crate::packet::capture::{EgressFrame, read_egress};
use crate::packet::snmp::{self, Counters};

/// `PACKET_OUTGOING` (include/uapi/linux/if_packet.h).
const PACKET_OUTGOING: u8 = 4;

/// The longest one replay may run.
pub const REPLAY_LIMIT: Duration = Duration::from_secs(60);

fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

/// Enters namespace `name` (this thread only).
fn enter(name: &str) -> Result<(), String> {
    let path = format!("/run/netns/{name}");
    let f = File::open(&path).map_err(|e| err(&path, e))?;
    setns(&f, CloneFlags::CLONE_NEWNET).map_err(|e| err(&format!("setns({path})"), e))
}

/// Runs `f` on a new thread inside namespace `ns` and returns its result.
pub fn in_netns<R, F>(ns: &str, f: F) -> Result<R, String>
where
    R: Send + 'static,
    F: FnOnce() -> Result<R, String> + Send + 'static,
{
    let name = ns.to_string();
    std::thread::Builder::new()
        .name("fws-nf-setns".into())
        .spawn(move || {
            enter(&name)?;
            f()
        })
        .map_err(|e| err("spawning a setns thread", e))?
        .join()
        .map_err(|_| "a setns thread panicked".to_string())?
}

/// One frame a device of the tapped namespace received or sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tapped {
    /// The kernel's timestamp of the frame (ns since the epoch).
    pub ts_nanos: i128,
    /// The device's name.
    pub dev: String,
    /// Sent by the device (`PACKET_OUTGOING`), else received.
    pub outgoing: bool,
    /// The Ethernet frame.
    pub frame: Vec<u8>,
}

/// An unbound packet socket in one namespace; see the module documentation.
#[derive(Debug)]
pub struct Tap {
    fd: OwnedFd,
    names: BTreeMap<u32, String>,
    seen: Vec<Tapped>,
}

impl Tap {
    /// Opens the tap in `ns` (its devices must exist: their names are read
    /// now).
    pub fn open(ns: &Netns) -> Result<Tap, String> {
        in_netns(ns.name(), || {
            let fd = socket(
                AddressFamily::Packet,
                SockType::Raw,
                SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
                SockProtocol::EthAll,
            )
            .map_err(|e| err("packet socket", e))?;
            setsockopt(&fd, sockopt::ReceiveTimestampns, &true)
                .map_err(|e| err("SO_TIMESTAMPNS", e))?;
            let names = nix::net::if_::if_nameindex()
                .map_err(|e| err("if_nameindex", e))?
                .iter()
                .map(|i| (i.index(), i.name().to_string_lossy().into_owned()))
                .collect();
            Ok(Tap {
                fd,
                names,
                seen: Vec::new(),
            })
        })
    }

    /// Reads everything waiting into the tap's record.
    pub fn drain(&mut self) -> Result<usize, String> {
        let mut buf = vec![0u8; 65536];
        let mut n = 0;
        loop {
            let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
            let mut iov = [IoSliceMut::new(&mut buf)];
            let r = recvmsg::<LinkAddr>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::empty(),
            );
            let (len, addr, ts) = match r {
                Ok(m) => {
                    let mut ts = None;
                    if let Ok(it) = m.cmsgs() {
                        for c in it {
                            if let ControlMessageOwned::ScmTimestampns(t) = c {
                                ts = Some(t.tv_sec() as i128 * 1_000_000_000 + t.tv_nsec() as i128);
                            }
                        }
                    }
                    (m.bytes, m.address, ts)
                }
                Err(Errno::EAGAIN) => return Ok(n),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(err("recvmsg on the tap", e)),
            };
            let Some(addr) = addr else { continue };
            let dev = self
                .names
                .get(&(addr.ifindex() as u32))
                .cloned()
                .unwrap_or_else(|| format!("if{}", addr.ifindex()));
            let ts_nanos = ts.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as i128)
                    .unwrap_or(0)
            });
            self.seen.push(Tapped {
                ts_nanos,
                dev,
                outgoing: addr.pkttype() == PACKET_OUTGOING,
                frame: iov[0][..len].to_vec(),
            });
            n += 1;
        }
    }

    /// Forgets what was seen so far (after draining it).
    pub fn clear(&mut self) -> Result<(), String> {
        self.drain()?;
        self.seen.clear();
        Ok(())
    }

    /// Everything seen since the last [`Tap::clear`], in order.
    pub fn seen(&mut self) -> Result<&[Tapped], String> {
        self.drain()?;
        Ok(&self.seen)
    }
}

/// The Internet checksum of `b`.
pub fn inet_csum(b: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in b.chunks(2) {
        sum += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMP echo request message (header and `len` payload bytes).
pub fn echo_request(id: u16, seq: u16, len: usize) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend((0..len).map(|i| (i % 251) as u8));
    let c = inet_csum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// What [`ping`] got back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PingResult {
    /// An echo reply with our id and sequence number.
    Reply,
    /// An ICMP error quoting our request: type, code, and the IPv4 source
    /// of the error.
    Error(u8, u8, Ipv4Addr),
    /// Nothing within the wait.
    Nothing,
}

/// Sends one echo request from namespace `ns` to `dst` (a raw ICMP socket:
/// the kernel builds the IPv4 header, with DF as the default path MTU
/// discovery sets it) and waits up to `wait` for the reply or an error.
pub fn ping(
    ns: &Netns,
    dst: Ipv4Addr,
    id: u16,
    seq: u16,
    len: usize,
    wait: Duration,
) -> Result<PingResult, String> {
    in_netns(ns.name(), move || {
        let fd = socket(
            AddressFamily::Inet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::Icmp,
        )
        .map_err(|e| err("raw ICMP socket", e))?;
        let msg = echo_request(id, seq, len);
        let to = SockaddrIn::from(SocketAddrV4::new(dst, 0));
        nix::sys::socket::sendto(fd.as_raw_fd(), &msg, &to, MsgFlags::empty())
            .map_err(|e| err("sendto", e))?;
        let start = Instant::now();
        let mut buf = vec![0u8; 65536];
        while start.elapsed() < wait {
            let left = wait
                .saturating_sub(start.elapsed())
                .max(Duration::from_millis(1));
            setsockopt(
                &fd,
                sockopt::ReceiveTimeout,
                &nix::sys::time::TimeVal::new(left.as_secs() as _, left.subsec_micros() as _),
            )
            .map_err(|e| err("SO_RCVTIMEO", e))?;
            let n = match nix::sys::socket::recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(n) => n,
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(e) => return Err(err("recv", e)),
            };
            let p = &buf[..n];
            if n < 28 {
                continue;
            }
            let ihl = (p[0] & 0x0f) as usize * 4;
            let icmp = &p[ihl.min(n)..];
            if icmp.len() < 8 {
                continue;
            }
            let our = |m: &[u8]| {
                m.len() >= 8
                    && m[0] == 8
                    && m[4..6] == id.to_be_bytes()
                    && m[6..8] == seq.to_be_bytes()
            };
            match icmp[0] {
                0 if icmp[4..6] == id.to_be_bytes() && icmp[6..8] == seq.to_be_bytes() => {
                    return Ok(PingResult::Reply);
                }
                3 | 11 | 12 | 5 if icmp.len() >= 28 => {
                    let inner = &icmp[8..];
                    let iihl = (inner[0] & 0x0f) as usize * 4;
                    if inner.len() >= iihl + 8 && our(&inner[iihl..]) {
                        let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
                        return Ok(PingResult::Error(icmp[0], icmp[1], src));
                    }
                }
                _ => {}
            }
        }
        Ok(PingResult::Nothing)
    })
}

/// Sends `payload` from `from` (an address of namespace `ns`) to `to` over
/// UDP and waits up to `wait` for one answer.
pub fn udp_query(
    ns: &Netns,
    from: SocketAddrV4,
    to: SocketAddrV4,
    payload: Vec<u8>,
    wait: Duration,
) -> Result<Option<Vec<u8>>, String> {
    in_netns(ns.name(), move || {
        let s = UdpSocket::bind(from).map_err(|e| err(&format!("bind {from}"), e))?;
        s.set_read_timeout(Some(wait))
            .map_err(|e| err("set_read_timeout", e))?;
        s.send_to(&payload, to)
            .map_err(|e| err(&format!("send to {to}"), e))?;
        let mut buf = [0u8; 2048];
        match s.recv_from(&mut buf) {
            Ok((n, _)) => Ok(Some(buf[..n].to_vec())),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(err("recv_from", e)),
        }
    })
}

/// The thread of a [`udp_responder`]: joined, it hands back the datagram
/// it answered (`None` when none came).
pub type Responder = std::thread::JoinHandle<Result<Option<Vec<u8>>, String>>;

/// A UDP server on `addr` in namespace `ns` answering the first datagram it
/// gets (within `wait`) with `answer(query)`; returns once it is bound. Its
/// thread hands back what it received.
pub fn udp_responder(
    ns: &Netns,
    addr: SocketAddrV4,
    wait: Duration,
    answer: fn(&[u8]) -> Vec<u8>,
) -> Result<Responder, String> {
    let (tx, rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let name = ns.name().to_string();
    let h = std::thread::Builder::new()
        .name("fws-nf-udp".into())
        .spawn(move || -> Result<Option<Vec<u8>>, String> {
            let bound = enter(&name).and_then(|()| {
                let s = UdpSocket::bind(addr).map_err(|e| err(&format!("bind {addr}"), e))?;
                s.set_read_timeout(Some(wait))
                    .map_err(|e| err("set_read_timeout", e))?;
                Ok(s)
            });
            let s = match bound {
                Ok(s) => {
                    let _ = tx.send(Ok(()));
                    s
                }
                Err(e) => {
                    let _ = tx.send(Err(e.clone()));
                    return Err(e);
                }
            };
            let mut buf = [0u8; 2048];
            match s.recv_from(&mut buf) {
                Ok((n, peer)) => {
                    let a = answer(&buf[..n]);
                    s.send_to(&a, peer).map_err(|e| err("send_to", e))?;
                    Ok(Some(buf[..n].to_vec()))
                }
                Err(_) => Ok(None),
            }
        })
        .map_err(|e| err("spawning the UDP responder", e))?;
    rx.recv()
        .map_err(|_| "the UDP responder died".to_string())??;
    Ok(h)
}

/// `(src, dst, protocol)` of an IPv4-in-Ethernet frame.
pub fn ipv4_of(frame: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, u8)> {
    if frame.len() < 34 || frame[12..14] != [0x08, 0x00] {
        return None;
    }
    let ip = &frame[14..];
    Some((
        Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
        Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
        ip[9],
    ))
}

/// One frame the host received and what it sent until the next arrived.
#[derive(Clone, Debug)]
pub struct Received {
    /// The frame as it arrived.
    pub input: Tapped,
    /// Frames sent meanwhile (of the flows kept).
    pub sent: Vec<Tapped>,
}

/// What the tap saw, split per received frame.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    /// In order.
    pub received: Vec<Received>,
    /// Frames sent before the first received one (the host's own).
    pub sent_first: Vec<Tapped>,
}

impl Observation {
    /// Splits `seen`, keeping frames on `devs` for which `keep` holds.
    pub fn split(seen: &[Tapped], devs: &[&str], keep: impl Fn(&Tapped) -> bool) -> Observation {
        let mut o = Observation::default();
        for t in seen {
            if !devs.contains(&t.dev.as_str()) || !keep(t) {
                continue;
            }
            if t.outgoing {
                match o.received.last_mut() {
                    Some(r) => r.sent.push(t.clone()),
                    None => o.sent_first.push(t.clone()),
                }
            } else {
                o.received.push(Received {
                    input: t.clone(),
                    sent: Vec::new(),
                });
            }
        }
        o
    }

    /// Writes the received frames to a pcapng whose interfaces are `devs`,
    /// in that order.
    pub fn write_capture(&self, path: &Path, devs: &[&str]) -> Result<(), String> {
        let mut w = fwdsim_pcap::PcapngWriter::create(path).map_err(|e| err("pcapng", e))?;
        for d in devs {
            w.add_interface(d, fwdsim_pcap::LinkType::ETHERNET)
                .map_err(|e| err("pcapng", e))?;
        }
        for r in &self.received {
            let id = w
                .interface_id(&r.input.dev)
                .ok_or_else(|| format!("no interface {} in the capture", r.input.dev))?;
            w.write_packet(id, r.input.ts_nanos, &r.input.frame)
                .map_err(|e| err("pcapng", e))?;
        }
        w.flush().map_err(|e| err("pcapng", e))
    }
}

/// fwdsim's replay of a capture.
#[derive(Clone, Debug)]
pub struct ReplayOut {
    /// One object per packet.
    pub packets: Vec<serde_json::Value>,
    /// The final counters.
    pub snmp: Counters,
    /// `--out`.
    pub egress: Vec<EgressFrame>,
    /// `--save-counters`.
    pub counters: String,
    /// stderr.
    pub stderr: String,
}

/// `fwdsim replay CAPTURE --host SNAP -j --out DIR/egress.pcapng
/// --save-counters DIR/counters.txt`.
pub fn replay(bin: &Path, capture: &Path, snap: &Path, dir: &Path) -> Result<ReplayOut, String> {
    let out = dir.join("egress.pcapng");
    let cnt = dir.join("counters.txt");
    let args: Vec<String> = vec![
        "replay".into(),
        capture.display().to_string(),
        "--host".into(),
        snap.display().to_string(),
        "-j".into(),
        "--out".into(),
        out.display().to_string(),
        "--save-counters".into(),
        cnt.display().to_string(),
    ];
    let mut child = Command::new(bin)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(&format!("running {}", bin.display()), e))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > REPLAY_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`fwdsim {}` ran over {REPLAY_LIMIT:?}",
                    args.join(" ")
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(err("waiting for fwdsim", e)),
        }
    }
    let o = child
        .wait_with_output()
        .map_err(|e| err("fwdsim output", e))?;
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr).trim().to_string();
    if !o.status.success() {
        return Err(format!(
            "`fwdsim {}` exited {:?}: {stderr}",
            args.join(" "),
            o.status.code()
        ));
    }
    let mut packets = Vec::new();
    let mut snmp_c = Counters::new();
    for l in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(l).map_err(|e| err(&format!("replay line {l:?}"), e))?;
        if let Some(s) = v.get("snmp") {
            snmp_c = snmp::from_json(s).unwrap_or_default();
        } else {
            packets.push(v);
        }
    }
    Ok(ReplayOut {
        packets,
        snmp: snmp_c,
        egress: read_egress(&out)?,
        counters: std::fs::read_to_string(&cnt).map_err(|e| err(&cnt.display().to_string(), e))?,
        stderr,
    })
}

/// Rule and policy counters of `iptables-save -c` text:
/// `(table, line without its counters, nth time that line occurs)` ->
/// `(packets, bytes)`.
pub type IptCounters = BTreeMap<(String, String, usize), (u64, u64)>;

fn parse_pair(s: &str) -> Option<(u64, u64)> {
    let s = s.strip_prefix('[')?.strip_suffix(']')?;
    let (p, b) = s.split_once(':')?;
    Some((p.parse().ok()?, b.parse().ok()?))
}

/// Parses `iptables-save -c` output (comments, `COMMIT` and lines without
/// counters are skipped).
pub fn parse_ipt_counters(text: &str) -> IptCounters {
    let mut out = IptCounters::new();
    let mut table = String::new();
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for l in text.lines() {
        let l = l.trim();
        if let Some(t) = l.strip_prefix('*') {
            table = t.to_string();
            continue;
        }
        let (key, pair) = if let Some(rest) = l.strip_prefix(':') {
            // `:CHAIN POLICY [p:b]`
            let Some((head, tail)) = rest.rsplit_once(' ') else {
                continue;
            };
            (format!(":{head}"), parse_pair(tail))
        } else if l.starts_with('[') {
            let Some((pair, rule)) = l.split_once(' ') else {
                continue;
            };
            (rule.to_string(), parse_pair(pair))
        } else {
            continue;
        };
        let Some(pair) = pair else { continue };
        let n = seen.entry((table.clone(), key.clone())).or_default();
        *n += 1;
        out.insert((table.clone(), key, *n), pair);
    }
    out
}

/// `after - before` line by line (lines only in `after` count from zero).
pub fn ipt_delta(before: &IptCounters, after: &IptCounters) -> IptCounters {
    after
        .iter()
        .map(|(k, (p, b))| {
            let (p0, b0) = before.get(k).copied().unwrap_or((0, 0));
            (k.clone(), (p.saturating_sub(p0), b.saturating_sub(b0)))
        })
        .collect()
}

/// `iptables-save -c` in `ns`.
pub fn iptables_save_c(ns: &Netns) -> Result<IptCounters, String> {
    let o = ns
        .exec(&["iptables-save", "-c"])
        .map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(format!(
            "iptables-save -c: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(parse_ipt_counters(&String::from_utf8_lossy(&o.stdout)))
}

/// `iptables-restore` of `rules` in `ns`.
pub fn iptables_restore(ns: &Netns, rules: &str) -> Result<(), String> {
    use std::io::Write;
    let mut c = Command::new("ip")
        .args(["netns", "exec", ns.name(), "iptables-restore"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err("iptables-restore", e))?;
    c.stdin
        .take()
        .ok_or("no stdin")?
        .write_all(rules.as_bytes())
        .map_err(|e| err("iptables-restore stdin", e))?;
    let o = c
        .wait_with_output()
        .map_err(|e| err("iptables-restore", e))?;
    if !o.status.success() {
        return Err(format!(
            "iptables-restore in {}: {}",
            ns.name(),
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(())
}

/// `ethtool -K DEV tx off` in `ns`: the device's stack computes every
/// checksum before the frame leaves, so what a packet socket sees on the
/// wire carries full checksums (with veth's default offload the frames of
/// a local TCP/UDP socket carry only the pseudo-header sum,
/// `CHECKSUM_PARTIAL`, which a capture cannot tell from a bad checksum).
pub fn tx_csum_off(ns: &Netns, dev: &str) -> Result<(), String> {
    let o = ns
        .exec(&["ethtool", "-K", dev, "tx", "off"])
        .map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(format!(
            "ethtool -K {dev} tx off in {}: {}",
            ns.name(),
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(())
}

/// The namespace's `/proc/net/snmp` and `/proc/net/netstat`.
pub fn proc_counters(ns: &Netns) -> Result<Counters, String> {
    let mut text = String::new();
    for f in ["/proc/net/snmp", "/proc/net/netstat"] {
        let o = ns.exec(&["cat", f]).map_err(|e| e.to_string())?;
        text.push_str(&String::from_utf8_lossy(&o.stdout));
    }
    Ok(snmp::parse_proc(&text))
}

/// Waits until the namespace's counters hold still for `quiet` (at most
/// `limit`): a new bridge's own IGMP reports and the like.
pub fn settle(ns: &Netns, quiet: Duration, limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    let mut last = proc_counters(ns)?;
    let mut still = Instant::now();
    while start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(50));
        let now = proc_counters(ns)?;
        if now != last {
            last = now;
            still = Instant::now();
        } else if still.elapsed() >= quiet {
            return Ok(());
        }
    }
    Ok(())
}

/// A copy of `f` with the IPv4 ID and header checksum zeroed.
fn masked(f: &[u8]) -> Vec<u8> {
    let mut v = f.to_vec();
    if v.len() >= 34 && v[12..14] == [0x08, 0x00] {
        v[18..20].fill(0);
        v[24..26].fill(0);
    }
    v
}

/// Whether the host built `out` itself rather than forwarding `input`: its
/// IP ID is not the input's.
fn host_built(input: &[u8], out: &[u8]) -> bool {
    input.len() < 34 || out.len() < 34 || input[18..20] != out[18..20]
}

/// Hex of a frame.
pub fn hex(f: &[u8]) -> String {
    f.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first differing byte of two frames, named where it is an IPv4 field.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let i = a.iter().zip(b).position(|(x, y)| x != y);
    match i {
        None => format!("lengths {} / {}", a.len(), b.len()),
        Some(i) => {
            let field = match i {
                0..=5 => "dst MAC",
                6..=11 => "src MAC",
                12..=13 => "ethertype",
                18..=19 => "IP ID",
                22 => "TTL",
                24..=25 => "IP checksum",
                26..=29 => "IP src",
                30..=33 => "IP dst",
                34..=35 => "L4 src port / ICMP type, code",
                36..=37 => "L4 dst port / ICMP checksum",
                _ => "payload or L4 header",
            };
            format!("byte {i} ({field}): {:02x} / {:02x}", a[i], b[i])
        }
    }
}

/// One disagreement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disagreement {
    /// `frame 3 (docker0)`, `snmp`, `iptables`.
    pub what: String,
    /// Both sides.
    pub detail: String,
}

/// Only the counters of the chains that received packets go through
/// first: PREROUTING and INPUT of every table (for runs where the host
/// also sends packets of its own, which a capture of received frames
/// cannot replay).
pub fn input_chains_only(c: &IptCounters) -> IptCounters {
    c.iter()
        .filter(|((_, l, _), _)| {
            ["-A PREROUTING ", "-A INPUT ", ":PREROUTING ", ":INPUT "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// The verdict word of the kernel side: `forward` when the frame left
/// through another device than it came in by, else `not forwarded`.
pub fn kernel_verdict(r: &Received) -> &'static str {
    if r.sent
        .iter()
        .any(|s| s.dev != r.input.dev && !host_built(&r.input.frame, &s.frame))
    {
        "forward"
    } else {
        "not forwarded"
    }
}

/// Compares the kernel's observation with fwdsim's replay of the received
/// frames: verdicts, egress frames, SNMP deltas (unless `kernel_snmp` is
/// `None`), and the iptables counters of every line of `kernel_ipt`.
pub fn compare(
    obs: &Observation,
    kernel_snmp: Option<&Counters>,
    kernel_ipt: &IptCounters,
    run: &ReplayOut,
) -> Vec<Disagreement> {
    let mut out = Vec::new();
    if run.packets.len() != obs.received.len() {
        out.push(Disagreement {
            what: "replay".into(),
            detail: format!(
                "{} frames replayed, {} packet lines",
                obs.received.len(),
                run.packets.len()
            ),
        });
    }
    for (i, (r, p)) in obs.received.iter().zip(&run.packets).enumerate() {
        let what = format!("frame {} ({} in)", i + 1, r.input.dev);
        let fv = p["verdict"].as_str().unwrap_or("?");
        let kv = kernel_verdict(r);
        if (kv == "forward") != (fv == "forward") {
            out.push(Disagreement {
                what: what.clone(),
                detail: format!(
                    "kernel {kv} (sent {:?}), fwdsim {fv} {}; frame {}",
                    r.sent.iter().map(|s| s.dev.as_str()).collect::<Vec<_>>(),
                    p,
                    hex(&r.input.frame)
                ),
            });
        }
        let eg: Vec<&EgressFrame> = run
            .egress
            .iter()
            .filter(|e| e.ts_nanos == r.input.ts_nanos)
            .collect();
        if eg.len() != r.sent.len() {
            out.push(Disagreement {
                what: what.clone(),
                detail: format!(
                    "kernel sent {} frame(s) {:?}, fwdsim {} {:?}; input {}",
                    r.sent.len(),
                    r.sent.iter().map(|s| s.dev.as_str()).collect::<Vec<_>>(),
                    eg.len(),
                    eg.iter().map(|s| s.dev.as_str()).collect::<Vec<_>>(),
                    hex(&r.input.frame)
                ),
            });
            continue;
        }
        for (k, f) in r.sent.iter().zip(&eg) {
            let made = host_built(&r.input.frame, &k.frame);
            let (a, b) = if made {
                (masked(&k.frame), masked(&f.frame))
            } else {
                (k.frame.clone(), f.frame.clone())
            };
            if k.dev != f.dev || a != b {
                out.push(Disagreement {
                    what: what.clone(),
                    detail: format!(
                        "egress differs ({}): kernel on {} {}, fwdsim on {} {}; {}",
                        if made {
                            "host-built, IP ID and checksum masked"
                        } else {
                            "forwarded, exact"
                        },
                        k.dev,
                        hex(&k.frame),
                        f.dev,
                        hex(&f.frame),
                        first_difference(&a, &b)
                    ),
                });
            }
        }
    }
    let k = kernel_snmp.map(snmp::compared);
    let f = snmp::compared(&run.snmp);
    let snmp_diffs = k.map(|k| snmp::differences(&k, &f)).unwrap_or_default();
    for (name, kv, fv) in snmp_diffs {
        out.push(Disagreement {
            what: "snmp".into(),
            detail: format!("{name}: kernel {kv:+}, fwdsim {fv:+}"),
        });
    }
    let fc = parse_ipt_counters(&run.counters);
    for (key, kv) in kernel_ipt {
        let fv = fc.get(key).copied();
        if fv != Some(*kv) {
            out.push(Disagreement {
                what: "iptables".into(),
                detail: format!(
                    "{} {} (#{}): kernel [{}:{}], fwdsim {}",
                    key.0,
                    key.1,
                    key.2,
                    kv.0,
                    kv.1,
                    fv.map(|(p, b)| format!("[{p}:{b}]"))
                        .unwrap_or_else(|| "missing".into())
                ),
            });
        }
    }
    out
}

/// A readable account of an observation (for reports).
pub fn describe(obs: &Observation) -> String {
    let mut s = String::new();
    for (i, r) in obs.received.iter().enumerate() {
        let _ = writeln!(
            s,
            "  {:>2}. in {:<8} {:?} -> sent {:?}",
            i + 1,
            r.input.dev,
            ipv4_of(&r.input.frame),
            r.sent
                .iter()
                .map(|t| format!("{} {:?}", t.dev, ipv4_of(&t.frame)))
                .collect::<Vec<_>>()
        );
    }
    s
}

/// A temporary directory for one run (kept with `FWDSIM_KEEP`).
pub fn workdir(prefix: &str) -> Result<(tempfile::TempDir, PathBuf), String> {
    let d = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| err("temporary directory", e))?;
    let p = d.path().to_path_buf();
    Ok((d, p))
}

/// Fails under `CI=true`, else prints the skip line and returns `false`,
/// when namespaces cannot be made.
pub fn require(test: &str) -> bool {
    crate::harness::require_netns(test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iptables_save_c_parses_and_subtracts() {
        let a = "# Generated by iptables-nft-save\n*filter\n:INPUT ACCEPT [1:84]\n:FORWARD DROP [0:0]\n[2:100] -A FORWARD -j X\n[0:0] -A FORWARD -j X\nCOMMIT\n*nat\n:POSTROUTING ACCEPT [3:5]\nCOMMIT\n";
        let b = "*filter\n:INPUT ACCEPT [2:168]\n:FORWARD DROP [0:0]\n[5:300] -A FORWARD -j X\n[1:60] -A FORWARD -j X\nCOMMIT\n*nat\n:POSTROUTING ACCEPT [3:5]\nCOMMIT\n";
        let d = ipt_delta(&parse_ipt_counters(a), &parse_ipt_counters(b));
        let k = |t: &str, l: &str, n| (t.to_string(), l.to_string(), n);
        assert_eq!(d[&k("filter", ":INPUT ACCEPT", 1)], (1, 84));
        assert_eq!(d[&k("filter", "-A FORWARD -j X", 1)], (3, 200));
        assert_eq!(d[&k("filter", "-A FORWARD -j X", 2)], (1, 60));
        assert_eq!(d[&k("nat", ":POSTROUTING ACCEPT", 1)], (0, 0));
        assert_eq!(d.len(), 5);
    }

    #[test]
    fn echo_request_checksums_to_zero() {
        let m = echo_request(0x1234, 7, 56);
        assert_eq!(m.len(), 64);
        assert_eq!(inet_csum(&m), 0);
    }

    #[test]
    fn split_attributes_sent_frames_to_the_last_received() {
        let t = |dev: &str, outgoing, b: u8| Tapped {
            ts_nanos: b as i128,
            dev: dev.into(),
            outgoing,
            frame: vec![b],
        };
        let seen = [
            t("eth0", true, 0),
            t("docker0", false, 1),
            t("vethx", false, 2),
            t("eth0", true, 3),
            t("eth0", false, 4),
            t("docker0", true, 5),
        ];
        let o = Observation::split(&seen, &["docker0", "eth0"], |_| true);
        assert_eq!(o.sent_first.len(), 1);
        assert_eq!(o.received.len(), 2);
        assert_eq!(o.received[0].sent[0].frame, vec![3]);
        assert_eq!(o.received[1].sent[0].dev, "docker0");
    }
}
