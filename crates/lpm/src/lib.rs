//! An IPv4 longest-prefix-match index with no kernel semantics: one FIB
//! table's prefixes, each with a value, looked up by destination address.
//!
//! Addresses are `u32` in host byte order (`u32::from(Ipv4Addr)`); a prefix is
//! `(addr, len)` with `len` in `0..=32`, and the bits of `addr` beyond `len` are
//! masked off when it is inserted.
//!
//! # Structure
//!
//! A multibit trie with four levels of stride 8 ("DIR-8-8-8-8") whose
//! 256-entry *chunks* (1 KiB of entries each) are allocated lazily: an empty
//! table owns no memory, a prefix of length `len` needs only the
//! `max(1, ceil(len / 8))` chunks on its path (so a three-route table owns at
//! most ten), and a full BGP table owns about one chunk per /16 that holds
//! something longer than a /16 (about 58k chunks and 95 MiB for 1M prefixes,
//! see `benches/data/README.md`). A flat DIR-24-8 first level would cost
//! 64 MiB per table, even an empty one.
//!
//! * A chunk at depth `d` (0, 8, 16 or 24) covers the address bits
//!   `d..d + 8`. It *owns* the prefixes whose length is `d + 1 ..= d + 8`
//!   (the root also owns the default route, length 0), recorded in a
//!   511-bit bitmap indexed like a heap (`(1 << l) | bits`, `l` the length
//!   relative to `d`) plus the slab ids of those prefixes in bitmap order.
//! * Each of the 256 entries of a chunk is a `u32`: either a child chunk, or
//!   the id of the longest prefix covering that entry (leaf pushing, as in
//!   DPDK's DIR-24-8), or nothing. A chunk also remembers the prefix it
//!   *inherits* from its parent entry, the longest one of length `<= d`
//!   covering all of it.
//! * Values live in a slab (`Vec`) with a free list; chunks store slab ids,
//!   so `V` needs no bounds.
//!
//! [`Lpm::lookup`] follows child entries until it meets a leaf: at most four
//! dependent loads into the chunk arena, then one into the slab (about 20 ns
//! on a 1M-prefix table, 3 to 4 ns on a 1k one, in the `fib_lookup` bench).
//! [`Lpm::lookup_max`] walks the same entries down to the chunk owning length
//! `max_len`, tests the nine bits of that chunk's bitmap on the address's
//! path (without branching) for the longest prefix of allowed length, and
//! otherwise takes the chunk's inherited prefix: a lookup plus the chunk's
//! bookkeeping and one prefix-id list, never a scan, which is what the
//! kernel's `fib_table_lookup` backtracking needs.
//!
//! Updates rewrite only the entries that the changed prefix covers in its own
//! chunk, and push a changed inherited prefix down into the child chunks
//! whose entries took it from above. Chunks that end up owning nothing and
//! having no children are freed; a table emptied of all prefixes releases all
//! its memory.
//!
//! ```
//! use fwdsim_lpm::Lpm;
//! use std::net::Ipv4Addr;
//!
//! let ip = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap());
//! let mut fib = Lpm::new();
//! fib.insert(0, 0, "default");
//! fib.insert(ip("10.0.0.0"), 8, "ten");
//! fib.insert(ip("10.1.2.0"), 24, "lan");
//!
//! assert_eq!(fib.lookup(ip("10.1.2.3")), Some((ip("10.1.2.0"), 24, &"lan")));
//! // Backtracking to a shorter prefix, as fib_table_lookup does.
//! assert_eq!(fib.lookup_max(ip("10.1.2.3"), 23), Some((ip("10.0.0.0"), 8, &"ten")));
//! assert_eq!(fib.lookup(ip("192.0.2.1")), Some((0, 0, &"default")));
//! ```

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::fmt;

/// Address bits consumed per trie level.
const STRIDE: u32 = 8;
/// Entries per chunk.
const FANOUT: usize = 1 << STRIDE;
/// Entry code for "no prefix".
const NONE: u32 = 0;
/// Tag bit of an entry code that points to a child chunk.
const CHILD: u32 = 1 << 31;
/// Largest slab id or chunk index that fits in an entry code.
const MAX_ID: usize = (CHILD - 2) as usize;

