//! The namespace-wide `net.ipv4.*` sysctls that the modelled path reads
//! (everything except `net.ipv4.conf.*`, which lives in `ipv4::devinet`).
//! Defaults are those of a new network namespace on Linux 6.18.

macro_rules! net_sysctls {
    ($($(#[$doc:meta])* $field:ident = $name:literal, $default:expr;)*) => {
        /// Kernel: the `net->ipv4.sysctl_*` fields (and the global `ip_rt_*`
        /// route sysctls) read on the input path.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct NetSysctl {
            $($(#[$doc])* pub $field: i64,)*
        }

        impl Default for NetSysctl {
            fn default() -> Self {
                NetSysctl { $($field: $default,)* }
            }
        }

        impl NetSysctl {
            /// Every key's full name, `net.ipv4.` included.
            pub const NAMES: &'static [&'static str] = &[$($name,)*];

            /// The value of a key by its full name.
            pub fn get(&self, name: &str) -> Option<i64> {
                match name { $($name => Some(self.$field),)* _ => None }
            }

            /// Sets a key by its full name; false when the key is not modelled.
            pub fn set(&mut self, name: &str, v: i64) -> bool {
                match name { $($name => { self.$field = v; true })* _ => false }
            }
        }
    };
}

net_sysctls! {
    /// `icmp_echo_ignore_all`
    icmp_echo_ignore_all = "net.ipv4.icmp_echo_ignore_all", 0;
    /// `icmp_echo_ignore_broadcasts`
    icmp_echo_ignore_broadcasts = "net.ipv4.icmp_echo_ignore_broadcasts", 1;
    /// `icmp_ignore_bogus_error_responses`
    icmp_ignore_bogus_error_responses = "net.ipv4.icmp_ignore_bogus_error_responses", 1;
    /// `icmp_errors_use_inbound_ifaddr`
    icmp_errors_use_inbound_ifaddr = "net.ipv4.icmp_errors_use_inbound_ifaddr", 0;
    /// `icmp_ratelimit` (ms)
    icmp_ratelimit = "net.ipv4.icmp_ratelimit", 1000;
    /// `icmp_ratemask`
    icmp_ratemask = "net.ipv4.icmp_ratemask", 6168;
    /// `icmp_msgs_per_sec`
    icmp_msgs_per_sec = "net.ipv4.icmp_msgs_per_sec", 1000;
    /// `icmp_msgs_burst`
    icmp_msgs_burst = "net.ipv4.icmp_msgs_burst", 50;
    /// `ip_default_ttl`
    ip_default_ttl = "net.ipv4.ip_default_ttl", 64;
    /// `ip_early_demux`
    ip_early_demux = "net.ipv4.ip_early_demux", 1;
    /// `ip_forward_use_pmtu`
    ip_forward_use_pmtu = "net.ipv4.ip_forward_use_pmtu", 0;
    /// `ip_forward_update_priority`
    ip_forward_update_priority = "net.ipv4.ip_forward_update_priority", 1;
    /// `ip_no_pmtu_disc`
    ip_no_pmtu_disc = "net.ipv4.ip_no_pmtu_disc", 0;
    /// `ip_nonlocal_bind`
    ip_nonlocal_bind = "net.ipv4.ip_nonlocal_bind", 0;
    /// `fib_multipath_hash_policy`
    fib_multipath_hash_policy = "net.ipv4.fib_multipath_hash_policy", 0;
    /// `fib_multipath_hash_fields`
    fib_multipath_hash_fields = "net.ipv4.fib_multipath_hash_fields", 7;
    /// `fib_multipath_hash_seed` (0 = a random key per namespace)
    fib_multipath_hash_seed = "net.ipv4.fib_multipath_hash_seed", 0;
    /// `fib_multipath_use_neigh`
    fib_multipath_use_neigh = "net.ipv4.fib_multipath_use_neigh", 0;
    /// `ipfrag_time` (s)
    ipfrag_time = "net.ipv4.ipfrag_time", 30;
    /// `ipfrag_max_dist`
    ipfrag_max_dist = "net.ipv4.ipfrag_max_dist", 64;
    /// `ipfrag_high_thresh`
    ipfrag_high_thresh = "net.ipv4.ipfrag_high_thresh", 4194304;
    /// `ipfrag_low_thresh`
    ipfrag_low_thresh = "net.ipv4.ipfrag_low_thresh", 3145728;
    /// `route.min_pmtu`
    route_min_pmtu = "net.ipv4.route.min_pmtu", 552;
    /// `route.mtu_expires` (s)
    route_mtu_expires = "net.ipv4.route.mtu_expires", 600;
    /// `route.gc_timeout` (s): how long a next-hop exception (a redirect's
    /// gateway) lives
    route_gc_timeout = "net.ipv4.route.gc_timeout", 300;
    /// `route.error_cost` (jiffies, HZ=250; global in the kernel)
    route_error_cost = "net.ipv4.route.error_cost", 250;
    /// `route.error_burst` (jiffies)
    route_error_burst = "net.ipv4.route.error_burst", 1250;
    /// `route.redirect_load` (jiffies)
    route_redirect_load = "net.ipv4.route.redirect_load", 5;
    /// `route.redirect_number`
    route_redirect_number = "net.ipv4.route.redirect_number", 9;
    /// `route.redirect_silence` (jiffies)
    route_redirect_silence = "net.ipv4.route.redirect_silence", 5120;
}
