//! `fwdsim doctor --topology DIR`: the model's checks of every namespace
//! and of the joints between them (`fwdsim_kernel::topology::doctor`: a
//! bridge port down or not forwarding, a veth whose peer is not in the
//! topology or is down, a namespace behind a bridge whose default gateway
//! is not the bridge's), printed under a heading per namespace.

use std::process::ExitCode;

use crate::Failure;

/// Runs `doctor --topology`.
pub fn doctor(path: &std::path::Path) -> Result<ExitCode, Failure> {
    let t = crate::topo::load(path)?;
    let topo = crate::topo::engine(t)?;
    let findings = fwdsim_kernel::topology::doctor::doctor(&topo);
    let mut n = 0;
    for name in topo.names() {
        println!("{name}:");
        let mine: Vec<_> = findings.iter().filter(|f| &f.ns == name).collect();
        if mine.is_empty() {
            println!("  no known cause of lost packets found");
        }
        for f in mine {
            n += 1;
            println!("  {n}. {}: {}", f.title, f.detail);
        }
    }
    Ok(ExitCode::SUCCESS)
}