/// Network mask of a prefix length (`len <= 32`).
#[inline]
fn mask(len: u32) -> u32 {
    u32::MAX.checked_shl(32 - len).unwrap_or(0)
}

/// The 8 address bits that index a chunk at `depth`.
#[inline]
fn byte_at(addr: u32, depth: u32) -> usize {
    ((addr >> (24 - depth)) & 0xff) as usize
}

/// Depth of the chunk that owns prefixes of `len`, and `len` relative to it.
#[inline]
fn split(len: u32) -> (u32, u32) {
    if len == 0 {
        (0, 0)
    } else {
        let depth = (len - 1) / STRIDE * STRIDE;
        (depth, len - depth)
    }
}

/// Bitmap index of the node of relative length `l` above chunk entry `byte`.
#[inline]
fn bit_index(l: u32, byte: usize) -> usize {
    (1 << l) | (byte >> (STRIDE - l))
}

/// One stored prefix.
#[derive(Clone)]
struct Slot<V> {
    addr: u32,
    len: u8,
    /// `None` while the slot is on the free list.
    value: Option<V>,
}

/// Bookkeeping of one 256-entry chunk (its entries live in `Lpm::entries`).
/// Cache-line aligned: the bitmap is one line, the rest a second one.
#[derive(Clone)]
#[repr(align(64))]
struct Chunk {
    /// Prefixes owned by this chunk: bit `(1 << l) | bits` for each prefix of
    /// relative length `l` (0 only in the root) whose top `l` bits are `bits`.
    bitmap: [u64; 8],
    /// Set bits in the bitmap words before each word, so that a rank takes
    /// one popcount.
    below: [u16; 8],
    /// Slab ids of the owned prefixes, in bitmap order.
    slots: Vec<u32>,
    /// Entry code of the longest prefix of length `<= depth` covering the
    /// whole chunk (always `NONE` in the root, which owns the default route).
    inherited: u32,
    /// How many entries point to child chunks.
    children: u16,
}

impl Chunk {
    fn new(inherited: u32) -> Self {
        Chunk {
            bitmap: [0; 8],
            below: [0; 8],
            slots: Vec::new(),
            inherited,
            children: 0,
        }
    }

    #[inline]
    fn has(&self, bit: usize) -> bool {
        self.bitmap[(bit / 64) % 8] & (1 << (bit % 64)) != 0
    }

    /// Records the prefix at `bit` as owned (the caller inserts its slab id).
    fn set(&mut self, bit: usize) {
        self.bitmap[bit / 64] |= 1 << (bit % 64);
        for below in &mut self.below[bit / 64 + 1..] {
            *below += 1;
        }
    }

    /// Forgets the prefix at `bit` (the caller removes its slab id).
    fn clear(&mut self, bit: usize) {
        self.bitmap[bit / 64] &= !(1 << (bit % 64));
        for below in &mut self.below[bit / 64 + 1..] {
            *below -= 1;
        }
    }

    /// Position in `slots` of the prefix at `bit` (number of set bits below).
    #[inline]
    fn rank(&self, bit: usize) -> usize {
        let word = (bit / 64) % 8;
        let partial = self.bitmap[word] & ((1u64 << (bit % 64)) - 1);
        usize::from(self.below[word]) + partial.count_ones() as usize
    }

    /// Entry code of the owned prefix at `bit`, if any.
    #[inline]
    fn code_at(&self, bit: usize) -> Option<u32> {
        if self.has(bit) {
            Some(self.slots[self.rank(bit)] + 1)
        } else {
            None
        }
    }

    /// Entry code of the longest prefix covering entry `byte` whose relative
    /// length is at most `max_l`, falling back to the inherited prefix.
    #[inline]
    fn best(&self, byte: usize, max_l: u32) -> u32 {
        // Owned nodes on the path down to `byte`, one bit per relative
        // length, computed without branches; then the deepest allowed one.
        let mut on_path = 0u32;
        for l in 0..=STRIDE {
            on_path |= u32::from(self.has(bit_index(l, byte))) << l;
        }
        let allowed = on_path & ((2 << max_l) - 1);
        if allowed == 0 {
            return self.inherited;
        }
        let l = 31 - allowed.leading_zeros();
        self.slots[self.rank(bit_index(l, byte))] + 1
    }

