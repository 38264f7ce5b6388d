//! The walk of a packet through the kernel's functions, recorded as plain
//! `Copy` steps (function, the check with the values it saw, the branch
//! taken). Handlers are generic over a `Tracer`: `NoTrace` is a zero-sized
//! type whose calls compile to nothing, so the untraced path carries no trace
//! code; `Recorder` keeps the steps for `--trace`. Names are resolved when
//! the steps are printed (fwdsim-render), never while recording.

use std::net::Ipv4Addr;

use crate::core::dropreason::SkbDropReason;
use crate::core::dst::{DstInput, DstInputFn, DstOutput, DstOutputFn};
use crate::flow::FibResult;
use crate::netns::IfIndex;
use crate::uapi::{Errno, RouteType};

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::NoTrace {}
    impl Sealed for super::Recorder {}
}

/// Receives the steps of a walk. Implemented by `NoTrace` and `Recorder` only:
/// each has its own instantiation of every handler, and a dst's function
/// pointers hold one per tracer (`DstInput`).
pub trait Tracer: sealed::Sealed + Sized {
    /// `false` lets a call site skip work done only to describe a step.
    const ENABLED: bool;
    /// Records one step at the current depth.
    fn step(&mut self, step: Step);
    /// Enters a kernel function: later steps are nested one level deeper.
    fn enter(&mut self, f: KernelFn);
    /// Leaves the function entered last.
    fn leave(&mut self);
    /// This tracer's instantiation of a dst input handler.
    fn input_fn(d: &DstInput) -> DstInputFn<Self>;
    /// This tracer's instantiation of a dst output handler.
    fn output_fn(d: &DstOutput) -> DstOutputFn<Self>;
}

/// The tracer of the full-speed path: records nothing, costs nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTrace;

impl Tracer for NoTrace {
    const ENABLED: bool = false;
    #[inline(always)]
    fn step(&mut self, _: Step) {}
    #[inline(always)]
    fn enter(&mut self, _: KernelFn) {}
    #[inline(always)]
    fn leave(&mut self) {}
    #[inline(always)]
    fn input_fn(d: &DstInput) -> DstInputFn<Self> {
        d.no_trace
    }
    #[inline(always)]
    fn output_fn(d: &DstOutput) -> DstOutputFn<Self> {
        d.no_trace
    }
}

/// Keeps every step; cleared (not freed) between packets.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    /// The steps in order.
    pub steps: Vec<Step>,
    depth: u8,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Recorder::default()
    }

    /// Forgets the steps, keeping the buffer.
    pub fn clear(&mut self) {
        self.steps.clear();
        self.depth = 0;
    }
}

impl Tracer for Recorder {
    const ENABLED: bool = true;
    fn step(&mut self, mut step: Step) {
        step.depth = self.depth;
        self.steps.push(step);
    }
    fn enter(&mut self, f: KernelFn) {
        self.steps.push(Step {
            depth: self.depth,
            func: f,
            check: Check::Enter,
            branch: Branch::Next,
        });
        self.depth = self.depth.saturating_add(1);
    }
    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
    fn input_fn(d: &DstInput) -> DstInputFn<Self> {
        d.recorder
    }
    fn output_fn(d: &DstOutput) -> DstOutputFn<Self> {
        d.recorder
    }
}

/// One line of the walk: plain data, no strings, no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Nesting depth (set by the recorder).
    pub depth: u8,
    /// The kernel function making the check.
    pub func: KernelFn,
    /// What was tested, with the values seen.
    pub check: Check,
    /// Where the code went.
    pub branch: Branch,
}

impl Step {
    /// A step at depth 0 (the recorder sets the depth).
    #[inline(always)]
    pub const fn new(func: KernelFn, check: Check, branch: Branch) -> Self {
        Step {
            depth: 0,
            func,
            check,
            branch,
        }
    }
}

