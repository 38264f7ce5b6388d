//! Unit tests with exact expected results.

use super::Lpm;
use std::net::Ipv4Addr;

fn ip(s: &str) -> u32 {
    u32::from(s.parse::<Ipv4Addr>().unwrap())
}

/// `lookup` as (dotted prefix, len, value) for readable assertions.
fn lpm_of(t: &Lpm<&'static str>, addr: &str) -> Option<(String, u8, &'static str)> {
    t.lookup(ip(addr))
        .map(|(a, l, v)| (Ipv4Addr::from(a).to_string(), l, *v))
}

fn lpm_max_of(t: &Lpm<&'static str>, addr: &str, max: u8) -> Option<(String, u8, &'static str)> {
    t.lookup_max(ip(addr), max)
        .map(|(a, l, v)| (Ipv4Addr::from(a).to_string(), l, *v))
}

fn some(p: &str, l: u8, v: &'static str) -> Option<(String, u8, &'static str)> {
    Some((p.to_string(), l, v))
}

/// A table with a chain of nested prefixes crossing every stride boundary.
fn nested() -> Lpm<&'static str> {
    let mut t = Lpm::new();
    for (p, l, v) in [
        ("0.0.0.0", 0, "default"),
        ("10.0.0.0", 8, "/8"),
        ("10.0.0.0", 9, "/9"),
        ("10.1.0.0", 16, "/16"),
        ("10.1.0.0", 17, "/17"),
        ("10.1.2.0", 23, "/23"),
        ("10.1.2.0", 24, "/24"),
        ("10.1.2.0", 25, "/25"),
        ("10.1.2.3", 32, "/32"),
    ] {
        assert_eq!(t.insert(ip(p), l, v), None);
        t.check_invariants();
    }
    t
}

#[test]
fn empty_table_finds_nothing_and_allocates_nothing() {
    let t: Lpm<u32> = Lpm::new();
    assert!(t.is_empty());
    assert_eq!(t.len(), 0);
    assert_eq!(t.lookup(0), None);
    assert_eq!(t.lookup(u32::MAX), None);
    assert_eq!(t.lookup_max(ip("1.2.3.4"), 32), None);
    assert_eq!(t.get(0, 0), None);
    assert_eq!(t.iter().count(), 0);
    assert_eq!(
        t.entries.capacity() + t.chunks.capacity() + t.slots.capacity(),
        0
    );
    let d: Lpm<u32> = Lpm::default();
    assert!(d.is_empty());
}

#[test]
fn small_table_is_small() {
    let mut t = Lpm::new();
    t.insert(ip("192.168.1.0"), 24, 1);
    t.insert(ip("192.168.1.1"), 32, 2);
    t.insert(0, 0, 3);
    // Root, /8 chunk, /16 chunk, /24 chunk: 4 KiB of entries.
    assert_eq!(t.chunks.len(), 4);
    assert_eq!(t.entries.len(), 4 * 256);
    t.check_invariants();
}

#[test]
fn nested_prefixes_longest_wins() {
    let t = nested();
    assert_eq!(t.len(), 9);
    assert_eq!(lpm_of(&t, "10.1.2.3"), some("10.1.2.3", 32, "/32"));
    assert_eq!(lpm_of(&t, "10.1.2.4"), some("10.1.2.0", 25, "/25"));
    assert_eq!(lpm_of(&t, "10.1.2.200"), some("10.1.2.0", 24, "/24"));
    assert_eq!(lpm_of(&t, "10.1.3.1"), some("10.1.2.0", 23, "/23"));
    assert_eq!(lpm_of(&t, "10.1.4.1"), some("10.1.0.0", 17, "/17"));
    assert_eq!(lpm_of(&t, "10.1.128.1"), some("10.1.0.0", 16, "/16"));
    assert_eq!(lpm_of(&t, "10.2.0.1"), some("10.0.0.0", 9, "/9"));
    assert_eq!(lpm_of(&t, "10.128.0.1"), some("10.0.0.0", 8, "/8"));
    assert_eq!(lpm_of(&t, "11.0.0.1"), some("0.0.0.0", 0, "default"));
    assert_eq!(lpm_of(&t, "255.255.255.255"), some("0.0.0.0", 0, "default"));
}

