//! Property tests: random insert/remove/lookup/lookup_max/get sequences
//! checked against a linear-scan model, with short and colliding prefixes (the
//! approach of prefix-trie's `src/fuzzing`). Shrunk failures are kept in
//! `proptest-regressions/` and promoted to named `regression_*` tests below.

use super::{Lpm, mask};
use proptest::prelude::*;

/// One step of a random sequence.
#[derive(Clone, Debug)]
enum Op {
    Insert(u32, u8, u32),
    Remove(u32, u8),
    Get(u32, u8),
    Lookup(u32),
    LookupMax(u32, u8),
}

/// The obviously correct reference: a list scanned linearly.
#[derive(Default)]
struct Model(Vec<(u32, u8, u32)>);

impl Model {
    fn pos(&self, addr: u32, len: u8) -> Option<usize> {
        let addr = addr & mask(u32::from(len));
        self.0.iter().position(|&(a, l, _)| (a, l) == (addr, len))
    }

    fn insert(&mut self, addr: u32, len: u8, v: u32) -> Option<u32> {
        match self.pos(addr, len) {
            Some(i) => Some(std::mem::replace(&mut self.0[i].2, v)),
            None => {
                self.0.push((addr & mask(u32::from(len)), len, v));
                None
            }
        }
    }

    fn remove(&mut self, addr: u32, len: u8) -> Option<u32> {
        self.pos(addr, len).map(|i| self.0.swap_remove(i).2)
    }

    fn get(&self, addr: u32, len: u8) -> Option<u32> {
        self.pos(addr, len).map(|i| self.0[i].2)
    }

    fn lookup_max(&self, addr: u32, max_len: u8) -> Option<(u32, u8, u32)> {
        self.0
            .iter()
            .filter(|&&(a, l, _)| l <= max_len && addr & mask(u32::from(l)) == a)
            .max_by_key(|&&(_, l, _)| l)
            .copied()
    }

    fn sorted(&self) -> Vec<(u32, u8, u32)> {
        let mut v = self.0.clone();
        v.sort_unstable();
        v
    }
}

/// Runs `ops` on both and asserts they agree at every step and at the end.
fn run(ops: &[Op]) {
    let mut lpm = Lpm::new();
    let mut model = Model::default();
    let own = |r: Option<(u32, u8, &u32)>| r.map(|(a, l, v)| (a, l, *v));
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Insert(a, l, v) => {
                assert_eq!(
                    lpm.insert(a, l, v),
                    model.insert(a, l, v),
                    "step {step}: {op:?}"
                )
            }
            Op::Remove(a, l) => {
                assert_eq!(lpm.remove(a, l), model.remove(a, l), "step {step}: {op:?}")
            }
            Op::Get(a, l) => {
                assert_eq!(
                    lpm.get(a, l).copied(),
                    model.get(a, l),
                    "step {step}: {op:?}"
                )
            }
            Op::Lookup(a) => {
                assert_eq!(
                    own(lpm.lookup(a)),
                    model.lookup_max(a, 32),
                    "step {step}: {op:?}"
                )
            }
            Op::LookupMax(a, m) => {
                assert_eq!(
                    own(lpm.lookup_max(a, m)),
                    model.lookup_max(a, m),
                    "step {step}: {op:?}"
                );
                // The backtracking chain, as fib_table_lookup walks it.
                let mut max = m;
                while let Some((_, l, _)) = lpm.lookup_max(a, max) {
                    let Some(next) = l.checked_sub(1) else { break };
                    assert_eq!(own(lpm.lookup_max(a, next)), model.lookup_max(a, next));
                    max = next;
                }
            }
        }
        if matches!(op, Op::Insert(..) | Op::Remove(..)) {
            lpm.check_invariants();
        }
        assert_eq!(lpm.len(), model.0.len(), "step {step}: len");
    }
    let got: Vec<_> = lpm.iter().map(|(a, l, v)| (a, l, *v)).collect();
    assert_eq!(got, model.sorted(), "iter");
}

/// Addresses that collide: a few bases around stride boundaries, each with
/// one random byte flipped, and occasionally anything.
fn addr() -> impl Strategy<Value = u32> {
    let base = prop::sample::select(vec![
        0x0000_0000,
        0xffff_ffff,
        0x8000_0000,
        0x7fff_ffff,
        0x0a00_0000,
        0x0a01_0200,
        0x0a01_02ff,
        0x0a01_0300,
        0xc0a8_0100,
    ]);
    prop_oneof![
        4 => base.clone(),
        4 => (base, 0..4u32, any::<u8>()).prop_map(|(b, byte, x)| b ^ (u32::from(x) << (8 * byte))),
        1 => any::<u32>(),
    ]
}

/// Short lengths and the lengths around each stride boundary, mostly.
fn len() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(vec![0u8, 1, 2, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32]),
        1 => 0..=32u8,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (addr(), len(), any::<u32>()).prop_map(|(a, l, v)| Op::Insert(a, l, v)),
        3 => (addr(), len()).prop_map(|(a, l)| Op::Remove(a, l)),
        1 => (addr(), len()).prop_map(|(a, l)| Op::Get(a, l)),
        3 => addr().prop_map(Op::Lookup),
        3 => (addr(), 0..=33u8).prop_map(|(a, m)| Op::LookupMax(a, m)),
    ]
}

/// `cases` unless `PROPTEST_CASES` is set (for long runs:
/// `PROPTEST_CASES=100000 cargo test --release -p fwdsim-lpm proptests`).
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn matches_linear_scan(ops in prop::collection::vec(op(), 1..120)) {
        run(&ops);
    }

}

proptest! {
    #![proptest_config(config(128))]

    /// Fill with many prefixes, then empty it again in another order: chunk
    /// freeing and reuse, and the return to an empty table.
    #[test]
    fn fill_and_drain(
        prefixes in prop::collection::vec((addr(), len()), 1..80),
        order in prop::collection::vec(any::<prop::sample::Index>(), 80),
    ) {
        let mut ops: Vec<Op> =
            prefixes.iter().enumerate().map(|(i, &(a, l))| Op::Insert(a, l, i as u32)).collect();
        let mut left = prefixes.clone();
        for ix in &order {
            if left.is_empty() {
                break;
            }
            let (a, l) = left.swap_remove(ix.index(left.len()));
            ops.push(Op::Lookup(a));
            ops.push(Op::Remove(a, l));
        }
        ops.extend(prefixes.iter().map(|&(a, l)| Op::Remove(a, l)));
        run(&ops);
    }
}
