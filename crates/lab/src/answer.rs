//! Answers to a route query, from the kernel (`ip -j route get`) or from
//! fwdsim (`fwdsim route get ... -j`), and their comparison.
//!
//! Compared fields ([`COMPARED_FIELDS`]): the outcome (route or error), the
//! errno and message of an error, and of a route its `type`, `dst`, `from`,
//! `gateway`, `dev`, `table`, `prefsrc`, `tos`, `flags` and `cache` (the last
//! two as sets). Keys iproute2 leaves out get their implied value (`type`
//! unicast, `table` main).

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

use crate::spec::HostSpec;

/// A successful route lookup, in iproute2's JSON words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteAnswer {
    /// `type`; `unicast` when iproute2 leaves it out.
    pub rtype: String,
    /// `dst`.
    pub dst: Option<String>,
    /// `from`.
    pub from: Option<String>,
    /// `gateway`.
    pub gateway: Option<String>,
    /// `dev`.
    pub dev: Option<String>,
    /// `table`; `main` when iproute2 leaves it out.
    pub table: String,
    /// `prefsrc` (output path).
    pub prefsrc: Option<String>,
    /// `tos` (the matched route's TOS).
    pub tos: Option<String>,
    /// `flags`, sorted.
    pub flags: BTreeSet<String>,
    /// `cache`, sorted.
    pub cache: BTreeSet<String>,
    /// The object as printed.
    pub raw: Value,
}

/// A failed route lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorAnswer {
    /// The text after `RTNETLINK answers: ` (or after `Error: `).
    pub message: String,
    /// The symbolic errno (`EHOSTUNREACH`), when known.
    pub errno: Option<String>,
    /// fwdsim's `drop_reason`, when given (informative only).
    pub drop_reason: Option<String>,
}

/// What a route query returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A route.
    Ok(Box<RouteAnswer>),
    /// An error.
    Err(ErrorAnswer),
}

/// The fields [`diff`] compares, in report order.
pub const COMPARED_FIELDS: &[&str] = &[
    "outcome", "errno", "message", "type", "dst", "from", "gateway", "dev", "table", "prefsrc",
    "tos", "flags", "cache",
];

/// strerror texts (glibc) and their symbols, for the errors `ip route get` can print.
const ERRNOS: &[(&str, &str)] = &[
    ("EPERM", "Operation not permitted"),
    ("ENOENT", "No such file or directory"),
    ("ESRCH", "No such process"),
    ("EIO", "Input/output error"),
    ("ENXIO", "No such device or address"),
    ("E2BIG", "Argument list too long"),
    ("EAGAIN", "Resource temporarily unavailable"),
    ("ENOMEM", "Cannot allocate memory"),
    ("EACCES", "Permission denied"),
    ("EBUSY", "Device or resource busy"),
    ("EEXIST", "File exists"),
    ("ENODEV", "No such device"),
    ("EINVAL", "Invalid argument"),
    ("ENOSPC", "No space left on device"),
    ("ERANGE", "Numerical result out of range"),
    ("EMSGSIZE", "Message too long"),
    ("EPROTONOSUPPORT", "Protocol not supported"),
    ("EOPNOTSUPP", "Operation not supported"),
    ("EAFNOSUPPORT", "Address family not supported by protocol"),
    ("EADDRINUSE", "Address already in use"),
    ("EADDRNOTAVAIL", "Cannot assign requested address"),
    ("ENETDOWN", "Network is down"),
    ("ENETUNREACH", "Network is unreachable"),
    ("ENOBUFS", "No buffer space available"),
    ("EHOSTDOWN", "Host is down"),
    ("EHOSTUNREACH", "No route to host"),
];

/// The symbolic errno for a strerror text (`No route to host` -> `EHOSTUNREACH`).
pub fn errno_for_message(message: &str) -> Option<&'static str> {
    ERRNOS.iter().find(|(_, m)| *m == message).map(|(e, _)| *e)
}

/// The strerror text of a symbolic errno.
pub fn message_for_errno(errno: &str) -> Option<&'static str> {
    ERRNOS.iter().find(|(e, _)| *e == errno).map(|(_, m)| *m)
}