    fn is_unused(&self) -> bool {
        self.slots.is_empty() && self.children == 0
    }
}

/// An IPv4 longest-prefix-match table mapping prefixes to values of type `V`.
///
/// See the [crate documentation](crate) for the structure and its costs.
#[derive(Clone)]
pub struct Lpm<V> {
    /// Slab of prefixes; entry codes hold `id + 1`.
    slots: Vec<Slot<V>>,
    /// Free slab ids.
    free_slots: Vec<u32>,
    /// Number of stored prefixes.
    len: usize,
    /// Entries of all chunks, chunk `i` at `i * FANOUT ..`; chunk 0 is the root.
    entries: Vec<u32>,
    /// Bookkeeping of all chunks, parallel to `entries`.
    chunks: Vec<Chunk>,
    /// Indices of freed chunks, reused before the arena grows.
    free_chunks: Vec<u32>,
}

impl<V> Default for Lpm<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: fmt::Debug> fmt::Debug for Lpm<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(addr, len, v)| (format!("{}/{len}", std::net::Ipv4Addr::from(addr)), v)),
            )
            .finish()
    }
}

impl<V> Lpm<V> {
    /// An empty table; allocates nothing until the first insert.
    pub fn new() -> Self {
        Lpm {
            slots: Vec::new(),
            free_slots: Vec::new(),
            len: 0,
            entries: Vec::new(),
            chunks: Vec::new(),
            free_chunks: Vec::new(),
        }
    }

    /// Number of prefixes stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table holds no prefix.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `value` for the prefix `addr/len` (bits of `addr` beyond `len`
    /// are ignored), returning the value it replaces, if any.
    ///
    /// # Panics
    ///
    /// If `len > 32`, or if the table would exceed 2^31 - 2 prefixes or chunks.
    pub fn insert(&mut self, addr: u32, len: u8, value: V) -> Option<V> {
        assert!(len <= 32, "IPv4 prefix length {len} is greater than 32");
        let len32 = u32::from(len);
        let addr = addr & mask(len32);
        if self.chunks.is_empty() {
            self.alloc_chunk(NONE);
        }
        let (depth, l) = split(len32);
        let mut c = 0;
        let mut d = 0;
        while d < depth {
            let i = c * FANOUT + byte_at(addr, d);
            let e = self.entries[i];
            c = if e & CHILD != 0 {
                (e & !CHILD) as usize
            } else {
                let child = self.alloc_chunk(e);
                self.entries[i] = CHILD | child as u32;
                self.chunks[c].children += 1;
                child
            };
            d += STRIDE;
        }
        let byte = byte_at(addr, depth);
        let bit = bit_index(l, byte);
        let chunk = &mut self.chunks[c];
        if chunk.has(bit) {
            let id = chunk.slots[chunk.rank(bit)] as usize;
            return self.slots[id].value.replace(value);
        }
        let id = self.alloc_slot(addr, len, value);
        let chunk = &mut self.chunks[c];
        let pos = chunk.rank(bit);
        chunk.slots.insert(pos, id);
        chunk.set(bit);
        self.len += 1;
        self.refresh(c, l, byte);
        None
    }

