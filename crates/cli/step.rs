//! `--step`: the walk one step at a time, driven from the keyboard as in a
//! debugger. Each step is printed on stdout; the prompt goes to stderr so a
//! transcript of stdout is the plain walk.

use std::io::{BufRead, Write};

use fwdsim_render::trace::TraceLine;

/// What the user asked for at a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// Enter, space, `n` or the right/down arrow: the next step.
    Next,
    /// `b`, `p`, Backspace or the left/up arrow: the step before.
    Back,
    /// `c`: every remaining step and the result.
    Continue,
    /// `s`: the packet's headers and the skb's fields.
    Show,
    /// `q`, Escape or Ctrl-C: stop here.
    Quit,
    /// Anything else: the keys are listed again.
    Unknown,
}

/// Reads one answer typed as a line (input that is not a terminal;
/// surrounding spaces ignored).
pub fn parse_key(line: &str) -> Key {
    match line.trim() {
        "" | "n" | "next" => Key::Next,
        "b" | "p" | "back" => Key::Back,
        "c" | "continue" => Key::Continue,
        "s" | "show" => Key::Show,
        "q" | "quit" => Key::Quit,
        _ => Key::Unknown,
    }
}

/// Where the answers to the prompt come from.
pub trait Keys {
    /// The next answer; `None` at the end of the input.
    fn next_key(&mut self) -> std::io::Result<Option<Key>>;
    /// Whether each key acts as soon as it is pressed, so that the prompt
    /// line is erased before what the key prints.
    fn single_keys(&self) -> bool;
}

/// Answers typed as lines, from a pipe or a file.
pub struct LineKeys<R>(pub R);

impl<R: BufRead> Keys for LineKeys<R> {
    fn next_key(&mut self) -> std::io::Result<Option<Key>> {
        let mut line = String::new();
        Ok((self.0.read_line(&mut line)? > 0).then(|| parse_key(&line)))
    }
    fn single_keys(&self) -> bool {
        false
    }
}

/// Single keys from the terminal: raw mode only while a key is read, so
/// the walk itself prints as ordinary lines.
pub struct TerminalKeys;

impl Keys for TerminalKeys {
    fn next_key(&mut self) -> std::io::Result<Option<Key>> {
        use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers, read};
        use crossterm::terminal::{disable_raw_mode, enable_raw_mode};
        enable_raw_mode()?;
        let key = loop {
            match read() {
                Err(e) => break Err(e),
                Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => {
                    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
                    break Ok(Some(match k.code {
                        KeyCode::Char('c' | 'd') if ctrl => Key::Quit,
                        KeyCode::Enter
                        | KeyCode::Char(' ' | 'n')
                        | KeyCode::Right
                        | KeyCode::Down => Key::Next,
                        KeyCode::Char('b' | 'p')
                        | KeyCode::Backspace
                        | KeyCode::Left
                        | KeyCode::Up => Key::Back,
                        KeyCode::Char('c') => Key::Continue,
                        KeyCode::Char('s') => Key::Show,
                        KeyCode::Char('q') | KeyCode::Esc => Key::Quit,
                        _ => Key::Unknown,
                    }));
                }
                Ok(_) => {}
            }
        };
        disable_raw_mode()?;
        key
    }
    fn single_keys(&self) -> bool {
        true
    }
}

/// The keys, as the prompt lists them.
pub const KEYS: &str = "Enter/n next, b back, c continue, s show the packet, q quit";

