//! Models net/netfilter/nf_nat_*.c: a connection's NAT binding, set up on
//! its first packet (`nf_nat_setup_info`), and the rewriting of every later
//! packet (`nf_nat_packet`, `nf_nat_icmp_reply_translation`).

pub mod nf_nat_core;
pub mod nf_nat_masquerade;
pub mod nf_nat_proto;

#[cfg(test)]
mod tests;

pub use nf_nat_core::*;
