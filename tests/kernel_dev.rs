//! Per-device receive counters against the kernel: on the lab's router
//! (client, router and server namespaces, as in `kernel_packet`), frames of
//! an EtherType no handler takes (`rx_dropped`, `UNHANDLED_PROTO`) and an
//! IPv4 frame for another host's MAC (`rx_otherhost_dropped`) arrive on
//! `r0`. The router's `ip -s -s -j link show r0` before and after is
//! compared with the `devices` part of `fwdsim replay`'s closing object on a
//! `fwdsim host dump` of the router.
//!
//! Needs root; without namespaces it skips with the reason, except under
//! `CI=true`, where it fails.

use std::process::Command;

use fwdsim_lab::packet::config::{CLIENT_ADDR, RouterConfig, SERVER_ADDR};
use fwdsim_lab::packet::lab::{CLIENT_MAC, PktLab, R0_MAC};
use fwdsim_lab::packet::wire::Endpoints;

/// `rx.dropped` and `rx.otherhost` (absent: 0) of the router's `r0`.
fn rx_counters(lab: &PktLab) -> (u64, u64) {
    let out = lab
        .router
        .ip(&["-s", "-s", "-j", "link", "show", "r0"])
        .expect("ip -s -s -j link show r0");
    let v: serde_json::Value = serde_json::from_str(&out).expect("ip's JSON");
    let rx = &v[0]["stats64"]["rx"];
    (
        rx["dropped"].as_u64().unwrap_or(0),
        rx["otherhost"].as_u64().unwrap_or(0),
    )
}

fn frame(dst_mac: [u8; 6], ethertype: u16) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2(CLIENT_MAC, dst_mac)
        .ipv4(CLIENT_ADDR.octets(), SERVER_ADDR.octets(), 64)
        .udp(5000, 53);
    let mut v = Vec::new();
    b.write(&mut v, &[0x44; 18]).expect("in memory");
    v[12..14].copy_from_slice(&ethertype.to_be_bytes());
    v
}

#[test]
fn device_drop_counters_match_the_kernel() {
    let test = "kernel_dev::device_drop_counters_match_the_kernel";
    // Its frames are freed in the kernel: no other tracepoint reader runs.
    let _guard = crate::KFREE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if !fwdsim_lab::harness::require_netns(test) {
        return;
    }
    let env = crate::kernel_route::env();
    let lab = PktLab::build(&RouterConfig::random(11)).expect("building the lab");
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("router");
    std::fs::create_dir(&snap).unwrap();
    env.fwdsim
        .host_dump(&snap, lab.router.name())
        .expect("fwdsim host dump");
    let frames = [
        frame(R0_MAC, 0x88b5),
        frame(R0_MAC, 0x88b6),
        frame([2, 0, 0, 0, 0x99, 0x99], 0x0800),
        frame(R0_MAC, 0x88b5),
    ];
    let ep = Endpoints::open(&lab).expect("the lab's sockets");
    let before = rx_counters(&lab);
    for f in &frames {
        ep.send(f).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    let after = rx_counters(&lab);
    drop(ep);
    drop(lab);
    let kernel = (after.0 - before.0, after.1 - before.1);

    let cap = dir.path().join("in.pcapng");
    {
        let mut w = fwdsim_pcap::PcapngWriter::create(&cap).unwrap();
        let r0 = w
            .add_interface("r0", fwdsim_pcap::LinkType::ETHERNET)
            .unwrap();
        for (i, f) in frames.iter().enumerate() {
            w.write_packet(r0, 1_700_000_000_000_000_000 + i as i128 * 1_000_000, f)
                .unwrap();
        }
        w.flush().unwrap();
    }
    let out = Command::new(&env.fwdsim.bin)
        .args(["replay", cap.to_str().unwrap(), "--host"])
        .arg(&snap)
        .arg("-j")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    let d = &last["devices"]["r0"];
    let fwdsim = (
        d["rx_dropped"].as_u64().unwrap_or(0),
        d["otherhost_dropped"].as_u64().unwrap_or(0),
    );
    let words: Vec<String> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["drop_reason"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        words,
        [
            "UNHANDLED_PROTO",
            "UNHANDLED_PROTO",
            "OTHERHOST",
            "UNHANDLED_PROTO"
        ]
    );
    assert_eq!(
        fwdsim, kernel,
        "{test}: (rx_dropped, otherhost) of r0: fwdsim {fwdsim:?}, kernel {kernel:?}"
    );
    assert_eq!(kernel, (3, 1), "{test}: the kernel's own counts");
}