macro_rules! kernel_fns {
    ($($(#[$doc:meta])* $name:ident => $file:literal,)*) => {
        /// The kernel functions a walk passes through, by their kernel names.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum KernelFn {
            $($(#[$doc])* $name,)*
        }

        impl KernelFn {
            /// The kernel's name of the function.
            pub const fn name(self) -> &'static str {
                match self { $(KernelFn::$name => stringify!($name),)* }
            }

            /// The kernel source file that defines it.
            pub const fn file(self) -> &'static str {
                match self { $(KernelFn::$name => $file,)* }
            }
        }
    };
}

kernel_fns! {
    /// `ip_rcv`
    ip_rcv => "net/ipv4/ip_input.c",
    /// `ip_rcv_core`
    ip_rcv_core => "net/ipv4/ip_input.c",
    /// `ip_rcv_finish`
    ip_rcv_finish => "net/ipv4/ip_input.c",
    /// `ip_rcv_finish_core`
    ip_rcv_finish_core => "net/ipv4/ip_input.c",
    /// `inet_rtm_getroute` (what `ip route get` asks)
    inet_rtm_getroute => "net/ipv4/route.c",
    /// `ip_route_input_noref`
    ip_route_input_noref => "net/ipv4/route.c",
    /// `ip_route_input_rcu`
    ip_route_input_rcu => "net/ipv4/route.c",
    /// `ip_route_input_slow`
    ip_route_input_slow => "net/ipv4/route.c",
    /// `ip_route_input_mc`
    ip_route_input_mc => "net/ipv4/route.c",
    /// `ip_mc_validate_source`
    ip_mc_validate_source => "net/ipv4/route.c",
    /// `ip_check_mc_rcu`
    ip_check_mc_rcu => "net/ipv4/igmp.c",
    /// `ip_mkroute_input`
    ip_mkroute_input => "net/ipv4/route.c",
    /// `__mkroute_input`
    __mkroute_input => "net/ipv4/route.c",
    /// `rt_dst_alloc`
    rt_dst_alloc => "net/ipv4/route.c",
    /// `rt_set_nexthop`
    rt_set_nexthop => "net/ipv4/route.c",
    /// `rt_cache_valid` (the per-nexthop cached input route)
    rt_cache_valid => "net/ipv4/route.c",
    /// `__ip_do_redirect` (an ICMP redirect received)
    __ip_do_redirect => "net/ipv4/route.c",
    /// `icmp_socket_deliver` (an ICMP error to the quoted packet's protocol)
    icmp_socket_deliver => "net/ipv4/icmp.c",
    /// `ip_handle_martian_source`
    ip_handle_martian_source => "net/ipv4/route.c",
    /// `fib_lookup`
    fib_lookup => "include/net/ip_fib.h",
    /// `fib_rules_lookup`
    fib_rules_lookup => "net/core/fib_rules.c",
    /// `fib4_rule_action`
    fib4_rule_action => "net/ipv4/fib_rules.c",
    /// `fib4_rule_suppress`
    fib4_rule_suppress => "net/ipv4/fib_rules.c",
    /// `fib_table_lookup`
    fib_table_lookup => "net/ipv4/fib_trie.c",
    /// `fib_select_multipath`
    fib_select_multipath => "net/ipv4/fib_semantics.c",
    /// `fib_validate_source`
    fib_validate_source => "net/ipv4/fib_frontend.c",
    /// `__fib_validate_source`
    __fib_validate_source => "net/ipv4/fib_frontend.c",
    /// `dst_input`
    dst_input => "include/net/dst.h",
    /// `dst_output`
    dst_output => "include/net/dst.h",
    /// `ip_forward`
    ip_forward => "net/ipv4/ip_forward.c",
    /// `ip_local_deliver`
    ip_local_deliver => "net/ipv4/ip_input.c",
    /// `ip_error`
    ip_error => "net/ipv4/route.c",
    /// `ip_mr_input`
    ip_mr_input => "net/ipv4/ipmr.c",
    /// `dst_discard`
    dst_discard => "include/net/dst.h",
    /// `ip_output`
    ip_output => "net/ipv4/ip_output.c",
    /// `ip_rt_bug`
    ip_rt_bug => "net/ipv4/route.c",
    /// `ip_route_output_key_hash`
    ip_route_output_key_hash => "net/ipv4/route.c",
    /// `ip_route_output_slow`
    ip_route_output_slow => "net/ipv4/route.c",
    /// `fib_select_path`
    fib_select_path => "net/ipv4/fib_semantics.c",
    /// `inet_select_addr`
    inet_select_addr => "net/ipv4/devinet.c",
    /// `__mkroute_output`
    __mkroute_output => "net/ipv4/route.c",
    /// `icmp_send`
    icmp_send => "net/ipv4/icmp.c",
    /// `ip_rcv_options`
    ip_rcv_options => "net/ipv4/ip_input.c",
    /// `__neigh_event_send`
    __neigh_event_send => "net/core/neighbour.c",
    /// `neigh_timer_handler`
    neigh_timer_handler => "net/core/neighbour.c",
    /// `neigh_update`
    neigh_update => "net/core/neighbour.c",
    /// `arp_solicit`
    arp_solicit => "net/ipv4/arp.c",
    /// `arp_process`
    arp_process => "net/ipv4/arp.c",
    /// `arp_error_report` (then `ipv4_link_failure`)
    arp_error_report => "net/ipv4/arp.c",
    /// `br_handle_frame` (a bridge port's rx handler)
    br_handle_frame => "net/bridge/br_input.c",
    /// `br_handle_frame_finish`
    br_handle_frame_finish => "net/bridge/br_input.c",
    /// `br_pass_frame_up`
    br_pass_frame_up => "net/bridge/br_input.c",
    /// `br_fdb_update`
    br_fdb_update => "net/bridge/br_fdb.c",
    /// `br_forward`
    br_forward => "net/bridge/br_forward.c",
    /// `br_flood`
    br_flood => "net/bridge/br_forward.c",
    /// `br_nf_pre_routing`
    br_nf_pre_routing => "net/bridge/br_netfilter_hooks.c",
    /// `ip_expire`
    ip_expire => "net/ipv4/ip_fragment.c",
    /// `udp_rcv` (`__udp4_lib_rcv`)
    udp_rcv => "net/ipv4/udp.c",
    /// `tcp_v4_rcv`
    tcp_v4_rcv => "net/ipv4/tcp_ipv4.c",
    /// `nf_hook_slow`
    nf_hook_slow => "net/netfilter/core.c",
    /// `ipt_do_table`
    ipt_do_table => "net/ipv4/netfilter/ip_tables.c",
    /// `nft_do_chain`
    nft_do_chain => "net/netfilter/nf_tables_core.c",
    /// `nf_conntrack_in`
    nf_conntrack_in => "net/netfilter/nf_conntrack_core.c",
    /// `nf_nat_packet`
    nf_nat_packet => "net/netfilter/nf_nat_core.c",
    /// `nf_send_unreach` / `nf_send_reset` (the REJECT target)
    nf_reject => "net/ipv4/netfilter/nf_reject_ipv4.c",
}

/// The outcome of a FIB lookup as a trace records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupOutcome {
    /// A route was found.
    Found {
        /// Its type.
        rt_type: RouteType,
        /// The table that answered.
        table: u32,
        /// Its prefix.
        prefix: Ipv4Addr,
        /// Its prefix length.
        prefixlen: u8,
    },
    /// The lookup failed with this error.
    Error(Errno),
}

