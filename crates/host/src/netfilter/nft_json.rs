//! `nft -j list ruleset` in a snapshot: its tables that iptables-nft
//! manages (`ip filter/nat/mangle/raw/security`) are read from
//! iptables.txt; every other table is loaded by `crate::nft_json`.

use std::path::Path;

use fwdsim_kernel::netfilter::xtables::ip_tables::XtBackend;

use super::NfLoad;
use crate::error::HostError;

impl NfLoad {
    /// Reads `nft -j list ruleset` output (empty text: no tables): the
    /// tables iptables-nft manages (`ip filter`, `ip nat`, ... that the
    /// iptables files hold) are skipped, being read from iptables.txt; the
    /// others are loaded as nftables tables, with a note for each rule or
    /// expression that is not modelled. Call it after the iptables files.
    pub fn check_nft_json(&mut self, text: &str, file: &Path) -> Result<(), HostError> {
        let managed: Vec<(String, String)> = self
            .tables
            .iter()
            .filter(|t| t.backend == XtBackend::Nft)
            .map(|t| ("ip".to_string(), t.name.name().to_string()))
            .collect();
        let (tables, warnings) = crate::nft_json::load_nft_json(file, text, &managed)?;
        // A built-in chain iptables-save printed that the kernel's table
        // does not hold (iptables-nft deleted or never created it) is not
        // hooked: nothing traverses it.
        for t in self
            .tables
            .iter_mut()
            .filter(|t| t.backend == XtBackend::Nft)
        {
            // A table nft.json does not list at all has no chain in the
            // kernel (an empty nft.json tells nothing: not recorded).
            let present = match crate::nft_json::chain_names(text, "ip", t.name.name()) {
                Some(p) => p,
                None if text.trim().is_empty() => continue,
                None => Vec::new(),
            };
            for c in t.chains.iter_mut().filter(|c| c.policy.is_some()) {
                c.hooked = present.contains(&c.name);
            }
        }
        self.nft.extend(tables);
        self.warnings.extend(warnings);
        Ok(())
    }
}

impl NfLoad {
    /// Reads a ruleset in nft syntax (the `[firewall]` `nft` block of a
    /// TOML host, whose first line is `first_line` of `file`): its tables
    /// are loaded as nftables tables, with a note for each rule or
    /// expression that parses but is not modelled. Call it after the
    /// iptables text: a table that text holds is an error.
    pub fn load_nft_text(
        &mut self,
        text: &str,
        file: &Path,
        first_line: usize,
    ) -> Result<(), HostError> {
        let taken: Vec<(String, String)> = self
            .tables
            .iter()
            .filter(|t| t.backend == XtBackend::Nft)
            .map(|t| ("ip".to_string(), t.name.name().to_string()))
            .collect();
        let (tables, warnings) = crate::nft_text::load_nft_text(text, file, first_line, &taken)?;
        self.nft.extend(tables);
        self.warnings.extend(warnings);
        Ok(())
    }
}