/// Prints a walk's steps one at a time, asking after each; a function's
/// header line is printed with the step after it, never stopped at. `b`
/// goes back a step: the step is printed again on the prompt's stream, so
/// stdout stays the plain walk, and `s` then shows the packet as it was
/// there. `show` gives the packet and skb at a step (its index in `lines`).
/// End of input continues to the end. Returns false when the user quit
/// before the result.
pub fn step_through<K: Keys, W: Write, P: Write>(
    lines: &[TraceLine],
    result: &str,
    show: &dyn Fn(usize) -> String,
    keys: &mut K,
    out: &mut W,
    prompt: &mut P,
) -> std::io::Result<bool> {
    let stops: Vec<usize> = (0..lines.len()).filter(|&i| !lines[i].header).collect();
    let n = stops.len();
    let mut printed = 0;
    let mut k = 0;
    let mut run_to_end = false;
    while k < n {
        let at = stops[k];
        if at >= printed {
            for l in &lines[printed..=at] {
                writeln!(out, "{}", l.text)?;
            }
            printed = at + 1;
        } else {
            writeln!(prompt, "step {}/{n} again:\n{}", k + 1, lines[at].text)?;
        }
        out.flush()?;
        if run_to_end || k + 1 == n {
            k += 1;
            continue;
        }
        loop {
            write!(prompt, "step {}/{n} [{KEYS}] ", k + 1)?;
            prompt.flush()?;
            let key = keys.next_key()?.unwrap_or(Key::Continue);
            if keys.single_keys() {
                // The key's effect replaces the prompt line.
                write!(prompt, "\r\x1b[K")?;
            }
            match key {
                Key::Next => break,
                Key::Back if k == 0 => writeln!(prompt, "this is the first step")?,
                Key::Back => {
                    k -= 1;
                    writeln!(
                        prompt,
                        "back to step {}/{n}:\n{}",
                        k + 1,
                        lines[stops[k]].text
                    )?;
                }
                Key::Continue => {
                    run_to_end = true;
                    break;
                }
                Key::Show => {
                    write!(out, "{}", show(stops[k]))?;
                    out.flush()?;
                }
                Key::Quit => return Ok(false),
                Key::Unknown => writeln!(prompt, "keys: {KEYS}")?,
            }
        }
        k += 1;
    }
    for l in &lines[printed..] {
        writeln!(out, "{}", l.text)?;
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

    /// Six lines: headers at 0 and 3, so four steps (1, 2, 4, 5).
    fn walk() -> Vec<TraceLine> {
        (0..6)
            .map(|i| TraceLine {
                text: format!("line {i}"),
                header: i == 0 || i == 3,
            })
            .collect()
    }

    fn run(keys: &str) -> (String, String, bool) {
        let mut out = Vec::new();
        let mut prompt = Vec::new();
        let done = step_through(
            &walk(),
            "result: ok",
            &|i| format!("SHOW {i}\n"),
            &mut LineKeys(keys.as_bytes()),
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
    fn headers_are_printed_with_the_next_step_and_never_stopped_at() {
        let (out, prompt, done) = run("\nn\ns\nc\n");
        assert!(done);
        assert_eq!(
            out,
            "line 0\nline 1\nline 2\nline 3\nline 4\nSHOW 4\nline 5\nresult: ok\n"
        );
        assert_eq!(
            prompt,
            format!("step 1/4 [{KEYS}] step 2/4 [{KEYS}] step 3/4 [{KEYS}] step 3/4 [{KEYS}] ")
        );
    }

    #[test]
    fn back_reprints_the_step_before_on_the_prompt_stream_and_show_follows_it() {
        let (out, prompt, done) = run("b\nn\nn\nb\ns\nn\nn\n");
        assert!(done);
        // stdout: the plain walk once, with the packet as it was at step 2.
        assert_eq!(
            out,
            "line 0\nline 1\nline 2\nline 3\nline 4\nSHOW 2\nline 5\nresult: ok\n"
        );
        assert!(prompt.contains("this is the first step\n"), "{prompt}");
        assert!(prompt.contains("back to step 2/4:\nline 2\n"), "{prompt}");
        assert!(prompt.contains("step 3/4 again:\nline 4\n"), "{prompt}");
    }

    #[test]
    fn quit_unknown_and_end_of_input() {
        let (out, _, done) = run("n\nq\n");
        assert!(!done);
        assert_eq!(out, "line 0\nline 1\nline 2\n");
        let (out, prompt, done) = run("x\n");
        assert!(done);
        assert!(prompt.contains(&format!("keys: {KEYS}")), "{prompt}");
        assert!(out.ends_with("line 5\nresult: ok\n"), "{out}");
    }

    #[test]
    fn typed_words_map_to_keys() {
        assert_eq!(parse_key(" back \n"), Key::Back);
        assert_eq!(parse_key("p"), Key::Back);
        assert_eq!(parse_key(""), Key::Next);
        assert_eq!(parse_key("show"), Key::Show);
        assert_eq!(parse_key("z"), Key::Unknown);
    }
}
