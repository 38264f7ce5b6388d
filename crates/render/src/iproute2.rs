//! `ip route get` answers exactly as iproute2 6.1 prints them: the text
//! lines (each field followed by a space, the second line starting
//! `    cache`), the `-j` object with iproute2's keys and order, and the
//! `RTNETLINK answers:` error.

use std::fmt::Write;

use fwdsim_kernel::Netns;
use fwdsim_kernel::ipv4::rtnetlink::{RouteGetError, RouteGetReply};
use fwdsim_kernel::netns::rt_table;
use fwdsim_kernel::uapi::{RouteType, RtcFlags};
use serde_json::{Map, Value, json};

/// `rtnl_rttable_n2a`: a table id as iproute2 names it.
pub fn table_name(id: u32) -> String {
    match id {
        rt_table::RT_TABLE_LOCAL => "local".into(),
        rt_table::RT_TABLE_MAIN => "main".into(),
        rt_table::RT_TABLE_DEFAULT => "default".into(),
        0 => "unspec".into(),
        n => n.to_string(),
    }
}

/// The `rtm_flags` words iproute2 prints after the device (`print_rt_flags`).
fn rt_flag_words(flags: u32) -> Vec<&'static str> {
    const WORDS: &[(u32, &str)] = &[
        (1, "dead"),
        (4, "onlink"),
        (2, "pervasive"),
        (8, "offload"),
        (64, "trap"),
        (0x100, "notify"),
        (16, "linkdown"),
        (32, "unresolved"),
        (0x2000, "rt_offload"),
        (0x4000, "rt_trap"),
        (0x2000_0000, "rt_offload_failed"),
    ];
    WORDS
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, w)| *w)
        .collect()
}

/// The `cache <...>` words (`print_cache_flags`), in iproute2's order.
fn cache_words(flags: u32) -> Vec<&'static str> {
    let flags = flags & !0xffff;
    const WORDS: &[(u32, &str)] = &[
        (RtcFlags::RTCF_LOCAL.0, "local"),
        (0x4000_0000, "reject"),
        (RtcFlags::RTCF_MULTICAST.0, "mc"),
        (RtcFlags::RTCF_BROADCAST.0, "brd"),
        (RtcFlags::RTCF_DNAT.0, "dst-nat"),
        (0x0080_0000, "src-nat"),
        (0x0040_0000, "masq"),
        (0x0002_0000, "dst-direct"),
        (RtcFlags::RTCF_DIRECTSRC.0, "src-direct"),
        (RtcFlags::RTCF_REDIRECTED.0, "redirected"),
        (RtcFlags::RTCF_DOREDIRECT.0, "redirect"),
        (0x0020_0000, "fastroute"),
        (RtcFlags::RTCF_NOTIFY.0, "notify"),
        (0x0008_0000, "proxy"),
    ];
    WORDS
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, w)| *w)
        .collect()
}

fn tos_word(tos: u8) -> String {
    format!("0x{tos:02x}")
}

/// The answer as `ip route get` prints it (two lines, trailing newline).
pub fn route_get_text(ns: &Netns, r: &RouteGetReply) -> String {
    let mut s = String::new();
    if r.rt_type != RouteType::RTN_UNICAST {
        let _ = write!(s, "{} ", r.rt_type.word().unwrap_or("unknown"));
    }
    let _ = write!(s, "{} ", r.dst);
    if let Some(src) = r.src {
        let _ = write!(s, "from {src} ");
    }
    if r.tos != 0 {
        let _ = write!(s, "tos {} ", tos_word(r.tos));
    }
    if let Some(gw) = r.gateway {
        let _ = write!(s, "via {gw} ");
    }
    let _ = write!(s, "dev {} ", ns.dev_name(r.dev));
    if r.table != 0 && r.table != rt_table::RT_TABLE_MAIN {
        let _ = write!(s, "table {} ", table_name(r.table));
    }
    if let Some(p) = r.prefsrc {
        let _ = write!(s, "src {p} ");
    }
    for w in rt_flag_words(r.rtm_flags) {
        let _ = write!(s, "{w} ");
    }
    if r.mark != 0 {
        let _ = write!(s, "mark {} ", r.mark);
    }
    if let Some(uid) = r.uid {
        let _ = write!(s, "uid {uid} ");
    }
    s.push_str("\n    cache ");
    let words = cache_words(r.rtm_flags);
    if !words.is_empty() {
        let _ = write!(s, "<{}> ", words.join(","));
    }
    if let Some(mtu) = r.mtu {
        let _ = write!(s, "mtu {mtu} ");
    }
    if let Some(iif) = r.iif {
        let _ = write!(s, "iif {} ", ns.dev_name(iif));
    }
    s.push('\n');
    s
}

/// The answer as `ip -j route get` prints it: an array with one object.
pub fn route_get_json(ns: &Netns, r: &RouteGetReply) -> Value {
    let mut m = Map::new();
    if r.rt_type != RouteType::RTN_UNICAST {
        m.insert("type".into(), json!(r.rt_type.word().unwrap_or("unknown")));
    }
    m.insert("dst".into(), json!(r.dst.to_string()));
    if let Some(src) = r.src {
        m.insert("from".into(), json!(src.to_string()));
    }
    if r.tos != 0 {
        m.insert("tos".into(), json!(tos_word(r.tos)));
    }
    if let Some(gw) = r.gateway {
        m.insert("gateway".into(), json!(gw.to_string()));
    }
    m.insert("dev".into(), json!(ns.dev_name(r.dev)));
    if r.table != 0 && r.table != rt_table::RT_TABLE_MAIN {
        m.insert("table".into(), json!(table_name(r.table)));
    }
    if let Some(p) = r.prefsrc {
        m.insert("prefsrc".into(), json!(p.to_string()));
    }
    m.insert("flags".into(), json!(rt_flag_words(r.rtm_flags)));
    if r.mark != 0 {
        m.insert("mark".into(), json!(r.mark));
    }
    if let Some(uid) = r.uid {
        m.insert("uid".into(), json!(uid));
    }
    m.insert("cache".into(), json!(cache_words(r.rtm_flags)));
    if let Some(mtu) = r.mtu {
        m.insert("metrics".into(), json!([{ "mtu": mtu }]));
    }
    if let Some(iif) = r.iif {
        m.insert("iif".into(), json!(ns.dev_name(iif)));
    }
    Value::Array(vec![Value::Object(m)])
}

/// The line `ip` prints on stderr for a failed `route get`.
pub fn route_get_error_text(e: &RouteGetError) -> String {
    format!("RTNETLINK answers: {}", e.errno.message())
}

/// The `-j` object for a failed `route get`: the symbolic errno, its
/// message, and the drop reason a real packet would get (or null).
pub fn route_get_error_json(e: &RouteGetError) -> Value {
    json!({
        "errno": e.errno.to_string(),
        "message": e.errno.message(),
        "drop_reason": e.drop_reason.map(|r| r.name()),
    })
}
