//! Reads the text of `conntrack -L` (conntrack-tools) into the model's
//! connection table, each line one confirmed connection created as
//! `conntrack -I` creates it (`NfConntrack::ctnetlink_create_conntrack`).
//!
//! A line is `PROTO PROTONUM TIMEOUT [STATE] ORIGINAL [UNREPLIED] REPLY
//! [FLAGS] KEY=VALUE...`, where each tuple is `src= dst=` and then
//! `sport= dport=` (TCP, UDP, UDP-Lite), `type= code= id=` (ICMP) or
//! nothing the model keys on (other protocols, tracked as the generic
//! tracker does, with ports 0). `[ASSURED]` and `[UNREPLIED]` set the
//! status; NAT is read from a reply tuple that is not the inverse of the
//! original. `mark=` is kept; `use=`, counters, `[OFFLOAD]` and other
//! keys are ignored. `zone=` is refused: the model has no zones. Blank
//! lines and the `conntrack vX (conntrack-tools): N flow entries have been
//! shown.` summary (stderr, if it was captured too) are skipped.

use std::net::Ipv4Addr;
use std::path::Path;

use fwdsim_kernel::Netns;
use fwdsim_kernel::netfilter::Netfilter;
use fwdsim_kernel::netfilter::conntrack::{
    CtListed, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, NfConntrackTuple,
    TcpConntrack,
};

use crate::error::HostError;

/// A word of the line and its 1-based column.
#[derive(Clone, Copy)]
struct Word<'a> {
    text: &'a str,
    column: usize,
}

fn words(line: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push(Word {
                    text: &line[s..i],
                    column: line[..s].chars().count() + 1,
                });
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(Word {
            text: &line[s..],
            column: line[..s].chars().count() + 1,
        });
    }
    out
}

/// One tuple's keys as read.
#[derive(Default)]
struct RawTuple {
    src: Option<Ipv4Addr>,
    dst: Option<Ipv4Addr>,
    sport: Option<u16>,
    dport: Option<u16>,
    typ: Option<u8>,
    code: Option<u8>,
    id: Option<u16>,
}

struct LineParser<'a> {
    file: &'a Path,
    line: usize,
}

