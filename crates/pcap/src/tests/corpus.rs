//! Robustness on real captures: every file of tcpdump's test suite (830
//! captures of many link types, many deliberately malformed or truncated;
//! fixtures/pcaps/README.md) yields packets and/or a clean error, never a
//! panic, and the reader's bookkeeping stays consistent.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use crate::{CaptureError, CaptureReader, LinkKind};

/// `fixtures/pcaps/tcpdump-tests` of the repository.
fn corpus_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = here.join("../../fixtures/pcaps/tcpdump-tests");
    assert!(dir.is_dir(), "{} is missing", dir.display());
    dir
}

/// How one file read.
#[derive(Default)]
struct Outcome {
    packets: u64,
    ethernet: u64,
    sll: u64,
    sll2: u64,
    raw: u64,
    named: u64,
    unsupported: u64,
    too_short: u64,
    /// The variant of the error that ended reading, if any.
    fatal: Option<&'static str>,
}

fn variant(e: &CaptureError) -> &'static str {
    match e {
        CaptureError::Open { .. } => "Open",
        CaptureError::Io { .. } => "Io",
        CaptureError::NotACapture { .. } => "NotACapture",
        CaptureError::Truncated { .. } => "Truncated",
        CaptureError::Corrupt { .. } => "Corrupt",
        CaptureError::UnsupportedLinkType { .. } => "UnsupportedLinkType",
        CaptureError::LinkHeaderTooShort { .. } => "LinkHeaderTooShort",
    }
}

fn read_file(path: &Path) -> Outcome {
    let mut o = Outcome::default();
    let mut r = match CaptureReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            o.fatal = Some(variant(&e));
            return o;
        }
    };
    let size = std::fs::metadata(path).unwrap().len();
    let (mut last_offset, mut records) = (0, 0);
    while let Some(item) = r.next_packet() {
        // Records read once this one is: every packet and non-fatal error is one.
        let records_before = records + 1;
        match item {
            Ok(p) => {
                assert_eq!(p.index, records_before, "{}", path.display());
                assert!(
                    p.offset >= last_offset && p.offset < size,
                    "{}",
                    path.display()
                );
                last_offset = p.offset;
                if p.link != LinkKind::Ethernet {
                    assert!(p.frame.len() >= 14, "{}", path.display());
                }
                o.packets += 1;
                records += 1;
                match p.link {
                    LinkKind::Ethernet => o.ethernet += 1,
                    LinkKind::LinuxSll => o.sll += 1,
                    LinkKind::LinuxSll2 => o.sll2 += 1,
                    LinkKind::RawIp => o.raw += 1,
                }
                o.named += u64::from(p.iif_name.is_some());
            }
            Err(e) => {
                assert!(
                    e.offset().is_some_and(|off| off <= size),
                    "{}: {e}",
                    path.display()
                );
                assert_eq!(e.to_string().lines().count(), 1);
                match &e {
                    CaptureError::UnsupportedLinkType { packets_read, .. } => {
                        assert_eq!(*packets_read + 1, records_before);
                        o.unsupported += 1;
                        records += 1;
                    }
                    CaptureError::LinkHeaderTooShort { packets_read, .. } => {
                        assert_eq!(*packets_read + 1, records_before);
                        o.too_short += 1;
                        records += 1;
                    }
                    fatal => {
                        assert_eq!(fatal.packets_read(), records, "{}: {e}", path.display());
                        o.fatal = Some(variant(fatal));
                    }
                }
            }
        }
    }
    assert_eq!(
        o.packets + o.unsupported + o.too_short,
        r.packets_read(),
        "{}",
        path.display()
    );
    o
}

#[test]
fn tcpdump_corpus_reads_without_panic() {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 800,
        "{} files in {}",
        files.len(),
        dir.display()
    );

    let mut panicked = Vec::new();
    let mut fatal: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut clean, mut with_packets, mut only_unsupported) = (0, 0, 0);
    let mut total = Outcome::default();
    for path in &files {
        let Ok(o) = catch_unwind(AssertUnwindSafe(|| read_file(path))) else {
            panicked.push(path.display().to_string());
            continue;
        };
        match o.fatal {
            Some(v) => *fatal.entry(v).or_default() += 1,
            None => clean += 1,
        }
        with_packets += usize::from(o.packets > 0);
        only_unsupported += usize::from(o.packets == 0 && o.unsupported > 0);
        total.packets += o.packets;
        total.ethernet += o.ethernet;
        total.sll += o.sll;
        total.sll2 += o.sll2;
        total.raw += o.raw;
        total.named += o.named;
        total.unsupported += o.unsupported;
        total.too_short += o.too_short;
    }
    eprintln!(
        "{} files: {clean} read to the end, {with_packets} with packets, {only_unsupported} only of unsupported \
         link types; fatal errors {fatal:?}; {} packets (ethernet {}, sll {}, sll2 {}, raw {}; {} with an interface \
         name), {} unsupported, {} too short",
        files.len(),
        total.packets,
        total.ethernet,
        total.sll,
        total.sll2,
        total.raw,
        total.named,
        total.unsupported,
        total.too_short,
    );
    assert!(panicked.is_empty(), "panicked on {panicked:?}");
    // At the corpus's commit every file is a well-formed capture (a walk of
    // the record headers in Python counts 10183 packet records, 828 files
    // with some): the fuzzed files are malformed above the capture format.
    // Link types of 292 files (radiotap, PPP, ...) are not read by fwdsim.
    assert!(
        clean * 100 >= files.len() * 95,
        "only {clean} files read to the end: {fatal:?}"
    );
    assert!(
        with_packets >= 500 && only_unsupported <= 320,
        "{with_packets} / {only_unsupported}"
    );
    assert!(total.packets + total.unsupported + total.too_short >= 10_000);
    assert!(
        total.ethernet >= 8_000 && total.sll >= 600 && total.raw >= 50,
        "link types"
    );
    assert!(total.named >= 60, "pcapng interface names");
}
