//! Reads `ipset save` output: `create NAME TYPE OPTIONS...` and
//! `add NAME ELEMENT [OPTIONS]` lines, for the set types the model has
//! (`hash:ip`, `hash:net`, `hash:ip,port`, `hash:net,port`, `bitmap:port`).
//! Other types load as `IpSetKind::Unsupported` with a warning.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::Path;

use fwdsim_kernel::netfilter::ipset::{IpSet, IpSetKind};
use ipnet::Ipv4Net;

use super::NfLoad;
use super::iptables_save::nf_err;
use super::tokens::{Tok, tokenize};
use crate::error::HostError;

/// The most members one `add` of a range or prefix may expand to.
const MAX_EXPAND: u64 = 1 << 16;

impl NfLoad {
    /// Reads `ipset save` text from `file` (whose first line is line
    /// `first_line`) and appends its sets.
    pub fn load_ipset(
        &mut self,
        text: &str,
        file: &Path,
        first_line: usize,
    ) -> Result<(), HostError> {
        // bitmap:port ranges, by set index.
        let mut ranges: Vec<Option<(u16, u16)>> = vec![None; self.sets.len()];
        for (i, raw) in text.lines().enumerate() {
            let line = first_line + i;
            let l = raw.trim_end_matches('\r');
            let t = l.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let toks = tokenize(l).map_err(|u| {
                nf_err(
                    file,
                    line,
                    u.col,
                    "unterminated quote (a quoted word must end on its line)",
                )
            })?;
            let err = |t: &Tok, msg: String| nf_err(file, line, t.col, msg);
            let cmd = &toks[0];
            let Some(name) = toks.get(1) else {
                return Err(err(cmd, format!("{} needs a set name", cmd.text)));
            };
            match cmd.text.as_str() {
                "create" | "-N" => {
                    let Some(ty) = toks.get(2) else {
                        return Err(err(name, format!("set {} has no type", name.text)));
                    };
                    if self.sets.iter().any(|s| s.name == name.text) {
                        return Err(err(name, format!("set {} is created twice", name.text)));
                    }
                    let opt = |k: &str| {
                        toks.iter()
                            .position(|t| t.text == k)
                            .and_then(|p| toks.get(p + 1))
                    };
                    let inet6 = opt("family").is_some_and(|f| f.text == "inet6");
                    let mut range = None;
                    let kind = match ty.text.as_str() {
                        _ if inet6 => None,
                        "hash:ip" => Some(IpSetKind::HashIp(HashSet::new())),
                        "hash:net" => Some(IpSetKind::HashNet(Vec::new())),
                        "hash:ip,port" => Some(IpSetKind::HashIpPort(HashSet::new())),
                        "hash:net,port" => Some(IpSetKind::HashNetPort(Vec::new())),
                        "bitmap:port" => {
                            let Some(r) = opt("range") else {
                                return Err(err(ty, "bitmap:port needs range FROM-TO".into()));
                            };
                            range = Some(port_span(r).ok_or_else(|| {
                                err(r, format!("bad port range {:?} (FROM-TO)", r.text))
                            })?);
                            Some(IpSetKind::BitmapPort(HashSet::new()))
                        }
                        _ => None,
                    };
                    let kind = kind.unwrap_or_else(|| {
                        let what = if inet6 {
                            format!("{} family inet6", ty.text)
                        } else {
                            ty.text.clone()
                        };
                        self.warnings.push(format!(
                            "{}:{line}: set {} of type {what} is not modelled: rules matching it are marked",
                            file.display(),
                            name.text
                        ));
                        IpSetKind::Unsupported(what)
                    });
                    self.sets.push(IpSet {
                        name: name.text.clone(),
                        kind,
                    });
                    ranges.push(range);
                }
                "add" | "-A" => {
                    let Some(idx) = self.sets.iter().position(|s| s.name == name.text) else {
                        return Err(err(
                            name,
                            format!("add to set {} before its create line", name.text),
                        ));
                    };
                    let Some(e) = toks.get(2) else {
                        return Err(err(name, "add needs an element".into()));
                    };
                    if toks.iter().skip(3).any(|t| t.text == "nomatch") {
                        self.warnings.push(format!(
                            "{}:{line}: nomatch element {} of set {} is not modelled: it is left out",
                            file.display(),
                            e.text,
                            name.text
                        ));
                        continue;
                    }
                    let range = ranges[idx];
                    add(&mut self.sets[idx].kind, e, range).map_err(|m| err(e, m))?;
                }
                _ => {
                    return Err(err(
                        cmd,
                        format!("{:?}: an ipset save line is create or add", cmd.text),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn port_span(t: &Tok) -> Option<(u16, u16)> {
    let (a, b) = t.text.split_once('-').unwrap_or((&t.text, &t.text));
    let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
    (a <= b).then_some((a, b))
}

/// `A`, `A/LEN` or `A-B` as an inclusive range of addresses.
fn addr_span(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("bad address {s:?}");
    if let Some((a, b)) = s.split_once('-') {
        let a: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let b: Ipv4Addr = b.parse().map_err(|_| bad())?;
        return (a <= b)
            .then_some((a.into(), b.into()))
            .ok_or_else(|| format!("range {s:?} ends before it starts"));
    }
    let n = net(s)?;
    Ok((n.network().into(), n.broadcast().into()))
}

fn net(s: &str) -> Result<Ipv4Net, String> {
    let bad = || format!("bad address {s:?}");
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, l.parse::<u8>().map_err(|_| bad())?),
        None => (s, 32),
    };
    let a: Ipv4Addr = a.parse().map_err(|_| bad())?;
    Ipv4Net::new(a, len).map(|n| n.trunc()).map_err(|_| bad())
}

/// `PROTO:PORT` or `PORT` (tcp).
fn proto_port(s: &str) -> Result<(u8, u16), String> {
    let (p, port) = match s.split_once(':') {
        Some((p, port)) => (p, port),
        None => ("tcp", s),
    };
    let proto = match p {
        "tcp" => 6,
        "udp" => 17,
        "sctp" => 132,
        "udplite" => 136,
        _ => {
            return Err(format!(
                "protocol {p:?} in {s:?} is not modelled (tcp, udp, sctp, udplite)"
            ));
        }
    };
    let port = port
        .parse()
        .map_err(|_| format!("bad port {port:?} in {s:?}"))?;
    Ok((proto, port))
}

fn add(kind: &mut IpSetKind, e: &Tok, range: Option<(u16, u16)>) -> Result<(), String> {
    let s = e.text.as_str();
    let expand = |lo: u32, hi: u32| -> Result<std::ops::RangeInclusive<u32>, String> {
        if u64::from(hi - lo) >= MAX_EXPAND {
            Err(format!("{s:?} holds more than {MAX_EXPAND} addresses"))
        } else {
            Ok(lo..=hi)
        }
    };
    match kind {
        IpSetKind::HashIp(set) => {
            let (lo, hi) = addr_span(s)?;
            set.extend(expand(lo, hi)?);
        }
        IpSetKind::HashNet(v) => {
            if s.contains('-') {
                return Err(format!(
                    "{s:?}: ranges of hash:net are not read (use A/LEN)"
                ));
            }
            v.push(net(s)?);
        }
        IpSetKind::HashIpPort(set) => {
            let (a, pp) = s
                .split_once(',')
                .ok_or_else(|| format!("{s:?} is not ADDRESS,PROTO:PORT"))?;
            let (lo, hi) = addr_span(a)?;
            let (proto, port) = proto_port(pp)?;
            for x in expand(lo, hi)? {
                set.insert((x, proto, port));
            }
        }
        IpSetKind::HashNetPort(v) => {
            let (a, pp) = s
                .split_once(',')
                .ok_or_else(|| format!("{s:?} is not NET,PROTO:PORT"))?;
            let (proto, port) = proto_port(pp)?;
            v.push((net(a)?, proto, port));
        }
        IpSetKind::BitmapPort(set) => {
            let (lo, hi) = port_span(e).ok_or_else(|| format!("bad port {s:?}"))?;
            if let Some((rlo, rhi)) = range
                && (lo < rlo || hi > rhi)
            {
                return Err(format!("port {s:?} is outside the set's range {rlo}-{rhi}"));
            }
            set.extend(lo..=hi);
        }
        IpSetKind::Unsupported(_) => {}
    }
    Ok(())
}