impl LineParser<'_> {
    fn err(&self, column: usize, msg: impl Into<String>) -> HostError {
        HostError::Netfilter {
            file: self.file.to_path_buf(),
            line: self.line,
            column,
            msg: msg.into(),
        }
    }

    fn num<T: std::str::FromStr>(&self, w: Word<'_>, v: &str, what: &str) -> Result<T, HostError> {
        v.parse()
            .map_err(|_| self.err(w.column, format!("bad {what} {v:?}")))
    }

    fn tuple(
        &self,
        raw: &RawTuple,
        protonum: u8,
        which: &str,
        column: usize,
    ) -> Result<NfConntrackTuple, HostError> {
        let missing = |k: &str| self.err(column, format!("the {which} tuple has no {k}="));
        let src = raw.src.ok_or_else(|| missing("src"))?;
        let dst = raw.dst.ok_or_else(|| missing("dst"))?;
        let (sport, dport) = match protonum {
            IPPROTO_TCP | IPPROTO_UDP | IPPROTO_UDPLITE => (
                raw.sport.ok_or_else(|| missing("sport"))?,
                raw.dport.ok_or_else(|| missing("dport"))?,
            ),
            IPPROTO_ICMP => {
                let t = raw.typ.ok_or_else(|| missing("type"))?;
                let c = raw.code.ok_or_else(|| missing("code"))?;
                (
                    raw.id.ok_or_else(|| missing("id"))?,
                    (t as u16) << 8 | c as u16,
                )
            }
            _ => (0, 0),
        };
        Ok(NfConntrackTuple {
            src,
            dst,
            protonum,
            sport,
            dport,
        })
    }

    /// One line: None for a line to skip.
    fn parse(&self, text: &str) -> Result<Option<CtListed>, HostError> {
        let ws = words(text);
        let Some(first) = ws.first() else {
            return Ok(None);
        };
        if first.text == "conntrack" {
            return Ok(None);
        }
        if ws.len() < 3 {
            return Err(self.err(
                first.column,
                "expected PROTO PROTONUM TIMEOUT and two tuples",
            ));
        }
        let protonum: u8 = self.num(ws[1], ws[1].text, "protocol number")?;
        let name_ok = match first.text {
            "tcp" => protonum == IPPROTO_TCP,
            "udp" => protonum == IPPROTO_UDP,
            "udplite" => protonum == IPPROTO_UDPLITE,
            "icmp" => protonum == IPPROTO_ICMP,
            "icmpv6" | "ipv6" => {
                return Err(self.err(first.column, "IPv6 connections are not modelled"));
            }
            _ => !matches!(
                protonum,
                IPPROTO_TCP | IPPROTO_UDP | IPPROTO_UDPLITE | IPPROTO_ICMP
            ),
        };
        if !name_ok {
            return Err(self.err(
                ws[1].column,
                format!("protocol {} with number {protonum}", first.text),
            ));
        }
        let timeout_secs: u64 = self.num(ws[2], ws[2].text, "timeout")?;
        let mut rest = &ws[3..];
        let mut tcp_state = TcpConntrack::None;
        if let Some(w) = rest.first()
            && !w.text.contains('=')
            && !w.text.starts_with('[')
        {
            if protonum == IPPROTO_TCP {
                tcp_state = TcpConntrack::from_name(w.text)
                    .ok_or_else(|| self.err(w.column, format!("unknown TCP state {:?}", w.text)))?;
            }
            rest = &rest[1..];
        } else if protonum == IPPROTO_TCP {
            return Err(self.err(
                rest.first().map_or(ws[2].column, |w| w.column),
                "a TCP connection needs its state (SYN_SENT, ESTABLISHED, ...)",
            ));
        }
        let mut tuples = [RawTuple::default(), RawTuple::default()];
        let mut columns = [0usize; 2];
        // -1: before the first src=; 0, 1: in a tuple; 2: after both.
        let mut cur: i32 = -1;
        let mut e = CtListed {
            orig: NfConntrackTuple {
                src: Ipv4Addr::UNSPECIFIED,
                dst: Ipv4Addr::UNSPECIFIED,
                protonum,
                sport: 0,
                dport: 0,
            },
            reply: NfConntrackTuple {
                src: Ipv4Addr::UNSPECIFIED,
                dst: Ipv4Addr::UNSPECIFIED,
                protonum,
                sport: 0,
                dport: 0,
            },
            unreplied: false,
            assured: false,
            timeout_secs,
            tcp_state,
            mark: 0,
        };
        for &w in rest {
            if let Some(flag) = w.text.strip_prefix('[') {
                match flag.strip_suffix(']') {
                    Some("ASSURED") => e.assured = true,
                    Some("UNREPLIED") => e.unreplied = true,
                    Some(_) => {} // OFFLOAD, HW_OFFLOAD, ...
                    None => return Err(self.err(w.column, format!("unterminated {:?}", w.text))),
                }
                if cur == 1 {
                    cur = 2;
                }
                continue;
            }
            let Some((k, v)) = w.text.split_once('=') else {
                return Err(self.err(w.column, format!("expected KEY=VALUE, found {:?}", w.text)));
            };
            let tuple_key = matches!(
                k,
                "src" | "dst" | "sport" | "dport" | "type" | "code" | "id"
            );
            if k == "src" {
                cur = match cur {
                    -1 => 0,
                    0 => 1,
                    _ => return Err(self.err(w.column, "a third tuple")),
                };
                columns[cur as usize] = w.column;
            } else if tuple_key && !(0..=1).contains(&cur) {
                return Err(self.err(w.column, format!("{k}= outside a tuple")));
            } else if matches!(k, "mark" | "use" | "zone" | "secctx" | "labels") {
                // Keys printed after both tuples.
                match cur {
                    -1 | 0 => return Err(self.err(w.column, "the reply tuple is missing")),
                    _ => cur = 2,
                }
            }
            if tuple_key {
                let t = &mut tuples[cur as usize];
                match k {
                    "src" => t.src = Some(self.addr(w, v)?),
                    "dst" => t.dst = Some(self.addr(w, v)?),
                    "sport" => t.sport = Some(self.num(w, v, "port")?),
                    "dport" => t.dport = Some(self.num(w, v, "port")?),
                    "type" => t.typ = Some(self.num(w, v, "ICMP type")?),
                    "code" => t.code = Some(self.num(w, v, "ICMP code")?),
                    _ => t.id = Some(self.num(w, v, "ICMP id")?),
                }
                continue;
            }
            match k {
                "mark" => e.mark = self.num(w, v, "mark")?,
                "zone" | "zone-orig" | "zone-reply" => {
                    return Err(self.err(w.column, "conntrack zones are not modelled"));
                }
                _ => {} // use=, packets=, bytes=, secctx=, delta-time=, labels=, ...
            }
        }
        if cur < 1 {
            return Err(self.err(
                ws.last().map_or(1, |w| w.column),
                "expected an original and a reply tuple",
            ));
        }
        e.orig = self.tuple(&tuples[0], protonum, "original", columns[0])?;
        e.reply = self.tuple(&tuples[1], protonum, "reply", columns[1])?;
        Ok(Some(e))
    }

    fn addr(&self, w: Word<'_>, v: &str) -> Result<Ipv4Addr, HostError> {
        v.parse()
            .map_err(|_| self.err(w.column, format!("bad IPv4 address {v:?}")))
    }
}

