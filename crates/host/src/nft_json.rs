//! Reads `nft -j list ruleset` (a snapshot's `nft.json`) into the kernel
//! model's nftables tables (`fwdsim_kernel::netfilter::nf_tables`).
//!
//! The outer shape (tables, chains, rules, sets and maps) is read with
//! serde, so a malformed file is an error with its line and column. The
//! expressions of a rule are read from JSON values: what the model does
//! not know becomes `NftExpr::Unsupported` and one warning line, never an
//! error, so that a ruleset from a newer `nft` still loads. Tables that
//! iptables-nft manages are skipped: they are read from `iptables.txt`.
//!
//! The `nftables` crate's typed schema was not used: its statement and
//! expression enums have no catch-all, so one expression it does not know
//! would make the whole file fail to load.

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;

use fwdsim_kernel::netfilter::NfInetHook;
use fwdsim_kernel::netfilter::conntrack::IpConntrackDir;
use fwdsim_kernel::netfilter::nf_tables::nft_reject::{icmp_code, icmpx_code};
use fwdsim_kernel::netfilter::nf_tables::*;
use fwdsim_kernel::netfilter::xtables::ip_tables::{RejectWith, XtCounters};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use crate::error::HostError;

#[derive(Deserialize)]
struct JRuleset {
    nftables: Vec<JItem>,
}

/// One entry of the `nftables` array: an object with one key. Keys the
/// model has no use for (`flowtable`, `ct helper`, named counters, ...)
/// are skipped.
#[derive(Deserialize)]
struct JItem {
    #[allow(dead_code)]
    metainfo: Option<IgnoredAny>,
    table: Option<JTable>,
    chain: Option<JChain>,
    rule: Option<JRule>,
    set: Option<JSet>,
    map: Option<JSet>,
}

#[derive(Deserialize)]
struct JTable {
    family: String,
    name: String,
}

#[derive(Deserialize)]
struct JChain {
    family: String,
    table: String,
    name: String,
    #[serde(default)]
    handle: u64,
    #[serde(rename = "type")]
    ty: Option<String>,
    hook: Option<String>,
    prio: Option<i64>,
    policy: Option<String>,
}

#[derive(Deserialize)]
struct JRule {
    family: String,
    table: String,
    chain: String,
    #[serde(default)]
    handle: u64,
    #[serde(default)]
    expr: Vec<Value>,
    comment: Option<String>,
}

#[derive(Deserialize)]
struct JSet {
    family: String,
    table: String,
    name: String,
    #[serde(rename = "type")]
    ty: Value,
    map: Option<Value>,
    #[serde(default)]
    elem: Vec<Value>,
}

/// The iptables-nft tables (family `ip`).
const XT_TABLES: [&str; 5] = ["filter", "nat", "mangle", "raw", "security"];

/// How a value of a key's type is spelled: its symbols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Addr,
    Ifname,
    Int,
    Proto,
    Nfproto,
    EtherType,
    CtState,
    CtStatus,
    CtDir,
    TcpFlags,
    IcmpType,
    FibType,
    /// A type the model has no IPv4 meaning for (`ipv6_addr`, ...).
    Other,
}

impl Ty {
    fn is_flags(self) -> bool {
        matches!(self, Ty::CtState | Ty::CtStatus | Ty::TcpFlags)
    }

    fn of_key(k: &NftKey) -> Ty {
        match k {
            NftKey::Payload(f) => match f {
                PayloadField::IpSaddr | PayloadField::IpDaddr => Ty::Addr,
                PayloadField::IpProtocol => Ty::Proto,
                PayloadField::TcpFlags => Ty::TcpFlags,
                PayloadField::IcmpType => Ty::IcmpType,
                PayloadField::Ip6(_) => Ty::Other,
                _ => Ty::Int,
            },
            NftKey::Meta(m) => match m {
                MetaKey::Iifname | MetaKey::Oifname => Ty::Ifname,
                MetaKey::L4proto => Ty::Proto,
                MetaKey::Nfproto => Ty::Nfproto,
                MetaKey::Protocol => Ty::EtherType,
                _ => Ty::Int,
            },
            NftKey::Ct { key, .. } => match key {
                CtKey::State => Ty::CtState,
                CtKey::Status => Ty::CtStatus,
                CtKey::Direction => Ty::CtDir,
                CtKey::Saddr | CtKey::Daddr => Ty::Addr,
                _ => Ty::Int,
            },
            NftKey::Fib { result, .. } => match result {
                FibResultKind::Type => Ty::FibType,
                FibResultKind::Oifname => Ty::Ifname,
                FibResultKind::Oif => Ty::Int,
            },
            NftKey::And(k, _) => Ty::of_key(k),
            NftKey::Concat(_) => Ty::Other,
        }
    }

    /// The parts of a key (one for a plain key).
    fn parts(k: &NftKey) -> Vec<Ty> {
        match k {
            NftKey::Concat(ks) => ks.iter().map(Ty::of_key).collect(),
            k => vec![Ty::of_key(k)],
        }
    }