fn str_field(o: &Value, k: &str) -> Option<String> {
    match o.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        v => Some(v.to_string()),
    }
}

fn set_field(o: &Value, k: &str) -> BTreeSet<String> {
    match o.get(k) {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect(),
        _ => BTreeSet::new(),
    }
}

impl RouteAnswer {
    /// Reads one object of `ip -j route get` output.
    pub fn from_json(o: &Value) -> Option<RouteAnswer> {
        if !o.is_object() {
            return None;
        }
        Some(RouteAnswer {
            rtype: str_field(o, "type").unwrap_or_else(|| "unicast".into()),
            dst: str_field(o, "dst"),
            from: str_field(o, "from"),
            gateway: str_field(o, "gateway"),
            dev: str_field(o, "dev"),
            table: str_field(o, "table").unwrap_or_else(|| "main".into()),
            prefsrc: str_field(o, "prefsrc"),
            tos: str_field(o, "tos").or_else(|| str_field(o, "dsfield")),
            flags: set_field(o, "flags"),
            cache: set_field(o, "cache"),
            raw: o.clone(),
        })
    }

    fn field(&self, name: &str) -> String {
        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
        let set =
            |s: &BTreeSet<String>| format!("[{}]", s.iter().cloned().collect::<Vec<_>>().join(","));
        match name {
            "type" => self.rtype.clone(),
            "dst" => opt(&self.dst),
            "from" => opt(&self.from),
            "gateway" => opt(&self.gateway),
            "dev" => opt(&self.dev),
            "table" => self.table.clone(),
            "prefsrc" => opt(&self.prefsrc),
            "tos" => opt(&self.tos),
            "flags" => set(&self.flags),
            "cache" => set(&self.cache),
            _ => String::new(),
        }
    }
}

impl Answer {
    /// Parses the stdout of a successful `ip -j route get` (a JSON array
    /// with one object).
    pub fn from_kernel_json(text: &str) -> Option<Answer> {
        let v: Value = serde_json::from_str(text.trim()).ok()?;
        let o = match &v {
            Value::Array(a) if a.len() == 1 => &a[0],
            _ => return None,
        };
        RouteAnswer::from_json(o).map(|r| Answer::Ok(Box::new(r)))
    }

    /// The error answer for iproute2's stderr (`RTNETLINK answers: X` or
    /// `Error: X`); the last such line wins.
    pub fn from_kernel_stderr(stderr: &str) -> Answer {
        let mut message = stderr.trim().to_string();
        for line in stderr.lines() {
            let line = line.trim();
            if let Some(m) = line.strip_prefix("RTNETLINK answers: ") {
                message = m.to_string();
            } else if let Some(m) = line.strip_prefix("Error: ") {
                message = m.to_string();
            }
        }
        Answer::Err(ErrorAnswer {
            errno: errno_for_message(&message).map(str::to_string),
            message,
            drop_reason: None,
        })
    }

    /// The word a divergence matcher compares the outcome with: the route
    /// type for a route, the errno (or message) for an error.
    pub fn outcome_word(&self) -> String {
        match self {
            Answer::Ok(r) => r.rtype.clone(),
            Answer::Err(e) => e.errno.clone().unwrap_or_else(|| e.message.clone()),
        }
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Ok(r) => write!(f, "{}", r.raw),
            Answer::Err(e) => {
                write!(
                    f,
                    "error {} \"{}\"",
                    e.errno.as_deref().unwrap_or("?"),
                    e.message
                )?;
                if let Some(d) = &e.drop_reason {
                    write!(f, " drop_reason {d}")?;
                }
                Ok(())
            }
        }
    }
}

/// One field on which two answers differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDiff {
    /// The field (one of [`COMPARED_FIELDS`], or `tool` when fwdsim gave no
    /// answer at all).
    pub field: String,
    /// The kernel's value.
    pub kernel: String,
    /// fwdsim's value.
    pub fwdsim: String,
}

