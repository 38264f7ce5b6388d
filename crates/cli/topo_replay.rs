//! `fwdsim replay CAPTURE --topology DIR --at NS[/DEV]` (interfaces.md
//! section 5): a capture taken in namespace NS replayed across a topology.
//! A frame the capture marks as sent (SLL/SLL2 `PACKET_OUTGOING`), or,
//! in a capture without direction, whose source MAC is the capture
//! device's own, goes onto the link (`Topology::inject_sent`); any other
//! frame is received on the device (`Topology::inject`). Each is followed
//! through every namespace it reaches; replies the models make travel on
//! too but are not lines of their own (they are not in the capture).
//!
//! Output: one line per packet and its hops indented below it, or with
//! `-j` one JSON object per packet with `"hops"` and the last hop's
//! fields at top level, then `{"summary": {VERDICT: COUNT}}`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use fwdsim_kernel::topology::{HopVerdict, TopoPacket, Topology};
use serde_json::json;

use crate::topo::hop_json;
use crate::{Failure, ReplayArgs};

/// The device of NS a packet was captured on: `--at NS/DEV`, else the
/// pcapng interface name, else the SLL2 ifindex.
fn capture_dev(
    topo: &Topology,
    ns: fwdsim_kernel::topology::NsId,
    dev: Option<&str>,
    p: &fwdsim_pcap::Packet<'_>,
) -> Result<String, String> {
    let n = topo.netns(ns);
    if let Some(d) = dev {
        return Ok(d.to_string());
    }
    if let Some(name) = p.iif_name {
        return n.dev_by_name(name).map(|d| d.name.clone()).ok_or_else(|| {
            format!(
                "the capture's interface {name:?} is no device of {}",
                topo.name(ns)
            )
        });
    }
    if let Some(i) = p.iif_index {
        return n
            .dev(fwdsim_kernel::IfIndex(i))
            .map(|d| d.name.clone())
            .ok_or_else(|| format!("no device with ifindex {i} in {}", topo.name(ns)));
    }
    Err(format!(
        "the capture names no device: give it with --at {}/DEV",
        topo.name(ns)
    ))
}

/// `src > dst PROTO` of a frame, for the text form.
fn frame_words(frame: &[u8]) -> String {
    let Some(ip) = frame.get(14..) else {
        return "short frame".into();
    };
    match (frame.get(12), frame.get(13)) {
        (Some(0x08), Some(0x06)) => return "ARP".into(),
        (Some(0x08), Some(0x00)) if ip.len() >= 20 => {}
        _ => return "non-IP frame".into(),
    }
    let s = std::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let d = std::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let proto = match ip[9] {
        1 => "ICMP",
        6 => "TCP",
        17 => "UDP",
        _ => "IP",
    };
    format!("{s} > {d} {proto}")
}

fn fate(topo: &Topology, p: &TopoPacket) -> String {
    match p.last() {
        Some(h) => topo.hop_text(h),
        None => "no hop".into(),
    }
}

/// Runs `replay --topology`.
pub fn replay(a: &ReplayArgs, path: &std::path::Path, at: &str) -> Result<ExitCode, Failure> {
    let t = crate::topo::load(path)?;
    let mut topo = crate::topo::engine(t)?;
    let (ns, dev) = crate::topo::at(&topo, at)?;
    let ns_name = topo.name(ns).to_string();
    let mut r = fwdsim_pcap::CaptureReader::open(&a.capture)
        .map_err(|e| Failure(format!("{}: {e}", a.capture.display())))?;
    let mut summary: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut failed = false;
    let mut first_ts: Option<i128> = None;
    let mut frame = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = match p {
            Ok(p) => p,
            Err(e) => {
                eprintln!("fwdsim: {}: {e}", a.capture.display());
                failed = true;
                continue;
            }
        };
        let d = match capture_dev(&topo, ns, dev.as_deref(), &p) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("fwdsim: packet {}: {e}", p.index);
                failed = true;
                continue;
            }
        };
        let dev_addr = topo
            .netns(ns)
            .dev_by_name(&d)
            .map(|x| x.dev_addr)
            .unwrap_or_default();
        frame.clear();
        frame.extend_from_slice(p.frame);
        if p.dst_is_placeholder() && frame.len() >= 6 {
            frame[..6].copy_from_slice(&dev_addr);
        }
        let sent = match p.pkt_type {
            Some(t) => t == fwdsim_pcap::PACKET_OUTGOING,
            None => frame.len() >= 12 && frame[6..12] == dev_addr,
        };
        let t0 = *first_ts.get_or_insert(p.ts_nanos);
        let now =
            ((p.ts_nanos - t0).max(0) as u128 * fwdsim_kernel::HZ as u128 / 1_000_000_000) as u64;
        let id = if sent {
            topo.inject_sent(&ns_name, &d, &frame, now)
        } else {
            topo.inject(&ns_name, &d, &frame, now)
        }?;
        topo.run();
        let pk = topo.packet(id).clone();
        let verdict = pk.last().map_or("none", |h| h.verdict.word());
        *summary.entry(verdict).or_default() += 1;
        if a.json {
            let mut o = match pk.last() {
                Some(h) => hop_json(&topo, h),
                None => json!({"ns": ns_name, "dev": d, "verdict": null, "drop_reason": null}),
            };
            o["index"] = json!(p.index);
            o["captured"] = json!(format!("{ns_name}/{d}"));
            o["direction"] = json!(if sent { "sent" } else { "received" });
            o["hops"] =
                serde_json::Value::Array(pk.hops.iter().map(|h| hop_json(&topo, h)).collect());
            println!("{o}");
        } else {
            println!(
                "{:>4}  {} ({} {ns_name}/{d}): {}",
                p.index,
                frame_words(&frame),
                if sent { "sent on" } else { "received on" },
                fate(&topo, &pk)
            );
            for h in &pk.hops {
                println!("        {}", topo.hop_text(h));
            }
        }
        if pk.last().is_some_and(|h| h.verdict == HopVerdict::Queued) {
            eprintln!(
                "fwdsim: packet {}: still waiting for a neighbour when the capture ended its run",
                p.index
            );
        }
    }
    if a.json {
        println!("{}", json!({"summary": summary}));
    } else {
        let parts: Vec<String> = summary.iter().map(|(k, v)| format!("{v} {k}")).collect();
        println!("summary: {}", parts.join(", "));
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
