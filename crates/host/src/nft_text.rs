//! Reads a ruleset in nft's own syntax (what `nft list ruleset` prints and
//! `nft -f` reads) into the JSON that `nft -j list ruleset` prints for it,
//! which `crate::nft_json` then loads: the conversion to the model stays
//! in one place.
//!
//! The text is a list of `table FAMILY NAME { ... }` blocks holding
//! chains, sets, maps and `ct helper` objects, with `define NAME = VALUE`
//! (used as `$NAME`) and `flush ruleset` (ignored). Handles are numbered
//! as the kernel numbers them for a fresh `nft -f`: tables from 1 in file
//! order; in each table, its chains, then its objects, then its sets and
//! maps, then its rules, each rule after the anonymous sets it holds.
//!
//! Unlike the JSON loader, which skips what it does not know, text that
//! does not parse is an error `FILE:LINE:COL: message`: a hand-written
//! ruleset should not lose a rule silently. What parses but the model does
//! not have (`meta skuid`, `quota`, ...) becomes a note, as for `nft.json`.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use fwdsim_kernel::netfilter::nf_tables::{NftSym, NftTable};
use serde_json::{Map, Value, json};

use crate::error::HostError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum K {
    /// A word: a name, a number, an address, a keyword, `.`, `:`, `/`.
    W,
    /// A quoted string (its text without the quotes).
    S,
    /// Punctuation: `{ } ; , = ( ) & | ^ !` and the comparisons.
    P,
    /// The end of a line.
    Nl,
    Eof,
}

#[derive(Clone, Debug)]
struct Tok {
    k: K,
    s: String,
    line: usize,
    col: usize,
}

impl Tok {
    fn is(&self, s: &str) -> bool {
        matches!(self.k, K::W | K::P) && self.s == s
    }

    fn describe(&self) -> String {
        match self.k {
            K::Nl => "end of line".into(),
            K::Eof => "end of text".into(),
            K::S => format!("\"{}\"", self.s),
            _ => format!("`{}`", self.s),
        }
    }
}

/// A parse error at a token.
struct Err {
    line: usize,
    col: usize,
    msg: String,
}

type R<T> = Result<T, Err>;

fn err<T>(t: &Tok, msg: impl Into<String>) -> R<T> {
    Err(Err {
        line: t.line,
        col: t.col,
        msg: msg.into(),
    })
}

fn is_punct(c: char) -> bool {
    matches!(
        c,
        '{' | '}' | ';' | ',' | '=' | '(' | ')' | '&' | '|' | '^' | '!' | '<' | '>' | '"' | '#'
    )
}

/// Splits the text into tokens; `first_line` is the line of its first line.
fn tokenize(text: &str, first_line: usize) -> R<Vec<Tok>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let ln = first_line + i;
        let cs: Vec<char> = line.chars().collect();
        let mut j = 0;
        while j < cs.len() {
            let c = cs[j];
            let col = j + 1;
            let tok = |k, s: String| Tok {
                k,
                s,
                line: ln,
                col,
            };
            if c.is_whitespace() {
                j += 1;
            } else if c == '#' {
                break;
            } else if c == '\\' && j + 1 == cs.len() {
                // A line continued on the next one.
                j += 1;
                continue;
            } else if c == '"' {
                let Some(end) = cs[j + 1..].iter().position(|&x| x == '"') else {
                    return err(&tok(K::S, String::new()), "unterminated string");
                };
                out.push(tok(K::S, cs[j + 1..j + 1 + end].iter().collect()));
                j += end + 2;
            } else if is_punct(c) {
                let two: String = cs[j..(j + 2).min(cs.len())].iter().collect();
                if matches!(two.as_str(), "==" | "!=" | "<=" | ">=") {
                    out.push(tok(K::P, two));
                    j += 2;
                } else {
                    out.push(tok(K::P, c.to_string()));
                    j += 1;
                }
            } else {
                let end = cs[j..]
                    .iter()
                    .position(|&x| x.is_whitespace() || is_punct(x))
                    .map_or(cs.len(), |p| j + p);
                out.push(tok(K::W, cs[j..end].iter().collect()));
                j = end;
            }
        }
        if !(line.trim_end().ends_with('\\')) {
            out.push(Tok {
                k: K::Nl,
                s: String::new(),
                line: ln,
                col: cs.len() + 1,
            });
        }
    }
    let line = first_line + text.lines().count().saturating_sub(1);
    out.push(Tok {
        k: K::Eof,
        s: String::new(),
        line,
        col: text.lines().last().map_or(1, |l| l.chars().count() + 1),
    });
    Ok(out)
}

/// Expands `define NAME = VALUE` / `$NAME` and drops the definitions.
fn expand(toks: Vec<Tok>) -> R<Vec<Tok>> {
    let mut defs: HashMap<String, Vec<Tok>> = HashMap::new();
    let mut out: Vec<Tok> = Vec::new();
    let mut i = 0;
    let at_start = |out: &[Tok]| {
        out.last()
            .is_none_or(|t| t.k == K::Nl || t.is(";") || t.is("{"))
    };
    while i < toks.len() {
        let t = &toks[i];
        if t.k == K::W && (t.s == "define" || t.s == "redefine") && at_start(&out) {
            let name = &toks[i + 1];
            if name.k != K::W || !valid_ident(&name.s) {
                return err(name, format!("a name expected after {}", t.s));
            }
            if !toks[i + 2].is("=") {
                return err(
                    &toks[i + 2],
                    format!("`=` expected after define {}", name.s),
                );
            }
            let mut j = i + 3;
            let mut depth = 0usize;
            let mut val = Vec::new();
            loop {
                let v = &toks[j];
                if v.k == K::Eof || (depth == 0 && (v.k == K::Nl || v.is(";"))) {
                    break;
                }
                if v.is("{") {
                    depth += 1;
                } else if v.is("}") {
                    depth = depth.saturating_sub(1);
                }
                if v.k != K::Nl {
                    val.extend(substitute(&defs, v)?);
                }
                j += 1;
            }
            if val.is_empty() {
                return err(&toks[i + 2], format!("define {}: no value", name.s));
            }
            if t.s == "define" && defs.contains_key(&name.s) {
                return err(
                    name,
                    format!("{} is already defined (use redefine)", name.s),
                );
            }
            defs.insert(name.s.clone(), val);
            i = j;
            continue;
        }
        if t.k == K::W && t.s == "undefine" && at_start(&out) {
            let name = &toks[i + 1];
            if defs.remove(&name.s).is_none() {
                return err(name, format!("undefine: ${} is not defined", name.s));
            }
            i += 2;
            continue;
        }
        out.extend(substitute(&defs, t)?);
        i += 1;
    }
    Ok(out)
}

fn valid_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A token with `$NAME` replaced by the tokens of its definition.
fn substitute(defs: &HashMap<String, Vec<Tok>>, t: &Tok) -> R<Vec<Tok>> {
    if t.k != K::W || !t.s.contains('$') {
        return Ok(vec![t.clone()]);
    }
    let Some(at) = t.s.find('$') else {
        return Ok(vec![t.clone()]);
    };
    let (pre, rest) = (&t.s[..at], &t.s[at + 1..]);
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let (name, post) = (&rest[..end], &rest[end..]);
    let Some(val) = defs.get(name) else {
        return err(t, format!("${name} is not defined"));
    };
    let placed = |v: &Tok| Tok {
        line: t.line,
        col: t.col,
        ..v.clone()
    };
    if pre.is_empty() && post.is_empty() {
        return Ok(val.iter().map(placed).collect());
    }
    match val.as_slice() {
        [one] if one.k == K::W => Ok(vec![Tok {
            s: format!("{pre}{}{post}", one.s),
            ..placed(one)
        }]),
        _ => err(
            t,
            format!(
                "${name} is not a single word and cannot be part of {:?}",
                t.s
            ),
        ),
    }
}

/// How a value of a type is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VTy {
    Addr,
    Addr6,
    Ifname,
    Int,
    Sym(NftSym),
    Flags(NftSym),
    /// Any word (a type the model does not read: dscp, user names, ...).
    Other,
}