    /// A set's `type` name.
    fn of_set_type(s: &str) -> Ty {
        match s {
            "ipv4_addr" => Ty::Addr,
            "ifname" => Ty::Ifname,
            "inet_service" | "mark" | "integer" | "iface_index" | "ifindex" | "counter" => Ty::Int,
            "inet_proto" => Ty::Proto,
            "nf_proto" => Ty::Nfproto,
            "ether_type" => Ty::EtherType,
            "ct_state" => Ty::CtState,
            "ct_status" => Ty::CtStatus,
            "ct_dir" => Ty::CtDir,
            "tcp_flag" => Ty::TcpFlags,
            "icmp_type" => Ty::IcmpType,
            "fib_addrtype" => Ty::FibType,
            _ => Ty::Other,
        }
    }

    fn nft_type(self) -> NftType {
        match self {
            Ty::Addr => NftType::Ipv4Addr,
            Ty::Ifname => NftType::Ifname,
            _ => NftType::Int,
        }
    }
}

fn symbol(ty: Ty, s: &str) -> Option<u64> {
    let sym = match ty {
        Ty::Proto => NftSym::Proto,
        Ty::Nfproto => NftSym::Nfproto,
        Ty::EtherType => NftSym::EtherType,
        Ty::CtState => NftSym::CtState,
        Ty::CtStatus => NftSym::CtStatus,
        Ty::CtDir => NftSym::CtDir,
        Ty::TcpFlags => NftSym::TcpFlags,
        Ty::IcmpType => NftSym::IcmpType,
        Ty::FibType => NftSym::FibType,
        _ => NftSym::None,
    };
    if let Some(v) = sym.value_of(s) {
        return Some(v);
    }
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// A value of type `ty` (a number, a symbol, an address, a name).
fn value(ty: Ty, v: &Value) -> Result<NftValue, String> {
    match (ty, v) {
        (Ty::Ifname, Value::String(s)) => Ok(NftValue::Name(IfName::new(s))),
        (Ty::Addr, Value::String(s)) => s
            .parse::<Ipv4Addr>()
            .map(NftValue::addr)
            .map_err(|_| format!("not an IPv4 address: {s:?}")),
        (Ty::Other, _) => Err(format!("value of a type not modelled: {v}")),
        (_, Value::Number(n)) => n
            .as_u64()
            .map(NftValue::Int)
            .ok_or_else(|| format!("not a number: {n}")),
        (_, Value::String(s)) => symbol(ty, s)
            .map(NftValue::Int)
            .ok_or_else(|| format!("unknown value {s:?}")),
        _ => Err(format!("value not modelled: {v}")),
    }
}

fn int_of(ty: Ty, v: &Value) -> Result<u64, String> {
    Ok(value(ty, v)?.int())
}

/// A right-hand element of type `tys` (several for a concatenation).
fn elem(tys: &[Ty], v: &Value) -> Result<NftElem, String> {
    let ty = tys.first().copied().unwrap_or(Ty::Other);
    if let Some(o) = v.as_object() {
        if let Some(e) = o.get("elem") {
            // `{"elem": {"val": ..., "timeout": ...}}`
            return elem(tys, e.get("val").unwrap_or(&Value::Null));
        }
        if let Some(c) = o.get("concat").and_then(|c| c.as_array()) {
            if tys.len() != c.len() {
                return Err(format!(
                    "concatenation of {} parts for a key of {}",
                    c.len(),
                    tys.len()
                ));
            }
            return c
                .iter()
                .zip(tys)
                .map(|(v, t)| elem(std::slice::from_ref(t), v))
                .collect::<Result<Vec<_>, _>>()
                .map(NftElem::Concat);
        }
        if let Some(p) = o.get("prefix") {
            let addr = p.get("addr").unwrap_or(&Value::Null);
            let len = p.get("len").and_then(|l| l.as_u64()).unwrap_or(33);
            if ty != Ty::Addr || len > 32 {
                return Err(format!("prefix not modelled: {v}"));
            }
            return Ok(NftElem::Prefix {
                addr: int_of(ty, addr)? as u32,
                len: len as u8,
            });
        }
        if let Some(r) = o.get("range").and_then(|r| r.as_array())
            && r.len() == 2
        {
            return Ok(NftElem::Range(int_of(ty, &r[0])?, int_of(ty, &r[1])?));
        }
        return Err(format!("value not modelled: {v}"));
    }
    if tys.len() > 1 {
        return Err(format!("a single value for a concatenated key: {v}"));
    }
    if ty == Ty::Ifname
        && let Some(s) = v.as_str()
        && let Some(p) = s.strip_suffix('*')
        && !p.ends_with('\\')
    {
        return Ok(NftElem::Wildcard(IfName::new(p)));
    }
    value(ty, v).map(NftElem::Val)
}

/// A table being built, with what converting its rules needs.
struct Building {
    table: NftTable,
    skipped: bool,
}

struct Cx<'a> {
    table: &'a NftTable,
}

