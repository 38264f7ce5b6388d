//! Reads `iptables-save` (and `iptables-save -c`, and the `iptables-restore`
//! input a person writes) into the model's tables: `*table`, `:CHAIN POLICY
//! [p:b]`, `[p:b] -A CHAIN ...` rules, `COMMIT`. Rules are read option by
//! option as iptables parses its command line: `!` before an option (or
//! after it, the old way), header options, `-m` modules whose options may
//! share names (an option belongs to the latest module that has it), and the
//! target's options. What the model does not have loads as
//! `Unsupported` with a warning; what iptables-restore would refuse is an
//! error `FILE:LINE:COL: what`.

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;

use fwdsim_kernel::netfilter::xtables::ip_tables::{
    ConntrackMatch, IfaceMatch, IptChain, IptEntry, IptIp, IptTable, LengthMatch, LimitMatch,
    NatRange, PhysdevMatch, Policy, PortRange, RejectWith, RuleOrigin, SetMatch, TableName, TtlOp,
    XMark, XtBackend, XtCounters, XtMatch, XtTarget, addrtype, ctstate, tcpflag,
};
use fwdsim_kernel::netfilter::xtables::xt_limit::XT_LIMIT_SCALE;
use ipnet::Ipv4Net;

use super::NfLoad;
use super::tokens::{Tok, tokenize};
use crate::error::HostError;
use crate::names::{ipproto_a2n, strtoul};

/// An error at a line and column of `file`.
pub(crate) fn nf_err(file: &Path, line: usize, col: usize, msg: impl Into<String>) -> HostError {
    HostError::Netfilter {
        file: file.to_path_buf(),
        line,
        column: col,
        msg: msg.into(),
    }
}

/// The names `iptables` knows as targets (extensions), so that `-j NAME`
/// of any other name is a jump to a user chain, which must exist.
const KNOWN_TARGETS: &[&str] = &[
    "ACCEPT",
    "DROP",
    "RETURN",
    "QUEUE",
    "AUDIT",
    "CHECKSUM",
    "CLASSIFY",
    "CLUSTERIP",
    "CONNMARK",
    "CONNSECMARK",
    "CT",
    "DNAT",
    "DSCP",
    "ECN",
    "HL",
    "HMARK",
    "IDLETIMER",
    "LED",
    "LOG",
    "MARK",
    "MASQUERADE",
    "NETMAP",
    "NFLOG",
    "NFQUEUE",
    "NOTRACK",
    "RATEEST",
    "REDIRECT",
    "REJECT",
    "SECMARK",
    "SET",
    "SNAT",
    "SYNPROXY",
    "TCPMSS",
    "TCPOPTSTRIP",
    "TEE",
    "TOS",
    "TPROXY",
    "TRACE",
    "TTL",
    "ULOG",
];

/// The options of a target and how many words each takes.
fn target_opt(target: &str, opt: &str) -> Option<usize> {
    Some(match (target, opt) {
        ("REJECT", "--reject-with") => 1,
        ("LOG", "--log-prefix" | "--log-level") => 1,
        (
            "LOG",
            "--log-tcp-sequence" | "--log-tcp-options" | "--log-ip-options" | "--log-uid"
            | "--log-macdecode",
        ) => 0,
        (
            "NFLOG",
            "--nflog-group" | "--nflog-prefix" | "--nflog-range" | "--nflog-size"
            | "--nflog-threshold",
        ) => 1,
        ("MARK", "--set-mark" | "--set-xmark" | "--and-mark" | "--or-mark" | "--xor-mark") => 1,
        (
            "CONNMARK",
            "--set-mark" | "--set-xmark" | "--and-mark" | "--or-mark" | "--xor-mark" | "--nfmask"
            | "--ctmask" | "--mask",
        ) => 1,
        ("CONNMARK", "--save-mark" | "--restore-mark") => 0,
        ("MASQUERADE" | "REDIRECT", "--to-ports") => 1,
        ("MASQUERADE" | "REDIRECT", "--random") => 0,
        ("MASQUERADE", "--random-fully") => 0,
        ("SNAT", "--to-source") => 1,
        ("SNAT", "--random" | "--random-fully" | "--persistent") => 0,
        ("DNAT", "--to-destination") => 1,
        ("DNAT", "--random" | "--persistent") => 0,
        ("CT", "--notrack") => 0,
        (
            "CT",
            "--zone" | "--zone-orig" | "--zone-reply" | "--helper" | "--ctevents" | "--expevents"
            | "--timeout",
        ) => 1,
        _ => return None,
    })
}

/// The options of a modelled match module and how many words each takes.
fn match_opt(module: &str, opt: &str) -> Option<usize> {
    Some(match (module, opt) {
        ("tcp" | "udp", "--sport" | "--source-port" | "--dport" | "--destination-port") => 1,
        ("tcp", "--tcp-flags") => 2,
        ("tcp", "--syn") => 0,
        ("icmp", "--icmp-type") => 1,
        (
            "multiport",
            "--sports" | "--source-ports" | "--dports" | "--destination-ports" | "--ports",
        ) => 1,
        (
            "conntrack",
            "--ctstate" | "--ctstatus" | "--ctdir" | "--ctorigsrc" | "--ctorigdst" | "--ctreplsrc"
            | "--ctrepldst" | "--ctorigdstport" | "--ctproto",
        ) => 1,
        ("state", "--state") => 1,
        ("addrtype", "--src-type" | "--dst-type") => 1,
        ("addrtype", "--limit-iface-in" | "--limit-iface-out") => 0,
        ("set", "--match-set" | "--set") => 2,
        ("comment", "--comment") => 1,
        ("mark" | "connmark", "--mark") => 1,
        ("iprange", "--src-range" | "--dst-range") => 1,
        ("length", "--length") => 1,
        ("ttl", "--ttl-eq" | "--ttl-lt" | "--ttl-gt") => 1,
        ("limit", "--limit" | "--limit-burst") => 1,
        ("physdev", "--physdev-in" | "--physdev-out") => 1,
        ("physdev", "--physdev-is-in" | "--physdev-is-out" | "--physdev-is-bridged") => 0,
        ("rpfilter", "--loose" | "--validmark" | "--accept-local" | "--invert") => 0,
        _ => return None,
    })
}

/// A match being read: its module name and what was read so far.
struct Module {
    name: String,
    m: XtMatch,
    /// One of its options was given.
    seen: bool,
}

/// The target being read.
struct TargetB {
    name: String,
    goto: bool,
    tok: Tok,
    opts: Vec<(String, Vec<Tok>, bool, usize)>,
    /// Options of an unmodelled target, kept only to be skipped.
    unknown: bool,
}

/// A jump to resolve once the table is read.
struct Pending {
    chain: usize,
    rule: usize,
    name: String,
    goto: bool,
    line: usize,
    col: usize,
}

/// The table being read.
struct Cur {
    table: IptTable,
    line: usize,
    pending: Vec<Pending>,
}

/// Per-line context for errors and warnings.
struct At<'a> {
    file: &'a Path,
    line: usize,
}

impl At<'_> {
    fn err(&self, col: usize, msg: impl Into<String>) -> HostError {
        nf_err(self.file, self.line, col, msg)
    }
}

/// The backend a `# Generated by` line names: iptables-nft says
/// `(nf_tables)` (or is `iptables-nft-save`); iptables-legacy 1.8 says
/// `(legacy)` or nothing, as iptables before 1.8 did.
fn header_backend(line: &str) -> XtBackend {
    if line.contains("(nf_tables)") || line.contains("iptables-nft-save") {
        XtBackend::Nft
    } else {
        XtBackend::Legacy
    }
}