#[test]
fn lookup_max_backtracks_like_fib_table_lookup() {
    let t = nested();
    let a = "10.1.2.3";
    // Each step asks for a prefix shorter than the one just found.
    let chain: Vec<_> = std::iter::successors(t.lookup(ip(a)), |&(_, l, _)| {
        l.checked_sub(1).and_then(|m| t.lookup_max(ip(a), m))
    })
    .map(|(_, l, v)| (l, *v))
    .collect();
    assert_eq!(
        chain,
        [
            (32, "/32"),
            (25, "/25"),
            (24, "/24"),
            (23, "/23"),
            (17, "/17"),
            (16, "/16"),
            (9, "/9"),
            (8, "/8"),
            (0, "default")
        ]
    );
    assert_eq!(lpm_max_of(&t, a, 31), some("10.1.2.0", 25, "/25"));
    assert_eq!(lpm_max_of(&t, a, 22), some("10.1.0.0", 17, "/17"));
    assert_eq!(lpm_max_of(&t, a, 15), some("10.0.0.0", 9, "/9"));
    assert_eq!(lpm_max_of(&t, a, 7), some("0.0.0.0", 0, "default"));
    assert_eq!(lpm_max_of(&t, a, 0), some("0.0.0.0", 0, "default"));
    // Above 32 means 32.
    assert_eq!(lpm_max_of(&t, a, 200), some("10.1.2.3", 32, "/32"));
    // Where the path has no chunk for max_len, the deepest leaf answers.
    assert_eq!(lpm_max_of(&t, "10.200.0.1", 30), some("10.0.0.0", 8, "/8"));
    assert_eq!(
        lpm_max_of(&t, "10.1.200.1", 30),
        some("10.1.0.0", 16, "/16")
    );
}

#[test]
fn lookup_max_without_default_runs_out() {
    let mut t = Lpm::new();
    t.insert(ip("10.0.0.0"), 8, "/8");
    assert_eq!(lpm_max_of(&t, "10.0.0.1", 8), some("10.0.0.0", 8, "/8"));
    assert_eq!(lpm_max_of(&t, "10.0.0.1", 7), None);
    assert_eq!(lpm_max_of(&t, "11.0.0.1", 32), None);
}

#[test]
fn default_route_and_host_routes() {
    let mut t = Lpm::new();
    assert_eq!(t.insert(ip("1.2.3.4"), 0, "default"), None);
    assert_eq!(t.get(0, 0), Some(&"default"));
    assert_eq!(t.get(ip("9.9.9.9"), 0), Some(&"default"));
    assert_eq!(lpm_of(&t, "8.8.8.8"), some("0.0.0.0", 0, "default"));
    t.insert(ip("255.255.255.255"), 32, "bcast");
    t.insert(ip("0.0.0.0"), 32, "zero");
    assert_eq!(
        lpm_of(&t, "255.255.255.255"),
        some("255.255.255.255", 32, "bcast")
    );
    assert_eq!(lpm_of(&t, "255.255.255.254"), some("0.0.0.0", 0, "default"));
    assert_eq!(lpm_of(&t, "0.0.0.0"), some("0.0.0.0", 32, "zero"));
    assert_eq!(lpm_of(&t, "0.0.0.1"), some("0.0.0.0", 0, "default"));
    assert_eq!(
        lpm_max_of(&t, "255.255.255.255", 31),
        some("0.0.0.0", 0, "default")
    );
    t.check_invariants();
    assert_eq!(t.remove(0, 0), Some("default"));
    assert_eq!(lpm_of(&t, "8.8.8.8"), None);
    assert_eq!(lpm_of(&t, "0.0.0.0"), some("0.0.0.0", 32, "zero"));
    t.check_invariants();
}

#[test]
fn insert_masks_and_replaces() {
    let mut t = Lpm::new();
    assert_eq!(t.insert(ip("10.1.2.3"), 16, 1), None);
    assert_eq!(t.get(ip("10.1.0.0"), 16), Some(&1));
    assert_eq!(t.get(ip("10.1.255.255"), 16), Some(&1));
    assert_eq!(t.get(ip("10.1.0.0"), 17), None);
    assert_eq!(t.lookup(ip("10.1.9.9")), Some((ip("10.1.0.0"), 16, &1)));
    assert_eq!(t.insert(ip("10.1.0.0"), 16, 2), Some(1));
    assert_eq!(t.len(), 1);
    *t.get_mut(ip("10.1.0.0"), 16).unwrap() += 40;
    assert_eq!(t.lookup(ip("10.1.9.9")), Some((ip("10.1.0.0"), 16, &42)));
    assert_eq!(t.get_mut(ip("10.2.0.0"), 16), None);
    t.check_invariants();
}