fn set_type(s: &str) -> Option<VTy> {
    Some(match s {
        "ipv4_addr" => VTy::Addr,
        "ipv6_addr" => VTy::Addr6,
        "ifname" => VTy::Ifname,
        "inet_service" | "mark" | "integer" | "ifindex" | "iface_index" | "realm" | "classid"
        | "cgroupsv2" => VTy::Int,
        "inet_proto" => VTy::Sym(NftSym::Proto),
        "nf_proto" => VTy::Sym(NftSym::Nfproto),
        "ether_type" => VTy::Sym(NftSym::EtherType),
        "ct_state" => VTy::Flags(NftSym::CtState),
        "ct_status" => VTy::Flags(NftSym::CtStatus),
        "ct_dir" => VTy::Sym(NftSym::CtDir),
        "tcp_flag" => VTy::Flags(NftSym::TcpFlags),
        "icmp_type" => VTy::Sym(NftSym::IcmpType),
        "fib_addrtype" => VTy::Sym(NftSym::FibType),
        "ether_addr" | "icmpv6_type" | "icmp_code" | "icmpv6_code" | "icmpx_code" | "dscp"
        | "ecn" | "boolean" | "time" | "day" | "hour" | "string" | "pkt_type" | "uid" | "gid"
        | "ct_label" | "iface_type" | "devgroup" => VTy::Other,
        _ => return None,
    })
}

/// A protocol's header fields: (name, type).
fn payload_field(proto: &str, field: &str) -> Option<VTy> {
    use VTy::*;
    Some(match (proto, field) {
        ("ip", "saddr" | "daddr") => Addr,
        ("ip", "protocol") => Sym(NftSym::Proto),
        ("ip", "ttl" | "length" | "id" | "version" | "hdrlength" | "frag-off" | "checksum") => Int,
        ("ip", "dscp" | "ecn") => Other,
        ("ip6", "saddr" | "daddr") => Addr6,
        ("ip6", "nexthdr") => Sym(NftSym::Proto),
        ("ip6", "hoplimit" | "length" | "flowlabel" | "version") => Int,
        ("ip6", "dscp" | "ecn") => Other,
        ("tcp", "flags") => Flags(NftSym::TcpFlags),
        (
            "tcp",
            "sport" | "dport" | "sequence" | "ackseq" | "window" | "checksum" | "urgptr" | "doff",
        ) => Int,
        ("udp" | "udplite", "sport" | "dport" | "length" | "checksum") => Int,
        ("th", "sport" | "dport") => Int,
        ("sctp", "sport" | "dport" | "vtag" | "checksum") => Int,
        ("icmp", "type") => Sym(NftSym::IcmpType),
        ("icmp", "code") => Other,
        ("icmp", "id" | "sequence" | "mtu" | "gateway" | "checksum") => Int,
        ("icmpv6", "type" | "code") => Other,
        ("icmpv6", "id" | "sequence" | "mtu" | "checksum") => Int,
        ("ether", "saddr" | "daddr") => Other,
        ("ether", "type") => Sym(NftSym::EtherType),
        _ => return None,
    })
}

const PROTOS: [&str; 10] = [
    "ip", "ip6", "tcp", "udp", "udplite", "th", "sctp", "icmp", "icmpv6", "ether",
];

fn meta_key(k: &str) -> Option<VTy> {
    use VTy::*;
    Some(match k {
        "iifname" | "oifname" | "ibrname" | "obrname" | "sdifname" => Ifname,
        "l4proto" => Sym(NftSym::Proto),
        "protocol" => Sym(NftSym::EtherType),
        "nfproto" => Sym(NftSym::Nfproto),
        "mark" | "length" | "cpu" | "cgroup" | "random" | "nftrace" | "secmark" => Int,
        "iif" | "oif" | "skuid" | "skgid" | "priority" | "iiftype" | "oiftype" | "pkttype"
        | "rtclassid" | "iifgroup" | "oifgroup" | "day" | "hour" | "time" | "sdif" | "ipsec"
        | "iifkind" | "oifkind" | "broute" => Other,
        _ => return None,
    })
}

/// The meta keys written without `meta`.
fn bare_meta(k: &str) -> bool {
    matches!(
        k,
        "iifname"
            | "oifname"
            | "iif"
            | "oif"
            | "mark"
            | "skuid"
            | "skgid"
            | "priority"
            | "iiftype"
            | "oiftype"
            | "pkttype"
            | "rtclassid"
            | "ibrname"
            | "obrname"
            | "cpu"
            | "iifgroup"
            | "oifgroup"
            | "cgroup"
            | "nftrace"
    )
}

fn ct_key(k: &str, dir: bool) -> Option<VTy> {
    use VTy::*;
    Some(match (k, dir) {
        ("state", false) => Flags(NftSym::CtState),
        ("status", false) => Flags(NftSym::CtStatus),
        ("direction", false) => Sym(NftSym::CtDir),
        ("mark", false) => Int,
        ("expiration" | "helper" | "label" | "event" | "secmark" | "id", false) => Other,
        ("saddr" | "daddr" | "ip saddr" | "ip daddr", true) => Addr,
        ("ip6 saddr" | "ip6 daddr", true) => Addr6,
        ("proto-src" | "proto-dst", true) => Int,
        ("l3proto", _) => Sym(NftSym::Nfproto),
        ("protocol", _) => Sym(NftSym::Proto),
        ("zone" | "bytes" | "packets" | "avgpkt", _) => Int,
        _ => return None,
    })
}

fn priority_base(family: &str, name: &str) -> Option<i64> {
    if family == "bridge" {
        return Some(match name {
            "dstnat" => -300,
            "filter" => -200,
            "out" => 100,
            "srcnat" => 300,
            _ => return None,
        });
    }
    Some(match name {
        "raw" => -300,
        "mangle" => -150,
        "dstnat" => -100,
        "filter" => 0,
        "security" => 50,
        "srcnat" => 100,
        _ => return None,
    })
}

/// `filter`, `-100`, `mangle + 10`, `filter - 5` (the words joined).
fn priority(family: &str, s: &str) -> Option<i64> {
    let end = s.find(|c: char| !c.is_ascii_lowercase()).unwrap_or(s.len());
    let (name, rest) = s.split_at(end);
    if name.is_empty() {
        return rest.parse().ok();
    }
    let base = priority_base(family, name)?;
    if rest.is_empty() {
        return Some(base);
    }
    let n = |r: &str| r.parse::<i64>().ok().filter(|_| !r.starts_with(['+', '-']));
    if let Some(r) = rest.strip_prefix('+') {
        base.checked_add(n(r)?)
    } else if let Some(r) = rest.strip_prefix('-') {
        base.checked_sub(n(r)?)
    } else {
        None
    }
}

fn number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None if s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        None => None,
    }
}

struct Set {
    name: String,
    line: usize,
    is_map: bool,
    json: Map<String, Value>,
}

struct Rule {
    line: usize,
    expr: Vec<Value>,
    comment: Option<String>,
    anon: u64,
}

struct Chain {
    name: String,
    line: usize,
    base: Option<Map<String, Value>>,
    comment: Option<String>,
    rules: Vec<Rule>,
}

struct Table {
    family: String,
    name: String,
    line: usize,
    extra: Map<String, Value>,
    chains: Vec<Chain>,
    objs: Vec<(String, String, Map<String, Value>)>,
    sets: Vec<Set>,
    /// Names used by jumps and `@name`, with where, checked at the end.
    chain_refs: Vec<(String, Tok)>,
    set_refs: Vec<(String, Tok)>,
    helper_refs: Vec<(String, Tok)>,
}

struct P {
    t: Vec<Tok>,
    i: usize,
    tables: Vec<Table>,
    /// The table being read.
    cur: usize,
    /// Anonymous sets of the rule being read.
    anon: u64,
    /// Tables (family, name) another block of the host already holds.
    taken: Vec<(String, String)>,
}

impl P {
    fn peek(&self) -> &Tok {
        &self.t[self.i.min(self.t.len() - 1)]
    }