fn builtin_chains(t: TableName) -> Vec<&'static str> {
    t.hooks().iter().map(|h| h.chain_name()).collect()
}

impl NfLoad {
    /// Reads `text` (an `iptables-save` file, or an `iptables-restore` block
    /// whose first line is line `first_line` of `file`) and appends its
    /// tables. `tag` names the file in the tables and rules (`iptables.txt`);
    /// `backend` is used until a `# Generated by ... (nf_tables)` or
    /// `(legacy)` header says otherwise. Sets must be loaded first: `-m set`
    /// is resolved against them.
    pub fn load_iptables(
        &mut self,
        text: &str,
        file: &Path,
        tag: &str,
        mut backend: XtBackend,
        first_line: usize,
    ) -> Result<(), HostError> {
        let tag: Arc<str> = Arc::from(tag);
        let mut cur: Option<Cur> = None;
        for (i, raw) in text.lines().enumerate() {
            let at = At {
                file,
                line: first_line + i,
            };
            let line = raw.trim_end_matches('\r');
            let trimmed = line.trim_start();
            if trimmed.is_empty() {
                continue;
            }
            let indent = line.len() - trimmed.len();
            let col0 = line[..indent].chars().count() + 1;
            if trimmed.starts_with('#') {
                if trimmed.starts_with("# Generated by") {
                    backend = header_backend(trimmed);
                } else if trimmed.starts_with("# Warning: iptables-legacy tables present") {
                    self.legacy_tables_present = true;
                }
                continue;
            }
            if let Some(name) = trimmed.strip_prefix('*') {
                if let Some(c) = &cur {
                    return Err(at.err(
                        col0,
                        format!(
                            "*{name}: table {} (line {}) has no COMMIT before it",
                            c.table.name.name(),
                            c.line
                        ),
                    ));
                }
                let name = name.trim();
                let Some(t) = TableName::from_name(name) else {
                    return Err(at.err(
                        col0 + 1,
                        format!(
                            "unknown table {name:?} (allowed: raw, mangle, nat, filter, security)"
                        ),
                    ));
                };
                if self
                    .tables
                    .iter()
                    .any(|x| x.name == t && x.file == tag && x.backend == backend)
                {
                    return Err(at.err(col0, format!("table {name} is given twice")));
                }
                cur = Some(Cur {
                    table: IptTable {
                        name: t,
                        backend,
                        file: tag.clone(),
                        chains: Vec::new(),
                    },
                    line: at.line,
                    pending: Vec::new(),
                });
                continue;
            }
            if trimmed == "COMMIT" {
                let Some(c) = cur.take() else {
                    return Err(at.err(col0, "COMMIT outside a table (no *TABLE line before it)"));
                };
                let t = resolve(c, file)?;
                self.tables.push(t);
                continue;
            }
            let toks = tokenize(line).map_err(|u| {
                at.err(
                    u.col,
                    "unterminated quote (a quoted word must end on its line)",
                )
            })?;
            let Some(c) = cur.as_mut() else {
                return Err(at.err(
                    col0,
                    "rule or chain outside a table (no *TABLE line before it)",
                ));
            };
            if trimmed.starts_with(':') {
                chain_line(&at, &toks, c)?;
            } else {
                self.rule_line(&at, line, &toks, c, &tag)?;
            }
        }
        if let Some(c) = cur {
            return Err(nf_err(
                file,
                c.line,
                1,
                format!(
                    "table {} is not committed (no COMMIT line before the end)",
                    c.table.name.name()
                ),
            ));
        }
        Ok(())
    }

