//! What the kernel did with a frame against what `fwdsim replay` says, field
//! by field.
//!
//! The kernel's side is read off [`KernelObs`] ([`KernelView`]):
//!
//! - `verdict`: `forward` when the packet left the router (a frame reached
//!   the server, or the packet itself came back out r0 towards another
//!   gateway); else `drop` when the router freed it with `kfree_skb`; else
//!   `local` when `Ip InDelivers` grew; else `consumed` (none of these,
//!   which the contract has no word for);
//! - `drop_reason`: the first `kfree_skb` event's reason, when dropped;
//! - `icmp`: type/code of the first ICMP error (types 3, 4, 5, 11, 12)
//!   that came back to the client;
//! - `egress`: the frames that reached the server must be fwdsim's frames
//!   on r1 with this packet's timestamp, byte for byte, and those that came
//!   back to the client its frames on r0. Frames the router made itself
//!   (any other IP source, destination or ID than the packet's) are
//!   compared with the IP ID and header checksum masked, which fwdsim
//!   cannot know (`ip_select_ident`); in every frame the values of IP
//!   timestamp options are masked (wall-clock time, [`mask_timestamps`]);
//! - `snmp`: the router's counter deltas of [`snmp::GROUPS_COMPARED`]
//!   (and `TcpExt IPReversePathFilter`), per packet.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::answer::FieldDiff;
use crate::packet::capture::EgressFrame;
use crate::packet::frames::{IP, Probe, hex, summary};
use crate::packet::replay::PacketOut;
use crate::packet::snmp::{self, Counters};
use crate::packet::wire::KernelObs;

/// The fields compared, in report order.
pub const FIELDS: &[&str] = &["verdict", "drop_reason", "icmp", "egress", "snmp"];

/// ICMP types that are errors (RFC 792, RFC 1812: what `icmp_send` sends).
const ICMP_ERRORS: &[u8] = &[3, 4, 5, 11, 12];

/// The kernel's outcome in the words of the replay contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelView {
    /// `forward`, `local`, `drop` or `consumed`.
    pub verdict: &'static str,
    /// The drop reason, when dropped.
    pub drop_reason: Option<String>,
    /// Where it was freed (`ip_rcv_core`...), when dropped.
    pub location: Option<String>,
    /// The ICMP error the client got.
    pub icmp: Option<(u8, u8)>,
}

impl KernelView {
    /// The outcome word used by divergence matchers: the drop reason when
    /// dropped, else the verdict.
    pub fn word(&self) -> String {
        match (&self.verdict, &self.drop_reason) {
            (&"drop", Some(r)) => r.clone(),
            (v, _) => v.to_string(),
        }
    }
}

/// `(src, dst, id, protocol)` of a frame's IPv4 header, if it has 20 bytes of one.
pub fn ip_key(frame: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, u16, u8)> {
    let ip = frame.get(IP..IP + 20)?;
    if frame[12..14] != [8, 0] {
        return None;
    }
    Some((
        Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
        Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
        u16::from_be_bytes([ip[4], ip[5]]),
        ip[9],
    ))
}

/// Whether `out` is the injected packet itself (or a fragment of it) on its
/// way on, rather than something the router made.
fn is_the_packet(input: &[u8], out: &[u8]) -> bool {
    matches!((ip_key(input), ip_key(out)), (Some(a), Some(b)) if a == b)
}

/// The ICMP error in `frame`, if it is one.
pub fn icmp_error(frame: &[u8]) -> Option<(u8, u8)> {
    let ip = frame.get(IP..)?;
    if frame[12..14] != [8, 0] || ip.len() < 20 || ip[9] != 1 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let t = *ip.get(ihl)?;
    let c = *ip.get(ihl + 1)?;
    ICMP_ERRORS.contains(&t).then_some((t, c))
}

