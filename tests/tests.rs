//! Integration tests.
mod cli;
mod kernel_route;
mod kernel_toml;
mod replay;