    fn rule_line(
        &mut self,
        at: &At<'_>,
        line: &str,
        toks: &[Tok],
        cur: &mut Cur,
        tag: &Arc<str>,
    ) -> Result<(), HostError> {
        let mut i = 0;
        let mut saved = XtCounters::default();
        if toks[0].text.starts_with('[') {
            saved = counters(at, &toks[0])?;
            i = 1;
        }
        let Some(cmd) = toks.get(i) else {
            return Err(at.err(toks[0].col, "counters without a rule"));
        };
        if cmd.text != "-A" && cmd.text != "--append" {
            return Err(at.err(
                cmd.col,
                format!(
                    "{:?}: only -A CHAIN rules, :CHAIN lines and COMMIT are read",
                    cmd.text
                ),
            ));
        }
        let text_start = cmd.start;
        let Some(chain_tok) = toks.get(i + 1) else {
            return Err(at.err(cmd.col, "-A without a chain name"));
        };
        let chain = match cur.table.chain_index(&chain_tok.text) {
            Some(c) => c,
            None if builtin_chains(cur.table.name).contains(&chain_tok.text.as_str()) => {
                // iptables-restore creates a missing built-in chain.
                cur.table.chains.push(IptChain {
                    name: chain_tok.text.clone(),
                    policy: Some(Policy::Accept),
                    rules: Vec::new(),
                    saved: XtCounters::default(),
                    counters: XtCounters::default(),
                    line: at.line as u32,
                    hooked: true,
                });
                cur.table.chains.len() - 1
            }
            None => {
                return Err(at.err(
                    chain_tok.col,
                    format!(
                        "chain {:?} does not exist in table {} (declare it with a :{} - [0:0] line first)",
                        chain_tok.text,
                        cur.table.name.name(),
                        chain_tok.text
                    ),
                ));
            }
        };
        i += 2;

        let mut ip = IptIp::default();
        let mut mods: Vec<Module> = Vec::new();
        let mut target: Option<TargetB> = None;
        let mut reasons: Vec<String> = Vec::new();
        let mut cut: Vec<(usize, usize)> = Vec::new();
        let mut inv = false;
        let mut inv_col = 0;
        while i < toks.len() {
            let t = &toks[i];
            if t.text == "!" {
                if inv {
                    return Err(at.err(t.col, "two ! in a row"));
                }
                inv = true;
                inv_col = t.col;
                i += 1;
                continue;
            }
            let opt = t.text.as_str();
            i += 1;
            let header = matches!(
                opt,
                "-s" | "--source"
                    | "--src"
                    | "-d"
                    | "--destination"
                    | "--dst"
                    | "-i"
                    | "--in-interface"
                    | "-o"
                    | "--out-interface"
                    | "-p"
                    | "--protocol"
                    | "-m"
                    | "--match"
                    | "-j"
                    | "--jump"
                    | "-g"
                    | "--goto"
                    | "-c"
                    | "--set-counters"
            );
            if header {
                let (v, vinv) = value(at, toks, &mut i, t)?;
                let neg = inv || vinv;
                let no_neg = |what: &str| -> Result<(), HostError> {
                    if neg {
                        Err(at.err(
                            if inv { inv_col } else { t.col },
                            format!("! cannot go with {what}"),
                        ))
                    } else {
                        Ok(())
                    }
                };
                match opt {
                    "-s" | "--source" | "--src" => {
                        once(at, t, ip.src.is_some())?;
                        ip.src = Some((net(at, v, opt)?, neg));
                    }
                    "-d" | "--destination" | "--dst" => {
                        once(at, t, ip.dst.is_some())?;
                        ip.dst = Some((net(at, v, opt)?, neg));
                    }
                    "-i" | "--in-interface" => {
                        once(at, t, ip.iniface.is_some())?;
                        ip.iniface = Some(iface(at, v, neg)?);
                    }
                    "-o" | "--out-interface" => {
                        once(at, t, ip.outiface.is_some())?;
                        ip.outiface = Some(iface(at, v, neg)?);
                    }
                    "-p" | "--protocol" => {
                        once(at, t, ip.proto.is_some())?;
                        ip.proto = Some((proto(at, v)?, neg));
                    }
                    "-m" | "--match" => {
                        no_neg("-m")?;
                        let m = self.new_match(&v.text);
                        if let XtMatch::Unsupported { name } = &m {
                            reasons.push(format!("-m {name}"));
                        }
                        mods.push(Module {
                            name: v.text.clone(),
                            m,
                            seen: false,
                        });
                    }
                    "-j" | "--jump" | "-g" | "--goto" => {
                        no_neg(opt)?;
                        if target.is_some() {
                            return Err(at.err(t.col, "a rule has one target (-j or -g)"));
                        }
                        let goto = opt == "-g" || opt == "--goto";
                        let known = KNOWN_TARGETS.contains(&v.text.as_str());
                        if goto && known {
                            return Err(
                                at.err(v.col, format!("-g {}: -g takes a user chain", v.text))
                            );
                        }
                        target = Some(TargetB {
                            name: v.text.clone(),
                            goto,
                            tok: v.clone(),
                            opts: Vec::new(),
                            unknown: known && !modelled_target(&v.text),
                        });
                    }
                    _ => {
                        // -c PKTS BYTES
                        no_neg("-c")?;
                        let Some(b) = toks.get(i) else {
                            return Err(at.err(t.col, "-c takes packets and bytes"));
                        };
                        i += 1;
                        saved = XtCounters {
                            pcnt: number(at, v, "packet counter")?,
                            bcnt: number(at, b, "byte counter")?,
                        };
                        let end = toks.get(i).map_or(line.len(), |n| n.start);
                        cut.push((t.start, end));
                    }
                }
                inv = false;
                continue;
            }
            if opt == "-f" || opt == "--fragment" {
                once(at, t, ip.frag.is_some())?;
                ip.frag = Some(!inv);
                inv = false;
                continue;
            }
            if !opt.starts_with('-') || opt == "-" {
                return Err(at.err(t.col, format!("{opt:?} is not an option")));
            }
            // The target's own options.
            if let Some(tb) = target.as_mut()
                && let Some(n) = target_opt(&tb.name, opt)
            {
                let vals = values(at, toks, &mut i, t, n)?;
                tb.opts
                    .push((opt.to_string(), vals.0, inv || vals.1, t.col));
                inv = false;
                continue;
            }
            // The latest modelled module that has the option.
            let pos = mods.iter().rposition(|m| {
                !matches!(m.m, XtMatch::Unsupported { .. }) && match_opt(&m.name, opt).is_some()
            });
            let pos = match pos {
                Some(p) => Some(p),
                None => {
                    // The implicit module of `-p tcp|udp|icmp`.
                    let implicit = match ip.proto {
                        Some((6, false)) => Some("tcp"),
                        Some((17, false)) => Some("udp"),
                        Some((1, false)) => Some("icmp"),
                        _ => None,
                    };
                    match implicit {
                        Some(name)
                            if match_opt(name, opt).is_some()
                                && !mods.iter().any(|m| m.name == name) =>
                        {
                            mods.push(Module {
                                name: name.into(),
                                m: self.new_match(name),
                                seen: false,
                            });
                            Some(mods.len() - 1)
                        }
                        _ => None,
                    }
                }
            };
            if let Some(p) = pos {
                let n = match_opt(&mods[p].name, opt).unwrap_or(0);
                let (vals, vinv) = values(at, toks, &mut i, t, n)?;
                mods[p].seen = true;
                self.apply_match(at, &mut mods[p].m, opt, t, &vals, inv || vinv, &mut reasons)?;
                inv = false;
                continue;
            }
            // Not modelled: skip the option and its words.
            while i < toks.len() && !toks[i].text.starts_with('-') && toks[i].text != "!" {
                i += 1;
            }
            inv = false;
            if let Some(tb) = target.as_mut() {
                // After -j: the target's (an unmodelled target's options are
                // skipped; an option a modelled target lacks is reported).
                let known = KNOWN_TARGETS.contains(&tb.name.as_str());
                if !tb.unknown || !known {
                    reasons.push(format!("-j {} {opt}", tb.name));
                }
                if known {
                    tb.unknown = true;
                }
                continue;
            }
            if mods
                .iter()
                .rev()
                .any(|m| matches!(m.m, XtMatch::Unsupported { .. }))
            {
                continue;
            }
            match mods.last_mut() {
                Some(m) => {
                    reasons.push(format!("-m {} {opt}", m.name));
                    m.m = XtMatch::Unsupported {
                        name: m.name.clone(),
                    };
                }
                None => {
                    reasons.push(format!("option {opt}"));
                    mods.push(Module {
                        name: opt.to_string(),
                        m: XtMatch::Unsupported {
                            name: opt.to_string(),
                        },
                        seen: true,
                    });
                }
            }
        }
        if inv {
            return Err(at.err(
                inv_col,
                "! at the end of the rule (it goes before an option)",
            ));
        }
        for m in &mods {
            check_match(at, toks, m)?;
        }

        // The rule's text without its counters.
        let mut text = String::new();
        let mut from = text_start;
        for (s, e) in &cut {
            text.push_str(&line[from..*s]);
            from = *e;
        }
        text.push_str(&line[from..]);
        let text = text.trim_end().to_string();

        let mut pending = None;
        let tgt = match target {
            None => XtTarget::None,
            Some(tb) if !KNOWN_TARGETS.contains(&tb.name.as_str()) => {
                if let Some((o, _, _, col)) = tb.opts.first() {
                    return Err(at.err(*col, format!("{o}: -j {} takes no options", tb.name)));
                }
                pending = Some((tb.name.clone(), tb.goto, tb.tok.col));
                XtTarget::None
            }
            Some(tb) => self.finish_target(at, tb, &mut reasons)?,
        };
        let unmodelled = !reasons.is_empty();
        if unmodelled {
            self.warnings.push(format!(
                "{}:{}: not modelled: {} (the packets reaching this rule are marked): {}",
                at.file.display(),
                at.line,
                reasons.join(", "),
                text
            ));
        }
        let entry = IptEntry {
            ip,
            matches: mods.into_iter().map(|m| m.m).collect(),
            target: tgt,
            origin: RuleOrigin {
                file: tag.clone(),
                line: at.line as u32,
                text: Arc::from(text.as_str()),
            },
            saved,
            counters: XtCounters::default(),
            unmodelled,
        };
        let rules = &mut cur.table.chains[chain].rules;
        rules.push(entry);
        if let Some((name, goto, col)) = pending {
            cur.pending.push(Pending {
                chain,
                rule: rules.len() - 1,
                name,
                goto,
                line: at.line,
                col,
            });
        }
        Ok(())
    }

