//! Integration tests.
mod cli;
mod kernel_packet;
mod kernel_route;
mod kernel_toml;
mod replay;
mod step;
