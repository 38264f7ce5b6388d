//! The cost of dispatching a packet to its handler, five ways, on the same
//! mix of routes: the kernel's way (`dst.input` function pointer, here
//! `DstInput` through `dst_input`), an enum `match`, a `dyn` trait object,
//! an if-else chain on the route type, and an `INDIRECT_CALL`-style test of
//! the likely target before the indirect call. Each handler does the same
//! small amount of work (a counter), so the difference is the dispatch.

use std::hint::black_box;

use criterion::{Criterion, Throughput};

/// What the handlers touch.
struct State {
    forwarded: u64,
    delivered: u64,
    errors: u64,
}

type Handler = fn(&mut State, u32) -> u32;

fn ip_forward(s: &mut State, x: u32) -> u32 {
    s.forwarded += 1;
    x.wrapping_mul(3)
}
fn ip_local_deliver(s: &mut State, x: u32) -> u32 {
    s.delivered += 1;
    x.wrapping_add(7)
}
fn ip_error(s: &mut State, x: u32) -> u32 {
    s.errors += 1;
    x ^ 0x55
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Forward,
    Local,
    Error,
}

trait Input {
    fn input(&self, s: &mut State, x: u32) -> u32;
}
struct F;
struct L;
struct E;
impl Input for F {
    fn input(&self, s: &mut State, x: u32) -> u32 {
        ip_forward(s, x)
    }
}
impl Input for L {
    fn input(&self, s: &mut State, x: u32) -> u32 {
        ip_local_deliver(s, x)
    }
}
impl Input for E {
    fn input(&self, s: &mut State, x: u32) -> u32 {
        ip_error(s, x)
    }
}

/// A dst as fwdsim keeps it: the pointer plus the name it stands for.
#[derive(Clone, Copy)]
struct Dst {
    input: Handler,
    kind: Kind,
}

fn main() {
    // 80% forwarded, 15% local, 5% errors, in a fixed pseudo-random order.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let kinds: Vec<Kind> = (0..4096)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            match seed % 100 {
                0..80 => Kind::Forward,
                80..95 => Kind::Local,
                _ => Kind::Error,
            }
        })
        .collect();
    let dsts: Vec<Dst> = kinds
        .iter()
        .map(|&k| Dst {
            input: match k {
                Kind::Forward => ip_forward,
                Kind::Local => ip_local_deliver,
                Kind::Error => ip_error,
            },
            kind: k,
        })
        .collect();
    let objs: Vec<Box<dyn Input>> = kinds
        .iter()
        .map(|k| -> Box<dyn Input> {
            match k {
                Kind::Forward => Box::new(F),
                Kind::Local => Box::new(L),
                Kind::Error => Box::new(E),
            }
        })
        .collect();
    let mut st = State {
        forwarded: 0,
        delivered: 0,
        errors: 0,
    };
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("dispatch");
    g.throughput(Throughput::Elements(kinds.len() as u64));
    g.bench_function("fn_pointer (dst.input)", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for d in &dsts {
                let input = black_box(d).input;
                acc = input(&mut st, acc);
            }
            acc
        })
    });
    g.bench_function("enum_match", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for d in &dsts {
                acc = match black_box(d).kind {
                    Kind::Forward => ip_forward(&mut st, acc),
                    Kind::Local => ip_local_deliver(&mut st, acc),
                    Kind::Error => ip_error(&mut st, acc),
                };
            }
            acc
        })
    });
    g.bench_function("dyn_trait", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for o in &objs {
                acc = black_box(o).input(&mut st, acc);
            }
            acc
        })
    });
    g.bench_function("if_else", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for d in &dsts {
                let k = black_box(d).kind;
                acc = if k == Kind::Forward {
                    ip_forward(&mut st, acc)
                } else if k == Kind::Local {
                    ip_local_deliver(&mut st, acc)
                } else {
                    ip_error(&mut st, acc)
                };
            }
            acc
        })
    });
    g.bench_function("indirect_call_likely_first", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for d in &dsts {
                let d = black_box(d);
                // INDIRECT_CALL_1: test the likely target, call it directly.
                acc = if d.kind == Kind::Forward {
                    ip_forward(&mut st, acc)
                } else {
                    (d.input)(&mut st, acc)
                };
            }
            acc
        })
    });
    g.finish();
    c.final_summary();
    black_box((st.forwarded, st.delivered, st.errors));
}