impl From<Result<FibResult, Errno>> for LookupOutcome {
    fn from(r: Result<FibResult, Errno>) -> Self {
        match r {
            Ok(res) => LookupOutcome::Found {
                rt_type: res.rt_type,
                table: res.table,
                prefix: res.prefix,
                prefixlen: res.prefixlen,
            },
            Err(e) => LookupOutcome::Error(e),
        }
    }
}

impl From<&Result<FibResult, Errno>> for LookupOutcome {
    fn from(r: &Result<FibResult, Errno>) -> Self {
        (*r).into()
    }
}

/// What a step tested, with the values it saw. Field names are the kernel's
/// variables (`dev`, `daddr`, `saddr`) or `value` for the tested condition.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The function was entered.
    Enter,
    /// Whether the device has IPv4 state (`__in_dev_get_rcu`).
    InDevice { dev: IfIndex, present: bool },
    /// `ipv4_is_multicast(daddr)`.
    DaddrMulticast { daddr: Ipv4Addr, value: bool },
    /// `ip_check_mc_rcu`: the group is joined on the device.
    McJoined {
        dev: IfIndex,
        group: Ipv4Addr,
        value: bool,
    },
    /// `IN_DEV_MFORWARD` and not a link-local group.
    McForwarding { dev: IfIndex, value: bool },
    /// `ipv4_is_multicast(saddr) || ipv4_is_lbcast(saddr)`.
    SaddrMartian { saddr: Ipv4Addr, value: bool },
    /// `ipv4_is_lbcast(daddr) || (saddr == 0 && daddr == 0)`.
    DaddrBroadcast {
        daddr: Ipv4Addr,
        saddr: Ipv4Addr,
        value: bool,
    },
    /// `ipv4_is_zeronet(saddr)`.
    SaddrZeronet { saddr: Ipv4Addr, value: bool },
    /// `ipv4_is_zeronet(daddr)`.
    DaddrZeronet { daddr: Ipv4Addr, value: bool },
    /// `ipv4_is_loopback(daddr)` with `IN_DEV_NET_ROUTE_LOCALNET`.
    DaddrLoopback {
        daddr: Ipv4Addr,
        route_localnet: bool,
        value: bool,
    },
    /// `ipv4_is_loopback(saddr)` with `IN_DEV_NET_ROUTE_LOCALNET`.
    SaddrLoopback {
        saddr: Ipv4Addr,
        route_localnet: bool,
        value: bool,
    },
    /// The flow the lookup is made with.
    Flow {
        daddr: Ipv4Addr,
        saddr: Ipv4Addr,
        iif: IfIndex,
        oif: IfIndex,
        mark: u32,
        tos: u8,
    },
    /// The result of `fib_lookup`.
    FibLookup { result: LookupOutcome },
    /// The result of one table's `fib_table_lookup`.
    TableLookup { table: u32, result: LookupOutcome },
    /// Whether a rule matched the flow.
    RuleMatch { pref: u32, matched: bool },
    /// A rule's action and its result.
    RuleAction {
        pref: u32,
        table: u32,
        result: LookupOutcome,
    },
    /// A rule's result was suppressed.
    RuleSuppressed { pref: u32 },
    /// `IN_DEV_FORWARD(in_dev)`.
    InDevForward { dev: IfIndex, value: bool },
    /// `IN_DEV_BFORWARD(in_dev)`.
    InDevBforward { dev: IfIndex, value: bool },
    /// `IN_DEV_SOURCE_ROUTE(in_dev)` for a packet with a source route option.
    InDevSourceRoute { dev: IfIndex, value: bool },
    /// `res->type` of the lookup.
    ResType { rt_type: RouteType },
    /// `skb->protocol` is IPv4.
    ProtocolIp { value: bool },
    /// The rp_filter mode in force (`IN_DEV_RPFILTER`, max of all and device).
    RpFilter { dev: IfIndex, value: u8 },
    /// `IN_DEV_ACCEPT_LOCAL`.
    AcceptLocal { dev: IfIndex, value: bool },
    /// The namespace has (ever had) custom rules or local routes: no fast path.
    CustomRules { value: bool },
    /// The source is an address of the host (`inet_lookup_ifaddr_rcu`).
    SaddrIsLocal { saddr: Ipv4Addr, value: bool },
    /// The reverse lookup (`daddr` = packet source) and its result.
    ReverseLookup {
        saddr: Ipv4Addr,
        oif: IfIndex,
        mark: u32,
        result: LookupOutcome,
    },
    /// Some next hop of the reverse route uses the input device.
    DevMatch { dev: IfIndex, value: bool },
    /// The validator's answer: 0 accept, 1 accept on-link, or a drop.
    Validated { ret: i8 },
    /// The per-nexthop cached input route is usable.
    NhCache { hit: bool },
    /// `RTCF_DOREDIRECT`: out_dev == in_dev, source on-link, send_redirects.
    DoRedirect { value: bool },
    /// The path chosen among several.
    Multipath { hash: u32, nh_sel: u8 },
    /// The dst made: its input handler and route type.
    DstMade {
        input: KernelFn,
        output: KernelFn,
        rt_type: RouteType,
        dev: IfIndex,
        error: Errno,
    },
    /// A counter was incremented.
    Counter { name: &'static str },
    /// `dst_input` called the handler.
    DstInputCall { input: KernelFn },
    /// `ip_error`: the error and the ICMP code it maps to (255 = none).
    IpError {
        error: Errno,
        forwarding: bool,
        icmp_code: u8,
    },
    /// The packet is dropped with this reason.
    Drop { reason: SkbDropReason },
    /// The output path's chosen source address.
    SourceAddress { saddr: Ipv4Addr },
    /// `skb->pkt_type` against `PACKET_HOST` etc., from `eth_type_trans`.
    PktType {
        host: bool,
        broadcast: bool,
        multicast: bool,
    },
    /// The IPv4 header as `ip_rcv_core` checks it.
    IpHeader {
        version: u8,
        ihl: u8,
        tot_len: u16,
        len: u32,
        csum_ok: bool,
    },
    /// `ip_rcv_core`: a header too short, not version 4, or with an IHL
    /// below 5 or beyond the packet (`version`/`ihl` 0 when not present).
    IpHeaderInvalid { version: u8, ihl: u8, len: u32 },
    /// `ip_forward`: the TTL against 1.
    Ttl { ttl: u8 },
    /// `ip_forward`: the packet's length against the route's MTU, with DF.
    Mtu { len: u32, mtu: u32, df: bool },
    /// `ip_decrease_ttl`: TTL and checksum before and after.
    DecreaseTtl {
        old_ttl: u8,
        old_csum: u16,
        new_csum: u16,
    },
    /// The next hop's neighbour entry.
    Neigh {
        ip: Ipv4Addr,
        mac: [u8; 6],
        resolved: bool,
    },
    /// An ICMP message sent.
    IcmpSent { icmp_type: u8, code: u8 },
    /// `arp_process`'s route lookup for a request failed: it is not answered.
    ArpRouteFailed {
        sip: Ipv4Addr,
        tip: Ipv4Addr,
        reason: SkbDropReason,
    },
    /// The netfilter hook being run.
    NfHook { hook: crate::netfilter::NfInetHook },
    /// An iptables table's chain entered for this hook (indices into `Netfilter::tables`).
    NfTable { table: u16, chain: u16 },
    /// One rule compared: whether all its matches held.
    NfRule {
        table: u16,
        chain: u16,
        rule: u16,
        matched: bool,
        miss: crate::netfilter::xtables::eval::NfMiss,
    },
    /// A built-in chain's policy decided.
    NfPolicy {
        table: u16,
        chain: u16,
        accept: bool,
    },
    /// An nftables base chain entered (indices into `Netfilter::nft`).
    NftChain { table: u16, chain: u16 },
    /// One nftables rule run: whether it got past all its matches.
    NftRule {
        table: u16,
        chain: u16,
        rule: u16,
        matched: bool,
    },
    /// An nftables base chain's policy decided.
    NftPolicy {
        table: u16,
        chain: u16,
        accept: bool,
    },
    /// What conntrack made of the packet.
    NfCt {
        nfct: crate::netfilter::conntrack::Nfct,
    },
    /// NAT rewrote the packet.
    NfNat {
        rw: crate::netfilter::nat::NatRewrite,
    },
    /// An ARP request sent for an unresolved next hop.
    ArpSolicit {
        /// The address asked for.
        ip: Ipv4Addr,
        /// The sender address the request carries.
        sip: Ipv4Addr,
        /// Which solicitation this is (1-based).
        n: u8,
    },
    /// An ARP reply sent for one of this host's addresses.
    ArpReply {
        /// The address asked for (ours).
        ip: Ipv4Addr,
        /// The asker.
        to: Ipv4Addr,
    },
    /// A packet queued on an unresolved entry's `arp_queue`.
    NeighQueued {
        /// The next hop.
        ip: Ipv4Addr,
        /// Packets queued now.
        qlen: u32,
        /// Their truesize.
        bytes: u32,
    },
    /// The oldest queued packet dropped to make room (`NEIGH_QUEUEFULL`).
    NeighQueueFull { ip: Ipv4Addr },
    /// The resolution timer of an unresolved entry fired.
    NeighTimer {
        /// The next hop.
        ip: Ipv4Addr,
        /// Milliseconds since resolution started.
        after_ms: u32,
        /// `probes` when it fired.
        probes: u8,
        /// Resolution failed (`NUD_FAILED`).
        failed: bool,
    },
    /// An ARP packet gave the entry its address; queued packets go out.
    NeighUpdate {
        /// The next hop.
        ip: Ipv4Addr,
        /// Its MAC.
        mac: [u8; 6],
        /// `NUD_REACHABLE` (a reply to us) rather than `NUD_STALE`.
        reachable: bool,
        /// Queued packets sent.
        sent: u32,
    },
    /// A reassembly queue was emptied: more than `ipfrag_max_dist` of its
    /// source's fragments went by since its last one.
    FragTooFar {
        /// Fragments dropped (`FRAG_TOO_FAR`).
        dropped: u32,
        /// `ipfrag_max_dist`.
        max_dist: u32,
    },
    /// A reassembly queue timed out.
    FragExpired {
        /// Source of the datagram.
        saddr: Ipv4Addr,
        /// IP ID.
        id: u16,
        /// Whether its first fragment had come (then ICMP time exceeded).
        first_in: bool,
    },
    /// The socket lookup of a local datagram or segment
    /// (`__udp4_lib_lookup_skb`, `__inet_lookup_skb`).
    SocketLookup {
        /// 6 (TCP) or 17 (UDP).
        protocol: u8,
        /// The destination address.
        daddr: Ipv4Addr,
        /// The destination port.
        dport: u16,
        /// Whether a socket took it.
        found: bool,
    },
    /// The output route's device.
    OutputDev { dev: IfIndex },
    /// A bridge port's STP state (`BR_STATE_*`) as the frame meets it.
    BrPortState { port: IfIndex, state: u8 },
    /// A link-local group frame (01:80:c2:00:00:`group`): forwarded or
    /// kept for the port's own protocols.
    BrLinkLocal { group: u8, forwarded: bool },
    /// `br_fdb_update`: the source address learned behind the port.
    BrFdbLearn { addr: [u8; 6], port: IfIndex },
    /// `br_fdb_find_rcu` for the destination: behind `dst` (0: the bridge
    /// itself), local or not, or unknown.
    BrFdbLookup {
        addr: [u8; 6],
        found: bool,
        dst: IfIndex,
        local: bool,
    },
    /// `should_deliver` for a port, and the copy's fate there.
    BrDeliver { to: IfIndex, sent: bool },
    /// The frame handed up to the bridge device's stack.
    BrPassUp { br: IfIndex },
    /// An ICMP redirect: the flow to `daddr` went by `old_gw`, the
    /// redirect names `new_gw`; whether the host takes it.
    Redirect {
        old_gw: Ipv4Addr,
        new_gw: Ipv4Addr,
        daddr: Ipv4Addr,
        accepted: bool,
    },
    /// The socket the quoted packet was sent from (protocol, its port or
    /// echo identifier), found or not.
    ErrSocket {
        protocol: u8,
        port: u16,
        found: bool,
    },
}

