//! fwdsim-lab
