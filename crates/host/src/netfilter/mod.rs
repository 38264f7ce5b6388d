//! Loads netfilter state into the model: `iptables-save` text (the nft and
//! legacy backends), `ipset save`, the tables of `nft -j list ruleset` that
//! iptables does not manage (reported, not modelled), the `net.netfilter`
//! and `net.bridge` sysctls; and writes the simulated counters back in
//! `iptables-save -c` layout ([`save_counters`]).

mod ipset_save;
mod iptables_save;
mod nft_json;
mod save_counters;
mod tokens;

use fwdsim_kernel::netfilter::ipset::IpSet;
use fwdsim_kernel::netfilter::xtables::ip_tables::IptTable;
use fwdsim_kernel::netfilter::xtables::xt_limit::LimitState;
use fwdsim_kernel::netfilter::{Netfilter, NfSysctl};

pub use save_counters::save_counters;

/// Netfilter state being loaded from one host's files, in order: sets
/// first (rules resolve `-m set` against them), then the iptables files.
#[derive(Debug, Default)]
pub struct NfLoad {
    /// The tables read so far.
    pub tables: Vec<IptTable>,
    /// The nftables tables of `nft.json` that iptables does not manage.
    pub nft: Vec<fwdsim_kernel::netfilter::nf_tables::NftTable>,
    /// The sets read so far.
    pub sets: Vec<IpSet>,
    /// How many `-m limit` buckets the rules use.
    pub limits: usize,
    /// Non-fatal notes, one line each (`FILE:LINE: ...`).
    pub warnings: Vec<String>,
    /// The `net.netfilter.*` / `net.bridge.*` sysctls.
    pub sysctl: NfSysctl,
    /// An `iptables-save` file said `# Warning: iptables-legacy tables
    /// present`.
    pub legacy_tables_present: bool,
}

impl NfLoad {
    /// Sets one `net.netfilter.*` / `net.bridge.*` sysctl read from a file;
    /// keys the model does not read are kept in `NfSysctl::other`.
    pub fn sysctl(&mut self, key: &str, value: &str) {
        if !self.sysctl.set(key, value) {
            self.sysctl.other.push((key.to_string(), value.to_string()));
        }
    }

    /// The loaded state as the namespace's `Netfilter`, with its hooks
    /// registered; None when no table was loaded (sets alone do nothing).
    pub fn into_netfilter(self) -> Option<Netfilter> {
        if self.tables.is_empty() && self.nft.is_empty() {
            return None;
        }
        let mut nf = Netfilter {
            tables: self.tables,
            nft: self.nft,
            sets: self.sets,
            limits: vec![LimitState::default(); self.limits],
            sysctl: self.sysctl,
            ..Default::default()
        };
        nf.register_hooks();
        Some(nf)
    }
}

#[cfg(test)]
mod tests;
