//! The netfilter differential suite (issue 7): random routers with random
//! iptables rulesets, traffic in flows from both ends, against `fwdsim
//! replay` with the router's snapshot and its `iptables.txt`.
//!
//! The lab is the packet lab's ([`crate::packet`]: client, router and
//! server namespaces, `AF_PACKET` injection, `skb:kfree_skb`, SNMP deltas)
//! with a plain forwarding router ([`crate::packet::RouterConfig::netfilter`])
//! and frames injected from the server side too. The pieces:
//!
//! - [`ruleset`] — the random ruleset, in `iptables-restore` syntax;
//! - [`pkt`] — frames built and read byte by byte;
//! - [`flows`] — TCP, UDP and ICMP flows whose answers are built from what
//!   the other end received, ICMP errors quoting a flow, INVALID packets;
//! - [`counters`] — `iptables-save -c` read, subtracted and compared;
//! - [`run`] — the runs of `tests/kernel_netfilter.rs`.

pub mod counters;
pub mod flows;
pub mod pkt;
pub mod ruleset;
pub mod run;