#[test]
#[should_panic(expected = "greater than 32")]
fn insert_rejects_len_over_32() {
    Lpm::new().insert(0, 33, ());
}

#[test]
fn len_over_32_is_absent() {
    let mut t = Lpm::new();
    t.insert(0, 0, ());
    assert_eq!(t.get(0, 33), None);
    assert_eq!(t.remove(0, 33), None);
    assert_eq!(t.len(), 1);
}

#[test]
fn remove_restores_the_covering_prefix() {
    let mut t = nested();
    assert_eq!(t.remove(ip("10.1.2.0"), 24), Some("/24"));
    t.check_invariants();
    assert_eq!(lpm_of(&t, "10.1.2.200"), some("10.1.2.0", 23, "/23"));
    assert_eq!(lpm_of(&t, "10.1.2.4"), some("10.1.2.0", 25, "/25"));
    assert_eq!(t.remove(ip("10.1.2.0"), 24), None);
    assert_eq!(t.remove(ip("10.1.2.0"), 23), Some("/23"));
    assert_eq!(lpm_of(&t, "10.1.3.1"), some("10.1.0.0", 17, "/17"));
    assert_eq!(t.remove(ip("10.1.0.0"), 17), Some("/17"));
    assert_eq!(t.remove(ip("10.1.0.0"), 16), Some("/16"));
    t.check_invariants();
    // The /25 and /32 stay reachable through the chunks they still need.
    assert_eq!(lpm_of(&t, "10.1.3.1"), some("10.0.0.0", 9, "/9"));
    assert_eq!(lpm_of(&t, "10.1.2.3"), some("10.1.2.3", 32, "/32"));
    assert_eq!(lpm_of(&t, "10.1.2.5"), some("10.1.2.0", 25, "/25"));
    assert_eq!(lpm_of(&t, "10.1.2.130"), some("10.0.0.0", 9, "/9"));
    // Removing a short prefix re-exposes the default below it everywhere.
    assert_eq!(t.remove(ip("10.0.0.0"), 9), Some("/9"));
    assert_eq!(t.remove(ip("10.0.0.0"), 8), Some("/8"));
    assert_eq!(lpm_of(&t, "10.1.2.130"), some("0.0.0.0", 0, "default"));
    assert_eq!(lpm_of(&t, "10.1.2.5"), some("10.1.2.0", 25, "/25"));
    t.check_invariants();
    assert_eq!(t.len(), 3);
}

#[test]
fn removing_the_last_long_prefix_frees_its_chunks() {
    let mut t = Lpm::new();
    t.insert(0, 0, 0);
    t.insert(ip("10.1.2.3"), 32, 1);
    assert_eq!(t.chunks.len(), 4);
    assert_eq!(t.remove(ip("10.1.2.3"), 32), Some(1));
    assert_eq!(t.free_chunks.len(), 3);
    t.check_invariants();
    assert_eq!(lpm_of_u32(&t, ip("10.1.2.3")), Some((0, 0, 0)));
    // Freed chunks are reused.
    t.insert(ip("10.9.9.0"), 24, 2);
    assert_eq!(t.chunks.len(), 4);
    assert_eq!(t.free_chunks.len(), 1);
    t.check_invariants();
    // An emptied table owns nothing.
    t.remove(0, 0);
    t.remove(ip("10.9.9.0"), 24);
    assert!(t.is_empty());
    assert_eq!(
        t.entries.capacity() + t.chunks.capacity() + t.slots.capacity(),
        0
    );
}

fn lpm_of_u32(t: &Lpm<u32>, addr: u32) -> Option<(u32, u8, u32)> {
    t.lookup(addr).map(|(a, l, v)| (a, l, *v))
}