    fn new_match(&mut self, name: &str) -> XtMatch {
        match name {
            "tcp" => XtMatch::Tcp {
                sport: None,
                dport: None,
                flags: None,
            },
            "udp" => XtMatch::Udp {
                sport: None,
                dport: None,
            },
            "icmp" => XtMatch::Icmp {
                icmp_type: 0xff,
                code: (0, 0xff),
                invert: false,
            },
            "multiport" => XtMatch::Multiport {
                flags: 3,
                ports: Vec::new(),
                invert: false,
            },
            "conntrack" => XtMatch::Conntrack(ConntrackMatch::default()),
            "state" => XtMatch::State {
                mask: 0,
                invert: false,
            },
            "addrtype" => XtMatch::Addrtype {
                src: None,
                dst: None,
                limit_iface_in: false,
                limit_iface_out: false,
            },
            "set" => XtMatch::Set(SetMatch {
                name: String::new(),
                index: None,
                dirs: Vec::new(),
                invert: false,
            }),
            "comment" => XtMatch::Comment(String::new()),
            "mark" => XtMatch::Mark {
                value: 0,
                mask: u32::MAX,
                invert: false,
            },
            "connmark" => XtMatch::Connmark {
                value: 0,
                mask: u32::MAX,
                invert: false,
            },
            "iprange" => XtMatch::Iprange {
                src: None,
                dst: None,
            },
            "length" => XtMatch::Length(LengthMatch {
                min: 0,
                max: u16::MAX,
                invert: false,
            }),
            "ttl" => XtMatch::Ttl {
                op: TtlOp::Gt,
                value: 255,
            },
            "limit" => {
                let slot = self.limits;
                self.limits += 1;
                XtMatch::Limit {
                    // iptables' default: 3/hour, burst 5.
                    spec: LimitMatch {
                        avg: (XT_LIMIT_SCALE * 3600 / 3) as u32,
                        burst: 5,
                    },
                    slot,
                }
            }
            "physdev" => XtMatch::Physdev(PhysdevMatch::default()),
            "rpfilter" => XtMatch::Rpfilter {
                loose: false,
                validmark: false,
                accept_local: false,
                invert: false,
            },
            _ => XtMatch::Unsupported { name: name.into() },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_match(
        &mut self,
        at: &At<'_>,
        m: &mut XtMatch,
        opt: &str,
        t: &Tok,
        vals: &[Tok],
        neg: bool,
        reasons: &mut Vec<String>,
    ) -> Result<(), HostError> {
        let v0 = vals.first();
        let v = || v0.expect("arity checked");
        match m {
            XtMatch::Tcp {
                sport,
                dport,
                flags,
            } => match opt {
                "--sport" | "--source-port" => *sport = Some((port_range(at, v(), ':')?, neg)),
                "--dport" | "--destination-port" => *dport = Some((port_range(at, v(), ':')?, neg)),
                "--syn" => {
                    let all = tcpflag::FIN | tcpflag::SYN | tcpflag::RST | tcpflag::ACK;
                    *flags = Some((all, tcpflag::SYN, neg));
                }
                _ => {
                    let mask = tcp_flags(at, v())?;
                    let comp = tcp_flags(at, &vals[1])?;
                    *flags = Some((mask, comp, neg));
                }
            },
            XtMatch::Udp { sport, dport } => {
                let r = Some((port_range(at, v(), ':')?, neg));
                if opt == "--sport" || opt == "--source-port" {
                    *sport = r;
                } else {
                    *dport = r;
                }
            }
            XtMatch::Icmp {
                icmp_type,
                code,
                invert,
            } => {
                let (ty, c) = icmp_type_code(at, v())?;
                *icmp_type = ty;
                *code = c;
                *invert = neg;
            }
            XtMatch::Multiport {
                flags,
                ports,
                invert,
            } => {
                *flags = match opt {
                    "--sports" | "--source-ports" => 0,
                    "--dports" | "--destination-ports" => 1,
                    _ => 2,
                };
                *invert = neg;
                ports.clear();
                let v = v();
                for part in v.text.split(',') {
                    let p = Tok {
                        text: part.to_string(),
                        ..v.clone()
                    };
                    ports.push(port_range(at, &p, ':')?);
                }
                if ports.len() > 15 {
                    return Err(at.err(v.col, "multiport takes at most 15 ports"));
                }
            }
            XtMatch::Conntrack(cm) => match opt {
                "--ctstate" => cm.state = Some((states(at, v(), true)?, neg)),
                "--ctstatus" => cm.status = Some((ctstatus(at, v())?, neg)),
                "--ctdir" => {
                    cm.dir_reply = Some(match v().text.to_ascii_uppercase().as_str() {
                        "ORIGINAL" => neg,
                        "REPLY" => !neg,
                        _ => {
                            return Err(at.err(
                                v().col,
                                format!("bad --ctdir {:?} (allowed: ORIGINAL, REPLY)", v().text),
                            ));
                        }
                    })
                }
                "--ctorigsrc" => cm.orig_src = Some((net(at, v(), opt)?, neg)),
                "--ctorigdst" => cm.orig_dst = Some((net(at, v(), opt)?, neg)),
                "--ctreplsrc" => cm.repl_src = Some((net(at, v(), opt)?, neg)),
                "--ctrepldst" => cm.repl_dst = Some((net(at, v(), opt)?, neg)),
                "--ctorigdstport" => cm.orig_dst_port = Some((port_range(at, v(), ':')?, neg)),
                _ => cm.proto = Some((proto(at, v())?, neg)),
            },
            XtMatch::State { mask, invert } => {
                *mask = states(at, v(), false)?;
                *invert = neg;
            }
            XtMatch::Addrtype {
                src,
                dst,
                limit_iface_in,
                limit_iface_out,
            } => match opt {
                "--src-type" => *src = Some((addr_types(at, v())?, neg)),
                "--dst-type" => *dst = Some((addr_types(at, v())?, neg)),
                "--limit-iface-in" => *limit_iface_in = true,
                _ => *limit_iface_out = true,
            },
            XtMatch::Set(sm) => {
                let name = v().text.clone();
                sm.dirs.clear();
                for d in vals[1].text.split(',') {
                    sm.dirs.push(match d {
                        "src" => true,
                        "dst" => false,
                        _ => {
                            return Err(at.err(
                                vals[1].col,
                                format!("bad set direction {d:?} (allowed: src, dst)"),
                            ));
                        }
                    });
                }
                if sm.dirs.is_empty() || sm.dirs.len() > 6 {
                    return Err(at.err(vals[1].col, "a set takes 1 to 6 directions"));
                }
                sm.index = self.sets.iter().position(|s| s.name == name);
                if sm.index.is_none() {
                    reasons.push(format!(
                        "-m set --match-set {name} (no such set in the ipset list)"
                    ));
                }
                sm.name = name;
                sm.invert = neg;
            }
            XtMatch::Comment(c) => {
                if neg {
                    return Err(at.err(t.col, "! cannot go with --comment"));
                }
                *c = v().text.clone();
            }
            XtMatch::Mark {
                value,
                mask,
                invert,
            }
            | XtMatch::Connmark {
                value,
                mask,
                invert,
            } => {
                let (val, msk) = mark_mask(at, v())?;
                *value = val;
                *mask = msk;
                *invert = neg;
            }
            XtMatch::Iprange { src, dst } => {
                let v = v();
                let (a, b) = match v.text.split_once('-') {
                    Some((a, b)) => (a, b),
                    None => (v.text.as_str(), v.text.as_str()),
                };
                let a = addr(at, v, a, opt)?;
                let b = addr(at, v, b, opt)?;
                let r = Some((a, b, neg));
                if opt == "--src-range" {
                    *src = r;
                } else {
                    *dst = r;
                }
            }
            XtMatch::Length(l) => {
                let r = port_range(at, v(), ':').map_err(|_| {
                    at.err(
                        v().col,
                        format!("bad --length {:?} (LEN or MIN:MAX)", v().text),
                    )
                })?;
                *l = LengthMatch {
                    min: r.min,
                    max: r.max,
                    invert: neg,
                };
            }
            XtMatch::Ttl { op, value } => {
                let n: u8 = v()
                    .text
                    .parse()
                    .map_err(|_| at.err(v().col, format!("bad TTL {:?} (0 to 255)", v().text)))?;
                *value = n;
                *op = match (opt, neg) {
                    ("--ttl-eq", false) => TtlOp::Eq,
                    ("--ttl-eq", true) => TtlOp::Ne,
                    (_, true) => return Err(at.err(t.col, format!("! cannot go with {opt}"))),
                    ("--ttl-lt", _) => TtlOp::Lt,
                    _ => TtlOp::Gt,
                };
            }
            XtMatch::Limit { spec, .. } => {
                if neg {
                    return Err(at.err(t.col, format!("! cannot go with {opt}")));
                }
                if opt == "--limit" {
                    spec.avg = limit_avg(at, v())?;
                } else {
                    spec.burst = v()
                        .text
                        .parse()
                        .ok()
                        .filter(|b| *b > 0 && *b <= 10_000)
                        .ok_or_else(|| {
                            at.err(
                                v().col,
                                format!("bad --limit-burst {:?} (1 to 10000)", v().text),
                            )
                        })?;
                }
            }
            XtMatch::Physdev(pd) => match opt {
                "--physdev-in" => pd.physindev = Some(iface(at, v(), neg)?),
                "--physdev-out" => pd.physoutdev = Some(iface(at, v(), neg)?),
                "--physdev-is-in" => pd.is_in = Some(!neg),
                "--physdev-is-out" => pd.is_out = Some(!neg),
                _ => pd.is_bridged = Some(!neg),
            },
            XtMatch::Rpfilter {
                loose,
                validmark,
                accept_local,
                invert,
            } => {
                if neg {
                    return Err(at.err(t.col, format!("! cannot go with {opt}")));
                }
                match opt {
                    "--loose" => *loose = true,
                    "--validmark" => *validmark = true,
                    "--accept-local" => *accept_local = true,
                    _ => *invert = true,
                }
            }
            XtMatch::Unsupported { .. } => {}
        }
        Ok(())
    }

    fn finish_target(
        &mut self,
        at: &At<'_>,
        tb: TargetB,
        reasons: &mut Vec<String>,
    ) -> Result<XtTarget, HostError> {
        if tb.unknown {
            if !reasons
                .iter()
                .any(|r| r.starts_with(&format!("-j {}", tb.name)))
            {
                let extra = if tb.name == "CT" {
                    tb.opts
                        .iter()
                        .map(|o| format!(" {}", o.0))
                        .collect::<String>()
                } else {
                    String::new()
                };
                reasons.push(format!("-j {}{extra}", tb.name));
            }
            return Ok(XtTarget::Unsupported { name: tb.name });
        }
        let opt = |name: &str| tb.opts.iter().rev().find(|o| o.0 == name);
        let has = |name: &str| opt(name).is_some();
        for (o, _, neg, col) in &tb.opts {
            if *neg {
                return Err(at.err(*col, format!("! cannot go with {o}")));
            }
        }
        let first = |name: &str| opt(name).map(|o| &o.1[0]);
        Ok(match tb.name.as_str() {
            "ACCEPT" => XtTarget::Accept,
            "DROP" => XtTarget::Drop,
            "RETURN" => XtTarget::Return,
            "NOTRACK" => XtTarget::Notrack,
            "CT" => {
                if tb.opts.iter().all(|o| o.0 == "--notrack") && has("--notrack") {
                    XtTarget::Notrack
                } else {
                    let names: Vec<&str> = tb.opts.iter().map(|o| o.0.as_str()).collect();
                    reasons.push(format!("-j CT {}", names.join(" ")).trim_end().to_string());
                    XtTarget::Unsupported { name: "CT".into() }
                }
            }
            "REJECT" => match first("--reject-with") {
                None => XtTarget::Reject(RejectWith::default()),
                Some(v) => XtTarget::Reject(reject_with(at, v)?),
            },
            "LOG" => {
                if let Some(v) = first("--log-level") {
                    log_level(at, v)?;
                }
                XtTarget::Log {
                    prefix: first("--log-prefix").map_or(String::new(), |v| v.text.clone()),
                }
            }
            "NFLOG" => XtTarget::Nflog {
                group: match first("--nflog-group") {
                    None => 0,
                    Some(v) => v.text.parse().map_err(|_| {
                        at.err(
                            v.col,
                            format!("bad --nflog-group {:?} (0 to 65535)", v.text),
                        )
                    })?,
                },
                prefix: first("--nflog-prefix").map_or(String::new(), |v| v.text.clone()),
            },
            "MARK" => {
                let mut x = None;
                for (o, vals, _, _) in &tb.opts {
                    x = Some(xmark(at, o, &vals[0])?);
                }
                let Some(x) = x else {
                    return Err(at.err(
                        tb.tok.col,
                        "-j MARK needs --set-xmark, --set-mark, --and-mark, --or-mark or --xor-mark",
                    ));
                };
                XtTarget::Mark(x)
            }
            "CONNMARK" => {
                let mask = |name: &str| -> Result<Option<u32>, HostError> {
                    first(name).map(|v| mark_value(at, v)).transpose()
                };
                let m = mask("--mask")?;
                let nfmask = mask("--nfmask")?.or(m).unwrap_or(u32::MAX);
                let ctmask = mask("--ctmask")?.or(m).unwrap_or(u32::MAX);
                if has("--save-mark") {
                    XtTarget::ConnmarkSave { nfmask, ctmask }
                } else if has("--restore-mark") {
                    XtTarget::ConnmarkRestore { nfmask, ctmask }
                } else {
                    let mut x = None;
                    for (o, vals, _, _) in &tb.opts {
                        if !matches!(o.as_str(), "--mask" | "--nfmask" | "--ctmask") {
                            x = Some(xmark(at, o, &vals[0])?);
                        }
                    }
                    match x {
                        Some(x) => XtTarget::ConnmarkSet(x),
                        None => {
                            return Err(at.err(
                                tb.tok.col,
                                "-j CONNMARK needs --set-xmark, --set-mark, --save-mark or --restore-mark",
                            ));
                        }
                    }
                }
            }
            "MASQUERADE" | "REDIRECT" => {
                let mut r = NatRange {
                    random: has("--random"),
                    random_fully: has("--random-fully"),
                    ..NatRange::default()
                };
                if let Some(v) = first("--to-ports") {
                    r.ports = Some(nat_ports(at, v, &v.text)?);
                }
                if tb.name == "MASQUERADE" {
                    XtTarget::Masquerade(r)
                } else {
                    XtTarget::Redirect(r)
                }
            }
            "SNAT" | "DNAT" => {
                let key = if tb.name == "SNAT" {
                    "--to-source"
                } else {
                    "--to-destination"
                };
                let tos: Vec<_> = tb.opts.iter().filter(|o| o.0 == key).collect();
                if tos.len() > 1 {
                    reasons.push(format!("-j {} with several {key}", tb.name));
                    return Ok(XtTarget::Unsupported { name: tb.name });
                }
                let mut r = match tos.first() {
                    Some(o) => nat_range(at, &o.1[0])?,
                    None if tb.name == "SNAT" => {
                        return Err(at.err(tb.tok.col, "-j SNAT needs --to-source"));
                    }
                    None => NatRange::default(),
                };
                r.random = has("--random");
                r.random_fully = has("--random-fully");
                r.persistent = has("--persistent");
                if tb.name == "SNAT" {
                    XtTarget::Snat(r)
                } else {
                    XtTarget::Dnat(r)
                }
            }
            other => {
                reasons.push(format!("-j {other}"));
                XtTarget::Unsupported { name: tb.name }
            }
        })
    }
}

/// Targets `finish_target` models (the others load as `Unsupported`).
fn modelled_target(name: &str) -> bool {
    matches!(
        name,
        "ACCEPT"
            | "DROP"
            | "RETURN"
            | "NOTRACK"
            | "CT"
            | "REJECT"
            | "LOG"
            | "NFLOG"
            | "MARK"
            | "CONNMARK"
            | "MASQUERADE"
            | "REDIRECT"
            | "SNAT"
            | "DNAT"
    )
}

/// Options a module cannot do without (what iptables would refuse).
fn check_match(at: &At<'_>, toks: &[Tok], m: &Module) -> Result<(), HostError> {
    if m.seen {
        return Ok(());
    }
    let need = match &m.m {
        XtMatch::Set(_) => "--match-set NAME DIRS",
        XtMatch::State { .. } => "--state",
        XtMatch::Multiport { .. } => "--sports, --dports or --ports",
        XtMatch::Iprange { .. } => "--src-range or --dst-range",
        XtMatch::Ttl { .. } => "--ttl-eq, --ttl-lt or --ttl-gt",
        XtMatch::Mark { .. } | XtMatch::Connmark { .. } => "--mark",
        XtMatch::Comment(_) => "--comment",
        XtMatch::Length(_) => "--length",
        XtMatch::Addrtype { .. } => "--src-type or --dst-type",
        XtMatch::Conntrack(_) => "an option such as --ctstate",
        XtMatch::Physdev(_) => "an option such as --physdev-in",
        _ => return Ok(()),
    };
    let col = toks
        .iter()
        .position(|t| t.text == m.name)
        .map_or(1, |p| toks[p].col);
    Err(at.err(col, format!("-m {} needs {need}", m.name)))
}

fn resolve(mut c: Cur, file: &Path) -> Result<IptTable, HostError> {
    let builtins = builtin_chains(c.table.name);
    for p in c.pending {
        let Some(idx) = c.table.chain_index(&p.name) else {
            return Err(nf_err(
                file,
                p.line,
                p.col,
                format!(
                    "{} {:?}: no such chain in table {} and no such target",
                    if p.goto { "-g" } else { "-j" },
                    p.name,
                    c.table.name.name()
                ),
            ));
        };
        if builtins.contains(&p.name.as_str()) {
            return Err(nf_err(
                file,
                p.line,
                p.col,
                format!("cannot jump to built-in chain {}", p.name),
            ));
        }
        c.table.chains[p.chain].rules[p.rule].target = if p.goto {
            XtTarget::Goto(idx)
        } else {
            XtTarget::Jump(idx)
        };
    }
    Ok(c.table)
}

fn chain_line(at: &At<'_>, toks: &[Tok], c: &mut Cur) -> Result<(), HostError> {
    let name_tok = &toks[0];
    let name = name_tok.text.strip_prefix(':').unwrap_or("");
    if name.is_empty() {
        return Err(at.err(name_tok.col, "a chain line is :NAME POLICY [PACKETS:BYTES]"));
    }
    if name.len() > 28 {
        return Err(at.err(
            name_tok.col + 1,
            format!("chain name {name:?} is longer than 28 characters"),
        ));
    }
    let Some(pol) = toks.get(1) else {
        return Err(at.err(
            name_tok.col,
            format!(":{name} has no policy (ACCEPT, DROP, or - for a user chain)"),
        ));
    };
    let builtin = builtin_chains(c.table.name).contains(&name);
    let policy = match (pol.text.as_str(), builtin) {
        ("-", false) => None,
        ("-", true) | ("ACCEPT", true) => Some(Policy::Accept),
        ("DROP", true) => Some(Policy::Drop),
        (_, false) => {
            return Err(at.err(
                pol.col,
                format!(
                    "user chain {name} takes the policy - (only built-in chains of table {} have one)",
                    c.table.name.name()
                ),
            ));
        }
        (p, true) => {
            return Err(at.err(pol.col, format!("bad policy {p:?} (allowed: ACCEPT, DROP)")));
        }
    };
    let saved = match toks.get(2) {
        Some(t) => counters(at, t)?,
        None => XtCounters::default(),
    };
    if let Some(t) = toks.get(3) {
        return Err(at.err(t.col, format!("unexpected {:?} after the counters", t.text)));
    }
    if c.table.chain_index(name).is_some() {
        return Err(at.err(name_tok.col, format!("chain {name} is declared twice")));
    }
    c.table.chains.push(IptChain {
        name: name.to_string(),
        policy,
        rules: Vec::new(),
        saved,
        counters: XtCounters::default(),
        line: at.line as u32,
        hooked: true,
    });
    Ok(())
}

fn counters(at: &At<'_>, t: &Tok) -> Result<XtCounters, HostError> {
    let bad = || {
        at.err(
            t.col,
            format!("bad counters {:?} (expected [PACKETS:BYTES])", t.text),
        )
    };
    let inner = t
        .text
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(bad)?;
    let (p, b) = inner.split_once(':').ok_or_else(bad)?;
    Ok(XtCounters {
        pcnt: p.parse().map_err(|_| bad())?,
        bcnt: b.parse().map_err(|_| bad())?,
    })
}

fn number(at: &At<'_>, t: &Tok, what: &str) -> Result<u64, HostError> {
    t.text
        .parse()
        .map_err(|_| at.err(t.col, format!("bad {what} {:?}", t.text)))
}

fn once(at: &At<'_>, t: &Tok, given: bool) -> Result<(), HostError> {
    if given {
        Err(at.err(t.col, format!("{} is given twice", t.text)))
    } else {
        Ok(())
    }
}

/// The word after option `t`, with an old-style `!` before it.
fn value<'a>(
    at: &At<'_>,
    toks: &'a [Tok],
    i: &mut usize,
    t: &Tok,
) -> Result<(&'a Tok, bool), HostError> {
    let mut neg = false;
    if toks.get(*i).is_some_and(|x| x.text == "!") {
        neg = true;
        *i += 1;
    }
    let Some(v) = toks.get(*i) else {
        return Err(at.err(t.col, format!("{} needs a value", t.text)));
    };
    *i += 1;
    Ok((v, neg))
}

/// `n` words after option `t`.
fn values(
    at: &At<'_>,
    toks: &[Tok],
    i: &mut usize,
    t: &Tok,
    n: usize,
) -> Result<(Vec<Tok>, bool), HostError> {
    if n == 0 {
        return Ok((Vec::new(), false));
    }
    let (first, neg) = value(at, toks, i, t)?;
    let mut v = vec![first.clone()];
    for _ in 1..n {
        let Some(x) = toks.get(*i) else {
            return Err(at.err(t.col, format!("{} needs {n} values", t.text)));
        };
        v.push(x.clone());
        *i += 1;
    }
    Ok((v, neg))
}

fn addr(at: &At<'_>, t: &Tok, s: &str, what: &str) -> Result<Ipv4Addr, HostError> {
    s.parse()
        .map_err(|_| at.err(t.col, format!("bad address {s:?} for {what}")))
}

/// `A.B.C.D`, `A.B.C.D/LEN` or `A.B.C.D/MASK`.
fn net(at: &At<'_>, t: &Tok, what: &str) -> Result<Ipv4Net, HostError> {
    let s = t.text.as_str();
    let (a, m) = match s.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (s, None),
    };
    if a.contains(',') {
        return Err(at.err(
            t.col,
            format!("{s:?}: several addresses in one {what} are not read (iptables-save writes one rule per address)"),
        ));
    }
    let ip = addr(at, t, a, what)?;
    let len = match m {
        None => 32,
        Some(m) if !m.contains('.') => m
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= 32)
            .ok_or_else(|| at.err(t.col, format!("bad prefix length in {s:?} for {what}")))?,
        Some(m) => {
            let mask: Ipv4Addr = m
                .parse()
                .map_err(|_| at.err(t.col, format!("bad mask in {s:?} for {what}")))?;
            let bits = u32::from(mask);
            if bits.leading_ones() + bits.trailing_zeros() != 32 {
                return Err(at.err(
                    t.col,
                    format!("mask {m} in {s:?} is not contiguous (not modelled)"),
                ));
            }
            bits.leading_ones() as u8
        }
    };
    Ok(Ipv4Net::new(ip, len).expect("length checked").trunc())
}