    /// Removes the prefix `addr/len` (bits of `addr` beyond `len` are
    /// ignored) and returns its value; lookups then fall back to the next
    /// shorter covering prefix.
    pub fn remove(&mut self, addr: u32, len: u8) -> Option<V> {
        let len32 = u32::from(len);
        if len32 > 32 || self.chunks.is_empty() {
            return None;
        }
        let addr = addr & mask(len32);
        let (depth, l) = split(len32);
        // The parent entries on the way down, to unlink chunks left unused.
        let mut path = [0usize; 3];
        let mut c = 0;
        let mut d = 0;
        while d < depth {
            let i = c * FANOUT + byte_at(addr, d);
            let e = self.entries[i];
            if e & CHILD == 0 {
                return None;
            }
            path[(d / STRIDE) as usize] = i;
            c = (e & !CHILD) as usize;
            d += STRIDE;
        }
        let byte = byte_at(addr, depth);
        let bit = bit_index(l, byte);
        let chunk = &mut self.chunks[c];
        if !chunk.has(bit) {
            return None;
        }
        let id = chunk.slots.remove(chunk.rank(bit));
        chunk.clear(bit);
        self.refresh(c, l, byte);
        let value = self.slots[id as usize].value.take();
        self.free_slots.push(id);
        self.len -= 1;
        if self.len == 0 {
            // Give all memory back: an emptied table is a new table.
            *self = Self::new();
            return value;
        }
        // Unlink chunks that own nothing and have no children, bottom up.
        while d > 0 && self.chunks[c].is_unused() {
            d -= STRIDE;
            let i = path[(d / STRIDE) as usize];
            let parent = i / FANOUT;
            self.entries[i] = self.chunks[c].inherited;
            self.chunks[parent].children -= 1;
            self.free_chunks.push(c as u32);
            c = parent;
        }
        value
    }

    /// The value stored for exactly the prefix `addr/len` (bits of `addr`
    /// beyond `len` are ignored).
    pub fn get(&self, addr: u32, len: u8) -> Option<&V> {
        let id = self.find(addr, len)?;
        self.slots[id].value.as_ref()
    }

    /// Mutable access to the value stored for exactly the prefix `addr/len`.
    pub fn get_mut(&mut self, addr: u32, len: u8) -> Option<&mut V> {
        let id = self.find(addr, len)?;
        self.slots[id].value.as_mut()
    }

    /// Longest prefix containing `addr`: (prefix address masked, len, value).
    #[inline]
    pub fn lookup(&self, addr: u32) -> Option<(u32, u8, &V)> {
        let mut base = 0;
        let mut depth = 0;
        loop {
            let e = *self.entries.get(base + byte_at(addr, depth))?;
            if e & CHILD == 0 {
                return self.resolve(e);
            }
            base = (e & !CHILD) as usize * FANOUT;
            depth += STRIDE;
        }
    }

    /// Longest prefix containing `addr` whose length is <= `max_len` (values
    /// above 32 mean 32). This is how the kernel's `fib_table_lookup`
    /// backtracks to a shorter prefix when no route at the longest one is
    /// usable: call again with `max_len = found_len - 1`. Costs a
    /// [`lookup`](Self::lookup) plus a read of one chunk's bitmap and
    /// prefix-id list.
    #[inline]
    pub fn lookup_max(&self, addr: u32, max_len: u8) -> Option<(u32, u8, &V)> {
        let max_len = u32::from(max_len).min(32);
        let mut c = 0;
        let mut depth = 0;
        // Down to the chunk that owns length max_len, as lookup does.
        while max_len > depth + STRIDE {
            let e = *self.entries.get(c * FANOUT + byte_at(addr, depth))?;
            if e & CHILD == 0 {
                return self.resolve(e);
            }
            c = (e & !CHILD) as usize;
            depth += STRIDE;
        }
        let chunk = self.chunks.get(c)?;
        self.resolve(chunk.best(byte_at(addr, depth), max_len - depth))
    }

