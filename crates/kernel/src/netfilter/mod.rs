//! Models net/netfilter and net/ipv4/netfilter: the five IPv4 hooks, the
//! iptables tables run at them (`ipt_do_table`, or `nft_do_chain` for
//! iptables-nft), native nftables tables (`nf_tables`), conntrack and NAT.
//!
//! A namespace without rules holds no `Netfilter` (`Netns::nf` is None), so
//! each hook on the path costs one check. The loaders (fwdsim-host) build
//! the tables from `iptables-save` text.

pub mod conntrack;
pub mod core;
pub mod ipset;
pub mod nat;
pub mod nf_reject_ipv4;
pub mod nf_tables;
pub mod xtables;

#[cfg(test)]
pub(crate) mod tests;

use crate::netfilter::conntrack::NfConntrack;
use crate::netfilter::ipset::IpSet;
use crate::netfilter::nf_tables::NftTable;
use crate::netfilter::xtables::ip_tables::{IptTable, TableName, XtBackend};

pub use crate::netfilter::core::{NfEvent, NfHookOps, NfTrail, NfVerdict, nf_hook};

/// `enum nf_inet_hooks`: where on the path the hooks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NfInetHook {
    /// `NF_INET_PRE_ROUTING`: in `ip_rcv`, before the route decision.
    PreRouting = 0,
    /// `NF_INET_LOCAL_IN`: in `ip_local_deliver`, after reassembly.
    LocalIn = 1,
    /// `NF_INET_FORWARD`: in `ip_forward`, after its checks.
    Forward = 2,
    /// `NF_INET_LOCAL_OUT`: in `__ip_local_out`, for what the host sends.
    LocalOut = 3,
    /// `NF_INET_POST_ROUTING`: in `ip_output`.
    PostRouting = 4,
}

impl NfInetHook {
    /// The five hooks in order.
    pub const ALL: [NfInetHook; 5] = [
        NfInetHook::PreRouting,
        NfInetHook::LocalIn,
        NfInetHook::Forward,
        NfInetHook::LocalOut,
        NfInetHook::PostRouting,
    ];

    /// The built-in chain of an iptables table at this hook.
    pub const fn chain_name(self) -> &'static str {
        match self {
            NfInetHook::PreRouting => "PREROUTING",
            NfInetHook::LocalIn => "INPUT",
            NfInetHook::Forward => "FORWARD",
            NfInetHook::LocalOut => "OUTPUT",
            NfInetHook::PostRouting => "POSTROUTING",
        }
    }

    /// The kernel's name (`NF_INET_PRE_ROUTING`, ...).
    pub const fn kernel_name(self) -> &'static str {
        match self {
            NfInetHook::PreRouting => "NF_INET_PRE_ROUTING",
            NfInetHook::LocalIn => "NF_INET_LOCAL_IN",
            NfInetHook::Forward => "NF_INET_FORWARD",
            NfInetHook::LocalOut => "NF_INET_LOCAL_OUT",
            NfInetHook::PostRouting => "NF_INET_POST_ROUTING",
        }
    }
}

/// The `net.netfilter.*` and `net.bridge.*` sysctls the model reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NfSysctl {
    /// `nf_conntrack_tcp_loose` (1): pick up an established TCP connection from its middle.
    pub tcp_loose: bool,
    /// `nf_conntrack_tcp_be_liberal` (0): out-of-window segments are not INVALID.
    pub tcp_be_liberal: bool,
    /// `nf_conntrack_tcp_ignore_invalid_rst` (0): a RST below the acknowledged
    /// sequence is not INVALID.
    pub tcp_ignore_invalid_rst: bool,
    /// `nf_conntrack_tcp_max_retrans` (3): identical ACKs in a row before
    /// the timeout is cut to `tcp_timeout_max_retrans`.
    pub tcp_max_retrans: u32,
    /// `nf_conntrack_tcp_timeout_max_retrans` (300 s).
    pub tcp_timeout_max_retrans: u32,
    /// `nf_conntrack_udp_timeout` (30 s).
    pub udp_timeout: u32,
    /// `nf_conntrack_udp_timeout_stream` (120 s).
    pub udp_timeout_stream: u32,
    /// `nf_conntrack_icmp_timeout` (30 s).
    pub icmp_timeout: u32,
    /// `nf_conntrack_tcp_timeout_syn_sent` (120 s).
    pub tcp_timeout_syn_sent: u32,
    /// `nf_conntrack_tcp_timeout_syn_recv` (60 s).
    pub tcp_timeout_syn_recv: u32,
    /// `nf_conntrack_tcp_timeout_established` (432000 s).
    pub tcp_timeout_established: u32,
    /// `nf_conntrack_tcp_timeout_fin_wait` (120 s).
    pub tcp_timeout_fin_wait: u32,
    /// `nf_conntrack_tcp_timeout_close_wait` (60 s).
    pub tcp_timeout_close_wait: u32,
    /// `nf_conntrack_tcp_timeout_last_ack` (30 s).
    pub tcp_timeout_last_ack: u32,
    /// `nf_conntrack_tcp_timeout_time_wait` (120 s).
    pub tcp_timeout_time_wait: u32,
    /// `nf_conntrack_tcp_timeout_close` (10 s).
    pub tcp_timeout_close: u32,
    /// `nf_conntrack_tcp_timeout_unacknowledged` (300 s).
    pub tcp_timeout_unacknowledged: u32,
    /// `nf_conntrack_checksum` (1): verify L4 checksums of packets conntrack sees.
    pub checksum: bool,
    /// `net.bridge.bridge-nf-call-iptables` (None: br_netfilter not loaded).
    pub bridge_nf_call_iptables: Option<bool>,
    /// Keys read from the snapshot that the model does not use.
    pub other: Vec<(String, String)>,
}

