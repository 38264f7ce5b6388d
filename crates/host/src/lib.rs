//! Loads a host into the fwdsim model (`fwdsim_kernel::Netns`) and prints it
//! back as iproute2 would.
//!
//! A host is either a **snapshot directory** (the unmodified output of
//! `ip -j addr show`, `ip -j -4 route show table all`, `ip -j -4 rule show`,
//! optionally `ip -j -4 neigh show`, and `sysctl net.ipv4`, as written by
//! [`dump`], with the netfilter files `iptables.txt`,
//! `iptables-legacy.txt`, `ipset.txt` and `nft.json` read by [`netfilter`]),
//! taken as it is; or a **TOML file** (docs/host-format.md),
//! loaded as if a fresh kernel were configured with the same commands.
//! Loading only calls the model's configuration API; the model decides.
//!
//! ```no_run
//! # use std::path::Path;
//! let mut ns = fwdsim_host::load_host(Path::new("fixtures/hosts/docker-forwarding-off.toml"))?;
//! fwdsim_host::apply_sysctl_override(&mut ns, "net.ipv4.ip_forward=1")?;
//! println!("{}", fwdsim_host::show_text(&ns));
//! # Ok::<(), fwdsim_host::HostError>(())
//! ```

mod checks;
mod conntrack_list;
mod dump;
mod error;
mod names;
pub mod netfilter;
pub mod nft_json;
pub mod nft_text;
mod parse;
mod show;
mod snapshot;
mod sysctl;
pub mod sysctl_edit;
pub mod sysctl_origin;
mod toml_host;
pub mod topo_dump;
mod topo_links;
pub mod topology;

use std::path::Path;

use fwdsim_kernel::Netns;

pub use crate::conntrack_list::load_conntrack_list;
pub use crate::dump::{NsRef, dump, dump_at};
pub use crate::error::HostError;
pub use crate::netfilter::save_counters;
pub use crate::parse::{parse_address, parse_route, parse_rule};
pub use crate::show::{show_json, show_text};
pub use crate::snapshot::{NF_NOT_RECORDED, load_snapshot, load_snapshot_with_notes};
pub use crate::sysctl::{OVERRIDE_FILE, apply_sysctl_override};
pub use crate::toml_host::{
    load_toml, load_toml_str, load_toml_str_with_notes, load_toml_with_notes,
};
pub use crate::topo_dump::{TopoDump, topo_dump};
pub use crate::topo_links::apply_link_details;
pub use crate::topology::{LinkEnd, TopoLink, TopoNs, Topology, load_topology};

/// Loads `--host PATH`: a directory is a snapshot ([`load_snapshot`]), a
/// file is a TOML host ([`load_toml`]).
pub fn load_host(path: &Path) -> Result<Netns, HostError> {
    load_host_with_notes(path).map(|(ns, _)| ns)
}

/// [`load_host`], with the non-fatal notes of loading (rules not modelled,
/// netfilter state not recorded, ...): one line each, for stderr.
pub fn load_host_with_notes(path: &Path) -> Result<(Netns, Vec<String>), HostError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => load_snapshot_with_notes(path),
        Ok(_) => load_toml_with_notes(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(HostError::NotFound {
            file: path.to_path_buf(),
        }),
        Err(e) => Err(HostError::Io {
            file: path.to_path_buf(),
            source: e,
        }),
    }
}
