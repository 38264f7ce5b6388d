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
use crate::{Failure, ReplayArgs, TraceArgs};

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

/// One frame of the capture, ready to start: where, which way, when.
struct Frame {
    index: u64,
    dev: String,
    sent: bool,
    now: u64,
    frame: Vec<u8>,
}

/// Reads the capture: every frame with the device of NS it was taken on,
/// its direction and its time in jiffies from the first frame. Frames that
/// cannot be placed are reported on stderr; the bool says whether any was.
fn read_frames(
    topo: &Topology,
    ns: fwdsim_kernel::topology::NsId,
    dev: Option<&str>,
    capture: &std::path::Path,
) -> Result<(Vec<Frame>, bool), Failure> {
    let mut r = fwdsim_pcap::CaptureReader::open(capture)
        .map_err(|e| Failure(format!("{}: {e}", capture.display())))?;
    let mut out = Vec::new();
    let mut failed = false;
    let mut first_ts: Option<i128> = None;
    while let Some(p) = r.next_packet() {
        let p = match p {
            Ok(p) => p,
            Err(e) => {
                eprintln!("fwdsim: {}: {e}", capture.display());
                failed = true;
                continue;
            }
        };
        let d = match capture_dev(topo, ns, dev, &p) {
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
        let mut frame = p.frame.to_vec();
        if p.dst_is_placeholder() && frame.len() >= 6 {
            frame[..6].copy_from_slice(&dev_addr);
        }
        // The capture's direction, else the rule for captures without one:
        // a frame from the device's own address was sent by it.
        let sent = match p.pkt_type {
            Some(t) => t == fwdsim_pcap::PACKET_OUTGOING,
            None => frame.len() >= 12 && frame[6..12] == dev_addr,
        };
        let t0 = *first_ts.get_or_insert(p.ts_nanos);
        let now =
            ((p.ts_nanos - t0).max(0) as u128 * fwdsim_kernel::HZ as u128 / 1_000_000_000) as u64;
        out.push(Frame {
            index: p.index,
            dev: d,
            sent,
            now,
            frame,
        });
    }
    Ok((out, failed))
}

/// Starts frame `f` in NS and runs the topology until the next frame's
/// time (to the end after the last).
fn play(
    topo: &mut Topology,
    ns_name: &str,
    f: &Frame,
    next: Option<u64>,
) -> Result<fwdsim_kernel::topology::PacketId, Failure> {
    let id = if f.sent {
        topo.inject_sent(ns_name, &f.dev, &f.frame, f.now)
    } else {
        topo.inject(ns_name, &f.dev, &f.frame, f.now)
    }?;
    match next {
        Some(t) => topo.run_until(t),
        None => topo.run(),
    };
    Ok(id)
}

/// Runs `replay --topology`.
pub fn replay(a: &ReplayArgs, path: &std::path::Path, at: &str) -> Result<ExitCode, Failure> {
    let t = crate::topo::load_with_sysctls(path, &a.sim.sysctl)?;
    let mut topo = crate::topo::engine(t)?;
    let (ns, dev) = crate::topo::at(&topo, at)?;
    let ns_name = topo.name(ns).to_string();
    let (frames, failed) = read_frames(&topo, ns, dev.as_deref(), &a.capture)?;
    let mut summary: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut ids = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        ids.push(play(
            &mut topo,
            &ns_name,
            f,
            frames.get(i + 1).map(|n| n.now),
        )?);
    }
    // Printed once all ran: a packet waiting for ARP gets its fate later.
    for (f, id) in frames.iter().zip(ids) {
        let pk = topo.packet(id);
        let sent = f.sent;
        let d = &f.dev;
        let verdict = pk.last().map_or("none", |h| h.verdict.word());
        *summary.entry(verdict).or_default() += 1;
        if a.json {
            let mut o = match pk.last() {
                Some(h) => hop_json(&topo, h),
                None => json!({"ns": ns_name, "dev": d, "verdict": null, "drop_reason": null}),
            };
            o["index"] = json!(f.index);
            o["captured"] = json!(format!("{ns_name}/{d}"));
            o["direction"] = json!(if sent { "sent" } else { "received" });
            o["hops"] =
                serde_json::Value::Array(pk.hops.iter().map(|h| hop_json(&topo, h)).collect());
            println!("{o}");
        } else {
            println!(
                "{:>4}  {} ({} {ns_name}/{d}): {}",
                f.index,
                frame_words(&f.frame),
                if sent { "sent on" } else { "received on" },
                fate(&topo, pk)
            );
            for h in &pk.hops {
                println!("        {}", topo.hop_text(h));
            }
        }
        if pk.last().is_some_and(|h| h.verdict == HopVerdict::Queued) {
            eprintln!(
                "fwdsim: packet {}: still waiting for a neighbour at the end",
                f.index
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

/// Runs `trace CAPTURE --packet N --topology DIR --at NS[/DEV]`: the
/// packets before N run as in `replay`, then packet N with the model's
/// walk recorded, printed under a heading per namespace and device (the
/// hop it gave), and the replies it caused the same way.
pub fn trace(a: &TraceArgs, path: &std::path::Path, at: &str) -> Result<ExitCode, Failure> {
    let t = crate::topo::load_with_sysctls(path, &a.sim.sysctl)?;
    let mut topo = crate::topo::engine(t)?;
    let (ns, dev) = crate::topo::at(&topo, at)?;
    let ns_name = topo.name(ns).to_string();
    let (frames, _) = read_frames(&topo, ns, dev.as_deref(), &a.capture)?;
    let Some(k) = frames.iter().position(|f| f.index == a.packet) else {
        return Err(Failure(format!(
            "{}: no packet {} (it has {} frames)",
            a.capture.display(),
            a.packet,
            frames.len()
        )));
    };
    for (i, f) in frames[..k].iter().enumerate() {
        play(&mut topo, &ns_name, f, frames.get(i + 1).map(|n| n.now))?;
    }
    topo.record_steps = true;
    let f = &frames[k];
    let id = play(&mut topo, &ns_name, f, None)?;
    let pk = topo.packet(id).clone();
    if a.json {
        let walk = |p: &fwdsim_kernel::topology::TopoPacket| -> serde_json::Value {
            serde_json::Value::Array(
                p.steps
                    .iter()
                    .filter_map(|(i, steps)| {
                        let h = p.hops.get(*i)?;
                        let mut o = hop_json(&topo, h);
                        o["steps"] = fwdsim_render::trace::trace_json(topo.netns(h.ns), steps);
                        Some(o)
                    })
                    .collect(),
            )
        };
        let replies: Vec<serde_json::Value> = topo
            .replies_to(id)
            .map(|r| json!({"hops": r.hops.iter().map(|h| hop_json(&topo, h)).collect::<Vec<_>>(), "walk": walk(r)}))
            .collect();
        println!(
            "{}",
            json!({"index": f.index, "hops": pk.hops.iter().map(|h| hop_json(&topo, h)).collect::<Vec<_>>(),
                   "walk": walk(&pk), "caused": replies})
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "packet {}: {} ({} {ns_name}/{}): {}",
        f.index,
        frame_words(&f.frame),
        if f.sent { "sent on" } else { "received on" },
        f.dev,
        fate(&topo, &pk)
    );
    print!("{}", fwdsim_render::topology::walk_text(&topo, &pk));
    for r in topo.replies_to(id) {
        println!();
        println!("caused: {} : {}", frame_words(&r.frame), fate(&topo, r));
        print!("{}", fwdsim_render::topology::walk_text(&topo, r));
    }
    Ok(ExitCode::SUCCESS)
}
