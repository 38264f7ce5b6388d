//! `fixtures/kernel-divergences.toml`: the known disagreements with the
//! kernel, each with a reason (as BoGo's `DisabledTests` in rustls).
//!
//! ```toml
//! [[divergence]]
//! description = "what differs"
//! reason = "why it is accepted for now (issue, kernel behaviour not modelled)"
//! [divergence.match]        # every key given must hold; a missing key matches anything
//! suite = "input"           # input | output | toml | route-set
//! fields = ["cache"]        # the differing fields must all be among these
//! query = "iif lo"          # substring of the query (`DST from SRC iif DEV tos T mark M`)
//! dst = "224.0.0.0/4"       # the query's destination lies in this prefix
//! src = "127.0.0.0/8"       # the query's source (0.0.0.0 without `from`) lies in this prefix
//! kernel = "EINVAL"         # the kernel's outcome: errno symbol, or route type for a route
//! fwdsim = "local"          # fwdsim's outcome, same words (`tool` = no contract answer)
//! host = "nexthop"          # substring of the host's TOML
//! ```
//!
//! For `route-set` (host show against `ip route show`) the only field is
//! `route`, `query` matches the route's key text
//! ([`crate::routeset::route_key`]), and `kernel` / `fwdsim` are `present`
//! or `missing`.

use std::net::Ipv4Addr;
use std::path::Path;

use ipnet::Ipv4Net;
use serde::Deserialize;

use crate::error::{LabError, Result};

/// The file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Divergences {
    /// The entries.
    #[serde(default)]
    pub divergence: Vec<Divergence>,
}

/// One known disagreement.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Divergence {
    /// What differs.
    pub description: String,
    /// Why it is accepted.
    pub reason: String,
    /// Which disagreements it covers.
    #[serde(rename = "match", default)]
    pub matcher: Matcher,
}

/// The matcher of a [`Divergence`]; see the module documentation.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    /// `input`, `output`, `toml` or `route-set`.
    pub suite: Option<String>,
    /// Allowed differing fields.
    pub fields: Option<Vec<String>>,
    /// Substring of the query text.
    pub query: Option<String>,
    /// Prefix holding the destination.
    pub dst: Option<String>,
    /// Prefix holding the source.
    pub src: Option<String>,
    /// The kernel's outcome word.
    pub kernel: Option<String>,
    /// fwdsim's outcome word.
    pub fwdsim: Option<String>,
    /// Substring of the host TOML.
    pub host: Option<String>,
}

/// The facts of one disagreement a matcher is tested against.
#[derive(Clone, Debug)]
pub struct Case<'a> {
    /// The suite.
    pub suite: &'a str,
    /// The differing fields.
    pub fields: Vec<&'a str>,
    /// The query text (or the route object for `route-set`).
    pub query: &'a str,
    /// The query's destination.
    pub dst: Option<Ipv4Addr>,
    /// The query's source.
    pub src: Option<Ipv4Addr>,
    /// The kernel's outcome word.
    pub kernel: &'a str,
    /// fwdsim's outcome word.
    pub fwdsim: &'a str,
    /// The host TOML.
    pub host: &'a str,
}

fn in_prefix(p: &str, a: Option<Ipv4Addr>) -> bool {
    let Some(a) = a else { return false };
    let net: Option<Ipv4Net> = p.parse().ok().or_else(|| {
        p.parse::<Ipv4Addr>()
            .ok()
            .map(|x| Ipv4Net::new(x, 32).expect("32"))
    });
    net.is_some_and(|n| n.contains(&a))
}

impl Matcher {
    /// Whether this matcher covers `c`.
    pub fn matches(&self, c: &Case<'_>) -> bool {
        let eq = |m: &Option<String>, v: &str| m.as_ref().is_none_or(|m| m == v);
        eq(&self.suite, c.suite)
            && self
                .fields
                .as_ref()
                .is_none_or(|fs| c.fields.iter().all(|f| fs.iter().any(|x| x == f)))
            && self
                .query
                .as_ref()
                .is_none_or(|q| c.query.contains(q.as_str()))
            && self.dst.as_ref().is_none_or(|p| in_prefix(p, c.dst))
            && self.src.as_ref().is_none_or(|p| in_prefix(p, c.src))
            && eq(&self.kernel, c.kernel)
            && eq(&self.fwdsim, c.fwdsim)
            && self
                .host
                .as_ref()
                .is_none_or(|h| c.host.contains(h.as_str()))
    }
}

impl Divergences {
    /// Reads the file; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<Divergences> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Divergences::default()),
            Err(source) => {
                return Err(LabError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        Self::parse(&text).map_err(|e| match e {
            LabError::Parse { msg, .. } => LabError::Parse {
                what: path.display().to_string(),
                msg,
            },
            e => e,
        })
    }

    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<Divergences> {
        toml::from_str(text).map_err(|e| LabError::Parse {
            what: "kernel-divergences.toml".into(),
            msg: e.to_string(),
        })
    }

    /// The first entry covering `c`, with its index.
    pub fn find(&self, c: &Case<'_>) -> Option<(usize, &Divergence)> {
        self.divergence
            .iter()
            .enumerate()
            .find(|(_, d)| d.matcher.matches(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher_semantics() {
        let d = Divergences::parse(
            r#"
[[divergence]]
description = "redirect flag"
reason = "test"
[divergence.match]
suite = "input"
fields = ["cache"]
dst = "10.0.0.0/8"
kernel = "unicast"
"#,
        )
        .unwrap();
        let mut c = Case {
            suite: "input",
            fields: vec!["cache"],
            query: "10.1.2.3 from 10.0.0.9 iif eth0",
            dst: Some(Ipv4Addr::new(10, 1, 2, 3)),
            src: Some(Ipv4Addr::new(10, 0, 0, 9)),
            kernel: "unicast",
            fwdsim: "unicast",
            host: "",
        };
        assert!(d.find(&c).is_some());
        c.fields = vec!["cache", "dev"];
        assert!(d.find(&c).is_none());
        c.fields = vec!["cache"];
        c.dst = Some(Ipv4Addr::new(11, 0, 0, 1));
        assert!(d.find(&c).is_none());
        assert!(Divergences::parse("").unwrap().divergence.is_empty());
        assert!(
            Divergences::parse("[[divergence]]\ndescription='x'\nreason='y'\nbogus=1\n").is_err()
        );
    }
}