impl Default for NfSysctl {
    fn default() -> Self {
        NfSysctl {
            tcp_loose: true,
            tcp_be_liberal: false,
            tcp_ignore_invalid_rst: false,
            tcp_max_retrans: 3,
            tcp_timeout_max_retrans: 300,
            udp_timeout: 30,
            udp_timeout_stream: 120,
            icmp_timeout: 30,
            tcp_timeout_syn_sent: 120,
            tcp_timeout_syn_recv: 60,
            tcp_timeout_established: 432_000,
            tcp_timeout_fin_wait: 120,
            tcp_timeout_close_wait: 60,
            tcp_timeout_last_ack: 30,
            tcp_timeout_time_wait: 120,
            tcp_timeout_close: 10,
            tcp_timeout_unacknowledged: 300,
            checksum: true,
            bridge_nf_call_iptables: None,
            other: Vec::new(),
        }
    }
}

impl NfSysctl {
    /// Sets `key` (with or without its `net.netfilter.` / `net.bridge.`
    /// prefix) to `value`; false when the key is not one the model reads.
    pub fn set(&mut self, key: &str, value: &str) -> bool {
        let k = key
            .strip_prefix("net.netfilter.")
            .or_else(|| key.strip_prefix("net.bridge."))
            .unwrap_or(key);
        let v: Option<u32> = value.trim().parse().ok();
        let Some(v) = v else { return false };
        let b = v != 0;
        match k {
            "nf_conntrack_tcp_loose" => self.tcp_loose = b,
            "nf_conntrack_tcp_be_liberal" => self.tcp_be_liberal = b,
            "nf_conntrack_tcp_ignore_invalid_rst" => self.tcp_ignore_invalid_rst = b,
            "nf_conntrack_tcp_max_retrans" => self.tcp_max_retrans = v,
            "nf_conntrack_tcp_timeout_max_retrans" => self.tcp_timeout_max_retrans = v,
            "nf_conntrack_udp_timeout" => self.udp_timeout = v,
            "nf_conntrack_udp_timeout_stream" => self.udp_timeout_stream = v,
            "nf_conntrack_icmp_timeout" => self.icmp_timeout = v,
            "nf_conntrack_tcp_timeout_syn_sent" => self.tcp_timeout_syn_sent = v,
            "nf_conntrack_tcp_timeout_syn_recv" => self.tcp_timeout_syn_recv = v,
            "nf_conntrack_tcp_timeout_established" => self.tcp_timeout_established = v,
            "nf_conntrack_tcp_timeout_fin_wait" => self.tcp_timeout_fin_wait = v,
            "nf_conntrack_tcp_timeout_close_wait" => self.tcp_timeout_close_wait = v,
            "nf_conntrack_tcp_timeout_last_ack" => self.tcp_timeout_last_ack = v,
            "nf_conntrack_tcp_timeout_time_wait" => self.tcp_timeout_time_wait = v,
            "nf_conntrack_tcp_timeout_close" => self.tcp_timeout_close = v,
            "nf_conntrack_tcp_timeout_unacknowledged" => self.tcp_timeout_unacknowledged = v,
            "nf_conntrack_checksum" => self.checksum = b,
            "bridge-nf-call-iptables" => self.bridge_nf_call_iptables = Some(b),
            _ => return false,
        }
        true
    }
}

