//! `nft -j list ruleset`: not read for rules yet. Its tables that
//! iptables-nft manages (`ip filter/nat/mangle/raw/security` whose chains
//! are those of iptables.txt) are read from iptables.txt; every other table
//! is reported, since packets are simulated without it.

use std::path::Path;

use fwdsim_kernel::netfilter::xtables::ip_tables::{TableName, XtBackend};
use serde_json::Value;

use super::NfLoad;
use crate::error::HostError;

impl NfLoad {
    /// Reads `nft -j list ruleset` output (empty text: no tables) and warns
    /// about each table that the iptables files do not hold. Call it after
    /// the iptables files.
    pub fn check_nft_json(&mut self, text: &str, file: &Path) -> Result<(), HostError> {
        if text.trim().is_empty() {
            return Ok(());
        }
        let v: Value = serde_json::from_str(text).map_err(|e| HostError::json(file, &e))?;
        let Some(items) = v.get("nftables").and_then(Value::as_array) else {
            return Err(HostError::Json {
                file: file.to_path_buf(),
                line: 1,
                column: 1,
                msg: "expected an object with an \"nftables\" array (nft -j list ruleset)".into(),
            });
        };
        // (family, table) in order, with the chains nft lists for each.
        let mut tables: Vec<(String, String, Vec<String>)> = Vec::new();
        let s = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        for it in items {
            if let Some(t) = it.get("table") {
                tables.push((s(t, "family"), s(t, "name"), Vec::new()));
            } else if let Some(c) = it.get("chain") {
                let (fam, tab) = (s(c, "family"), s(c, "table"));
                if let Some(e) = tables.iter_mut().find(|e| e.0 == fam && e.1 == tab) {
                    e.2.push(s(c, "name"));
                }
            }
        }
        for (fam, name, chains) in tables {
            let managed = fam == "ip"
                && TableName::from_name(&name).is_some_and(|tn| {
                    self.tables
                        .iter()
                        .find(|t| t.name == tn && t.backend == XtBackend::Nft)
                        .is_some_and(|t| chains.iter().all(|c| t.chain_index(c).is_some()))
                });
            if !managed {
                self.warnings.push(format!(
                    "{}: table {fam} {name} is not modelled; packets are simulated without it",
                    file.display()
                ));
            }
        }
        Ok(())
    }
}
