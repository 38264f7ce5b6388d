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
