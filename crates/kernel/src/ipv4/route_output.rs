//! Models the output route decision of net/ipv4/route.c for packets the host
//! itself sends: `ip_route_output_key_hash` → `ip_route_output_key_hash_rcu`
//! (the slow path, with source address selection) → `__mkroute_output`.

use crate::ipv4::rtnetlink::{RouteGetError, RouteGetReply, RouteGetRequest};
use crate::netns::Netns;
use crate::trace::Tracer;
use crate::uapi::Errno;

/// `ip route get` without `iif`: the output path.
pub fn getroute_output<T: Tracer>(
    _ns: &mut Netns,
    _req: &RouteGetRequest,
    _t: &mut T,
) -> Result<RouteGetReply, RouteGetError> {
    Err(RouteGetError {
        errno: Errno::EINVAL,
        drop_reason: None,
    })
}
