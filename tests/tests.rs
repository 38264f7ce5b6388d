//! Integration tests.
mod cli;
mod docs;
mod kernel_packet;
mod kernel_route;
mod kernel_toml;
mod replay;
mod step;
