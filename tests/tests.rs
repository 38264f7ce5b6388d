//! Integration tests.
mod cli;
mod docs;
mod kernel_capture;
mod kernel_dev;
mod kernel_docker;
mod kernel_multipath;
mod kernel_neigh;
mod kernel_netfilter;
mod kernel_nf_selftests;
mod kernel_packet;
mod kernel_route;
mod kernel_toml;
mod kernel_topology;
mod kernel_topology_docker;
mod netfilter_cli;
mod replay;
mod step;
mod topology;

/// Held by the tests that read the global `skb:kfree_skb` tracepoint or
/// make the kernel free packets, so that no test's drops land in another's
/// observation.
pub(crate) static KFREE_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
