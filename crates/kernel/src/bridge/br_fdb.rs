//! Models net/bridge/br_fdb.c: the bridge's forwarding database —
//! `br_fdb_find_rcu` (which port an address is behind, or whether it is
//! local), `br_fdb_update` (learning from a frame's source address),
//! ageing (`has_expired`, `br_fdb_cleanup`) on the namespace's jiffies, and
//! `br_fdb_add` (`bridge fdb add ... master static`).

use crate::bridge::{FdbFlags, NetBridgeFdbEntry};
use crate::netns::{ConfigError, IfIndex, Netns};

/// What the FDB says about an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdbHit {
    /// The port it is behind; None for the bridge's own address.
    pub dst: Option<IfIndex>,
    /// `BR_FDB_LOCAL`: frames to it are for this host.
    pub local: bool,
}

/// Kernel: `hold_time`: the ageing time (the short ageing of a topology
/// change is STP's and not modelled).
pub fn hold_time(ns: &Netns, br: IfIndex) -> u64 {
    ns.dev(br)
        .and_then(|d| d.bridge())
        .map_or(0, |b| b.ageing_time)
}

/// Kernel: `has_expired`: a dynamic entry not refreshed for `hold_time`.
pub fn has_expired(hold: u64, e: &NetBridgeFdbEntry, now: u64) -> bool {
    !e.flags.contains(FdbFlags::BR_FDB_STATIC)
        && !e.flags.contains(FdbFlags::BR_FDB_LOCAL)
        && e.updated + hold <= now
}

/// Kernel: `br_fdb_cleanup`: the ageing work removes every expired entry.
/// The kernel runs it when the first entry is due; the model runs it before
/// each lookup, at the namespace's `jiffies`.
pub fn br_fdb_cleanup(ns: &mut Netns, br: IfIndex) {
    let now = ns.jiffies;
    let hold = hold_time(ns, br);
    if let Some(b) = ns.dev_mut(br).and_then(|d| d.bridge_mut()) {
        b.fdb.retain(|e| !has_expired(hold, e, now));
    }
}

/// Kernel: `br_fdb_find_rcu` (VLAN 0): the entry of `addr`. Besides the
/// entries in the table, the bridge's own address and each port's address
/// are local entries, as `br_add_if` and the bridge's address setup insert
/// them (`br_fdb_add_local`), so a snapshot need not list them.
pub fn br_fdb_find(ns: &mut Netns, br: IfIndex, addr: &[u8; 6]) -> Option<FdbHit> {
    br_fdb_cleanup(ns, br);
    let d = ns.dev(br)?;
    let b = d.bridge()?;
    if let Some(e) = b.fdb.iter().find(|e| e.addr == *addr && e.vlan_id == 0) {
        return Some(FdbHit {
            dst: e.dst,
            local: e.flags.contains(FdbFlags::BR_FDB_LOCAL),
        });
    }
    if d.dev_addr == *addr {
        return Some(FdbHit {
            dst: None,
            local: true,
        });
    }
    b.ports
        .iter()
        .find(|&&p| ns.dev(p).is_some_and(|pd| pd.dev_addr == *addr))
        .map(|&p| FdbHit {
            dst: Some(p),
            local: true,
        })
}

/// Kernel: `br_fdb_update` for a frame from `addr` received on `port`:
/// nothing when learning is off (`hold_time` 0) or the address is local
/// (the kernel warns "received packet on ... with own address as source
/// address"); an entry that exists is refreshed and, unless sticky, moves
/// to `port`; otherwise a new dynamic entry is made.
pub fn br_fdb_update(ns: &mut Netns, br: IfIndex, port: IfIndex, addr: &[u8; 6]) {
    if hold_time(ns, br) == 0 {
        return;
    }
    let Some(hit) = br_fdb_find(ns, br, addr) else {
        let now = ns.jiffies;
        if let Some(b) = ns.dev_mut(br).and_then(|d| d.bridge_mut()) {
            b.fdb.push(NetBridgeFdbEntry {
                addr: *addr,
                vlan_id: 0,
                dst: Some(port),
                flags: FdbFlags::default(),
                updated: now,
                used: now,
            });
        }
        return;
    };
    if hit.local {
        return;
    }
    let now = ns.jiffies;
    if let Some(e) = ns
        .dev_mut(br)
        .and_then(|d| d.bridge_mut())
        .and_then(|b| b.fdb.iter_mut().find(|e| e.addr == *addr && e.vlan_id == 0))
    {
        e.updated = now;
        if e.dst != Some(port) && !e.flags.contains(FdbFlags::BR_FDB_STICKY) {
            e.dst = Some(port);
        }
    }
}

/// Kernel: `br_fdb_add` (`bridge fdb add ADDR dev PORT master [static|
/// permanent|sticky]`, or an entry of a snapshot's `bridge -j fdb show`):
/// `port` None with `BR_FDB_LOCAL` is an address of the bridge itself. An
/// entry for the same address is replaced.
pub fn br_fdb_add(
    ns: &mut Netns,
    br: IfIndex,
    addr: [u8; 6],
    port: Option<IfIndex>,
    flags: FdbFlags,
) -> Result<(), ConfigError> {
    let now = ns.jiffies;
    let name = ns.dev_name(br).to_string();
    let b = ns
        .dev_mut(br)
        .ok_or(ConfigError::UnknownIfindex(br.0))?
        .bridge_mut()
        .ok_or(ConfigError::NotABridge(name))?;
    b.fdb.retain(|e| e.addr != addr);
    b.fdb.push(NetBridgeFdbEntry {
        addr,
        vlan_id: 0,
        dst: port,
        flags: FdbFlags(flags.0 | FdbFlags::BR_FDB_ADDED_BY_USER.0),
        updated: now,
        used: now,
    });
    Ok(())
}