#[test]
fn short_prefix_inserted_after_its_more_specifics() {
    let mut t = Lpm::new();
    t.insert(ip("10.1.2.0"), 24, 24);
    t.insert(ip("10.1.0.0"), 16, 16);
    t.insert(ip("10.200.0.0"), 16, 160);
    t.insert(ip("10.0.0.0"), 7, 7);
    t.check_invariants();
    assert_eq!(
        lpm_of_u32(&t, ip("10.1.2.1")),
        Some((ip("10.1.2.0"), 24, 24))
    );
    assert_eq!(
        lpm_of_u32(&t, ip("10.1.3.1")),
        Some((ip("10.1.0.0"), 16, 16))
    );
    assert_eq!(lpm_of_u32(&t, ip("10.2.3.1")), Some((ip("10.0.0.0"), 7, 7)));
    assert_eq!(lpm_of_u32(&t, ip("11.2.3.1")), Some((ip("10.0.0.0"), 7, 7)));
    t.insert(0, 1, 1);
    t.check_invariants();
    assert_eq!(t.lookup_max(ip("10.1.2.1"), 15).map(|x| x.1), Some(7));
    assert_eq!(t.lookup_max(ip("10.1.2.1"), 6).map(|x| x.1), Some(1));
    assert_eq!(t.remove(ip("10.0.0.0"), 7), Some(7));
    t.check_invariants();
    assert_eq!(lpm_of_u32(&t, ip("10.2.3.1")), Some((0, 1, 1)));
    assert_eq!(t.lookup_max(ip("10.1.2.1"), 15).map(|x| x.1), Some(1));
}

#[test]
fn iter_is_in_ascending_addr_then_len_order() {
    let t = nested();
    let got: Vec<_> = t
        .iter()
        .map(|(a, l, _)| (Ipv4Addr::from(a).to_string(), l))
        .collect();
    let want = [
        ("0.0.0.0", 0),
        ("10.0.0.0", 8),
        ("10.0.0.0", 9),
        ("10.1.0.0", 16),
        ("10.1.0.0", 17),
        ("10.1.2.0", 23),
        ("10.1.2.0", 24),
        ("10.1.2.0", 25),
        ("10.1.2.3", 32),
    ];
    assert_eq!(got, want.map(|(a, l)| (a.to_string(), l)));
    assert_eq!(t.iter().size_hint(), (9, Some(9)));

    let mut t = Lpm::new();
    for (p, l) in [
        ("128.0.0.0", 1),
        ("0.0.0.0", 1),
        ("64.0.0.0", 2),
        ("0.0.0.0", 32),
        ("0.0.0.0", 0),
    ] {
        t.insert(ip(p), l, ());
    }
    let got: Vec<_> = t.iter().map(|(a, l, _)| (a, l)).collect();
    assert_eq!(
        got,
        [
            (0, 0),
            (0, 1),
            (0, 32),
            (ip("64.0.0.0"), 2),
            (ip("128.0.0.0"), 1)
        ]
    );
}

#[test]
fn debug_lists_prefixes() {
    let mut t = Lpm::new();
    t.insert(ip("10.0.0.0"), 8, 1);
    t.insert(0, 0, 0);
    assert_eq!(format!("{t:?}"), r#"{"0.0.0.0/0": 0, "10.0.0.0/8": 1}"#);
}

#[test]
fn every_length_on_one_address() {
    let mut t = Lpm::new();
    let a = ip("172.16.5.77");
    for len in 0..=32u8 {
        t.insert(a, len, len);
    }
    t.check_invariants();
    for len in 0..=32u8 {
        assert_eq!(
            t.lookup_max(a, len).map(|(_, l, v)| (l, *v)),
            Some((len, len))
        );
        assert_eq!(t.get(a, len), Some(&len));
    }
    // Removing odd lengths: lookup_max at an odd length lands one below.
    for len in (1..=31u8).step_by(2) {
        assert_eq!(t.remove(a, len), Some(len));
        t.check_invariants();
    }
    for len in (1..=31u8).step_by(2) {
        assert_eq!(t.lookup_max(a, len).map(|(_, l, _)| l), Some(len - 1));
    }
    assert_eq!(t.len(), 17);
    assert_eq!(
        t.iter().map(|(_, l, _)| l).collect::<Vec<_>>(),
        (0..=32).step_by(2).collect::<Vec<_>>()
    );
}