/// The kernel's outcome for `probe` (see the module documentation).
pub fn kernel_view(probe: &Probe, obs: &KernelObs) -> KernelView {
    let forwarded =
        !obs.to_server.is_empty() || obs.to_client.iter().any(|f| is_the_packet(&probe.frame, f));
    let first = obs.drops.first();
    let delivered = obs
        .snmp
        .get("Ip")
        .and_then(|m| m.get("InDelivers"))
        .is_some_and(|v| *v > 0);
    let (verdict, drop_reason, location) = if forwarded {
        ("forward", None, None)
    } else if let Some(e) = first {
        ("drop", Some(e.reason.clone()), Some(e.location.clone()))
    } else if delivered || probe.frame.get(12..14) == Some(&[0x08, 0x06][..]) {
        // An ARP frame the kernel did not free went to arp_process: the
        // host took it (consume_skb), which the contract calls local.
        ("local", None, None)
    } else {
        ("consumed", None, None)
    };
    KernelView {
        verdict,
        drop_reason,
        location,
        icmp: obs.to_client.iter().find_map(|f| icmp_error(f)),
    }
}

/// Zeroes the times of every IPv4 timestamp option (type 68) in `f`: the
/// kernel writes wall-clock milliseconds since midnight UT
/// (`inet_current_timestamp`), which no capture timestamp reproduces. The
/// option's type, length, pointer, flags and addresses stay. Returns
/// whether one was found.
pub fn mask_timestamps(f: &mut [u8]) -> bool {
    if f.len() < IP + 20 || f[12..14] != [8, 0] {
        return false;
    }
    let end = (IP + usize::from(f[IP] & 0x0f) * 4).min(f.len());
    let mut o = IP + 20;
    let mut found = false;
    while o < end {
        match f[o] {
            0 => break,
            1 => o += 1,
            t => {
                let Some(&len) = f.get(o + 1) else { break };
                let len = usize::from(len);
                if len < 2 || o + len > end {
                    break;
                }
                if t == 68 && len > 4 {
                    // Flag 0: every word is a time; flags 1 and 3: each
                    // address is followed by its time (the addresses stay).
                    if f[o + 3] & 0x0f == 0 {
                        f[o + 4..o + len].fill(0);
                    } else {
                        let mut w = o + 8;
                        while w + 4 <= o + len {
                            f[w..w + 4].fill(0);
                            w += 8;
                        }
                    }
                    found = true;
                }
                o += len;
            }
        }
    }
    found
}

/// A copy of `f` ready to compare: timestamp option values masked
/// ([`mask_timestamps`]), and the IPv4 ID masked when the router `made` the
/// frame; the header checksum is masked whenever anything it covers was.
fn normalized(f: &[u8], made: bool) -> Vec<u8> {
    let mut v = f.to_vec();
    let ts = mask_timestamps(&mut v);
    // An ICMP timestamp reply carries the router's clock (ms since
    // midnight UT): its receive and transmit times and the checksum over
    // them are masked.
    if made && v.len() >= IP + 20 && v[12..14] == [8, 0] && v[IP + 9] == 1 {
        let o = IP + usize::from(v[IP] & 0x0f) * 4;
        if v.get(o) == Some(&14) && v.len() >= o + 20 {
            v[o + 2..o + 4].fill(0);
            v[o + 12..o + 20].fill(0);
        }
    }
    if v.len() >= IP + 12 {
        if made {
            v[IP + 4] = 0;
            v[IP + 5] = 0;
        }
        if made || ts {
            v[IP + 10] = 0;
            v[IP + 11] = 0;
        }
    }
    v
}

/// The name of the IPv4/Ethernet field at `offset` of a frame.
fn field_at(offset: usize) -> &'static str {
    match offset {
        0..=5 => "dst mac",
        6..=11 => "src mac",
        12..=13 => "ethertype",
        14 => "version/ihl",
        15 => "tos",
        16..=17 => "tot_len",
        18..=19 => "id",
        20..=21 => "frag",
        22 => "ttl",
        23 => "protocol",
        24..=25 => "ip csum",
        26..=29 => "saddr",
        30..=33 => "daddr",
        _ => "beyond the IP header",
    }
}

/// Compares the kernel's frames on one device with fwdsim's; `None` when
/// they agree.
fn compare_frames(dev: &str, input: &[u8], kernel: &[Vec<u8>], fwdsim: &[&[u8]]) -> Option<String> {
    compare_frames_by(dev, kernel, fwdsim, &|k| is_the_packet(input, k))
}