fn iface(at: &At<'_>, t: &Tok, neg: bool) -> Result<IfaceMatch, HostError> {
    let s = t.text.as_str();
    let (name, wildcard) = match s.strip_suffix('+') {
        Some(n) => (n, true),
        None => (s, false),
    };
    if s.is_empty() || s.len() > 15 {
        return Err(at.err(
            t.col,
            format!("bad interface name {s:?} (1 to 15 characters, + at the end for a prefix)"),
        ));
    }
    Ok(IfaceMatch {
        name: name.to_string(),
        wildcard,
        invert: neg,
    })
}

fn proto(at: &At<'_>, t: &Tok) -> Result<u8, HostError> {
    let s = t.text.to_ascii_lowercase();
    Ok(match s.as_str() {
        "all" => 0,
        "udplite" => 136,
        "icmpv6" => 58,
        "mh" | "ipv6-mh" => 135,
        _ => ipproto_a2n(&s).ok_or_else(|| {
            at.err(
                t.col,
                format!(
                    "unknown protocol {:?} (a name such as tcp, udp, icmp, all, or a number)",
                    t.text
                ),
            )
        })?,
    })
}

fn service(s: &str) -> Option<u16> {
    Some(match s {
        "ftp" => 21,
        "ssh" => 22,
        "telnet" => 23,
        "smtp" => 25,
        "domain" => 53,
        "bootps" => 67,
        "bootpc" => 68,
        "http" | "www" => 80,
        "ntp" => 123,
        "https" => 443,
        _ => return None,
    })
}

