//! Models net/core/fib_rules.c: policy routing rules (`ip rule`) and the walk
//! `fib_rules_lookup` that tries them in order of preference.

use std::net::Ipv4Addr;

use crate::netns::IfIndex;
use crate::uapi::RtProt;

/// Kernel: `FR_ACT_*`: what a matching rule does.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FibRuleAction {
    /// `lookup TABLE`.
    FR_ACT_TO_TBL,
    /// `goto PREF`.
    FR_ACT_GOTO,
    /// `nop`.
    FR_ACT_NOP,
    /// `blackhole`.
    FR_ACT_BLACKHOLE,
    /// `unreachable`.
    FR_ACT_UNREACHABLE,
    /// `prohibit`.
    FR_ACT_PROHIBIT,
}

impl FibRuleAction {
    /// The word `ip rule` prints for the action (`lookup` is printed with its table).
    pub fn word(self) -> &'static str {
        match self {
            FibRuleAction::FR_ACT_TO_TBL => "lookup",
            FibRuleAction::FR_ACT_GOTO => "goto",
            FibRuleAction::FR_ACT_NOP => "nop",
            FibRuleAction::FR_ACT_BLACKHOLE => "blackhole",
            FibRuleAction::FR_ACT_UNREACHABLE => "unreachable",
            FibRuleAction::FR_ACT_PROHIBIT => "prohibit",
        }
    }
}

/// Kernel: `struct fib_rule` with the IPv4 part `struct fib4_rule`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FibRule {
    /// `pref`.
    pub pref: u32,
    /// `action`.
    pub action: FibRuleAction,
    /// `table` for `lookup`.
    pub table: u32,
    /// `target`: the pref a `goto` jumps to.
    pub target: u32,
    /// `ctarget`: the index of the rule a `goto` lands on (None = unresolved).
    pub ctarget: Option<usize>,
    /// `FIB_RULE_INVERT` (`not`).
    pub invert: bool,
    /// `from PREFIX` (None = all).
    pub src: Option<(Ipv4Addr, u8)>,
    /// `to PREFIX` (None = all).
    pub dst: Option<(Ipv4Addr, u8)>,
    /// `iif NAME`.
    pub iifname: Option<String>,
    /// `iifindex`: resolved from the name; `u32::MAX` when the device does not exist (detached).
    pub iifindex: Option<IfIndex>,
    /// `oif NAME`.
    pub oifname: Option<String>,
    /// `oifindex`.
    pub oifindex: Option<IfIndex>,
    /// `fwmark`.
    pub mark: u32,
    /// `fwmark` mask (all ones when a mark is given without one).
    pub mark_mask: u32,
    /// `tos` (legacy selector, compared on the 0x1c bits).
    pub tos: u8,
    /// `dscp` selector (full 6 bits), when given.
    pub dscp: Option<u8>,
    /// `suppress_prefixlength` (-1 = none).
    pub suppress_prefixlen: i32,
    /// `suppress_ifgroup` (-1 = none).
    pub suppress_ifgroup: i32,
    /// `uidrange START-END`.
    pub uid_range: Option<(u32, u32)>,
    /// `ipproto` (0 = any).
    pub ip_proto: u8,
    /// `sport` range.
    pub sport: Option<(u16, u16)>,
    /// `dport` range.
    pub dport: Option<(u16, u16)>,
    /// `l3mdev`.
    pub l3mdev: bool,
    /// `protocol` (who added it).
    pub protocol: RtProt,
}

impl FibRule {
    /// A rule `pref P lookup TABLE` matching everything.
    pub fn lookup(pref: u32, table: u32) -> Self {
        FibRule {
            pref,
            action: FibRuleAction::FR_ACT_TO_TBL,
            table,
            target: 0,
            ctarget: None,
            invert: false,
            src: None,
            dst: None,
            iifname: None,
            iifindex: None,
            oifname: None,
            oifindex: None,
            mark: 0,
            mark_mask: 0,
            tos: 0,
            dscp: None,
            suppress_prefixlen: -1,
            suppress_ifgroup: -1,
            uid_range: None,
            ip_proto: 0,
            sport: None,
            dport: None,
            l3mdev: false,
            protocol: RtProt::RTPROT_KERNEL,
        }
    }

    /// Whether the rule names an input device that does not exist (`[detached]`).
    pub fn iif_detached(&self) -> bool {
        self.iifindex == Some(IfIndex(u32::MAX))
    }

    /// Whether the rule names an output device that does not exist.
    pub fn oif_detached(&self) -> bool {
        self.oifindex == Some(IfIndex(u32::MAX))
    }
}