    /// All prefixes in ascending (addr, len) order: a covering prefix comes
    /// right before the prefixes it contains.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u8, &V)> {
        Iter {
            lpm: self,
            stack: if self.chunks.is_empty() {
                Vec::new()
            } else {
                vec![Frame::start(0)]
            },
            remaining: self.len,
        }
    }

    /// The prefix, length and value behind an entry code.
    #[inline]
    fn resolve(&self, code: u32) -> Option<(u32, u8, &V)> {
        let slot = self.slots.get(code.checked_sub(1)? as usize)?;
        Some((slot.addr, slot.len, slot.value.as_ref()?))
    }

    /// Slab id of exactly `addr/len`.
    fn find(&self, addr: u32, len: u8) -> Option<usize> {
        let len = u32::from(len);
        if len > 32 {
            return None;
        }
        let (depth, l) = split(len);
        let mut c = 0;
        let mut d = 0;
        while d < depth {
            let e = *self.entries.get(c * FANOUT + byte_at(addr, d))?;
            if e & CHILD == 0 {
                return None;
            }
            c = (e & !CHILD) as usize;
            d += STRIDE;
        }
        let chunk = self.chunks.get(c)?;
        let code = chunk.code_at(bit_index(l, byte_at(addr, depth)))?;
        Some(code as usize - 1)
    }

    fn alloc_slot(&mut self, addr: u32, len: u8, value: V) -> u32 {
        let slot = Slot {
            addr,
            len,
            value: Some(value),
        };
        if let Some(id) = self.free_slots.pop() {
            self.slots[id as usize] = slot;
            id
        } else {
            assert!(self.slots.len() <= MAX_ID, "too many prefixes");
            self.slots.push(slot);
            (self.slots.len() - 1) as u32
        }
    }

    /// A chunk whose entries all take `inherited`.
    fn alloc_chunk(&mut self, inherited: u32) -> usize {
        if let Some(c) = self.free_chunks.pop() {
            let c = c as usize;
            let chunk = &mut self.chunks[c];
            chunk.bitmap = [0; 8];
            chunk.below = [0; 8];
            chunk.slots.clear();
            chunk.inherited = inherited;
            chunk.children = 0;
            self.entries[c * FANOUT..(c + 1) * FANOUT].fill(inherited);
            c
        } else {
            assert!(self.chunks.len() <= MAX_ID, "too many chunks");
            self.chunks.push(Chunk::new(inherited));
            self.entries.resize(self.entries.len() + FANOUT, inherited);
            self.chunks.len() - 1
        }
    }

    /// Recomputes the entries of chunk `c` under the node of relative length
    /// `l` above entry `byte`, after a prefix there was added or removed.
    fn refresh(&mut self, c: usize, l: u32, byte: usize) {
        let width = 1 << (STRIDE - l);
        let start = byte & !(width - 1);
        for e in start..start + width {
            let best = self.chunks[c].best(e, STRIDE);
            let i = c * FANOUT + e;
            let cur = self.entries[i];
            if cur & CHILD != 0 {
                self.push_down((cur & !CHILD) as usize, best);
            } else {
                self.entries[i] = best;
            }
        }
    }

    /// Makes `code` the inherited prefix of chunk `c`, replacing the old one
    /// wherever the chunk and its descendants had taken it from above.
    fn push_down(&mut self, c: usize, code: u32) {
        let old = std::mem::replace(&mut self.chunks[c].inherited, code);
        if old == code {
            return;
        }
        for i in c * FANOUT..(c + 1) * FANOUT {
            let cur = self.entries[i];
            if cur & CHILD != 0 {
                let child = (cur & !CHILD) as usize;
                if self.chunks[child].inherited == old {
                    self.push_down(child, code);
                }
            } else if cur == old {
                self.entries[i] = code;
            }
        }
    }
}

/// Where a pre-order walk stands in one chunk.
struct Frame {
    chunk: usize,
    /// Relative length of the next node to visit; `DONE` when none is left.
    l: u32,
    /// Top `l` bits of the next node to visit.
    bits: usize,
}

impl Frame {
    const DONE: u32 = u32::MAX;

    fn start(chunk: usize) -> Self {
        Frame {
            chunk,
            l: 0,
            bits: 0,
        }
    }
}