    fn peek2(&self) -> &Tok {
        &self.t[(self.i + 1).min(self.t.len() - 1)]
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.t.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.peek().is(s) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, s: &str, after: &str) -> R<Tok> {
        let t = self.next();
        if t.is(s) {
            Ok(t)
        } else {
            err(
                &t,
                format!("`{s}` expected after {after}, not {}", t.describe()),
            )
        }
    }

    fn word(&mut self, what: &str) -> R<Tok> {
        let t = self.next();
        if t.k == K::W {
            Ok(t)
        } else {
            err(&t, format!("{what} expected, not {}", t.describe()))
        }
    }

    /// A name: a word or a quoted string.
    fn name(&mut self, what: &str) -> R<Tok> {
        let t = self.next();
        if matches!(t.k, K::W | K::S) {
            Ok(t)
        } else {
            err(&t, format!("{what} expected, not {}", t.describe()))
        }
    }

    fn string(&mut self, what: &str) -> R<String> {
        let t = self.next();
        if t.k == K::S {
            Ok(t.s)
        } else {
            err(
                &t,
                format!(
                    "a quoted string expected after {what}, not {}",
                    t.describe()
                ),
            )
        }
    }

    fn skip_nl(&mut self) {
        while self.peek().k == K::Nl {
            self.next();
        }
    }

    fn end_of_stmt(&self) -> bool {
        let t = self.peek();
        matches!(t.k, K::Nl | K::Eof) || t.is(";") || t.is("}")
    }

    fn table(&mut self) -> &mut Table {
        &mut self.tables[self.cur]
    }

    fn family(&self) -> &str {
        &self.tables[self.cur].family
    }

    fn ruleset(&mut self) -> R<()> {
        loop {
            while self.peek().k == K::Nl || self.peek().is(";") {
                self.next();
            }
            let t = self.next();
            match (t.k, t.s.as_str()) {
                (K::Eof, _) => return Ok(()),
                (K::W, "table") => self.table_block()?,
                (K::W, "flush") => {
                    let w = self.next();
                    if !w.is("ruleset") {
                        return err(
                            &w,
                            format!(
                                "flush {}: only `flush ruleset` is read (and ignored) in a host file",
                                w.s
                            ),
                        );
                    }
                    // `flush ruleset ip`: a family may follow.
                    if !self.end_of_stmt() {
                        self.word("a family")?;
                    }
                }
                (K::W, "include") => {
                    return err(&t, "include: not supported in a host file");
                }
                (K::W, w @ ("add" | "create" | "insert" | "delete" | "destroy" | "replace")) => {
                    return err(
                        &t,
                        format!(
                            "`{w}` commands are not supported: write the ruleset as `nft list ruleset` prints it (table blocks)"
                        ),
                    );
                }
                _ => {
                    return err(
                        &t,
                        format!("{} where a `table` block is expected", t.describe()),
                    );
                }
            }
        }
    }

    fn table_block(&mut self) -> R<()> {
        let mut family = "ip".to_string();
        let mut name = self.name("a table name")?;
        if name.k == K::W
            && matches!(
                name.s.as_str(),
                "ip" | "ip6" | "inet" | "arp" | "bridge" | "netdev"
            )
            && !self.peek().is("{")
        {
            family = name.s;
            name = self.name("a table name")?;
        }
        if self.taken.iter().any(|(f, n)| *f == family && *n == name.s) {
            return err(
                &name,
                format!(
                    "table {family} {} is also in `iptables` (iptables-nft keeps its rules there: write them in one place)",
                    name.s
                ),
            );
        }
        self.expect("{", &format!("table {family} {}", name.s))?;
        self.cur = match self
            .tables
            .iter()
            .position(|t| t.family == family && t.name == name.s)
        {
            Some(i) => i,
            None => {
                self.tables.push(Table {
                    family,
                    line: name.line,
                    name: name.s,
                    extra: Map::new(),
                    chains: Vec::new(),
                    objs: Vec::new(),
                    sets: Vec::new(),
                    chain_refs: Vec::new(),
                    set_refs: Vec::new(),
                    helper_refs: Vec::new(),
                });
                self.tables.len() - 1
            }
        };
        loop {
            while self.peek().k == K::Nl || self.peek().is(";") {
                self.next();
            }
            let t = self.next();
            match (t.k, t.s.as_str()) {
                (K::P, "}") => return Ok(()),
                (K::W, "chain") => self.chain_block()?,
                (K::W, "set") => self.set_block(false)?,
                (K::W, "map") => self.set_block(true)?,
                (K::W, "ct") if self.peek().is("helper") => {
                    self.next();
                    self.helper_block()?;
                }
                (K::W, "comment") => {
                    let c = self.string("comment")?;
                    self.table()
                        .extra
                        .insert("comment".into(), Value::String(c));
                }
                (K::W, "flags") => {
                    let mut flags = vec![Value::String(self.word("a table flag")?.s)];
                    while self.eat(",") {
                        flags.push(Value::String(self.word("a table flag")?.s));
                    }
                    self.table()
                        .extra
                        .insert("flags".into(), Value::Array(flags));
                }
                (K::Eof, _) => return err(&t, "`}` missing at the end of the table"),
                (K::W, w) => {
                    return err(
                        &t,
                        format!(
                            "`{w}` in a table is not supported (chain, set, map, ct helper, comment, flags are)"
                        ),
                    );
                }
                _ => return err(&t, format!("{} in a table", t.describe())),
            }
        }
    }

    fn chain_block(&mut self) -> R<()> {
        let name = self.name("a chain name")?;
        self.expect("{", &format!("chain {}", name.s))?;
        let ci = match self.table().chains.iter().position(|c| c.name == name.s) {
            Some(i) => i,
            None => {
                self.table().chains.push(Chain {
                    name: name.s.clone(),
                    line: name.line,
                    base: None,
                    comment: None,
                    rules: Vec::new(),
                });
                self.table().chains.len() - 1
            }
        };
        loop {
            while self.peek().k == K::Nl || self.peek().is(";") {
                self.next();
            }
            let t = self.peek().clone();
            if t.is("}") {
                self.next();
                return Ok(());
            }
            if t.k == K::Eof {
                return err(&t, format!("`}}` missing at the end of chain {}", name.s));
            }
            if t.is("type") {
                self.next();
                let base = self.base_chain()?;
                self.table().chains[ci].base = Some(base);
            } else if t.is("policy") {
                self.next();
                let p = self.word("a policy")?;
                if !matches!(p.s.as_str(), "accept" | "drop") {
                    return err(&p, format!("policy {}: accept or drop expected", p.s));
                }
                let c = &mut self.table().chains[ci];
                match &mut c.base {
                    Some(b) => {
                        b.insert("policy".into(), Value::String(p.s));
                    }
                    None => return err(&t, "policy in a chain without `type ... hook ...`"),
                }
            } else if t.is("comment") && self.peek2().k == K::S {
                self.next();
                let c = self.string("comment")?;
                self.table().chains[ci].comment = Some(c);
            } else {
                self.anon = 0;
                let rule = self.rule()?;
                self.table().chains[ci].rules.push(rule);
            }
        }
    }

    /// `type T hook H priority P` (after `type`).
    fn base_chain(&mut self) -> R<Map<String, Value>> {
        let ty = self.word("a chain type")?;
        if !matches!(ty.s.as_str(), "filter" | "nat" | "route") {
            return err(
                &ty,
                format!("chain type {}: filter, nat or route expected", ty.s),
            );
        }
        self.expect("hook", &format!("type {}", ty.s))?;
        let hook = self.word("a hook")?;
        if !matches!(
            hook.s.as_str(),
            "prerouting" | "input" | "forward" | "output" | "postrouting" | "ingress" | "egress"
        ) {
            return err(&hook, format!("unknown hook {}", hook.s));
        }
        let mut m = Map::new();
        m.insert("type".into(), Value::String(ty.s));
        m.insert("hook".into(), Value::String(hook.s.clone()));
        if self.eat("device") {
            let d = self.name("a device name")?;
            m.insert("dev".into(), Value::String(d.s));
        }
        let pt = self.expect("priority", &format!("hook {}", hook.s))?;
        let mut words = String::new();
        let start = self.peek().clone();
        while !self.end_of_stmt() {
            let w = self.next();
            if w.k != K::W {
                return err(&w, format!("{} in a priority", w.describe()));
            }
            words.push_str(&w.s);
        }
        if words.is_empty() {
            return err(&pt, "a priority expected after `priority`");
        }
        let fam = self.family().to_string();
        let Some(prio) = priority(&fam, &words) else {
            return err(
                &start,
                format!(
                    "bad priority {words:?} (a number, or raw, mangle, dstnat, filter, security, srcnat with an optional + or - number)"
                ),
            );
        };
        m.insert("prio".into(), json!(prio));
        m.insert("policy".into(), Value::String("accept".into()));
        Ok(m)
    }

