//! `--step`: the walk one step at a time, driven from the keyboard as in a
//! debugger. Each step is printed on stdout; the prompt goes to stderr so a
//! transcript of stdout is the plain walk.

use std::io::{BufRead, Write};

/// What the user asked for at a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// Enter or `n`: the next step.
    Next,
    /// `c`: every remaining step and the result.
    Continue,
    /// `s`: the packet's headers and the skb's fields.
    Show,
    /// `q`: stop here.
    Quit,
    /// Anything else: the keys are listed again.
    Unknown,
}

/// Reads one answer to the prompt (a line; surrounding spaces ignored).
pub fn parse_key(line: &str) -> Key {
    match line.trim() {
        "" | "n" | "next" => Key::Next,
        "c" | "continue" => Key::Continue,
        "s" | "show" => Key::Show,
        "q" | "quit" => Key::Quit,
        _ => Key::Unknown,
    }
}

const KEYS: &str = "Enter/n next, c continue, s show the packet, q quit";

/// Prints `lines` (one step each) one at a time, asking after each; `show`
/// gives the packet and skb at a step (0-based). End of input continues to
/// the end. Returns false when the user quit before the result.
pub fn step_through<R: BufRead, W: Write, P: Write>(
    lines: &[String],
    result: &str,
    show: &dyn Fn(usize) -> String,
    input: &mut R,
    out: &mut W,
    prompt: &mut P,
) -> std::io::Result<bool> {
    let mut i = 0;
    let mut run_to_end = false;
    while i < lines.len() {
        writeln!(out, "{}", lines[i])?;
        out.flush()?;
        if run_to_end || i + 1 == lines.len() {
            i += 1;
            continue;
        }
        loop {
            write!(prompt, "step {}/{} [{KEYS}] ", i + 1, lines.len())?;
            prompt.flush()?;
            let mut line = String::new();
            let key = if input.read_line(&mut line)? == 0 {
                Key::Continue
            } else {
                parse_key(&line)
            };
            match key {
                Key::Next => break,
                Key::Continue => {
                    run_to_end = true;
                    break;
                }
                Key::Show => {
                    write!(out, "{}", show(i))?;
                    out.flush()?;
                }
                Key::Quit => return Ok(false),
                Key::Unknown => writeln!(prompt, "keys: {KEYS}")?,
            }
        }
        i += 1;
    }
    writeln!(out, "{result}")?;
    out.flush()?;
    Ok(true)
}

/// The headers of an Ethernet frame, one line each, as `s` shows them.
pub fn frame_headers(frame: &[u8]) -> String {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let mut s = String::new();
    let p = match SlicedPacket::from_ethernet(frame) {
        Ok(p) => p,
        Err(e) => return format!("  headers: not parsed ({e})\n"),
    };
    if let Some(etherparse::LinkSlice::Ethernet2(e)) = &p.link {
        let mac = |m: [u8; 6]| {
            m.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        };
        s += &format!(
            "  eth: {} > {}, type 0x{:04x}\n",
            mac(e.source()),
            mac(e.destination()),
            e.ether_type().0
        );
    }
    if let Some(NetSlice::Ipv4(ip)) = &p.net {
        let h = ip.header();
        s += &format!(
            "  ip: {} > {}, ihl {}, tos 0x{:02x}, tot_len {}, id 0x{:04x}, DF {}, MF {}, frag_off {}, ttl {}, protocol {}, check 0x{:04x}\n",
            h.source_addr(),
            h.destination_addr(),
            h.ihl(),
            (h.dcp().value() << 2) | h.ecn().value(),
            h.total_len(),
            h.identification(),
            h.dont_fragment() as u8,
            h.more_fragments() as u8,
            h.fragments_offset().value(),
            h.ttl(),
            h.protocol().0,
            h.header_checksum()
        );
    }
    match &p.transport {
        Some(TransportSlice::Udp(u)) => {
            s += &format!(
                "  udp: {} > {}, len {}\n",
                u.source_port(),
                u.destination_port(),
                u.length()
            )
        }
        Some(TransportSlice::Tcp(t)) => {
            s += &format!(
                "  tcp: {} > {}, seq {}, syn {} ack {} rst {} fin {}\n",
                t.source_port(),
                t.destination_port(),
                t.sequence_number(),
                t.syn() as u8,
                t.ack() as u8,
                t.rst() as u8,
                t.fin() as u8
            )
        }
        Some(TransportSlice::Icmpv4(i)) => {
            s += &format!("  icmp: type {}, code {}\n", i.type_u8(), i.code_u8())
        }
        _ => {}
    }
    s
}

/// What the walk has set by a step, read off the steps up to it.
pub struct WalkState {
    /// `skb->pkt_type` as `eth_type_trans` set it before `ip_rcv`.
    pub pkt_type: Option<&'static str>,
    /// `tot_len` once `ip_rcv_core` has trimmed the skb to it.
    pub tot_len: Option<u16>,
    /// The TTL and checksum `ip_decrease_ttl` wrote.
    pub ttl_csum: Option<(u8, u16)>,
    /// The dst the skb holds, as the trace words it.
    pub dst: Option<String>,
    /// The drop reason set.
    pub drop: Option<&'static str>,
    /// The device the packet was handed to, and the next hop's MAC.
    pub out: Option<(fwdsim_kernel::netns::IfIndex, Option<[u8; 6]>)>,
}