/// [`compare_frames`] with the test for "this frame is the input packet
/// itself" given (`is_packet`; any other frame is one the router made, whose
/// IP ID and header checksum are masked).
pub fn compare_frames_by(
    dev: &str,
    kernel: &[Vec<u8>],
    fwdsim: &[&[u8]],
    is_packet: &dyn Fn(&[u8]) -> bool,
) -> Option<String> {
    if kernel.len() != fwdsim.len() {
        return Some(format!(
            "{dev}: kernel {} frame(s), fwdsim {}",
            kernel.len(),
            fwdsim.len()
        ));
    }
    let mut out = Vec::new();
    for (i, (k, f)) in kernel.iter().zip(fwdsim).enumerate() {
        let made = !is_packet(k);
        let (k2, f2) = (normalized(k, made), normalized(f, made));
        if k2 == f2 {
            continue;
        }
        if k2.len() != f2.len() {
            out.push(format!(
                "{dev} frame {}: kernel {} bytes, fwdsim {}",
                i + 1,
                k2.len(),
                f2.len()
            ));
            continue;
        }
        let offs: Vec<usize> = (0..k2.len()).filter(|&o| k2[o] != f2[o]).collect();
        let mut names: Vec<String> = Vec::new();
        for &o in &offs {
            let n = if o >= IP + 20 {
                format!("byte {o}")
            } else {
                field_at(o).to_string()
            };
            if !names.contains(&n) {
                names.push(n);
            }
            if names.len() == 6 {
                break;
            }
        }
        out.push(format!(
            "{dev} frame {}: {} byte(s) differ ({})",
            i + 1,
            offs.len(),
            names.join(", ")
        ));
    }
    (!out.is_empty()).then(|| out.join("; "))
}

/// One disagreement about one packet.
#[derive(Clone, Debug)]
pub struct PacketDisagreement {
    /// 1-based index in the capture (0: the router's totals, unattributed).
    pub index: usize,
    /// The catalogue label.
    pub label: String,
    /// Text matched by a divergence's `query`: `label | counter X | frame summary`.
    pub query: String,
    /// The frame's source address.
    pub src: Option<Ipv4Addr>,
    /// The frame's destination address.
    pub dst: Option<Ipv4Addr>,
    /// The differing fields.
    pub diffs: Vec<FieldDiff>,
    /// The kernel's outcome word ([`KernelView::word`]).
    pub kernel_word: String,
    /// fwdsim's outcome word (its drop reason, else its verdict).
    pub fwdsim_word: String,
    /// What the kernel did, for the report.
    pub kernel_detail: String,
    /// What fwdsim said, for the report.
    pub fwdsim_detail: String,
    /// The frame as hex.
    pub frame_hex: String,
    /// The divergence entry that lists it.
    pub listed: Option<String>,
}

/// fwdsim's outcome word: its drop reason when it drops, else its verdict.
pub fn fwdsim_word(p: &PacketOut) -> String {
    match (p.verdict.as_str(), &p.drop_reason) {
        ("drop", Some(r)) => r.clone(),
        (v, _) => v.to_string(),
    }
}

fn icmp_text(i: Option<(u8, u8)>) -> String {
    i.map_or("none".into(), |(t, c)| format!("{t}/{c}"))
}

/// What the kernel did with a frame, in one paragraph.
pub fn kernel_detail(view: &KernelView, obs: &KernelObs) -> String {
    let mut s = view.verdict.to_string();
    if let (Some(r), Some(l)) = (&view.drop_reason, &view.location) {
        let _ = write!(s, " {r} at {l}");
    }
    for e in obs.drops.iter().skip(1) {
        let _ = write!(s, " (then kfree_skb {} at {})", e.reason, e.location);
    }
    let _ = write!(s, ", icmp {}", icmp_text(view.icmp));
    for f in &obs.to_server {
        let _ = write!(s, "\n        to server: {}", summary(f));
    }
    for f in &obs.to_client {
        let _ = write!(s, "\n        to client: {}", summary(f));
    }
    let _ = write!(
        s,
        "\n        counters: {}",
        snmp::render(&snmp::compared(&obs.snmp))
    );
    s
}

