//! fwdsim-host