    fn helper_block(&mut self) -> R<()> {
        let name = self.name("a ct helper name")?;
        self.expect("{", &format!("ct helper {}", name.s))?;
        let mut m = Map::new();
        loop {
            while self.peek().k == K::Nl || self.peek().is(";") {
                self.next();
            }
            let t = self.next();
            match t.s.as_str() {
                "}" if t.k == K::P => break,
                "type" if t.k == K::W => {
                    let ty = self.string("type")?;
                    self.expect("protocol", &format!("type \"{ty}\""))?;
                    let p = self.word("a protocol")?;
                    m.insert("type".into(), Value::String(ty));
                    m.insert("protocol".into(), Value::String(p.s));
                }
                "l3proto" if t.k == K::W => {
                    let p = self.word("a family")?;
                    m.insert("l3proto".into(), Value::String(p.s));
                }
                _ => return err(&t, format!("{} in ct helper {}", t.describe(), name.s)),
            }
        }
        self.table().objs.push(("ct helper".into(), name.s, m));
        Ok(())
    }

    /// `type A . B [: C . D]` of a set or map.
    fn set_types(&mut self, what: &str) -> R<Vec<(String, VTy)>> {
        let mut out = Vec::new();
        loop {
            let t = self.word(&format!("a type in {what}"))?;
            let Some(ty) = set_type(&t.s) else {
                return err(&t, format!("unknown type {} in {what}", t.s));
            };
            out.push((t.s, ty));
            if !self.eat(".") {
                return Ok(out);
            }
        }
    }

    fn set_block(&mut self, is_map: bool) -> R<()> {
        let kind = if is_map { "map" } else { "set" };
        let name = self.name(&format!("a {kind} name"))?;
        let what = format!("{kind} {}", name.s);
        self.expect("{", &what)?;
        let mut m = Map::new();
        let mut key: Option<Vec<(String, VTy)>> = None;
        let mut data: Option<Option<Vec<(String, VTy)>>> = None;
        let mut elems = Vec::new();
        loop {
            while self.peek().k == K::Nl || self.peek().is(";") {
                self.next();
            }
            let t = self.next();
            match (t.k, t.s.as_str()) {
                (K::P, "}") => break,
                (K::W, "type") => {
                    let k = self.set_types(&what)?;
                    m.insert("type".into(), type_json(&k));
                    key = Some(k);
                    if is_map {
                        self.expect(":", &format!("the key type of {what}"))?;
                        if self.eat("verdict") {
                            m.insert("map".into(), Value::String("verdict".into()));
                            data = Some(None);
                        } else {
                            let d = self.set_types(&what)?;
                            let joined: Vec<&str> = d.iter().map(|(n, _)| n.as_str()).collect();
                            m.insert("map".into(), Value::String(joined.join(" . ")));
                            data = Some(Some(d));
                        }
                    }
                }
                (K::W, "typeof") => {
                    return err(&t, format!("typeof in {what} is not supported (use type)"));
                }
                (K::W, "flags") => {
                    let mut flags = Vec::new();
                    loop {
                        let f = self.word("a set flag")?;
                        if !matches!(
                            f.s.as_str(),
                            "constant" | "interval" | "timeout" | "dynamic"
                        ) {
                            return err(&f, format!("unknown set flag {}", f.s));
                        }
                        flags.push(Value::String(f.s));
                        if !self.eat(",") {
                            break;
                        }
                    }
                    m.insert("flags".into(), Value::Array(flags));
                }
                (K::W, "auto-merge") => {
                    m.insert("auto-merge".into(), Value::Bool(true));
                }
                (K::W, "size") => {
                    let n = self.word("a size")?;
                    let Some(v) = number(&n.s) else {
                        return err(&n, format!("size {}: a number expected", n.s));
                    };
                    m.insert("size".into(), json!(v));
                }
                (K::W, "policy") => {
                    let p = self.word("a set policy")?;
                    if !matches!(p.s.as_str(), "performance" | "memory") {
                        return err(
                            &p,
                            format!("set policy {}: performance or memory expected", p.s),
                        );
                    }
                    m.insert("policy".into(), Value::String(p.s));
                }
                (K::W, "comment") => {
                    let c = self.string("comment")?;
                    m.insert("comment".into(), Value::String(c));
                }
                (K::W, "elements") => {
                    let Some(k) = &key else {
                        return err(&t, format!("elements before the type of {what}"));
                    };
                    let tys: Vec<VTy> = k.iter().map(|(_, t)| *t).collect();
                    self.expect("=", "elements")?;
                    let open = self.expect("{", "elements =")?;
                    let items = self.brace_items(&open, |p| {
                        let e = p.concat_value(&tys)?;
                        match &data {
                            None => Ok(e),
                            Some(d) => {
                                p.expect(":", "a map key")?;
                                let v = match d {
                                    None => p.verdict_value()?,
                                    Some(d) => {
                                        let dt: Vec<VTy> = d.iter().map(|(_, t)| *t).collect();
                                        p.concat_value(&dt)?
                                    }
                                };
                                Ok(json!([e, v]))
                            }
                        }
                    })?;
                    elems.extend(items);
                }
                (K::Eof, _) => return err(&t, format!("`}}` missing at the end of {what}")),
                _ => return err(&t, format!("{} in {what}", t.describe())),
            }
        }
        if key.is_none() {
            return err(&name, format!("{what} has no type"));
        }
        if !elems.is_empty() {
            m.insert("elem".into(), Value::Array(elems));
        }
        if self.table().sets.iter().any(|s| s.name == name.s) {
            return err(&name, format!("{what} is declared twice"));
        }
        self.table().sets.push(Set {
            line: name.line,
            name: name.s,
            is_map,
            json: m,
        });
        Ok(())
    }

    /// The items of `{ a, b, ... }` after its `{`, newlines allowed.
    fn brace_items(
        &mut self,
        open: &Tok,
        mut item: impl FnMut(&mut P) -> R<Value>,
    ) -> R<Vec<Value>> {
        let mut out = Vec::new();
        loop {
            self.skip_nl();
            if self.eat("}") {
                return Ok(out);
            }
            if self.peek().k == K::Eof {
                return err(open, "`}` missing for this `{`");
            }
            out.push(item(self)?);
            self.skip_nl();
            if self.eat("}") {
                return Ok(out);
            }
            let t = self.next();
            if !t.is(",") {
                return err(&t, format!("`,` or `}}` expected, not {}", t.describe()));
            }
        }
    }

    /// A verdict (a statement, or a map's data).
    fn verdict_value(&mut self) -> R<Value> {
        let t = self.word("a verdict")?;
        match t.s.as_str() {
            "accept" | "drop" | "continue" | "return" => Ok(json!({ t.s.clone(): null })),
            "jump" | "goto" => {
                let c = self.name("a chain name")?;
                self.table().chain_refs.push((c.s.clone(), c.clone()));
                Ok(json!({ t.s.clone(): {"target": c.s} }))
            }
            _ => err(
                &t,
                format!(
                    "verdict expected (accept, drop, continue, return, jump, goto), not {}",
                    t.describe()
                ),
            ),
        }
    }

    /// One value, or values joined by ` . ` for a concatenated type.
    fn concat_value(&mut self, tys: &[VTy]) -> R<Value> {
        let first = self.peek().clone();
        let mut vs = vec![self.value(tys[0])?];
        while self.peek().is(".") {
            let dot = self.next();
            if vs.len() >= tys.len() {
                return err(
                    &dot,
                    format!("more values than the {} parts of the type", tys.len()),
                );
            }
            vs.push(self.value(tys[vs.len()])?);
        }
        if vs.len() == 1 && tys.len() == 1 {
            return Ok(vs.remove(0));
        }
        if vs.len() != tys.len() {
            return err(
                &first,
                format!(
                    "{} values joined with `.` for a type of {} parts",
                    vs.len(),
                    tys.len()
                ),
            );
        }
        Ok(json!({ "concat": vs }))
    }

