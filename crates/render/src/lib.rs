//! fwdsim-render