fn port(s: &str) -> Option<u16> {
    s.parse().ok().or_else(|| service(s))
}

/// `P`, `A:B`, `:B` or `A:` (with `sep` between the ends).
fn port_range(at: &At<'_>, t: &Tok, sep: char) -> Result<PortRange, HostError> {
    let s = t.text.as_str();
    let bad = || {
        at.err(
            t.col,
            format!("bad port or range {s:?} (P, A{sep}B, {sep}B or A{sep})"),
        )
    };
    let (a, b) = match s.split_once(sep) {
        Some((a, b)) => (
            if a.is_empty() { Some(0) } else { port(a) },
            if b.is_empty() {
                Some(u16::MAX)
            } else {
                port(b)
            },
        ),
        None => (port(s), port(s)),
    };
    let (min, max) = (a.ok_or_else(bad)?, b.ok_or_else(bad)?);
    if min > max {
        return Err(at.err(t.col, format!("range {s:?} ends before it starts")));
    }
    Ok(PortRange { min, max })
}

fn tcp_flags(at: &At<'_>, t: &Tok) -> Result<u8, HostError> {
    let mut bits = 0;
    for f in t.text.split(',') {
        bits |= match f.to_ascii_uppercase().as_str() {
            "FIN" => tcpflag::FIN,
            "SYN" => tcpflag::SYN,
            "RST" => tcpflag::RST,
            "PSH" => tcpflag::PSH,
            "ACK" => tcpflag::ACK,
            "URG" => tcpflag::URG,
            "ALL" => 0x3f,
            "NONE" => 0,
            _ => {
                return Err(at.err(
                    t.col,
                    format!("unknown TCP flag {f:?} (FIN, SYN, RST, PSH, ACK, URG, ALL, NONE)"),
                ));
            }
        };
    }
    Ok(bits)
}