impl Cx<'_> {
    fn chain(&self, name: &str) -> Result<u16, String> {
        self.table
            .chain_index(name)
            .map(|i| i as u16)
            .ok_or_else(|| format!("no chain {name:?}"))
    }

    fn set(&self, name: &str) -> Result<u16, String> {
        self.table
            .set_index(name)
            .map(|i| i as u16)
            .ok_or_else(|| format!("no set {name:?}"))
    }

    fn verdict(&self, v: &Value) -> Result<NftVerdict, String> {
        let (k, body) = single(v).ok_or_else(|| format!("not a verdict: {v}"))?;
        let target = || {
            body.get("target")
                .and_then(|t| t.as_str())
                .ok_or_else(|| format!("{k} without a target"))
        };
        Ok(match k {
            "accept" => NftVerdict::Accept,
            "drop" => NftVerdict::Drop,
            "continue" => NftVerdict::Continue,
            "return" => NftVerdict::Return,
            "jump" => NftVerdict::Jump(self.chain(target()?)?),
            "goto" => NftVerdict::Goto(self.chain(target()?)?),
            _ => return Err(format!("verdict not modelled: {v}")),
        })
    }

    fn key(&self, v: &Value) -> Result<NftKey, String> {
        let (k, body) = single(v).ok_or_else(|| format!("expression not modelled: {v}"))?;
        let s = |f: &str| body.get(f).and_then(|x| x.as_str()).unwrap_or("");
        match k {
            "payload" => {
                let f = match (s("protocol"), s("field")) {
                    ("ip", "saddr") => PayloadField::IpSaddr,
                    ("ip", "daddr") => PayloadField::IpDaddr,
                    ("ip", "protocol") => PayloadField::IpProtocol,
                    ("ip", "ttl") => PayloadField::IpTtl,
                    ("ip", "length") => PayloadField::IpLength,
                    ("tcp", "sport") => PayloadField::TcpSport,
                    ("tcp", "dport") => PayloadField::TcpDport,
                    ("tcp", "flags") => PayloadField::TcpFlags,
                    ("udp", "sport") => PayloadField::UdpSport,
                    ("udp", "dport") => PayloadField::UdpDport,
                    ("th", "sport") => PayloadField::ThSport,
                    ("th", "dport") => PayloadField::ThDport,
                    ("icmp", "type") => PayloadField::IcmpType,
                    ("icmp", "code") => PayloadField::IcmpCode,
                    ("ip6", "saddr") => PayloadField::Ip6("ip6 saddr"),
                    ("ip6", "daddr") => PayloadField::Ip6("ip6 daddr"),
                    ("ip6", _) => PayloadField::Ip6("ip6 header"),
                    ("icmpv6", "type") => PayloadField::Ip6("icmpv6 type"),
                    ("icmpv6", _) => PayloadField::Ip6("icmpv6 header"),
                    _ => return Err(format!("payload not modelled: {v}")),
                };
                Ok(NftKey::Payload(f))
            }
            "meta" => Ok(NftKey::Meta(match s("key") {
                "iifname" => MetaKey::Iifname,
                "oifname" => MetaKey::Oifname,
                "iif" => MetaKey::Iif,
                "oif" => MetaKey::Oif,
                "l4proto" => MetaKey::L4proto,
                "protocol" => MetaKey::Protocol,
                "nfproto" => MetaKey::Nfproto,
                "mark" => MetaKey::Mark,
                "length" => MetaKey::Length,
                other => return Err(format!("meta {other} not modelled")),
            })),
            "ct" => {
                let dir = match s("dir") {
                    "original" => Some(IpConntrackDir::Original),
                    "reply" => Some(IpConntrackDir::Reply),
                    "" => None,
                    d => return Err(format!("ct direction {d:?} not modelled")),
                };
                let key = match s("key") {
                    "state" => CtKey::State,
                    "status" => CtKey::Status,
                    "mark" => CtKey::Mark,
                    "direction" => CtKey::Direction,
                    "saddr" | "ip saddr" => CtKey::Saddr,
                    "daddr" | "ip daddr" => CtKey::Daddr,
                    "proto-src" => CtKey::ProtoSrc,
                    "proto-dst" => CtKey::ProtoDst,
                    other => return Err(format!("ct {other} not modelled")),
                };
                if matches!(
                    key,
                    CtKey::State | CtKey::Status | CtKey::Mark | CtKey::Direction
                ) && dir.is_some()
                {
                    return Err(format!("ct {} {} not modelled", s("dir"), s("key")));
                }
                Ok(NftKey::Ct { key, dir })
            }
            "fib" => {
                let names: Vec<&str> = match body.get("flags") {
                    Some(Value::String(f)) => vec![f.as_str()],
                    Some(Value::Array(a)) => a.iter().filter_map(|f| f.as_str()).collect(),
                    _ => vec![],
                };
                let mut flags = 0;
                for n in names {
                    flags |= match n {
                        "saddr" => fib_flags::SADDR,
                        "daddr" => fib_flags::DADDR,
                        "mark" => fib_flags::MARK,
                        "iif" => fib_flags::IIF,
                        "oif" => fib_flags::OIF,
                        other => return Err(format!("fib flag {other} not modelled")),
                    };
                }
                let result = match s("result") {
                    "oif" => FibResultKind::Oif,
                    "oifname" => FibResultKind::Oifname,
                    "type" => FibResultKind::Type,
                    other => return Err(format!("fib {other} not modelled")),
                };
                if result == FibResultKind::Type && flags & (fib_flags::IIF | fib_flags::OIF) != 0 {
                    return Err("fib type with a device (inet_dev_addr_type) not modelled".into());
                }
                Ok(NftKey::Fib { flags, result })
            }
            "concat" => {
                let parts = body
                    .as_array()
                    .ok_or_else(|| format!("concat not modelled: {v}"))?;
                Ok(NftKey::Concat(
                    parts
                        .iter()
                        .map(|p| self.key(p))
                        .collect::<Result<_, _>>()?,
                ))
            }
            "&" => {
                let a = body
                    .as_array()
                    .filter(|a| a.len() == 2)
                    .ok_or_else(|| format!("bitwise not modelled: {v}"))?;
                let k = self.key(&a[0])?;
                let m = self.flags(Ty::of_key(&k), &a[1])?;
                Ok(NftKey::And(Box::new(k), m))
            }
            _ => Err(format!("{k} not modelled")),
        }
    }

    /// A flag list (`["syn", "ack"]`), flags or-ed (`{"|": [...]}`, as
    /// `ct state != established | related` prints), one flag, or a
    /// number: the bits.
    fn flags(&self, ty: Ty, v: &Value) -> Result<u64, String> {
        match v {
            Value::Array(a) => a.iter().try_fold(0, |acc, f| Ok(acc | self.flags(ty, f)?)),
            Value::Object(o) if o.len() == 1 && o.contains_key("|") => self.flags(ty, &o["|"]),
            v => int_of(ty, v),
        }
    }

    fn rhs(&self, left: &NftKey, op: NftCmpOp, v: &Value) -> Result<NftRhs, String> {
        let tys = Ty::parts(left);
        let ty = tys[0];
        if let Some(s) = v.as_str()
            && let Some(name) = s.strip_prefix('@')
        {
            return Ok(NftRhs::Named(self.set(name)?));
        }
        match v {
            Value::Bool(b) => Ok(NftRhs::Bool(*b)),
            Value::Array(_) if ty.is_flags() && tys.len() == 1 => {
                Ok(NftRhs::Flags(self.flags(ty, v)?))
            }
            Value::Object(o) if o.contains_key("|") && ty.is_flags() && tys.len() == 1 => {
                Ok(NftRhs::Flags(self.flags(ty, v)?))
            }
            Value::Array(a) => Ok(NftRhs::Set(
                a.iter().map(|e| elem(&tys, e)).collect::<Result<_, _>>()?,
            )),
            Value::Object(o) if o.contains_key("set") => {
                let a = o["set"].as_array().ok_or("set not modelled")?;
                Ok(NftRhs::Set(
                    a.iter().map(|e| elem(&tys, e)).collect::<Result<_, _>>()?,
                ))
            }
            v if op == NftCmpOp::In && ty.is_flags() && tys.len() == 1 => {
                Ok(NftRhs::Flags(self.flags(ty, v)?))
            }
            v => Ok(NftRhs::Elem(elem(&tys, v)?)),
        }
    }

    fn map_data(&self, data_ty: &[Ty], verdicts: bool, v: &Value) -> Result<NftMapData, String> {
        if verdicts {
            self.verdict(v).map(NftMapData::Verdict)
        } else {
            elem(data_ty, v).map(NftMapData::Value)
        }
    }

    /// `@name` or `{"set": [[key, data], ...]}`.
    fn map_ref(
        &self,
        key: &NftKey,
        data_ty: &[Ty],
        verdicts: bool,
        v: &Value,
    ) -> Result<NftMapRef, String> {
        if let Some(name) = v.as_str().and_then(|s| s.strip_prefix('@')) {
            return Ok(NftMapRef::Named(self.set(name)?));
        }
        let items = v
            .get("set")
            .and_then(|s| s.as_array())
            .ok_or_else(|| format!("map not modelled: {v}"))?;
        let tys = Ty::parts(key);
        let mut out = Vec::new();
        for it in items {
            let pair = it
                .as_array()
                .filter(|p| p.len() == 2)
                .ok_or_else(|| format!("map element not modelled: {it}"))?;
            out.push((
                elem(&tys, &pair[0])?,
                self.map_data(data_ty, verdicts, &pair[1])?,
            ));
        }
        Ok(NftMapRef::Anon(out))
    }

    fn nat(&self, kind: NftNatKind, body: &Value, out: &mut Vec<NftExpr>) -> Result<(), String> {
        let mut nat = NftNat {
            kind,
            addr: None,
            ports: None,
            random: false,
            random_fully: false,
            persistent: false,
        };
        if body.get("family").and_then(|f| f.as_str()) == Some("ip6") {
            // `dnat ip6 to ...`: only IPv6 packets get there.
            out.push(nfproto_ipv6());
        }
        let flags: Vec<&str> = match body.get("flags") {
            Some(Value::String(f)) => vec![f.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(|f| f.as_str()).collect(),
            _ => vec![],
        };
        for f in flags {
            match f {
                "random" => nat.random = true,
                "fully-random" => nat.random_fully = true,
                "persistent" => nat.persistent = true,
                other => return Err(format!("{} flag {other} not modelled", kind.name())),
            }
        }
        if let Some(a) = body.get("addr") {
            if let Some(m) = a.get("map") {
                let key = self.key(m.get("key").unwrap_or(&Value::Null))?;
                let data = m.get("data").unwrap_or(&Value::Null);
                // The data type of a named map is its own; of an anonymous one, addr [. port].
                let map = self
                    .map_ref(&key, &[Ty::Addr, Ty::Int], false, data)
                    .or_else(|_| self.map_ref(&key, &[Ty::Addr], false, data))?;
                nat.addr = Some(NftNatAddr::Map { key, map });
            } else {
                nat.addr = Some(match elem(&[Ty::Addr], a)? {
                    NftElem::Val(v) => {
                        let x = Ipv4Addr::from(v.int() as u32);
                        NftNatAddr::Range(x, x)
                    }
                    NftElem::Range(lo, hi) => {
                        NftNatAddr::Range(Ipv4Addr::from(lo as u32), Ipv4Addr::from(hi as u32))
                    }
                    NftElem::Prefix { addr, len } => {
                        let host = if len >= 32 { 0 } else { u32::MAX >> len };
                        NftNatAddr::Range(Ipv4Addr::from(addr), Ipv4Addr::from(addr | host))
                    }
                    _ => return Err(format!("{} address not modelled: {a}", kind.name())),
                });
            }
        }
        if let Some(p) = body.get("port") {
            nat.ports = Some(match elem(&[Ty::Int], p)? {
                NftElem::Val(v) => (v.int() as u16, v.int() as u16),
                NftElem::Range(lo, hi) => (lo as u16, hi as u16),
                _ => return Err(format!("{} port not modelled: {p}", kind.name())),
            });
        }
        out.push(NftExpr::Nat(nat));
        Ok(())
    }

    /// One statement into `out` (a few become two expressions).
    fn stmt(
        &self,
        v: &Value,
        saved: &mut XtCounters,
        out: &mut Vec<NftExpr>,
    ) -> Result<(), String> {
        let (k, body) = single(v).ok_or_else(|| format!("statement not modelled: {v}"))?;
        let e = match k {
            "match" => {
                let op = match body.get("op").and_then(|o| o.as_str()).unwrap_or("==") {
                    "==" => NftCmpOp::Eq,
                    "!=" => NftCmpOp::Ne,
                    "<" => NftCmpOp::Lt,
                    ">" => NftCmpOp::Gt,
                    "<=" => NftCmpOp::Le,
                    ">=" => NftCmpOp::Ge,
                    "in" => NftCmpOp::In,
                    o => return Err(format!("operator {o:?} not modelled")),
                };
                let left = self.key(body.get("left").unwrap_or(&Value::Null))?;
                let right = if matches!(left, NftKey::Payload(PayloadField::Ip6(_))) {
                    // An IPv6 header field: no IPv4 packet gets past it, whatever its value.
                    NftRhs::Set(Vec::new())
                } else {
                    self.rhs(&left, op, body.get("right").unwrap_or(&Value::Null))?
                };
                NftExpr::Match { left, op, right }
            }
            "counter" => {
                saved.pcnt += body.get("packets").and_then(|p| p.as_u64()).unwrap_or(0);
                saved.bcnt += body.get("bytes").and_then(|p| p.as_u64()).unwrap_or(0);
                NftExpr::Counter
            }
            "limit" => {
                let unit_secs = match body.get("per").and_then(|p| p.as_str()).unwrap_or("second") {
                    "second" => 1,
                    "minute" => 60,
                    "hour" => 3600,
                    "day" => 86_400,
                    "week" => 604_800,
                    p => return Err(format!("limit per {p} not modelled")),
                };
                let scale = |u: Option<&Value>| match u.and_then(|u| u.as_str()) {
                    Some("kbytes") => 1024,
                    Some("mbytes") => 1024 * 1024,
                    _ => 1,
                };
                let bytes = matches!(
                    body.get("rate_unit").and_then(|u| u.as_str()),
                    Some("bytes" | "kbytes" | "mbytes")
                );
                let num = |f: &str| body.get(f).and_then(|x| x.as_u64()).unwrap_or(0);
                NftExpr::Limit(
                    NftLimit {
                        rate: num("rate") * scale(body.get("rate_unit")),
                        unit_secs,
                        burst: num("burst") * scale(body.get("burst_unit")),
                        bytes,
                        inv: body.get("inv").and_then(|i| i.as_bool()).unwrap_or(false),
                    },
                    NftLimitState::default(),
                )
            }
            "log" => NftExpr::Log {
                prefix: body
                    .get("prefix")
                    .and_then(|p| p.as_str())
                    .map(String::from),
            },
            "accept" | "drop" | "continue" | "return" | "jump" | "goto" => {
                NftExpr::Verdict(self.verdict(v)?)
            }
            "vmap" => {
                let key = self.key(body.get("key").unwrap_or(&Value::Null))?;
                let map =
                    self.map_ref(&key, &[], true, body.get("data").unwrap_or(&Value::Null))?;
                NftExpr::Vmap { key, map }
            }
            "snat" => return self.nat(NftNatKind::Snat, body, out),
            "dnat" => return self.nat(NftNatKind::Dnat, body, out),
            "masquerade" => return self.nat(NftNatKind::Masquerade, body, out),
            "redirect" => return self.nat(NftNatKind::Redirect, body, out),
            "reject" => {
                let ty = body.get("type").and_then(|t| t.as_str()).unwrap_or("");
                let code = body.get("expr").and_then(|c| c.as_str());
                let with = match (ty, code) {
                    ("tcp reset", _) => RejectWith::TcpReset,
                    ("" | "icmp" | "icmpx", None) => RejectWith::PortUnreachable,
                    ("icmp", Some(c)) => {
                        icmp_code(c).ok_or_else(|| format!("reject with icmp {c} not modelled"))?
                    }
                    ("icmpx", Some(c)) => icmpx_code(c)
                        .ok_or_else(|| format!("reject with icmpx {c} not modelled"))?,
                    ("icmpv6", _) => {
                        // Only IPv6 packets are rejected with ICMPv6.
                        out.push(nfproto_ipv6());
                        RejectWith::AdminProhibited
                    }
                    _ => return Err(format!("reject not modelled: {v}")),
                };
                NftExpr::Reject(with)
            }
            "notrack" => NftExpr::Notrack,
            "mangle" => {
                let key = self.key(body.get("key").unwrap_or(&Value::Null))?;
                let val = body.get("value").unwrap_or(&Value::Null);
                let sv = match val {
                    Value::Number(n) => NftSetValue::Imm(
                        n.as_u64()
                            .and_then(|x| u32::try_from(x).ok())
                            .ok_or("mark out of range")?,
                    ),
                    Value::String(s) => NftSetValue::Imm(
                        symbol(Ty::Int, s)
                            .and_then(|x| u32::try_from(x).ok())
                            .ok_or_else(|| format!("mark {s:?} not modelled"))?,
                    ),
                    v => {
                        let k = self.key(v)?;
                        if !matches!(
                            k,
                            NftKey::Meta(MetaKey::Mark)
                                | NftKey::Ct {
                                    key: CtKey::Mark,
                                    ..
                                }
                        ) {
                            return Err(format!("mangle value not modelled: {v}"));
                        }
                        NftSetValue::Key(k)
                    }
                };
                match key {
                    NftKey::Meta(MetaKey::Mark) => NftExpr::MetaMarkSet(sv),
                    NftKey::Ct {
                        key: CtKey::Mark,
                        dir: None,
                    } => NftExpr::CtMarkSet(sv),
                    _ => return Err(format!("mangle not modelled: {v}")),
                }
            }
            _ => return Err(format!("{k} not modelled")),
        };
        out.push(e);
        Ok(())
    }
}