/// The state after step `i` (0-based) of `steps`.
pub fn walk_state(
    ns: &fwdsim_kernel::Netns,
    steps: &[fwdsim_kernel::trace::Step],
    i: usize,
) -> WalkState {
    use fwdsim_kernel::trace::Check;
    let mut w = WalkState {
        pkt_type: None,
        tot_len: None,
        ttl_csum: None,
        dst: None,
        drop: None,
        out: None,
    };
    // eth_type_trans set pkt_type before ip_rcv; ip_rcv_core's step shows it.
    w.pkt_type = steps.iter().find_map(|st| match st.check {
        Check::PktType {
            host,
            broadcast,
            multicast,
        } => Some(fwdsim_render::trace::pkt_type_name(
            host, broadcast, multicast,
        )),
        _ => None,
    });
    let mut neigh_mac = None;
    for st in steps.iter().take(i + 1) {
        match st.check {
            Check::IpHeader { tot_len, .. } => w.tot_len = Some(tot_len),
            Check::DecreaseTtl {
                old_ttl, new_csum, ..
            } => w.ttl_csum = Some((old_ttl.wrapping_sub(1), new_csum)),
            Check::DstMade { .. } => {
                w.dst = Some(fwdsim_render::trace::describe(ns, &st.check));
            }
            Check::Neigh {
                mac,
                resolved: true,
                ..
            } => neigh_mac = Some(mac),
            Check::OutputDev { dev } => w.out = Some((dev, neigh_mac)),
            Check::Drop { reason } => w.drop = Some(reason.name()),
            _ => {}
        }
    }
    w
}

/// The dst and drop reason lines of `s` at a step.
pub fn dst_lines(w: &WalkState) -> String {
    format!(
        "  skb dst: {}\n  skb drop_reason: {}\n",
        w.dst.as_deref().unwrap_or("none"),
        w.drop
            .map_or("none".to_string(), |r| format!("SKB_DROP_REASON_{r}"))
    )
}

/// What `s` shows at step `i` (0-based) of a packet's walk: the frame with
/// the TTL, checksum and MAC rewrites made so far, and the skb fields the
/// kernel has set by then (`pkt_type`, the trimmed `len`, the dst and its
/// function pointers, the drop reason, the output device).
pub fn skb_at(
    ns: &fwdsim_kernel::Netns,
    frame: &[u8],
    dev: fwdsim_kernel::netns::IfIndex,
    steps: &[fwdsim_kernel::trace::Step],
    i: usize,
) -> String {
    let w = walk_state(ns, steps, i);
    let mut f = frame.to_vec();
    let mut len = frame.len().saturating_sub(14);
    if let Some(t) = w.tot_len
        && (t as usize) <= len
    {
        len = t as usize;
    }
    if let Some((ttl, csum)) = w.ttl_csum
        && f.len() >= 26
    {
        f[22] = ttl;
        f[24..26].copy_from_slice(&csum.to_be_bytes());
    }
    if let Some((o, Some(mac))) = w.out
        && f.len() >= 14
    {
        f[0..6].copy_from_slice(&mac);
        let src = ns.dev(o).map(|d| d.dev_addr).unwrap_or([0; 6]);
        f[6..12].copy_from_slice(&src);
    }
    let mut s = frame_headers(&f);
    s += &format!(
        "  skb (after step {}): dev {}, pkt_type {}, len {len}, protocol 0x{:04x}\n",
        i + 1,
        ns.dev_name(dev),
        w.pkt_type.unwrap_or("not shown by this walk"),
        frame
            .get(12..14)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
    );
    s += &dst_lines(&w);
    if let Some((o, _)) = w.out {
        s += &format!("  handed to {} for transmission\n", ns.dev_name(o));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(keys: &str) -> (String, String, bool) {
        let lines: Vec<String> = (1..=4).map(|i| format!("step line {i}")).collect();
        let mut out = Vec::new();
        let mut prompt = Vec::new();
        let done = step_through(
            &lines,
            "result: ok",
            &|i| format!("SHOW {i}\n"),
            &mut keys.as_bytes(),
            &mut out,
            &mut prompt,
        )
        .unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(prompt).unwrap(),
            done,
        )
    }

    #[test]
    fn next_show_continue_and_quit() {
        let (out, prompt, done) = run("\nn\ns\nc\n");
        assert!(done);
        assert_eq!(
            out,
            "step line 1\nstep line 2\nstep line 3\nSHOW 2\nstep line 4\nresult: ok\n"
        );
        assert_eq!(prompt.matches("step ").count(), 4, "{prompt}");
        let (out, _, done) = run("n\nq\n");
        assert!(!done);
        assert_eq!(out, "step line 1\nstep line 2\n");
        let (out, prompt, _) = run("x\n");
        assert!(prompt.contains("keys: Enter/n next"), "{prompt}");
        // End of input runs to the end.
        assert!(out.ends_with("step line 4\nresult: ok\n"), "{out}");
    }
}
