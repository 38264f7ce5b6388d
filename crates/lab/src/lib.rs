//! fwdsim-lab: the test-only lab that puts fwdsim next to the real kernel.
//!
//! It builds hosts in network namespaces (never touching the root
//! namespace), asks the kernel `ip route get`, runs the fwdsim binary on the
//! same host, and compares. The pieces:
//!
//! - [`netns`] — [`Netns`], a namespace guard (`fws-<pid>-<n>`, deleted on
//!   drop), `ip -n` / `ip netns exec` wrappers, [`can_make_netns`];
//! - [`spec`] — [`HostSpec`], the host in the TOML format of
//!   docs/host-format.md (render and parse);
//! - [`generate`] — seeded random hosts and queries;
//! - [`build`] — [`LabHost`], a spec built in a namespace with veth
//!   interfaces whose peers live in a helper namespace;
//! - [`oracle`] — kernel answers, many queries per `ip -batch` run;
//! - [`answer`] — [`Answer`] and the field-by-field comparison;
//! - [`fwdsim`] — running the binary per the CLI contract;
//! - [`divergence`] — `fixtures/kernel-divergences.toml`;
//! - [`routeset`] — route-table comparison for `host show`;
//! - [`harness`] — the differential runs used by `tests/kernel_*.rs`;
//! - [`topo_lab`] — random topologies of several namespaces, dumped with
//!   `fwdsim topo dump`, and packets from their own stacks;
//! - [`packet`] — frames through a real router (three namespaces,
//!   `AF_PACKET` injection, `skb:kfree_skb`) against `fwdsim replay`.

pub mod answer;
pub mod build;
pub mod capture_lab;
pub mod divergence;
pub mod docker;
pub mod error;
pub mod fwdsim;
pub mod generate;
pub mod harness;
pub mod netns;
pub mod nflab;
pub mod oracle;
pub mod packet;
pub mod query;
pub mod routeset;
pub mod selftests;
pub mod spec;
pub mod topo_lab;

pub use answer::{Answer, ErrorAnswer, RouteAnswer};
pub use build::{Dropped, LabHost};
pub use error::{LabError, Result};
pub use fwdsim::{Fwdsim, Reply};
pub use netns::{Netns, can_make_netns};
pub use query::Query;
pub use spec::{HostSpec, InterfaceSpec};