fn nfproto_ipv6() -> NftExpr {
    NftExpr::Match {
        left: NftKey::Meta(MetaKey::Nfproto),
        op: NftCmpOp::Eq,
        right: NftRhs::Elem(NftElem::Val(NftValue::Int(10))),
    }
}

/// The one key of `{"key": body}`.
fn single(v: &Value) -> Option<(&str, &Value)> {
    let o = v.as_object()?;
    if o.len() != 1 {
        return None;
    }
    o.iter().next().map(|(k, b)| (k.as_str(), b))
}

/// Statements that decide whether the rule goes on, like a match: an
/// unknown one stops the rule (an unknown statement lets it go on).
fn matches_like(name: &str) -> bool {
    matches!(
        name,
        "match" | "quota" | "ct count" | "meter" | "limit" | "xt" | "synproxy"
    )
}

fn hook_of(s: &str) -> Option<NfInetHook> {
    Some(match s {
        "prerouting" => NfInetHook::PreRouting,
        "input" => NfInetHook::LocalIn,
        "forward" => NfInetHook::Forward,
        "output" => NfInetHook::LocalOut,
        "postrouting" => NfInetHook::PostRouting,
        _ => return None,
    })
}

/// The chain names of table `family name` in `nft -j list ruleset` output,
/// None when the table is not listed (or the text does not parse: the
/// loader reports that).
pub fn chain_names(text: &str, family: &str, name: &str) -> Option<Vec<String>> {
    let rs: JRuleset = serde_json::from_str(text).ok()?;
    rs.nftables
        .iter()
        .filter_map(|it| it.table.as_ref())
        .any(|t| t.family == family && t.name == name)
        .then(|| {
            rs.nftables
                .iter()
                .filter_map(|it| it.chain.as_ref())
                .filter(|c| c.family == family && c.table == name)
                .map(|c| c.name.clone())
                .collect()
        })
}

