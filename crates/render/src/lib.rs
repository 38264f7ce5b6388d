//! Every output format of fwdsim: `ip route get` text and JSON as iproute2
//! prints them (`iproute2`), the walk of a packet (`trace`), and a
//! packet's hops across namespaces (`topology`). Rendering
//! reads model values and resolves indices to names; it never decides.

pub mod iproute2;
pub mod netfilter;
pub mod replay;
pub mod topology;
pub mod trace;