/// Where the code went: the kernel's goto labels and outcomes.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Branch {
    /// Fell through to the next check.
    Next,
    /// `goto brd_input`.
    brd_input,
    /// `goto local_input`.
    local_input,
    /// `goto no_route`.
    no_route,
    /// `goto martian_source`.
    martian_source,
    /// `goto martian_destination`.
    martian_destination,
    /// `goto make_route`.
    make_route,
    /// `goto last_resort`.
    last_resort,
    /// `goto e_inval`.
    e_inval,
    /// Returned early with a reason.
    out,
    /// Took the multicast route.
    ip_route_input_mc,
    /// Into the slow path.
    ip_route_input_slow,
    /// A cached route was reused.
    cached,
    /// The function returned success.
    ok,
    /// `goto reject_redirect`.
    reject_redirect,
}

impl Branch {
    /// The label's name as the trace prints it (empty for `Next`).
    pub fn name(self) -> &'static str {
        match self {
            Branch::Next => "",
            Branch::brd_input => "brd_input",
            Branch::local_input => "local_input",
            Branch::no_route => "no_route",
            Branch::martian_source => "martian_source",
            Branch::martian_destination => "martian_destination",
            Branch::make_route => "make_route",
            Branch::last_resort => "last_resort",
            Branch::e_inval => "e_inval",
            Branch::out => "out",
            Branch::ip_route_input_mc => "ip_route_input_mc",
            Branch::ip_route_input_slow => "ip_route_input_slow",
            Branch::cached => "cached",
            Branch::ok => "ok",
            Branch::reject_redirect => "reject_redirect",
        }
    }
}