/// Loads `nft -j list ruleset` text read from `file`. Tables that
/// iptables-nft manages (family `ip`, named filter, nat, mangle, raw or
/// security) are skipped when `iptables_tables` (family, name) lists them:
/// they come from `iptables.txt`. Returns the other tables (families
/// other than `ip` and `inet` are kept, without rules, and never run) and
/// one warning line per table, chain, rule or expression not modelled.
pub fn load_nft_json(
    file: &Path,
    text: &str,
    iptables_tables: &[(String, String)],
) -> Result<(Vec<NftTable>, Vec<String>), HostError> {
    let f = file.display().to_string();
    let mut warnings = Vec::new();
    if text.trim().is_empty() {
        return Ok((Vec::new(), warnings));
    }
    if !text.trim_start().starts_with('{') {
        let skipped = text.len() - text.trim_start().len();
        let (line, column) = text[..skipped].lines().fold((1, 1), |(l, _), _| (l + 1, 1));
        return Err(HostError::Json {
            file: file.to_path_buf(),
            line,
            column,
            msg: "expected an object with an \"nftables\" array (nft -j list ruleset)".into(),
        });
    }
    let rs: JRuleset = serde_json::from_str(text).map_err(|e| HostError::json(file, &e))?;
    let bad = |what: String| HostError::NftRuleset {
        file: file.to_path_buf(),
        what,
    };
    let mut tables: Vec<Building> = Vec::new();
    let find = |tables: &[Building], family: &str, name: &str| {
        tables
            .iter()
            .position(|b| b.table.family.name() == family && b.table.name == name)
    };
    // Tables first, then chains, then sets and maps (their verdicts name
    // chains), then rules.
    for it in &rs.nftables {
        let Some(t) = &it.table else { continue };
        let Some(family) = NftFamily::from_name(&t.family) else {
            warnings.push(format!(
                "{f}: table {} {}: family not modelled (its chains do not run)",
                t.family, t.name
            ));
            continue;
        };
        if find(&tables, &t.family, &t.name).is_some() {
            continue;
        }
        let skipped = family == NftFamily::Ip
            && XT_TABLES.contains(&t.name.as_str())
            && iptables_tables
                .iter()
                .any(|(fam, n)| fam == "ip" && *n == t.name);
        // An ip6 table never sees an IPv4 packet: nothing to say about it.
        if !skipped && !family.sees_ipv4() && family != NftFamily::Ip6 {
            warnings.push(format!(
                "{f}: table {} {}: family {} not modelled (its chains do not run)",
                t.family, t.name, t.family
            ));
        }
        tables.push(Building {
            table: NftTable::new(family, &t.name),
            skipped,
        });
    }
    let table_of = |tables: &[Building], family: &str, name: &str, what: &str| {
        find(tables, family, name).ok_or_else(|| {
            bad(format!(
                "{what} of table {family} {name}, which is not listed"
            ))
        })
    };
    for it in &rs.nftables {
        let Some(c) = &it.chain else { continue };
        if NftFamily::from_name(&c.family).is_none() {
            continue;
        }
        let ti = table_of(&tables, &c.family, &c.table, &format!("chain {}", c.name))?;
        let b = &mut tables[ti];
        let mut base = None;
        if let (Some(ty), Some(hook)) = (&c.ty, &c.hook) {
            let title = b.table.title();
            let ty = match ty.as_str() {
                "filter" => Some(NftChainType::Filter),
                "nat" => Some(NftChainType::Nat),
                "route" => Some(NftChainType::Route),
                _ => None,
            };
            match (ty, hook_of(hook)) {
                (Some(ty), Some(hook)) => {
                    base = Some(NftBaseChain {
                        ty,
                        hook,
                        priority: c.prio.unwrap_or(0).clamp(i32::MIN as i64, i32::MAX as i64)
                            as i32,
                        policy: if c.policy.as_deref() == Some("drop") {
                            NftPolicy::Drop
                        } else {
                            NftPolicy::Accept
                        },
                    })
                }
                _ if b.table.family.sees_ipv4() && !b.skipped => warnings.push(format!(
                    "{f}: {title} chain {}: hook {hook} not modelled (the chain does not run)",
                    c.name
                )),
                _ => {}
            }
        }
        b.table.chains.push(NftChain {
            name: c.name.clone(),
            handle: c.handle,
            base,
            rules: Vec::new(),
            counters: XtCounters::default(),
        });
    }
    for it in &rs.nftables {
        let (Some(s), is_map) = (it.set.as_ref().or(it.map.as_ref()), it.map.is_some()) else {
            continue;
        };
        if NftFamily::from_name(&s.family).is_none() {
            continue;
        }
        let ti = table_of(&tables, &s.family, &s.table, &format!("set {}", s.name))?;
        let key_tys: Vec<Ty> = match &s.ty {
            Value::String(t) => vec![Ty::of_set_type(t)],
            Value::Array(a) => a
                .iter()
                .map(|t| t.as_str().map_or(Ty::Other, Ty::of_set_type))
                .collect(),
            _ => vec![Ty::Other],
        };
        let map_ty = s.map.as_ref().and_then(|m| m.as_str()).unwrap_or("");
        let verdicts = map_ty == "verdict";
        let data_tys: Vec<Ty> = map_ty.split(" . ").map(Ty::of_set_type).collect();
        tables[ti].table.sets.push(NftSet {
            name: s.name.clone(),
            key: key_tys.iter().map(|t| t.nft_type()).collect(),
            elems: Vec::new(),
            is_map,
        });
        let b = &tables[ti];
        if b.skipped || !b.table.family.sees_ipv4() {
            continue;
        }
        let cx = Cx { table: &b.table };
        let mut elems = Vec::new();
        let mut failed = None;
        for e in &s.elem {
            let r = if is_map {
                match e.as_array().filter(|p| p.len() == 2) {
                    Some(p) => elem(&key_tys, &p[0])
                        .and_then(|k| Ok((k, Some(cx.map_data(&data_tys, verdicts, &p[1])?)))),
                    None => Err(format!("map element not modelled: {e}")),
                }
            } else {
                elem(&key_tys, e).map(|k| (k, None))
            };
            match r {
                Ok(x) => elems.push(x),
                Err(why) => failed = failed.or(Some(why)),
            }
        }
        if let Some(why) = failed {
            warnings.push(format!(
                "{f}: {} {} {}: elements not modelled: {why} (lookups see only the others)",
                b.table.title(),
                if is_map { "map" } else { "set" },
                s.name
            ));
        }
        let last = tables[ti].table.sets.len() - 1;
        tables[ti].table.sets[last].elems = elems;
    }
    for it in &rs.nftables {
        let Some(r) = &it.rule else { continue };
        if NftFamily::from_name(&r.family).is_none() {
            continue;
        }
        let ti = table_of(
            &tables,
            &r.family,
            &r.table,
            &format!("rule handle {}", r.handle),
        )?;
        let b = &tables[ti];
        if b.skipped || !b.table.family.sees_ipv4() {
            continue;
        }
        let ci = b.table.chain_index(&r.chain).ok_or_else(|| {
            bad(format!(
                "rule handle {} of chain {} in {}, which is not listed",
                r.handle,
                r.chain,
                b.table.title()
            ))
        })?;
        let cx = Cx { table: &b.table };
        let mut exprs = Vec::new();
        let mut saved = XtCounters::default();
        for st in &r.expr {
            let mark = exprs.len();
            if let Err(why) = cx.stmt(st, &mut saved, &mut exprs) {
                exprs.truncate(mark);
                let name = single(st).map_or("?", |(k, _)| k);
                warnings.push(format!(
                    "{f}: {} chain {} rule handle {}: not modelled: {} ({why}; the packets reaching this rule are marked)",
                    b.table.title(),
                    r.chain,
                    r.handle,
                    serde_json::to_string(st).unwrap_or_default()
                ));
                exprs.push(NftExpr::Unsupported {
                    name: describe_unsupported(st, name),
                    matches: matches_like(name),
                });
            }
        }
        let text = b.table.rule_text(&exprs);
        let rule = NftRule {
            handle: r.handle,
            exprs,
            comment: r.comment.clone(),
            text: Arc::from(text.as_str()),
            counters: XtCounters::default(),
            saved,
        };
        tables[ti].table.chains[ci].rules.push(rule);
    }
    Ok((
        tables
            .into_iter()
            .filter(|b| !b.skipped)
            .map(|b| b.table)
            .collect(),
        warnings,
    ))
}

/// A short name for an unsupported statement: `meta skuid`, `quota`, `ct helper`.
fn describe_unsupported(st: &Value, name: &str) -> String {
    if name == "match"
        && let Some(l) = st.get("match").and_then(|m| m.get("left"))
        && let Some((k, body)) = single(l)
    {
        return match body
            .get("key")
            .or_else(|| body.get("field"))
            .and_then(|x| x.as_str())
        {
            Some(sub) => match body.get("protocol").and_then(|p| p.as_str()) {
                Some(p) => format!("{p} {sub}"),
                None => format!("{k} {sub}"),
            },
            None => k.to_string(),
        };
    }
    name.to_string()
}

#[cfg(test)]
mod tests;