/// Pre-order walk over the binary trie the chunks encode, which yields
/// prefixes in ascending (addr, len) order.
struct Iter<'a, V> {
    lpm: &'a Lpm<V>,
    stack: Vec<Frame>,
    remaining: usize,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (u32, u8, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        let lpm = self.lpm;
        loop {
            if self.remaining == 0 {
                return None;
            }
            let frame = self.stack.last_mut()?;
            if frame.l == Frame::DONE {
                self.stack.pop();
                continue;
            }
            let (c, l, bits) = (frame.chunk, frame.l, frame.bits);
            // Step this frame to the pre-order successor within the chunk.
            if l < STRIDE {
                frame.l = l + 1;
                frame.bits = bits << 1;
            } else {
                let (mut nl, mut nb) = (l, bits);
                while nl > 0 && nb & 1 == 1 {
                    nl -= 1;
                    nb >>= 1;
                }
                if nl == 0 {
                    frame.l = Frame::DONE;
                } else {
                    frame.l = nl;
                    frame.bits = nb + 1;
                }
                // Below a full-length node come the child chunk's prefixes.
                let e = lpm.entries[c * FANOUT + bits];
                if e & CHILD != 0 {
                    self.stack.push(Frame::start((e & !CHILD) as usize));
                }
            }
            if let Some(code) = lpm.chunks[c].code_at((1 << l) | bits)
                && let Some(item) = lpm.resolve(code)
            {
                self.remaining -= 1;
                return Some(item);
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

#[cfg(test)]
impl<V> Lpm<V> {
    /// Checks every structural invariant against a recomputation; panics on
    /// the first violation.
    fn check_invariants(&self) {
        if self.len == 0 {
            assert!(self.chunks.is_empty() && self.entries.is_empty() && self.slots.is_empty());
            return;
        }
        assert_eq!(self.entries.len(), self.chunks.len() * FANOUT);
        let live = self.slots.iter().filter(|s| s.value.is_some()).count();
        assert_eq!(live, self.len);
        assert_eq!(live + self.free_slots.len(), self.slots.len());
        let mut reached = vec![false; self.chunks.len()];
        let mut owned = 0;
        self.check_chunk(0, 0, NONE, 0, &mut reached, &mut owned);
        assert_eq!(owned, self.len, "prefixes reachable from the root");
        for &f in &self.free_chunks {
            assert!(!reached[f as usize], "freed chunk {f} is still linked");
        }
        assert_eq!(
            reached.iter().filter(|&&r| r).count() + self.free_chunks.len(),
            self.chunks.len()
        );
    }

    fn check_chunk(
        &self,
        c: usize,
        depth: u32,
        inherited: u32,
        prefix: u32,
        reached: &mut [bool],
        owned: &mut usize,
    ) {
        assert!(!reached[c], "chunk {c} linked twice");
        reached[c] = true;
        let chunk = &self.chunks[c];
        assert_eq!(chunk.inherited, inherited, "inherited of chunk {c}");
        let bits: u32 = chunk.bitmap.iter().map(|w| w.count_ones()).sum();
        assert_eq!(bits as usize, chunk.slots.len());
        for w in 0..8 {
            let before: u32 = chunk.bitmap[..w].iter().map(|w| w.count_ones()).sum();
            assert_eq!(u32::from(chunk.below[w]), before, "below[{w}] of chunk {c}");
        }
        assert_eq!(chunk.bitmap[0] & 1, 0);
        if depth > 0 {
            assert_eq!(
                chunk.bitmap[0] & 2,
                0,
                "non-root chunk owns a length-{depth} prefix"
            );
            assert!(!chunk.is_unused(), "unused chunk {c} still linked");
        }
        *owned += chunk.slots.len();
        // best[(1 << l) | b]: longest prefix covering node (l, b), top down.
        let mut best = [NONE; 2 * FANOUT];
        for l in 0..=STRIDE {
            for b in 0..1usize << l {
                let node = (1 << l) | b;
                let above = if node == 1 {
                    chunk.inherited
                } else {
                    best[node >> 1]
                };
                best[node] = match chunk.code_at(node) {
                    Some(code) => {
                        let slot = &self.slots[code as usize - 1];
                        let len = depth + l;
                        let shifted = (b as u32).checked_shl(32 - len).unwrap_or(0);
                        let addr = prefix | (shifted & mask(len));
                        assert_eq!((slot.addr, u32::from(slot.len)), (addr, len));
                        assert!(slot.value.is_some());
                        code
                    }
                    None => above,
                };
            }
        }
        let mut children = 0;
        for e in 0..FANOUT {
            let best = best[FANOUT | e];
            let cur = self.entries[c * FANOUT + e];
            if cur & CHILD != 0 {
                children += 1;
                assert!(depth < 24, "child below depth 24");
                let sub = prefix | ((e as u32) << (24 - depth));
                self.check_chunk(
                    (cur & !CHILD) as usize,
                    depth + 8,
                    best,
                    sub,
                    reached,
                    owned,
                );
            } else {
                assert_eq!(cur, best, "entry {e} of chunk {c}");
            }
        }
        assert_eq!(children, chunk.children);
    }
}