/// Loads the `conntrack -L` text `text` (read from `file`, named in
/// errors) into the connection table of `ns`, each timeout counted from
/// `ns.jiffies`. A namespace without netfilter state gets an empty one
/// (no tables, no hooks) to hold the entries. Returns how many entries
/// were inserted. Errors are `FILE:LINE:COL: message`; the table is left
/// untouched when any line is wrong.
pub fn load_conntrack_list(ns: &mut Netns, file: &Path, text: &str) -> Result<usize, HostError> {
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let p = LineParser { file, line: i + 1 };
        if let Some(e) = p.parse(line)? {
            entries.push((i + 1, e));
        }
    }
    let now = ns.jiffies;
    let mut ct = ns.nf.as_ref().map(|nf| nf.ct.clone()).unwrap_or_default();
    for (line, e) in &entries {
        ct.ctnetlink_create_conntrack(e, now)
            .map_err(|err| HostError::Netfilter {
                file: file.to_path_buf(),
                line: *line,
                column: 1,
                msg: err.to_string(),
            })?;
    }
    ns.nf
        .get_or_insert_with(|| Box::new(Netfilter::default()))
        .ct = ct;
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fwdsim_kernel::netfilter::conntrack::{IpConntrackDir, ips};

    /// `conntrack -L` in a router namespace (Linux 6.18, conntrack-tools
    /// 1.4.7) that MASQUERADEs 10.0.1.0/24 out to 10.0.2.0/24 and DNATs
    /// 10.0.2.1:8080 to 10.0.1.2:80: two TCP connections out (one closed by
    /// the client), one in through the DNAT, UDP answered and unanswered,
    /// UDP in without NAT, ICMP echo both ways.
    const ROUTER: &str = "\
udp      17 29 src=10.0.2.2 dst=10.0.1.2 sport=40055 dport=5353 src=10.0.1.2 dst=10.0.2.2 sport=5353 dport=40055 mark=0 use=1\n\
tcp      6 431997 ESTABLISHED src=10.0.1.2 dst=10.0.2.2 sport=33088 dport=80 src=10.0.2.2 dst=10.0.2.1 sport=80 dport=33088 [ASSURED] mark=0 use=1\n\
tcp      6 431998 ESTABLISHED src=10.0.2.2 dst=10.0.2.1 sport=56018 dport=8080 src=10.0.1.2 dst=10.0.2.2 sport=80 dport=56018 [ASSURED] mark=0 use=1\n\
tcp      6 57 CLOSE_WAIT src=10.0.1.2 dst=10.0.2.2 sport=33082 dport=80 src=10.0.2.2 dst=10.0.2.1 sport=80 dport=33082 [ASSURED] mark=0 use=1\n\
icmp     1 28 src=10.0.1.2 dst=10.0.2.2 type=8 code=0 id=4660 src=10.0.2.2 dst=10.0.2.1 type=0 code=0 id=4660 mark=0 use=1\n\
icmp     1 28 src=10.0.2.2 dst=10.0.1.2 type=8 code=0 id=4661 src=10.0.1.2 dst=10.0.2.2 type=0 code=0 id=4661 mark=0 use=1\n\
udp      17 28 src=10.0.1.2 dst=10.0.2.2 sport=40053 dport=53 [UNREPLIED] src=10.0.2.2 dst=10.0.2.1 sport=53 dport=40053 mark=0 use=1\n\
udp      17 28 src=10.0.1.2 dst=10.0.2.2 sport=40054 dport=5353 src=10.0.2.2 dst=10.0.2.1 sport=5353 dport=40054 mark=0 use=1\n\
";

    fn t(src: &str, dst: &str, proto: u8, sport: u16, dport: u16) -> NfConntrackTuple {
        NfConntrackTuple {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            protonum: proto,
            sport,
            dport,
        }
    }

    fn load(text: &str) -> Result<(Netns, usize), HostError> {
        let mut ns = Netns {
            jiffies: 1000,
            ..Netns::default()
        };
        let n = load_conntrack_list(&mut ns, Path::new("ct.txt"), text)?;
        Ok((ns, n))
    }

    #[test]
    fn real_listing_loads_every_entry_with_its_nat_and_status() {
        let (ns, n) = load(ROUTER).unwrap();
        assert_eq!(n, 8);
        let ct = &ns.nf.as_ref().unwrap().ct;
        assert_eq!(ct.count(), 8);
        assert_eq!(ct.hash.len(), 16);
        let get = |tuple: NfConntrackTuple| {
            let &(idx, dir) = ct.hash.get(&tuple).expect("hashed");
            assert_eq!(dir, IpConntrackDir::Original);
            &ct.conns[idx as usize]
        };
        let done = ips::CONFIRMED | ips::NAT_DONE_MASK;

        // MASQUERADE: the reply goes to the router's address.
        let c = get(t("10.0.1.2", "10.0.2.2", IPPROTO_TCP, 33088, 80));
        assert_eq!(
            c.tuple[1],
            t("10.0.2.2", "10.0.2.1", IPPROTO_TCP, 80, 33088)
        );
        assert_eq!(
            c.status,
            done | ips::SEEN_REPLY | ips::ASSURED | ips::SRC_NAT
        );
        assert_eq!(c.tcp_state, TcpConntrack::Established);
        assert_eq!(c.timeout, 1000 + 431_997 * 250);
        assert_eq!(ct.hash[&c.tuple[1]].1, IpConntrackDir::Reply);

        // DNAT: the reply comes from the container's address and port.
        let c = get(t("10.0.2.2", "10.0.2.1", IPPROTO_TCP, 56018, 8080));
        assert_eq!(
            c.tuple[1],
            t("10.0.1.2", "10.0.2.2", IPPROTO_TCP, 80, 56018)
        );
        assert_eq!(
            c.status,
            done | ips::SEEN_REPLY | ips::ASSURED | ips::DST_NAT
        );

        let c = get(t("10.0.1.2", "10.0.2.2", IPPROTO_TCP, 33082, 80));
        assert_eq!(c.tcp_state, TcpConntrack::CloseWait);
        assert_eq!(c.timeout, 1000 + 57 * 250);

        let c = get(t("10.0.1.2", "10.0.2.2", IPPROTO_UDP, 40053, 53));
        assert_eq!(c.status, done | ips::SRC_NAT, "UNREPLIED: no SEEN_REPLY");
        let c = get(t("10.0.1.2", "10.0.2.2", IPPROTO_UDP, 40054, 5353));
        assert_eq!(c.status, done | ips::SEEN_REPLY | ips::SRC_NAT);
        let c = get(t("10.0.2.2", "10.0.1.2", IPPROTO_UDP, 40055, 5353));
        assert_eq!(c.status, done | ips::SEEN_REPLY, "no NAT");

        // ICMP: id in sport, type << 8 | code in dport.
        let c = get(t("10.0.1.2", "10.0.2.2", IPPROTO_ICMP, 4660, 8 << 8));
        assert_eq!(c.tuple[1], t("10.0.2.2", "10.0.2.1", IPPROTO_ICMP, 4660, 0));
        assert_eq!(c.status, done | ips::SEEN_REPLY | ips::SRC_NAT);
        let c = get(t("10.0.2.2", "10.0.1.2", IPPROTO_ICMP, 4661, 8 << 8));
        assert_eq!(c.status, done | ips::SEEN_REPLY);

        // Every source binding is known to NAT, as nf_nat_setup_info leaves it.
        assert_eq!(ct.nat_bysource.len(), 8);
    }

    #[test]
    fn loaded_tcp_entry_tracks_liberally_and_has_no_window_history() {
        let (ns, _) = load(ROUTER).unwrap();
        let ct = &ns.nf.as_ref().unwrap().ct;
        let &(idx, _) = ct
            .hash
            .get(&t("10.0.1.2", "10.0.2.2", IPPROTO_TCP, 33088, 80))
            .unwrap();
        let tcp = ct.conns[idx as usize].tcp;
        for s in tcp.seen {
            assert_eq!(s.td_maxwin, 0);
            assert_eq!(s.flags, 0x02 | 0x08, "SACK_PERM | BE_LIBERAL");
        }
    }

    #[test]
    fn summary_line_blank_lines_and_accounting_are_accepted() {
        let text = "\nconntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.\n\
            tcp      6 117 SYN_SENT src=10.0.1.2 dst=10.0.2.2 sport=1 dport=2 packets=1 bytes=60 \
            [UNREPLIED] src=10.0.2.2 dst=10.0.1.2 sport=2 dport=1 packets=0 bytes=0 [OFFLOAD] mark=7 use=1\n\
            gre      47 29 src=10.0.1.2 dst=10.0.2.2 srckey=0x0 dstkey=0x0 src=10.0.2.2 dst=10.0.1.2 srckey=0x0 dstkey=0x0 mark=0 use=1\n";
        let (ns, n) = load(text).unwrap();
        assert_eq!(n, 2);
        let ct = &ns.nf.as_ref().unwrap().ct;
        let c = &ct.conns[0];
        assert_eq!(c.tcp_state, TcpConntrack::SynSent);
        assert_eq!(c.mark, 7);
        assert_eq!(c.status & ips::SEEN_REPLY, 0);
        assert_eq!(ct.conns[1].tuple[0].protonum, 47);
        assert_eq!(
            (ct.conns[1].tuple[0].sport, ct.conns[1].tuple[0].dport),
            (0, 0)
        );
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let cases = [
            (
                "tcp 6 10 ESTABLISHED src=1.2.3.4 dst=5.6.7.8 sport=1 dport=2\n",
                "ct.txt:1:54: expected an original and a reply tuple",
            ),
            ("udp 17 x src=1.2.3.4\n", "ct.txt:1:8: bad timeout \"x\""),
            (
                "tcp 6 10 src=1.2.3.4\n",
                "ct.txt:1:10: a TCP connection needs its state (SYN_SENT, ESTABLISHED, ...)",
            ),
            (
                "tcp 6 10 OPEN src=1.2.3.4\n",
                "ct.txt:1:10: unknown TCP state \"OPEN\"",
            ),
            (
                "tcp 17 10 ESTABLISHED\n",
                "ct.txt:1:5: protocol tcp with number 17",
            ),
            (
                "\nudp 17 10 src=1.2.3.400 dst=1.1.1.1 sport=1 dport=2 src=1.1.1.1 dst=1.2.3.4 sport=2 dport=1\n",
                "ct.txt:2:11: bad IPv4 address \"1.2.3.400\"",
            ),
            (
                "udp 17 10 src=1.2.3.4 dst=1.1.1.1 sport=1 src=1.1.1.1 dst=1.2.3.4 sport=2 dport=1\n",
                "ct.txt:1:11: the original tuple has no dport=",
            ),
            (
                "icmp 1 10 src=1.2.3.4 dst=1.1.1.1 type=8 code=0 src=1.1.1.1 dst=1.2.3.4 type=0 code=0 id=1\n",
                "ct.txt:1:11: the original tuple has no id=",
            ),
            (
                "udp 17 10 src=1.2.3.4 dst=1.1.1.1 sport=1 dport=2 src=1.1.1.1 dst=1.2.3.4 sport=2 dport=1 zone=1\n",
                "ct.txt:1:91: conntrack zones are not modelled",
            ),
            (
                "udp 17 10 src=1.2.3.4 dst=1.1.1.1 sport=1 dport=2 src=1.1.1.1 dst=1.2.3.4 sport=2 dport=1 src=9.9.9.9\n",
                "ct.txt:1:91: a third tuple",
            ),
            (
                "udp 17 10 src=1.2.3.4 dst=1.1.1.1 sport=1 dport=2 mark=0 src=1.1.1.1\n",
                "ct.txt:1:51: the reply tuple is missing",
            ),
            (
                "icmp 1 10 src=1.2.3.4 dst=1.1.1.1 type=3 code=0 id=1 src=1.1.1.1 dst=1.2.3.4 type=3 code=0 id=1\n",
                "ct.txt:1:1: ICMP type 3 has no reply type",
            ),
            (
                "udp 17 10 src=1.2.3.4 dst=1.1.1.1 sport=1 dport=2 src=1.1.1.1 dst=1.2.3.4 sport=2 dport=1\n\
                 udp 17 10 src=1.2.3.4 dst=1.1.1.1 sport=1 dport=2 src=1.1.1.1 dst=1.2.3.4 sport=2 dport=1\n",
                "ct.txt:2:1: a connection with tuple NfConntrackTuple { src: 1.2.3.4, dst: 1.1.1.1, protonum: 17, sport: 1, dport: 2 } is already in the table",
            ),
            (
                "ipv6 10 udp 17 10 src=::1\n",
                "ct.txt:1:1: IPv6 connections are not modelled",
            ),
            (
                "udp 17 10 [ASSURED\n",
                "ct.txt:1:11: unterminated \"[ASSURED\"",
            ),
            (
                "udp 17 10 src=1.2.3.4 junk\n",
                "ct.txt:1:23: expected KEY=VALUE, found \"junk\"",
            ),
        ];
        for (text, want) in cases {
            let err = load(text)
                .err()
                .unwrap_or_else(|| panic!("{text:?} loaded"));
            assert_eq!(err.to_string(), want, "{text:?}");
        }
    }

    #[test]
    fn every_prefix_of_a_real_line_gives_a_result_never_a_panic() {
        for line in ROUTER.lines() {
            for (i, _) in line.char_indices() {
                let _ = load(&line[..i]);
                let _ = load(&line[i..]);
            }
        }
    }

    #[test]
    fn a_failed_load_leaves_the_table_as_it_was() {
        let mut ns = Netns::default();
        let file = Path::new("ct.txt");
        let good = "udp 17 10 src=1.2.3.4 dst=1.1.1.1 sport=1 dport=2 src=1.1.1.1 dst=1.2.3.4 sport=2 dport=1\n";
        assert_eq!(load_conntrack_list(&mut ns, file, good).unwrap(), 1);
        let bad = "udp 17 10 src=1.2.3.5 dst=1.1.1.1 sport=1 dport=2 src=1.1.1.1 dst=1.2.3.5 sport=2 dport=1\n\
                   tcp 6 10 src=1.2.3.4\n";
        assert!(load_conntrack_list(&mut ns, file, bad).is_err());
        assert_eq!(ns.nf.as_ref().unwrap().ct.count(), 1);
    }
}