/// The fields on which `kernel` and `fwdsim` differ (empty = agreement).
pub fn diff(kernel: &Answer, fwdsim: &Answer) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    let mut push = |field: &str, k: String, f: String| {
        if k != f {
            out.push(FieldDiff {
                field: field.to_string(),
                kernel: k,
                fwdsim: f,
            });
        }
    };
    match (kernel, fwdsim) {
        (Answer::Ok(k), Answer::Ok(f)) => {
            for name in &COMPARED_FIELDS[3..] {
                push(name, k.field(name), f.field(name));
            }
        }
        (Answer::Err(k), Answer::Err(f)) => {
            let kerr = k.errno.clone().unwrap_or_else(|| "?".into());
            let ferr = f.errno.clone().unwrap_or_else(|| "?".into());
            push("errno", kerr, ferr);
            push("message", k.message.clone(), f.message.clone());
        }
        (k, f) => push("outcome", k.to_string(), f.to_string()),
    }
    out
}

/// Whether two differing routes are both legitimate choices of one
/// multipath route while the kernel's multipath hash seed is random
/// (`net.ipv4.fib_multipath_hash_seed` = 0: a random key per namespace, so
/// no outside model can predict the choice). Only `gateway`, `dev`, `cache`
/// (redirect) and `prefsrc` may differ.
pub fn multipath_equivalent(
    kernel: &Answer,
    fwdsim: &Answer,
    diffs: &[FieldDiff],
    spec: &HostSpec,
) -> bool {
    if spec.has_fixed_multipath_seed() || diffs.is_empty() {
        return false;
    }
    let (Answer::Ok(k), Answer::Ok(f)) = (kernel, fwdsim) else {
        return false;
    };
    if !diffs
        .iter()
        .all(|d| matches!(d.field.as_str(), "gateway" | "dev" | "cache" | "prefsrc"))
    {
        return false;
    }
    // A gateway that resolves to one of the host's own addresses (an address
    // or a local route) gets host scope and is not shown
    // (fib_check_nh_v4_gw); multicast and broadcast output routes drop the
    // gateway (`__mkroute_output`). So a next hop matches on its device, and
    // on its gateway when the answer shows one.
    let hit = |r: &RouteAnswer, nh: &crate::spec::NexthopInfo| {
        (r.gateway.is_none() || nh.gateway.map(|g| g.to_string()) == r.gateway)
            && nh.dev.as_ref().is_none_or(|d| Some(d) == r.dev.as_ref())
    };
    spec.route_infos()
        .iter()
        .filter(|r| r.multipath)
        .any(|r| r.nexthops.iter().any(|nh| hit(k, nh)) && r.nexthops.iter().any(|nh| hit(f, nh)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_json_and_errors_parse() {
        let a = Answer::from_kernel_json(
            r#"[{"type":"multicast","dst":"224.0.0.1","from":"10.0.1.2","dev":"lo","flags":["rt_offload_failed"],"cache":["local","mc"],"iif":"r0"}]"#,
        )
        .unwrap();
        let Answer::Ok(r) = &a else { panic!() };
        assert_eq!(r.rtype, "multicast");
        assert_eq!(r.table, "main");
        assert!(r.cache.contains("mc"));
        let e = Answer::from_kernel_stderr("RTNETLINK answers: No route to host\n");
        assert_eq!(e.outcome_word(), "EHOSTUNREACH");
        let e = Answer::from_kernel_stderr("Error: Invalid dsfield (tos): ECN bits must be 0.\n");
        let Answer::Err(e) = e else { panic!() };
        assert_eq!(e.errno, None);
    }

    #[test]
    fn diff_reports_fields() {
        let k = Answer::from_kernel_json(r#"[{"dst":"1.2.3.4","dev":"e0","flags":[],"cache":[]}]"#)
            .unwrap();
        let f = Answer::from_kernel_json(
            r#"[{"dst":"1.2.3.4","dev":"e1","table":"main","flags":[],"cache":["redirect"]}]"#,
        )
        .unwrap();
        let d = diff(&k, &f);
        let names: Vec<&str> = d.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(names, vec!["dev", "cache"]);
        assert!(diff(&k, &k).is_empty());
        let e = Answer::from_kernel_stderr("RTNETLINK answers: Network is unreachable");
        assert_eq!(diff(&k, &e)[0].field, "outcome");
    }
}