/// The verdict, drop reason (fwdsim's only when it dropped) and ICMP of a
/// packet, kernel against fwdsim.
pub fn outcome_diffs(view: &KernelView, out: &PacketOut) -> Vec<FieldDiff> {
    let mut diffs = Vec::new();
    let mut d = |field: &str, k: String, f: String| {
        if k != f {
            diffs.push(FieldDiff {
                field: field.into(),
                kernel: k,
                fwdsim: f,
            });
        }
    };
    d("verdict", view.verdict.to_string(), out.verdict.clone());
    let fwdsim_reason = if out.verdict == "drop" {
        out.drop_reason.clone()
    } else {
        None
    };
    d(
        "drop_reason",
        view.drop_reason.clone().unwrap_or_else(|| "null".into()),
        fwdsim_reason.unwrap_or_else(|| "null".into()),
    );
    d("icmp", icmp_text(view.icmp), icmp_text(out.icmp));
    diffs
}

/// The `egress` difference: the frame comparisons of r0 and r1 that
/// failed, and any fwdsim frame on another device.
pub fn push_egress_diff(
    diffs: &mut Vec<FieldDiff>,
    mut egress: Vec<String>,
    fwdsim_egress: &[&EgressFrame],
) {
    let elsewhere: Vec<&str> = fwdsim_egress
        .iter()
        .filter(|e| e.dev != "r0" && e.dev != "r1")
        .map(|e| e.dev.as_str())
        .collect();
    if !elsewhere.is_empty() {
        egress.push(format!("fwdsim frames on {}", elsewhere.join(", ")));
    }
    if !egress.is_empty() {
        diffs.push(FieldDiff {
            field: "egress".into(),
            kernel: "(see the frames)".into(),
            fwdsim: egress.join("; "),
        });
    }
}

/// Compares one packet; `fwdsim_egress` are fwdsim's frames with this
/// packet's timestamp. Returns the disagreement on verdict, drop reason,
/// ICMP and egress (counters are compared by [`compare_counters`]).
pub fn compare_packet(
    index: usize,
    probe: &Probe,
    obs: &KernelObs,
    out: &PacketOut,
    fwdsim_egress: &[&EgressFrame],
) -> Option<PacketDisagreement> {
    let view = kernel_view(probe, obs);
    let mut diffs = outcome_diffs(&view, out);
    let on = |dev: &str| -> Vec<&[u8]> {
        fwdsim_egress
            .iter()
            .filter(|e| e.dev == dev)
            .map(|e| &e.frame[..])
            .collect()
    };
    let mut egress = Vec::new();
    if let Some(e) = compare_frames("r1", &probe.frame, &obs.to_server, &on("r1")) {
        egress.push(e);
    }
    if let Some(e) = compare_frames("r0", &probe.frame, &obs.to_client, &on("r0")) {
        egress.push(e);
    }
    push_egress_diff(&mut diffs, egress, fwdsim_egress);
    if diffs.is_empty() {
        return None;
    }
    let mut fd = out.json.to_string();
    for e in fwdsim_egress {
        let _ = write!(fd, "\n        out {}: {}", e.dev, summary(&e.frame));
    }
    let key = ip_key(&probe.frame);
    Some(PacketDisagreement {
        index,
        label: probe.label(),
        query: format!("{} | {}", probe.label(), summary(&probe.frame)),
        src: key.map(|k| k.0),
        dst: key.map(|k| k.1),
        diffs,
        kernel_word: view.word(),
        fwdsim_word: fwdsim_word(out),
        kernel_detail: kernel_detail(&view, obs),
        fwdsim_detail: fd,
        frame_hex: hex(&probe.frame),
        listed: None,
    })
}

/// One disagreement per counter whose per-packet deltas differ. `kernel`
/// and `fwdsim` are both already restricted with [`snmp::compared`].
pub fn compare_counters(
    index: usize,
    probe: Option<&Probe>,
    kernel: &Counters,
    fwdsim: &Counters,
) -> Vec<PacketDisagreement> {
    let mut out = Vec::new();
    for (name, k, f) in snmp::differences(kernel, fwdsim) {
        let (label, summ, key, hexs) = match probe {
            Some(p) => (
                p.label(),
                summary(&p.frame),
                ip_key(&p.frame),
                hex(&p.frame),
            ),
            None => ("router totals".into(), String::new(), None, String::new()),
        };
        out.push(PacketDisagreement {
            index,
            label: label.clone(),
            query: format!("{label} | counter {name} | {summ}"),
            src: key.map(|x| x.0),
            dst: key.map(|x| x.1),
            diffs: vec![FieldDiff {
                field: "snmp".into(),
                kernel: format!("{name} {k:+}"),
                fwdsim: format!("{name} {f:+}"),
            }],
            kernel_word: name.clone(),
            fwdsim_word: name,
            kernel_detail: snmp::render(kernel),
            fwdsim_detail: snmp::render(fwdsim),
            frame_hex: hexs,
            listed: None,
        });
    }
    out
}

