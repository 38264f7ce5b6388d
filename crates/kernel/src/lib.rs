//! fwdsim-kernel