/// One namespace's netfilter state: its tables, the hooks they register,
/// the sets they use, conntrack, and what happened to the current packet.
#[derive(Clone, Debug, Default)]
pub struct Netfilter {
    /// The iptables tables (nft backend first, then legacy ones).
    pub tables: Vec<IptTable>,
    /// The native nftables tables (`nft -j list ruleset`, less the tables
    /// iptables-nft manages, which are in `tables`).
    pub nft: Vec<NftTable>,
    /// The registered hooks of each `NfInetHook`, in priority order.
    pub hooks: [Vec<NfHookOps>; 5],
    /// `ipset` sets.
    pub sets: Vec<IpSet>,
    /// The token buckets of `-m limit` rules.
    pub limits: Vec<xtables::xt_limit::LimitState>,
    /// The connection tracking table.
    pub ct: NfConntrack,
    /// The sysctls.
    pub sysctl: NfSysctl,
    /// What the hooks did to the packet being handled.
    pub trail: NfTrail,
}

impl Netfilter {
    /// Registers the hooks of the loaded tables (`xt_hook_ops_alloc` /
    /// `nf_register_net_hook`) and conntrack's when a rule needs it
    /// (`nf_ct_netns_get`).
    pub fn register_hooks(&mut self) {
        for h in self.hooks.iter_mut() {
            h.clear();
        }
        // Conntrack runs in a namespace once a rule takes it
        // (`nf_ct_netns_get`: a conntrack, state or connmark match, a NAT,
        // CONNMARK or CT target); a nat table alone does not, and without
        // conntrack its chains never run.
        let needs_ct = self.tables.iter().any(|t| {
            t.chains.iter().any(|c| {
                c.rules.iter().any(|r| {
                    r.matches.iter().any(|m| {
                        matches!(
                            m,
                            xtables::ip_tables::XtMatch::Conntrack(_)
                                | xtables::ip_tables::XtMatch::State { .. }
                                | xtables::ip_tables::XtMatch::Connmark { .. }
                        )
                    }) || matches!(
                        r.target,
                        xtables::ip_tables::XtTarget::ConnmarkSet(_)
                            | xtables::ip_tables::XtTarget::ConnmarkSave { .. }
                            | xtables::ip_tables::XtTarget::ConnmarkRestore { .. }
                            | xtables::ip_tables::XtTarget::Notrack
                            | xtables::ip_tables::XtTarget::Masquerade(_)
                            | xtables::ip_tables::XtTarget::Snat(_)
                            | xtables::ip_tables::XtTarget::Dnat(_)
                            | xtables::ip_tables::XtTarget::Redirect(_)
                    )
                })
            })
        }) || self
            .nft
            .iter()
            .any(|t| t.family.sees_ipv4() && t.needs_ct());
        for (ti, t) in self.tables.iter().enumerate() {
            for &hook in t.name.hooks() {
                if t.hook_chain(hook).is_none() {
                    continue;
                }
                self.hooks[hook as usize].push(NfHookOps {
                    priority: t.name.priority(hook),
                    kind: if t.name == TableName::Nat {
                        core::NfHookKind::Nat(ti as u16)
                    } else {
                        core::NfHookKind::Table(ti as u16)
                    },
                });
            }
        }
        for (ti, t) in self.nft.iter().enumerate() {
            if !t.family.sees_ipv4() {
                continue;
            }
            for (ci, c) in t.chains.iter().enumerate() {
                let Some(b) = c.base else { continue };
                self.hooks[b.hook as usize].push(NfHookOps {
                    priority: b.priority,
                    kind: core::NfHookKind::Nft {
                        table: ti as u16,
                        chain: ci as u16,
                    },
                });
            }
        }
        if needs_ct {
            use NfInetHook::*;
            for hook in [PreRouting, LocalOut] {
                self.hooks[hook as usize].push(NfHookOps {
                    priority: core::NF_IP_PRI_CONNTRACK,
                    kind: core::NfHookKind::ConntrackIn,
                });
            }
            for hook in [PostRouting, LocalIn] {
                self.hooks[hook as usize].push(NfHookOps {
                    priority: core::NF_IP_PRI_CONNTRACK_CONFIRM,
                    kind: core::NfHookKind::ConntrackConfirm,
                });
            }
        }
        for h in self.hooks.iter_mut() {
            // Stable: equal priorities keep registration order (nft before legacy).
            h.sort_by_key(|o| o.priority);
        }
    }

    /// Whether any table was loaded from the legacy backend beside nft ones.
    pub fn both_backends(&self) -> bool {
        self.tables.iter().any(|t| t.backend == XtBackend::Legacy)
            && self.tables.iter().any(|t| t.backend == XtBackend::Nft)
    }

    /// The table named `name` of `backend`.
    pub fn table(&self, name: TableName, backend: XtBackend) -> Option<&IptTable> {
        self.tables
            .iter()
            .find(|t| t.name == name && t.backend == backend)
    }
}