    /// One value of type `ty`: a number, a name, an address, a prefix, a range.
    fn value(&mut self, ty: VTy) -> R<Value> {
        let t = self.next();
        if t.k == K::S {
            return Ok(Value::String(t.s));
        }
        if t.k != K::W {
            return err(&t, format!("a value expected, not {}", t.describe()));
        }
        let s = t.s.as_str();
        if s.starts_with('@') || s == "." || s == ":" {
            return err(&t, format!("a value expected, not {}", t.describe()));
        }
        match ty {
            VTy::Ifname => Ok(Value::String(t.s)),
            VTy::Addr => addr_value(&t, s, |a| a.parse::<Ipv4Addr>().is_ok(), 32, "IPv4"),
            VTy::Addr6 => addr_value(&t, s, |a| a.parse::<Ipv6Addr>().is_ok(), 128, "IPv6"),
            VTy::Int => {
                if let Some(n) = number(s) {
                    return Ok(json!(n));
                }
                if let Some((a, b)) = s.split_once('-')
                    && let (Some(a), Some(b)) = (number(a), number(b))
                {
                    if a > b {
                        return err(&t, format!("range {s}: the first value is above the last"));
                    }
                    return Ok(json!({"range": [a, b]}));
                }
                err(&t, format!("bad value {s:?} (a number expected)"))
            }
            VTy::Sym(sym) | VTy::Flags(sym) => {
                if sym.value_of(s).is_some() {
                    return Ok(Value::String(t.s));
                }
                if let Some(n) = number(s) {
                    return Ok(json!(n));
                }
                if let Some((a, b)) = s.split_once('-')
                    && let (Some(a), Some(b)) = (number(a), number(b))
                {
                    return Ok(json!({"range": [a, b]}));
                }
                let names: Vec<&str> = sym.table().iter().map(|(n, _)| *n).collect();
                err(
                    &t,
                    format!("unknown value {s:?} (known: {})", names.join(", ")),
                )
            }
            VTy::Other => Ok(match number(s) {
                Some(n) => json!(n),
                None => Value::String(t.s),
            }),
        }
    }

    /// A key expression (`ip saddr`, `meta mark`, `ct state`, `fib ...`),
    /// with ` . ` concatenations; None when `t` does not start one.
    fn key(&mut self) -> R<(Value, Vec<VTy>)> {
        let (k, ty) = self.primary()?;
        if !self.peek().is(".") {
            return Ok((k, vec![ty]));
        }
        let mut ks = vec![k];
        let mut tys = vec![ty];
        while self.eat(".") {
            let (k, ty) = self.primary()?;
            ks.push(k);
            tys.push(ty);
        }
        Ok((json!({ "concat": ks }), tys))
    }

    fn starts_key(t: &Tok) -> bool {
        t.k == K::W
            && (PROTOS.contains(&t.s.as_str())
                || matches!(t.s.as_str(), "meta" | "ct" | "fib")
                || bare_meta(&t.s))
    }

    fn primary(&mut self) -> R<(Value, VTy)> {
        let t = self.word("an expression")?;
        let w = t.s.as_str();
        if PROTOS.contains(&w) {
            let f = self.word(&format!("a field of {w}"))?;
            let Some(ty) = payload_field(w, &f.s) else {
                return err(&f, format!("{w} {} is not supported", f.s));
            };
            return Ok((json!({"payload": {"protocol": w, "field": f.s}}), ty));
        }
        if w == "meta" || bare_meta(w) {
            let k = if w == "meta" {
                self.word("a meta key")?
            } else {
                t.clone()
            };
            let Some(ty) = meta_key(&k.s) else {
                return err(&k, format!("meta {} is not supported", k.s));
            };
            return Ok((json!({"meta": {"key": k.s}}), ty));
        }
        if w == "ct" {
            let mut k = self.word("a ct key")?;
            let mut dir = None;
            if matches!(k.s.as_str(), "original" | "reply") {
                dir = Some(k.s.clone());
                k = self.word("a ct key")?;
                if matches!(k.s.as_str(), "ip" | "ip6") {
                    let f = self.word("saddr or daddr")?;
                    k.s = format!("{} {}", k.s, f.s);
                }
            }
            let Some(ty) = ct_key(&k.s, dir.is_some()) else {
                let d = dir.map(|d| format!("{d} ")).unwrap_or_default();
                return err(&k, format!("ct {d}{} is not supported", k.s));
            };
            let mut m = Map::new();
            m.insert("key".into(), Value::String(k.s));
            if let Some(d) = dir {
                m.insert("dir".into(), Value::String(d));
            }
            return Ok((json!({ "ct": m }), ty));
        }
        if w == "fib" {
            let mut flags = Vec::new();
            loop {
                let f = self.word("a fib flag (saddr, daddr, mark, iif, oif)")?;
                if !matches!(f.s.as_str(), "saddr" | "daddr" | "mark" | "iif" | "oif") {
                    return err(
                        &f,
                        format!("fib {}: saddr, daddr, mark, iif or oif expected", f.s),
                    );
                }
                flags.push(Value::String(f.s));
                if !self.eat(".") {
                    break;
                }
            }
            let r = self.word("a fib result (oif, oifname, type)")?;
            let ty = match r.s.as_str() {
                "oif" => VTy::Other,
                "oifname" => VTy::Ifname,
                "type" => VTy::Sym(NftSym::FibType),
                _ => {
                    return err(
                        &r,
                        format!("fib result {}: oif, oifname or type expected", r.s),
                    );
                }
            };
            return Ok((json!({"fib": {"result": r.s, "flags": flags}}), ty));
        }
        err(&t, format!("unknown expression or statement {w:?}"))
    }

    /// `@name`, recorded to be checked.
    fn set_ref(&mut self, t: &Tok) -> Value {
        let name = t.s.trim_start_matches('@').to_string();
        self.table().set_refs.push((name, t.clone()));
        Value::String(t.s.clone())
    }

    /// What follows a key in a match: `@set`, `{ ... }`, flags, a value.
    fn rhs(&mut self, tys: &[VTy], is_fib: bool) -> R<(Value, bool)> {
        let t = self.peek().clone();
        if t.k == K::W && t.s.starts_with('@') && t.s.len() > 1 {
            self.next();
            return Ok((self.set_ref(&t), false));
        }
        if t.is("{") {
            self.next();
            self.anon += 1;
            let items = self.brace_items(&t, |p| p.concat_value(tys))?;
            if items.is_empty() {
                return err(&t, "an empty set");
            }
            return Ok((json!({ "set": items }), false));
        }
        if is_fib && (t.is("missing") || t.is("exists")) {
            self.next();
            return Ok((Value::Bool(t.s == "exists"), false));
        }
        if matches!(t.k, K::Nl | K::Eof) || t.is(";") || t.is("}") {
            return err(&t, format!("a value expected, not {}", t.describe()));
        }
        if tys.len() == 1
            && let VTy::Flags(_) = tys[0]
        {
            return Ok((self.flag_list(tys[0])?, true));
        }
        Ok((self.concat_value(tys)?, false))
    }

    /// Flags: one, a list `a,b` (an array) or `a | b` (`{"|": [...]}`).
    fn flag_list(&mut self, ty: VTy) -> R<Value> {
        let mut vs = vec![self.value(ty)?];
        let mut or = false;
        loop {
            if self.eat(",") {
            } else if self.eat("|") {
                or = true;
            } else {
                break;
            }
            vs.push(self.value(ty)?);
        }
        Ok(match (vs.len(), or) {
            (1, _) => vs.remove(0),
            (_, false) => Value::Array(vs),
            (_, true) => json!({ "|": vs }),
        })
    }

