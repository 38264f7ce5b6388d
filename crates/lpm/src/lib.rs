//! fwdsim-lpm