/// The ICMP type names iptables accepts, with their code range.
const ICMP_TYPES: &[(&str, u8, u8, u8)] = &[
    ("any", 0xff, 0, 0xff),
    ("echo-reply", 0, 0, 0xff),
    ("pong", 0, 0, 0xff),
    ("destination-unreachable", 3, 0, 0xff),
    ("network-unreachable", 3, 0, 0),
    ("host-unreachable", 3, 1, 1),
    ("protocol-unreachable", 3, 2, 2),
    ("port-unreachable", 3, 3, 3),
    ("fragmentation-needed", 3, 4, 4),
    ("source-route-failed", 3, 5, 5),
    ("network-unknown", 3, 6, 6),
    ("host-unknown", 3, 7, 7),
    ("network-prohibited", 3, 9, 9),
    ("host-prohibited", 3, 10, 10),
    ("TOS-network-unreachable", 3, 11, 11),
    ("TOS-host-unreachable", 3, 12, 12),
    ("communication-prohibited", 3, 13, 13),
    ("host-precedence-violation", 3, 14, 14),
    ("precedence-cutoff", 3, 15, 15),
    ("source-quench", 4, 0, 0xff),
    ("redirect", 5, 0, 0xff),
    ("network-redirect", 5, 0, 0),
    ("host-redirect", 5, 1, 1),
    ("TOS-network-redirect", 5, 2, 2),
    ("TOS-host-redirect", 5, 3, 3),
    ("echo-request", 8, 0, 0xff),
    ("ping", 8, 0, 0xff),
    ("router-advertisement", 9, 0, 0xff),
    ("router-solicitation", 10, 0, 0xff),
    ("time-exceeded", 11, 0, 0xff),
    ("ttl-exceeded", 11, 0, 0xff),
    ("ttl-zero-during-transit", 11, 0, 0),
    ("ttl-zero-during-reassembly", 11, 1, 1),
    ("parameter-problem", 12, 0, 0xff),
    ("ip-header-bad", 12, 0, 0),
    ("required-option-missing", 12, 1, 1),
    ("timestamp-request", 13, 0, 0xff),
    ("timestamp-reply", 14, 0, 0xff),
    ("address-mask-request", 17, 0, 0xff),
    ("address-mask-reply", 18, 0, 0xff),
];

fn icmp_type_code(at: &At<'_>, t: &Tok) -> Result<(u8, (u8, u8)), HostError> {
    let s = t.text.as_str();
    if let Some(&(_, ty, lo, hi)) = ICMP_TYPES.iter().find(|e| e.0.eq_ignore_ascii_case(s)) {
        return Ok((ty, (lo, hi)));
    }
    let bad = || {
        at.err(
            t.col,
            format!("unknown ICMP type {s:?} (a name such as echo-request, TYPE or TYPE/CODE)"),
        )
    };
    match s.split_once('/') {
        Some((a, b)) => {
            let c = b.parse().map_err(|_| bad())?;
            Ok((a.parse().map_err(|_| bad())?, (c, c)))
        }
        None => Ok((s.parse().map_err(|_| bad())?, (0, 0xff))),
    }
}

fn states(at: &At<'_>, t: &Tok, ct: bool) -> Result<u8, HostError> {
    let mut bits = 0;
    for s in t.text.split(',') {
        bits |= match s.to_ascii_uppercase().as_str() {
            "INVALID" => ctstate::INVALID,
            "ESTABLISHED" => ctstate::ESTABLISHED,
            "RELATED" => ctstate::RELATED,
            "NEW" => ctstate::NEW,
            "UNTRACKED" => ctstate::UNTRACKED,
            "SNAT" if ct => ctstate::SNAT,
            "DNAT" if ct => ctstate::DNAT,
            _ => {
                return Err(at.err(
                    t.col,
                    format!(
                        "unknown state {s:?} (INVALID, ESTABLISHED, RELATED, NEW, UNTRACKED{})",
                        if ct { ", SNAT, DNAT" } else { "" }
                    ),
                ));
            }
        };
    }
    Ok(bits)
}

