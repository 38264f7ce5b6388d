//! The captures on both sides of `fwdsim replay`: the input, a classic pcap
//! (LINKTYPE_ETHERNET, nanosecond timestamps) written here, and the egress
//! pcapng that fwdsim writes, read with `fwdsim-pcap`.

use std::path::Path;

use crate::error::{LabError, Result};
use crate::packet::frames::Probe;

/// pcap magic for nanosecond timestamps (libpcap `NSEC_TCPDUMP_MAGIC`).
const PCAP_MAGIC_NS: u32 = 0xa1b2_3c4d;
/// LINKTYPE_ETHERNET.
const LINKTYPE_ETHERNET: u32 = 1;

/// The bytes of a pcap holding `probes` in order, each with its timestamp.
pub fn pcap_bytes(probes: &[Probe]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&PCAP_MAGIC_NS.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&0i32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    for p in probes {
        let secs = (p.ts_nanos / 1_000_000_000) as u32;
        let nanos = (p.ts_nanos % 1_000_000_000) as u32;
        let len = p.frame.len() as u32;
        v.extend_from_slice(&secs.to_le_bytes());
        v.extend_from_slice(&nanos.to_le_bytes());
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(&p.frame);
    }
    v
}

/// Writes [`pcap_bytes`] to `path`.
pub fn write_pcap(path: &Path, probes: &[Probe]) -> Result<()> {
    std::fs::write(path, pcap_bytes(probes)).map_err(|source| LabError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// One frame of fwdsim's egress pcapng.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EgressFrame {
    /// Its timestamp: that of the input packet that caused it.
    pub ts_nanos: i128,
    /// The pcapng interface name: the host device it left through.
    pub dev: String,
    /// The Ethernet frame.
    pub frame: Vec<u8>,
    /// The packet's comment (`fwdsim send --script`: `line N`).
    pub comment: Option<String>,
}

/// Reads fwdsim's egress pcapng (which `--out` must write even when
/// nothing left the host).
pub fn read_egress(path: &Path) -> std::result::Result<Vec<EgressFrame>, String> {
    if !path.exists() {
        return Err(format!("{} was not written", path.display()));
    }
    let mut r =
        fwdsim_pcap::CaptureReader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.map_err(|e| format!("{}: {e}", path.display()))?;
        out.push(EgressFrame {
            ts_nanos: p.ts_nanos,
            dev: p.iif_name.unwrap_or("").to_string(),
            frame: p.frame.to_vec(),
            comment: p.comment.map(str::to_string),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_reads_back() {
        let probes = vec![
            Probe {
                kind: "a",
                nth: (1, 1),
                group: 0,
                frame: vec![1; 60],
                ts_nanos: 1_700_000_000_123_456_789,
            },
            Probe {
                kind: "b",
                nth: (1, 1),
                group: 1,
                frame: vec![2; 26],
                ts_nanos: 1_700_000_001_000_000_001,
            },
        ];
        let bytes = pcap_bytes(&probes);
        let mut r = fwdsim_pcap::CaptureReader::new(&bytes[..]).unwrap();
        for p in &probes {
            let got = r.next_packet().unwrap().unwrap();
            assert_eq!((got.ts_nanos, got.frame), (p.ts_nanos, &p.frame[..]));
        }
        assert!(r.next_packet().is_none());
    }
}
