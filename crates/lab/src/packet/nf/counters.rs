//! Rule counters: `iptables-save -c` text read into one entry per policy
//! and rule, the kernel's after-minus-before, and the comparison with the
//! file `fwdsim replay --save-counters FILE` writes (the same format, each
//! counter counted from zero over the replay).

use std::collections::BTreeMap;

/// Where a counter is: table, chain, and 0 for the chain's policy or the
/// rule's 1-based position.
pub type Key = (String, String, usize);

/// One counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The rule as saved (`-A FORWARD -p tcp ... -j ACCEPT`), or the policy
    /// line (`:FORWARD DROP`).
    pub text: String,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Every counter of a saved ruleset, by [`Key`].
pub type Saved = BTreeMap<Key, Entry>;

fn counts(s: &str) -> Option<(u64, u64)> {
    let s = s.strip_prefix('[')?.strip_suffix(']')?;
    let (p, b) = s.split_once(':')?;
    Some((p.parse().ok()?, b.parse().ok()?))
}

/// Parses `iptables-save -c` output; `Err` names the line it cannot read.
pub fn parse(text: &str) -> Result<Saved, String> {
    let mut out = Saved::new();
    let mut table = String::new();
    let mut pos: BTreeMap<String, usize> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        let bad = || format!("line {}: cannot read {l:?}", i + 1);
        if l.is_empty() || l.starts_with('#') || l == "COMMIT" {
            continue;
        }
        if let Some(t) = l.strip_prefix('*') {
            table = t.to_string();
            pos.clear();
        } else if let Some(c) = l.strip_prefix(':') {
            let mut w = c.split_whitespace();
            let (Some(chain), Some(policy)) = (w.next(), w.next()) else {
                return Err(bad());
            };
            let (packets, bytes) = w.next().and_then(counts).unwrap_or((0, 0));
            out.insert(
                (table.clone(), chain.to_string(), 0),
                Entry {
                    text: format!(":{chain} {policy}"),
                    packets,
                    bytes,
                },
            );
        } else {
            // `[p:b] -A CHAIN ...`, or `-A CHAIN ... ` with `-c p b` (older
            // forms) or no counters at all.
            let (c, rest) = match l.split_once(' ') {
                Some((c, rest)) if c.starts_with('[') => (counts(c).ok_or_else(bad)?, rest),
                _ => ((0, 0), l),
            };
            let mut w = rest.split_whitespace();
            if w.next() != Some("-A") {
                return Err(bad());
            }
            let chain = w.next().ok_or_else(bad)?.to_string();
            let n = pos.entry(chain.clone()).or_default();
            *n += 1;
            out.insert(
                (table.clone(), chain, *n),
                Entry {
                    text: rest.to_string(),
                    packets: c.0,
                    bytes: c.1,
                },
            );
        }
    }
    Ok(out)
}

/// `after - before` for every counter of `after` (a counter new in
/// `after` counts from zero).
pub fn delta(before: &Saved, after: &Saved) -> Saved {
    after
        .iter()
        .map(|(k, e)| {
            let (p, b) = before
                .get(k)
                .filter(|x| x.text == e.text)
                .map_or((0, 0), |x| (x.packets, x.bytes));
            (
                k.clone(),
                Entry {
                    text: e.text.clone(),
                    packets: e.packets.saturating_sub(p),
                    bytes: e.bytes.saturating_sub(b),
                },
            )
        })
        .collect()
}

/// One counter that differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterDiff {
    /// Where.
    pub key: Key,
    /// The rule (the kernel's text).
    pub text: String,
    /// The kernel's `[packets:bytes]`, `None` when it has no such rule.
    pub kernel: Option<(u64, u64)>,
    /// fwdsim's, `None` when its file has no such rule.
    pub fwdsim: Option<(u64, u64)>,
    /// fwdsim's text, when it differs from the kernel's.
    pub fwdsim_text: Option<String>,
}

/// Every counter whose packets or bytes differ, and every rule on one side
/// only or saved with another text.
pub fn compare(kernel: &Saved, fwdsim: &Saved) -> Vec<CounterDiff> {
    let mut out = Vec::new();
    for (k, e) in kernel {
        let f = fwdsim.get(k);
        let same_text = f.is_some_and(|f| f.text == e.text);
        if f.is_some_and(|f| same_text && f.packets == e.packets && f.bytes == e.bytes) {
            continue;
        }
        out.push(CounterDiff {
            key: k.clone(),
            text: e.text.clone(),
            kernel: Some((e.packets, e.bytes)),
            fwdsim: f.map(|f| (f.packets, f.bytes)),
            fwdsim_text: f.filter(|_| !same_text).map(|f| f.text.clone()),
        });
    }
    for (k, f) in fwdsim {
        if !kernel.contains_key(k) {
            out.push(CounterDiff {
                key: k.clone(),
                text: f.text.clone(),
                kernel: None,
                fwdsim: Some((f.packets, f.bytes)),
                fwdsim_text: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "# Generated by iptables-save v1.8.9 (nf_tables)\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [2:120]\n:fws-u0 - [0:0]\n[1:60] -A FORWARD -p tcp -m tcp --dport 80 -j ACCEPT\n[0:0] -A FORWARD -j fws-u0\nCOMMIT\n*nat\n:POSTROUTING ACCEPT [0:0]\n[0:0] -A POSTROUTING -o r1 -j MASQUERADE\nCOMMIT\n";

    #[test]
    fn parses_and_subtracts() {
        let b = parse(BEFORE).unwrap();
        let k = |t: &str, c: &str, n: usize| (t.to_string(), c.to_string(), n);
        assert_eq!(b[&k("filter", "FORWARD", 0)].packets, 2);
        assert_eq!(b[&k("filter", "FORWARD", 2)].text, "-A FORWARD -j fws-u0");
        assert_eq!(
            b[&k("nat", "POSTROUTING", 1)].text,
            "-A POSTROUTING -o r1 -j MASQUERADE"
        );
        let after = BEFORE.replace("[1:60]", "[4:300]");
        let d = delta(&b, &parse(&after).unwrap());
        assert_eq!(
            (
                d[&k("filter", "FORWARD", 1)].packets,
                d[&k("filter", "FORWARD", 1)].bytes
            ),
            (3, 240)
        );
        assert_eq!(d[&k("filter", "FORWARD", 0)].packets, 0);
        let mut f = d.clone();
        assert!(compare(&d, &f).is_empty());
        f.get_mut(&k("filter", "FORWARD", 1)).unwrap().packets = 2;
        f.remove(&k("nat", "POSTROUTING", 1));
        let c = compare(&d, &f);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].kernel, Some((3, 240)));
        assert_eq!(c[0].fwdsim, Some((2, 240)));
        assert_eq!(c[1].fwdsim, None);
        assert!(parse("*filter\nbogus line\n").is_err());
    }
}