fn ctstatus(at: &At<'_>, t: &Tok) -> Result<u32, HostError> {
    let mut bits = 0;
    for s in t.text.split(',') {
        bits |= match s.to_ascii_uppercase().as_str() {
            "NONE" => 0,
            "EXPECTED" => 1 << 0,
            "SEEN_REPLY" => 1 << 1,
            "ASSURED" => 1 << 2,
            "CONFIRMED" => 1 << 3,
            _ => {
                return Err(at.err(
                    t.col,
                    format!(
                        "unknown --ctstatus {s:?} (NONE, EXPECTED, SEEN_REPLY, ASSURED, CONFIRMED)"
                    ),
                ));
            }
        };
    }
    Ok(bits)
}

fn addr_types(at: &At<'_>, t: &Tok) -> Result<u16, HostError> {
    let mut bits = 0;
    for s in t.text.split(',') {
        bits |= match s.to_ascii_uppercase().as_str() {
            "UNSPEC" => addrtype::UNSPEC,
            "UNICAST" => addrtype::UNICAST,
            "LOCAL" => addrtype::LOCAL,
            "BROADCAST" => addrtype::BROADCAST,
            "ANYCAST" => addrtype::ANYCAST,
            "MULTICAST" => addrtype::MULTICAST,
            "BLACKHOLE" => addrtype::BLACKHOLE,
            "UNREACHABLE" => addrtype::UNREACHABLE,
            "PROHIBIT" => addrtype::PROHIBIT,
            "THROW" => addrtype::THROW,
            "NAT" => addrtype::NAT,
            "XRESOLVE" => addrtype::XRESOLVE,
            _ => {
                return Err(at.err(
                    t.col,
                    format!(
                        "unknown address type {s:?} (such as LOCAL, UNICAST, BROADCAST, MULTICAST)"
                    ),
                ));
            }
        };
    }
    Ok(bits)
}

fn mark_value(at: &At<'_>, t: &Tok) -> Result<u32, HostError> {
    mark_num(&t.text).ok_or_else(|| at.err(t.col, format!("bad mark {:?}", t.text)))
}

fn mark_num(s: &str) -> Option<u32> {
    strtoul(s, 0).and_then(|v| u32::try_from(v).ok())
}

/// `VALUE[/MASK]`, the mask all ones when absent.
fn mark_mask(at: &At<'_>, t: &Tok) -> Result<(u32, u32), HostError> {
    let bad = || {
        at.err(
            t.col,
            format!("bad mark {:?} (VALUE or VALUE/MASK)", t.text),
        )
    };
    match t.text.split_once('/') {
        Some((v, m)) => Ok((mark_num(v).ok_or_else(bad)?, mark_num(m).ok_or_else(bad)?)),
        None => Ok((mark_num(&t.text).ok_or_else(bad)?, u32::MAX)),
    }
}

/// A MARK/CONNMARK operation reduced to `new = (old & !mask) ^ value`.
/// `--set-mark V/M` clears `M` and sets `V`, so its mask also holds `V`'s
/// bits (as iptables' MARK and CONNMARK extensions store it).
fn xmark(at: &At<'_>, opt: &str, t: &Tok) -> Result<XMark, HostError> {
    Ok(match opt {
        "--set-xmark" => {
            let (value, mask) = mark_mask(at, t)?;
            XMark { value, mask }
        }
        "--set-mark" => {
            let (value, mask) = mark_mask(at, t)?;
            XMark {
                value,
                mask: mask | value,
            }
        }
        "--and-mark" => XMark {
            value: 0,
            mask: !mark_value(at, t)?,
        },
        "--or-mark" => {
            let v = mark_value(at, t)?;
            XMark { value: v, mask: v }
        }
        _ => XMark {
            value: mark_value(at, t)?,
            mask: 0,
        },
    })
}

fn reject_with(at: &At<'_>, t: &Tok) -> Result<RejectWith, HostError> {
    Ok(match t.text.as_str() {
        "icmp-net-unreachable" | "net-unreach" => RejectWith::NetUnreachable,
        "icmp-host-unreachable" | "host-unreach" => RejectWith::HostUnreachable,
        "icmp-proto-unreachable" | "proto-unreach" => RejectWith::ProtoUnreachable,
        "icmp-port-unreachable" | "port-unreach" => RejectWith::PortUnreachable,
        "icmp-net-prohibited" | "net-prohib" => RejectWith::NetProhibited,
        "icmp-host-prohibited" | "host-prohib" => RejectWith::HostProhibited,
        "icmp-admin-prohibited" | "admin-prohib" => RejectWith::AdminProhibited,
        "tcp-reset" | "tcp-rst" => RejectWith::TcpReset,
        s => {
            return Err(at.err(
                t.col,
                format!("unknown --reject-with {s:?} (icmp-net-unreachable, icmp-host-unreachable, icmp-port-unreachable, icmp-proto-unreachable, icmp-net-prohibited, icmp-host-prohibited, icmp-admin-prohibited, tcp-reset)"),
            ));
        }
    })
}

fn log_level(at: &At<'_>, t: &Tok) -> Result<u8, HostError> {
    const NAMES: [&str; 8] = [
        "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
    ];
    let s = t.text.to_ascii_lowercase();
    if let Some(p) = NAMES.iter().position(|n| *n == s) {
        return Ok(p as u8);
    }
    match s.as_str() {
        "panic" => Ok(0),
        "err" => Ok(3),
        "warn" => Ok(4),
        _ => s.parse().ok().filter(|l| *l <= 7).ok_or_else(|| {
            at.err(
                t.col,
                format!("bad --log-level {:?} (0 to 7 or a syslog name)", t.text),
            )
        }),
    }
}

/// `--limit N[/second|minute|hour|day]` as xt_limit's `avg`.
fn limit_avg(at: &At<'_>, t: &Tok) -> Result<u32, HostError> {
    let s = t.text.as_str();
    let bad = || {
        at.err(
            t.col,
            format!("bad --limit {s:?} (N/sec, N/minute, N/hour or N/day)"),
        )
    };
    let (n, unit) = s.split_once('/').unwrap_or((s, "second"));
    let n: u64 = n.parse().map_err(|_| bad())?;
    let secs = if unit.is_empty() {
        return Err(bad());
    } else if "second".starts_with(unit) {
        1
    } else if "minute".starts_with(unit) {
        60
    } else if "hour".starts_with(unit) {
        3600
    } else if "day".starts_with(unit) {
        86400
    } else {
        return Err(bad());
    };
    if n == 0 {
        return Err(bad());
    }
    let avg = XT_LIMIT_SCALE * secs / n;
    if avg == 0 {
        return Err(at.err(
            t.col,
            format!("--limit {s:?} is too fast (at most 10000/second)"),
        ));
    }
    Ok(avg as u32)
}

/// `P` or `P-Q`.
fn nat_ports(at: &At<'_>, t: &Tok, s: &str) -> Result<(u16, u16), HostError> {
    let bad = || at.err(t.col, format!("bad ports {s:?} in {:?} (P or P-Q)", t.text));
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// `A[-B][:P[-Q]]` or `:P[-Q]` (SNAT/DNAT).
fn nat_range(at: &At<'_>, t: &Tok) -> Result<NatRange, HostError> {
    let s = t.text.as_str();
    let (addrs, ports) = match s.split_once(':') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let mut r = NatRange::default();
    if !addrs.is_empty() {
        let (a, b) = addrs.split_once('-').unwrap_or((addrs, addrs));
        let a = addr(at, t, a, "a NAT range")?;
        let b = addr(at, t, b, "a NAT range")?;
        if a > b {
            return Err(at.err(
                t.col,
                format!("address range {addrs:?} ends before it starts"),
            ));
        }
        r.addr = Some((a, b));
    }
    if let Some(p) = ports {
        r.ports = Some(nat_ports(at, t, p)?);
    }
    Ok(r)
}