    fn rule(&mut self) -> R<Rule> {
        let line = self.peek().line;
        let mut expr = Vec::new();
        let mut comment = None;
        while !self.end_of_stmt() {
            let t = self.peek().clone();
            if t.is("comment") {
                self.next();
                comment = Some(self.string("comment")?);
                if !self.end_of_stmt() {
                    let n = self.peek().clone();
                    return err(
                        &n,
                        format!("{} after the comment (it ends the rule)", n.describe()),
                    );
                }
                break;
            }
            expr.push(self.statement()?);
        }
        if expr.is_empty() {
            let t = self.peek().clone();
            return err(&t, "an empty rule");
        }
        Ok(Rule {
            line,
            expr,
            comment,
            anon: self.anon,
        })
    }

    fn statement(&mut self) -> R<Value> {
        let t = self.peek().clone();
        if t.k != K::W {
            return err(&t, format!("a statement expected, not {}", t.describe()));
        }
        match t.s.as_str() {
            "accept" | "drop" | "continue" | "return" | "jump" | "goto" => self.verdict_value(),
            "counter" => {
                self.next();
                let (mut packets, mut bytes) = (0, 0);
                if self.eat("packets") {
                    packets = self.num("packets")?;
                    self.expect("bytes", "counter packets N")?;
                    bytes = self.num("bytes")?;
                } else if self.peek().is("name") {
                    return err(self.peek(), "named counters are not supported");
                }
                Ok(json!({"counter": {"packets": packets, "bytes": bytes}}))
            }
            "notrack" => {
                self.next();
                Ok(json!({"notrack": null}))
            }
            "log" => {
                self.next();
                let mut m = Map::new();
                loop {
                    if self.eat("prefix") {
                        m.insert("prefix".into(), Value::String(self.string("prefix")?));
                    } else if self.eat("level") {
                        let l = self.word("a log level")?;
                        if !matches!(
                            l.s.as_str(),
                            "emerg"
                                | "alert"
                                | "crit"
                                | "err"
                                | "warn"
                                | "notice"
                                | "info"
                                | "debug"
                                | "audit"
                        ) {
                            return err(&l, format!("unknown log level {}", l.s));
                        }
                        // `warn` is the default, which nft does not print.
                        if l.s != "warn" {
                            m.insert("level".into(), Value::String(l.s));
                        }
                    } else if self.eat("group") {
                        let g = self.num("group")?;
                        m.insert("group".into(), json!(g));
                    } else {
                        break;
                    }
                }
                Ok(json!({ "log": if m.is_empty() { Value::Null } else { Value::Object(m) } }))
            }
            "limit" => self.limit(),
            "quota" => {
                self.next();
                let inv = self.eat("over");
                if !inv {
                    self.eat("until");
                }
                let n = self.num("quota")?;
                let u = self.word("a unit (bytes, kbytes, mbytes)")?;
                if !matches!(u.s.as_str(), "bytes" | "kbytes" | "mbytes") {
                    return err(
                        &u,
                        format!("quota unit {}: bytes, kbytes or mbytes expected", u.s),
                    );
                }
                let mut m = Map::new();
                m.insert("val".into(), json!(n));
                m.insert("val_unit".into(), Value::String(u.s));
                if inv {
                    m.insert("inv".into(), Value::Bool(true));
                }
                Ok(json!({ "quota": m }))
            }
            "masquerade" | "redirect" => self.nat(),
            "snat" | "dnat" => self.nat(),
            "reject" => self.reject(),
            _ if Self::starts_key(&t) => self.key_statement(),
            w => err(&t, format!("unknown statement or expression {w:?}")),
        }
    }

    fn num(&mut self, what: &str) -> R<u64> {
        let t = self.word(&format!("a number after {what}"))?;
        number(&t.s).map_or_else(|| err(&t, format!("{what} {}: a number expected", t.s)), Ok)
    }

    /// `limit rate [over] N/UNIT [burst N packets]`, or with byte units.
    fn limit(&mut self) -> R<Value> {
        self.next();
        self.expect("rate", "limit")?;
        let inv = self.eat("over");
        let t = self.word("a rate")?;
        let mut m = Map::new();
        let per_of = |p: &Tok, per: &str| -> R<String> {
            if matches!(per, "second" | "minute" | "hour" | "day" | "week") {
                Ok(per.to_string())
            } else {
                err(
                    p,
                    format!("limit per {per}: second, minute, hour, day or week expected"),
                )
            }
        };
        let (rate, per, unit) = if let Some((n, per)) = t.s.split_once('/') {
            let Some(n) = number(n) else {
                return err(&t, format!("limit rate {}: N/UNIT expected", t.s));
            };
            (n, per_of(&t, per)?, None)
        } else {
            let Some(n) = number(&t.s) else {
                return err(&t, format!("limit rate {}: a number expected", t.s));
            };
            let u = self.word("a unit (10/second, or 1 mbytes/second)")?;
            let Some((unit, per)) = u.s.split_once('/') else {
                return err(&u, format!("limit rate {n} {}: UNIT/PERIOD expected", u.s));
            };
            if !matches!(unit, "bytes" | "kbytes" | "mbytes") {
                return err(
                    &u,
                    format!("limit unit {unit}: bytes, kbytes or mbytes expected"),
                );
            }
            (n, per_of(&u, per)?, Some(unit.to_string()))
        };
        m.insert("rate".into(), json!(rate));
        let mut burst = if unit.is_some() { 0 } else { 5 };
        let mut burst_unit = None;
        if self.eat("burst") {
            burst = self.num("burst")?;
            let u = self.word("packets or a byte unit after burst N")?;
            match (unit.is_some(), u.s.as_str()) {
                (false, "packets") => {}
                (true, "bytes" | "kbytes" | "mbytes") => burst_unit = Some(u.s),
                _ => {
                    return err(
                        &u,
                        format!(
                            "burst unit {}: {} expected",
                            u.s,
                            if unit.is_some() {
                                "bytes, kbytes or mbytes"
                            } else {
                                "packets"
                            }
                        ),
                    );
                }
            }
        }
        m.insert("burst".into(), json!(burst));
        m.insert("per".into(), Value::String(per));
        if let Some(u) = unit {
            m.insert("rate_unit".into(), Value::String(u));
            m.insert(
                "burst_unit".into(),
                Value::String(burst_unit.unwrap_or_else(|| "bytes".into())),
            );
        }
        if inv {
            m.insert("inv".into(), Value::Bool(true));
        }
        Ok(json!({ "limit": m }))
    }

    fn reject(&mut self) -> R<Value> {
        self.next();
        if !self.eat("with") {
            let ty = match self.family() {
                "inet" | "bridge" | "netdev" => "icmpx",
                "ip6" => "icmpv6",
                _ => "icmp",
            };
            return Ok(json!({"reject": {"type": ty, "expr": "port-unreachable"}}));
        }
        let w = self.word("icmp, icmpx, icmpv6 or tcp after reject with")?;
        match w.s.as_str() {
            "tcp" => {
                self.expect("reset", "reject with tcp")?;
                Ok(json!({"reject": {"type": "tcp reset"}}))
            }
            "icmp" | "icmpx" | "icmpv6" => {
                self.eat("type");
                let c = self.word(&format!("a code after reject with {}", w.s))?;
                let known: &[&str] = match w.s.as_str() {
                    "icmp" => &[
                        "net-unreachable",
                        "host-unreachable",
                        "prot-unreachable",
                        "port-unreachable",
                        "net-prohibited",
                        "host-prohibited",
                        "admin-prohibited",
                        "frag-needed",
                    ],
                    "icmpx" => &[
                        "no-route",
                        "port-unreachable",
                        "host-unreachable",
                        "admin-prohibited",
                    ],
                    _ => &[
                        "no-route",
                        "admin-prohibited",
                        "addr-unreachable",
                        "port-unreachable",
                        "policy-fail",
                        "reject-route",
                    ],
                };
                if !known.contains(&c.s.as_str()) {
                    return err(
                        &c,
                        format!(
                            "reject with {} {}: unknown code (known: {})",
                            w.s,
                            c.s,
                            known.join(", ")
                        ),
                    );
                }
                Ok(json!({"reject": {"type": w.s, "expr": c.s}}))
            }
            _ => err(
                &w,
                format!(
                    "reject with {}: icmp, icmpx, icmpv6 or tcp reset expected",
                    w.s
                ),
            ),
        }
    }

