//! Comparing route tables: fwdsim's `host show -j` `route` member against
//! the kernel's `ip -j -4 route show table all`, as multisets of route
//! objects reduced to `type`, `dst`, `table`, `dev`, `gateway`, `scope`,
//! `prefsrc`, `protocol`, `metric`, plus `tos` and the `nexthops` of
//! multipath routes (without them, distinct routes would look alike).
//! Keys iproute2 leaves out get their implied value (unicast, main,
//! global, boot, 0).

use std::collections::BTreeMap;

use serde_json::Value;

fn s(o: &Value, k: &str) -> Option<String> {
    match o.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        v => Some(v.to_string()),
    }
}

fn norm_dst(d: Option<String>) -> String {
    match d.as_deref() {
        None | Some("0.0.0.0/0") | Some("default") => "default".into(),
        Some(x) => x.strip_suffix("/32").unwrap_or(x).to_string(),
    }
}

/// The comparison key of one route object.
pub fn route_key(o: &Value) -> String {
    let or = |k: &str, d: &str| s(o, k).unwrap_or_else(|| d.to_string());
    let mut key = format!(
        "{} {} table {} dev {} via {} scope {} src {} proto {} metric {} tos {}",
        or("type", "unicast"),
        norm_dst(s(o, "dst")),
        or("table", "main"),
        or("dev", "-"),
        or("gateway", "-"),
        or("scope", "global"),
        or("prefsrc", "-"),
        or("protocol", "boot"),
        or("metric", "0"),
        s(o, "tos")
            .or_else(|| s(o, "dsfield"))
            .unwrap_or_else(|| "-".into()),
    );
    if let Some(Value::Array(nhs)) = o.get("nexthops") {
        key.push_str(" nexthops");
        for nh in nhs {
            key.push_str(&format!(
                " [via {} dev {} weight {}]",
                s(nh, "gateway").unwrap_or_else(|| "-".into()),
                s(nh, "dev").unwrap_or_else(|| "-".into()),
                s(nh, "weight").unwrap_or_else(|| "1".into()),
            ));
        }
    }
    key
}

fn multiset(v: &Value) -> Option<BTreeMap<String, usize>> {
    let mut m = BTreeMap::new();
    for o in v.as_array()? {
        *m.entry(route_key(o)).or_default() += 1;
    }
    Some(m)
}

/// The routes only the kernel has and those only fwdsim has (by key).
/// `Err` when either side is not a JSON array.
pub fn route_set_diff(
    kernel: &Value,
    fwdsim: &Value,
) -> Result<(Vec<String>, Vec<String>), String> {
    let k = multiset(kernel).ok_or("the kernel's route list is not a JSON array")?;
    let f = multiset(fwdsim).ok_or("fwdsim's \"route\" member is not a JSON array")?;
    let mut only_kernel = Vec::new();
    let mut only_fwdsim = Vec::new();
    for (key, n) in &k {
        let m = f.get(key).copied().unwrap_or(0);
        for _ in m..*n {
            only_kernel.push(key.clone());
        }
    }
    for (key, n) in &f {
        let m = k.get(key).copied().unwrap_or(0);
        for _ in m..*n {
            only_fwdsim.push(key.clone());
        }
    }
    Ok((only_kernel, only_fwdsim))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_implied() {
        let k: Value = serde_json::from_str(
            r#"[{"dst":"10.1.0.0/24","dev":"e0","protocol":"kernel","scope":"link","prefsrc":"10.1.0.1","flags":[]},
                {"type":"local","dst":"10.1.0.1","dev":"e0","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.1.0.1","flags":[]}]"#,
        )
        .unwrap();
        let f: Value = serde_json::from_str(
            r#"[{"type":"unicast","dst":"10.1.0.0/24","dev":"e0","table":"main","protocol":"kernel","scope":"link","prefsrc":"10.1.0.1","metric":0},
                {"type":"local","dst":"10.1.0.1/32","dev":"e0","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.1.0.1"},
                {"type":"blackhole","dst":"0.0.0.0/0"}]"#,
        )
        .unwrap();
        let (k_only, f_only) = route_set_diff(&k, &f).unwrap();
        assert!(k_only.is_empty());
        assert_eq!(f_only.len(), 1);
        assert!(f_only[0].starts_with("blackhole default"));
    }
}