/// Kernel outcome counts for the summary (`forward`, `local`,
/// `drop IP_CSUM`...).
pub fn tally(views: &[KernelView]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for v in views {
        let k = match &v.drop_reason {
            Some(r) => format!("drop {r}"),
            None => v.verdict.to_string(),
        };
        *m.entry(k).or_default() += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::ktrace::DropEvent;

    fn frame(src: [u8; 4], dst: [u8; 4], id: u16, proto: u8, extra: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 14];
        f[12] = 8;
        let mut ip = vec![
            0x45,
            0,
            0,
            0,
            (id >> 8) as u8,
            id as u8,
            0,
            0,
            64,
            proto,
            0,
            0,
        ];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        f.extend_from_slice(&ip);
        f.extend_from_slice(extra);
        f
    }

    #[test]
    fn kernel_side_and_masking() {
        let input = frame([10, 200, 0, 1], [10, 0, 2, 2], 0x1000, 1, &[8, 0, 0, 0]);
        let probe = Probe {
            kind: "t",
            nth: (1, 1),
            group: 0,
            frame: input.clone(),
            ts_nanos: 1,
        };
        let icmp = frame([10, 0, 1, 1], [10, 200, 0, 1], 0x7777, 1, &[11, 0, 0, 0]);
        let obs = KernelObs {
            to_client: vec![icmp.clone()],
            drops: vec![DropEvent {
                skbaddr: "0".into(),
                comm: "x".into(),
                pid: 1,
                location: "ip_forward".into(),
                reason: "IP_INHDR".into(),
                protocol: 2048,
            }],
            ..KernelObs::default()
        };
        let v = kernel_view(&probe, &obs);
        assert_eq!((v.verdict, v.icmp), ("drop", Some((11, 0))));
        assert_eq!(v.word(), "IP_INHDR");
        // A router-made frame with another IP ID agrees once masked.
        let mut theirs = icmp.clone();
        theirs[IP + 5] = 0x12;
        let e = EgressFrame {
            ts_nanos: 1,
            dev: "r0".into(),
            frame: theirs,
            comment: None,
        };
        let out = PacketOut {
            index: 1,
            verdict: "drop".into(),
            drop_reason: Some("IP_INHDR".into()),
            icmp: Some((11, 0)),
            json: serde_json::Value::Null,
        };
        assert!(compare_packet(1, &probe, &obs, &out, &[&e]).is_none());
        // The forwarded packet itself must match exactly.
        let fwd = KernelObs {
            to_server: vec![input.clone()],
            ..KernelObs::default()
        };
        let mut other = input.clone();
        other[IP + 8] = 63;
        let e = EgressFrame {
            ts_nanos: 1,
            dev: "r1".into(),
            frame: other,
            comment: None,
        };
        let out = PacketOut {
            verdict: "forward".into(),
            drop_reason: None,
            icmp: None,
            ..out
        };
        let d = compare_packet(1, &probe, &fwd, &out, &[&e]).unwrap();
        assert_eq!(d.diffs.len(), 1);
        assert!(d.diffs[0].fwdsim.contains("ttl"), "{:?}", d.diffs);
        // Timestamp values are masked, the option's header is not.
        let mut a = frame([1, 1, 1, 1], [2, 2, 2, 2], 1, 1, &[]);
        a[IP] = 0x48;
        a.extend_from_slice(&[68, 12, 13, 0, 0, 1, 2, 3, 0, 4, 5, 6]);
        let mut b = a.clone();
        b[IP + 24] = 9;
        assert_eq!(normalized(&a, false), normalized(&b, false));
        b[IP + 22] = 5;
        assert_ne!(normalized(&a, false), normalized(&b, false));
    }
}