    /// snat, dnat, masquerade, redirect.
    fn nat(&mut self) -> R<Value> {
        let kind = self.next();
        let mut m = Map::new();
        let k = kind.s.as_str();
        if matches!(k, "snat" | "dnat") && (self.peek().is("ip") || self.peek().is("ip6")) {
            m.insert("family".into(), Value::String(self.next().s));
        }
        if self.eat("to") {
            let t = self.peek().clone();
            if t.k == K::W && (t.s.starts_with(':') || (k == "redirect" && number(&t.s).is_some()))
            {
                if k != "masquerade" && k != "redirect" {
                    return err(&t, format!("{k} to :PORT needs an address"));
                }
                self.next();
                let p = t.s.trim_start_matches(':');
                m.insert("port".into(), port_value(&t, p)?);
            } else if k == "masquerade" || k == "redirect" {
                return err(&t, format!("{k} to :PORT expected, not {}", t.describe()));
            } else if Self::starts_key(&t) {
                let (key, tys) = self.key()?;
                let mt = self.expect("map", "the key of a nat map")?;
                let data = self.peek().clone();
                let d = if data.k == K::W && data.s.starts_with('@') {
                    self.next();
                    self.set_ref(&data)
                } else if data.is("{") {
                    self.next();
                    self.anon += 1;
                    let items = self.brace_items(&data, |p| {
                        let e = p.concat_value(&tys)?;
                        p.expect(":", "a map key")?;
                        let a = p.value(VTy::Addr)?;
                        if p.eat(".") {
                            let port = p.value(VTy::Int)?;
                            Ok(json!([e, {"concat": [a, port]}]))
                        } else {
                            Ok(json!([e, a]))
                        }
                    })?;
                    json!({ "set": items })
                } else {
                    return err(&mt, "@name or { ... } expected after map");
                };
                m.insert("addr".into(), json!({"map": {"key": key, "data": d}}));
            } else {
                let t = self.word("an address")?;
                // ADDR, ADDR:PORT, ADDR-ADDR:PORT-PORT, PREFIX:PORT.
                let (a, p) = match t.s.split_once(':') {
                    Some((a, p)) => (a, Some(p)),
                    None => (t.s.as_str(), None),
                };
                let fam6 = m.get("family").and_then(|f| f.as_str()) == Some("ip6");
                if fam6 {
                    return err(&t, format!("{k} ip6: IPv6 addresses are not supported"));
                }
                m.insert(
                    "addr".into(),
                    addr_value(&t, a, |x| x.parse::<Ipv4Addr>().is_ok(), 32, "IPv4")?,
                );
                if let Some(p) = p {
                    m.insert("port".into(), port_value(&t, p)?);
                }
            }
        } else if matches!(k, "snat" | "dnat") {
            let t = self.peek().clone();
            return err(&t, format!("`to` expected after {k}, not {}", t.describe()));
        }
        // `dnat ip to ADDR` in an ip table: nft drops the family it implies
        // (not before a map).
        if m.get("family").and_then(|f| f.as_str()) == Some(self.family())
            && m.get("addr").is_none_or(|a| a.get("map").is_none())
        {
            m.remove("family");
        }
        let mut flags = Vec::new();
        while self.peek().k == K::W
            && matches!(
                self.peek().s.as_str(),
                "random" | "fully-random" | "persistent"
            )
        {
            flags.push(Value::String(self.next().s));
            if !self.eat(",") {
                break;
            }
        }
        match flags.len() {
            0 => {}
            1 => {
                m.insert("flags".into(), flags.remove(0));
            }
            _ => {
                m.insert("flags".into(), Value::Array(flags));
            }
        }
        Ok(json!({ kind.s.clone(): if m.is_empty() { Value::Null } else { Value::Object(m) } }))
    }

    /// A statement starting with a key: a match, `KEY set VALUE`, `KEY vmap ...`.
    fn key_statement(&mut self) -> R<Value> {
        let start = self.peek().clone();
        let (key, tys) = self.key()?;
        if self.peek().is("set") {
            let st = self.next();
            if tys.len() != 1 {
                return err(&st, "set of a concatenation");
            }
            let is_helper = key.pointer("/ct/key").and_then(|k| k.as_str()) == Some("helper");
            if is_helper {
                let n = self.string("ct helper set")?;
                self.table().helper_refs.push((n.clone(), st.clone()));
                return Ok(json!({"ct helper": n}));
            }
            let v = if Self::starts_key(self.peek()) {
                self.primary()?.0
            } else {
                self.value(tys[0])?
            };
            return Ok(json!({"mangle": {"key": key, "value": v}}));
        }
        if self.peek().is("vmap") {
            self.next();
            let t = self.peek().clone();
            let data = if t.k == K::W && t.s.starts_with('@') {
                self.next();
                self.set_ref(&t)
            } else if t.is("{") {
                self.next();
                self.anon += 1;
                let items = self.brace_items(&t, |p| {
                    let e = p.concat_value(&tys)?;
                    p.expect(":", "a map key")?;
                    let v = p.verdict_value()?;
                    Ok(json!([e, v]))
                })?;
                json!({ "set": items })
            } else {
                return err(
                    &t,
                    format!(
                        "@name or {{ ... }} expected after vmap, not {}",
                        t.describe()
                    ),
                );
            };
            return Ok(json!({"vmap": {"key": key, "data": data}}));
        }
        // `tcp flags & (syn | ack) == syn`: the same as `syn / syn,ack`.
        let mut mask = None;
        if self.peek().is("&") {
            let amp = self.next();
            let ty = match tys.as_slice() {
                [t @ VTy::Flags(_)] => *t,
                _ => {
                    return err(
                        &amp,
                        "`&` is only supported on flags (tcp flags, ct state, ct status)",
                    );
                }
            };
            let paren = self.eat("(");
            let m = self.flag_list(ty)?;
            if paren {
                self.expect(")", "the flags of `&`")?;
            }
            mask = Some(match m {
                Value::Object(mut o) if o.contains_key("|") => o.remove("|").unwrap_or_default(),
                m => m,
            });
        }
        let op_tok = self.peek().clone();
        let op = match op_tok.s.as_str() {
            "==" | "!=" | "<" | ">" | "<=" | ">=" if op_tok.k == K::P => {
                self.next();
                Some(op_tok.s.clone())
            }
            "eq" | "ne" | "lt" | "gt" | "le" | "ge" if op_tok.k == K::W => {
                self.next();
                Some(
                    match op_tok.s.as_str() {
                        "eq" => "==",
                        "ne" => "!=",
                        "lt" => "<",
                        "gt" => ">",
                        "le" => "<=",
                        _ => ">=",
                    }
                    .to_string(),
                )
            }
            _ => None,
        };
        let is_fib = key.get("fib").is_some();
        if matches!(self.peek().k, K::Nl | K::Eof) || self.peek().is(";") || self.peek().is("}") {
            let desc = self.peek().describe();
            return err(
                &start,
                format!("a value expected after the expression, not {desc}"),
            );
        }
        let (mut right, flags) = self.rhs(&tys, is_fib)?;
        let mut left = key;
        let mut op_s = op.clone().unwrap_or_else(|| "==".into());
        if flags && op.is_none() && mask.is_none() {
            op_s = "in".into();
        }
        if flags
            && op.is_some()
            && let Value::Array(a) = &right
            && a.len() > 1
        {
            // `ct state != established,related` is printed `... | related`.
            right = json!({ "|": a });
        }
        if let Some(m) = mask {
            left = json!({"&": [left, m]});
        }
        if flags && self.peek().is("/") {
            // `tcp flags syn / syn,ack`: (flags & mask) == value.
            self.next();
            let (mask, _) = self.rhs(&tys, false)?;
            left = json!({"&": [left, mask]});
            if op.is_none() {
                op_s = "==".into();
            }
        }
        if let Value::Array(a) = &right
            && a.len() == 1
        {
            right = a[0].clone();
        }
        Ok(json!({"match": {"op": op_s, "left": left, "right": right}}))
    }
}

fn type_json(k: &[(String, VTy)]) -> Value {
    if k.len() == 1 {
        Value::String(k[0].0.clone())
    } else {
        Value::Array(k.iter().map(|(n, _)| Value::String(n.clone())).collect())
    }
}

/// An address, `ADDR/LEN` or `ADDR-ADDR`.
fn addr_value(t: &Tok, s: &str, ok: impl Fn(&str) -> bool, max: u32, v: &str) -> R<Value> {
    if ok(s) {
        return Ok(Value::String(s.to_string()));
    }
    if let Some((a, l)) = s.split_once('/') {
        let len = l.parse::<u32>().ok().filter(|&l| l <= max);
        return match (ok(a), len) {
            (true, Some(len)) => Ok(json!({"prefix": {"addr": a, "len": len}})),
            (false, _) => err(t, format!("bad {v} address {a:?}")),
            (true, None) => err(t, format!("bad prefix length {l:?} (0 to {max})")),
        };
    }
    if let Some((a, b)) = s.split_once('-')
        && ok(a)
        && ok(b)
    {
        return Ok(json!({"range": [a, b]}));
    }
    err(t, format!("bad {v} address {s:?}"))
}

/// `PORT` or `PORT-PORT`.
fn port_value(t: &Tok, p: &str) -> R<Value> {
    let port = |x: &str| number(x).filter(|&n| n <= 65535);
    if let Some(n) = port(p) {
        return Ok(json!(n));
    }
    if let Some((a, b)) = p.split_once('-')
        && let (Some(a), Some(b)) = (port(a), port(b))
        && a <= b
    {
        return Ok(json!({"range": [a, b]}));
    }
    err(
        t,
        format!("bad port {p:?} (a number or a range up to 65535)"),
    )
}

/// Checks that every jump, `@name` and helper names something of its table.
fn check_refs(tables: &[Table]) -> R<()> {
    for t in tables {
        for (n, at) in &t.chain_refs {
            if !t.chains.iter().any(|c| &c.name == n) {
                return err(
                    at,
                    format!("no chain {n:?} in table {} {}", t.family, t.name),
                );
            }
        }
        for (n, at) in &t.set_refs {
            if !t.sets.iter().any(|s| &s.name == n) {
                return err(
                    at,
                    format!("no set or map {n:?} in table {} {}", t.family, t.name),
                );
            }
        }
        for (n, at) in &t.helper_refs {
            if !t.objs.iter().any(|(k, o, _)| k == "ct helper" && o == n) {
                return err(
                    at,
                    format!("no ct helper {n:?} in table {} {}", t.family, t.name),
                );
            }
        }
    }
    Ok(())
}

/// The `nft -j list ruleset` document of the tables, with handles; and
/// where each chain, set and rule is, by the words the loader's notes
/// name it with (`table ip t chain c rule handle 4:`).
fn to_json(tables: Vec<Table>) -> (Value, Vec<(String, usize)>) {
    let mut lines = Vec::new();
    let mut items = vec![
        json!({"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}),
    ];
    for (ti, t) in tables.into_iter().enumerate() {
        let (fam, tn) = (t.family.clone(), t.name.clone());
        let mut tm = Map::new();
        tm.insert("family".into(), Value::String(fam.clone()));
        tm.insert("name".into(), Value::String(tn.clone()));
        tm.insert("handle".into(), json!(ti + 1));
        tm.extend(t.extra);
        items.push(json!({ "table": tm }));
        lines.push((format!("table {fam} {tn}:"), t.line));
        let mut h: u64 = 0;
        let mut chains = Vec::new();
        for c in &t.chains {
            h += 1;
            lines.push((format!("table {fam} {tn} chain {}:", c.name), c.line));
            let mut m = Map::new();
            m.insert("family".into(), Value::String(fam.clone()));
            m.insert("table".into(), Value::String(tn.clone()));
            m.insert("name".into(), Value::String(c.name.clone()));
            m.insert("handle".into(), json!(h));
            if let Some(cm) = &c.comment {
                m.insert("comment".into(), Value::String(cm.clone()));
            }
            if let Some(b) = &c.base {
                m.extend(b.clone());
            }
            chains.push(json!({ "chain": m }));
        }
        for (kind, name, body) in t.objs {
            h += 1;
            let mut m = Map::new();
            m.insert("family".into(), Value::String(fam.clone()));
            m.insert("name".into(), Value::String(name));
            m.insert("table".into(), Value::String(tn.clone()));
            m.insert("handle".into(), json!(h));
            m.extend(body);
            items.push(json!({ kind: m }));
        }
        for s in t.sets {
            h += 1;
            let kind = if s.is_map { "map" } else { "set" };
            lines.push((format!("table {fam} {tn} {kind} {}:", s.name), s.line));
            let mut m = Map::new();
            m.insert("family".into(), Value::String(fam.clone()));
            m.insert("name".into(), Value::String(s.name));
            m.insert("table".into(), Value::String(tn.clone()));
            m.insert("handle".into(), json!(h));
            m.extend(s.json);
            items.push(json!({ if s.is_map { "map" } else { "set" }: m }));
        }
        items.extend(chains);
        for c in t.chains {
            for r in c.rules {
                h += r.anon + 1;
                lines.push((
                    format!("table {fam} {tn} chain {} rule handle {h}:", c.name),
                    r.line,
                ));
                let mut m = Map::new();
                m.insert("family".into(), Value::String(fam.clone()));
                m.insert("table".into(), Value::String(tn.clone()));
                m.insert("chain".into(), Value::String(c.name.clone()));
                m.insert("handle".into(), json!(h));
                if let Some(cm) = r.comment {
                    m.insert("comment".into(), Value::String(cm));
                }
                m.insert("expr".into(), Value::Array(r.expr));
                items.push(json!({ "rule": m }));
            }
        }
    }
    (json!({ "nftables": items }), lines)
}

/// The `nft -j list ruleset` JSON of a ruleset in nft syntax read from
/// `file`, whose first line is line `first_line` of the file.
pub fn nft_text_to_json(text: &str, file: &Path, first_line: usize) -> Result<Value, HostError> {
    to_json_checked(text, file, first_line, &[]).map(|(v, _)| v)
}

fn to_json_checked(
    text: &str,
    file: &Path,
    first_line: usize,
    taken: &[(String, String)],
) -> Result<(Value, Vec<(String, usize)>), HostError> {
    let run = || -> R<(Value, Vec<(String, usize)>)> {
        let toks = expand(tokenize(text, first_line)?)?;
        let mut p = P {
            t: toks,
            i: 0,
            tables: Vec::new(),
            cur: 0,
            anon: 0,
            taken: taken.to_vec(),
        };
        p.ruleset()?;
        check_refs(&p.tables)?;
        Ok(to_json(p.tables))
    };
    run().map_err(|e| HostError::Netfilter {
        file: file.to_path_buf(),
        line: e.line,
        column: e.col,
        msg: e.msg,
    })
}

/// Loads a ruleset in nft syntax into the model's tables (through
/// [`crate::nft_json::load_nft_json`]), with the loader's notes about what
/// is not modelled. A table of `taken` (family, name: the tables the
/// host's iptables text holds) is an error.
pub fn load_nft_text(
    text: &str,
    file: &Path,
    first_line: usize,
    taken: &[(String, String)],
) -> Result<(Vec<NftTable>, Vec<String>), HostError> {
    let (v, lines) = to_json_checked(text, file, first_line, taken)?;
    let (tables, notes) = crate::nft_json::load_nft_json(file, &v.to_string(), &[])?;
    // The loader names a rule by its handle: give the line it is on, as
    // the notes of the iptables text do (`FILE:LINE: ...`).
    let f = format!("{}: ", file.display());
    let notes = notes
        .into_iter()
        .map(|n| {
            let Some(rest) = n.strip_prefix(&f) else {
                return n;
            };
            match lines
                .iter()
                .find(|(what, _)| rest.starts_with(what.as_str()))
            {
                Some((_, line)) => format!("{}:{line}: {rest}", file.display()),
                None => n,
            }
        })
        .collect();
    Ok((tables, notes))
}

#[cfg(test)]
mod tests;
