//! Sysctls: a snapshot's `sysctl.txt` (the output of `sysctl net.ipv4` or
//! `sysctl -a`, values taken as they are) and the `--sysctl KEY=VALUE`
//! overrides (written as `sysctl -w` would, with the kernel's propagation).

use std::path::{Path, PathBuf};

use fwdsim_kernel::Netns;
use fwdsim_kernel::netns::ConfigError;

use crate::error::HostError;

/// The `file` of errors about `--sysctl` overrides.
pub const OVERRIDE_FILE: &str = "--sysctl";

/// Sets every modelled sysctl listed in `text` (lines `key = value`) without
/// propagation. Lines of keys the model does not know, of devices that are
/// not in the snapshot, and of multi-value keys (tab separated) are
/// ignored, so the output of `sysctl -a` loads too; blank lines and `#`/`;`
/// comments are skipped. A modelled key with a value that is not an integer
/// is an error naming the line.
pub(crate) fn load_sysctl_txt(ns: &mut Netns, file: &Path, text: &str) -> Result<(), HostError> {
    for (i, line) in text.lines().enumerate() {
        let at = || PathBuf::from(format!("{}:{}", file.display(), i + 1));
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        let Some((key, value)) = l.split_once('=') else {
            return Err(HostError::BadSysctl {
                file: at(),
                msg: format!("{l:?} is not a `key = value` line"),
            });
        };
        let (key, value) = (key.trim(), value.trim());
        if value.contains(char::is_whitespace) {
            continue; // several values (ip_local_port_range, tcp_rmem, ...)
        }
        match ns.sysctl_get(key) {
            Ok(_) => {}
            // Not modelled, or a device that the snapshot does not have.
            Err(ConfigError::UnknownSysctl(_))
            | Err(ConfigError::UnknownDevice(_))
            | Err(ConfigError::NoInDevice(_)) => continue,
            Err(e) => {
                return Err(HostError::BadSysctl {
                    file: at(),
                    msg: e.to_string(),
                });
            }
        }
        let v: i64 = value.parse().map_err(|_| HostError::BadSysctl {
            file: at(),
            msg: format!("{key}: value {value:?} is not an integer"),
        })?;
        match ns.sysctl_set_raw(key, v) {
            Ok(()) | Err(ConfigError::NoInDevice(_)) => {}
            Err(e) => {
                return Err(HostError::BadSysctl {
                    file: at(),
                    msg: e.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Writes one sysctl as `sysctl -w KEY=VALUE` would, with the kernel's
/// propagation; `file` names where the setting came from.
pub(crate) fn write_sysctl(
    ns: &mut Netns,
    file: &Path,
    key: &str,
    value: i64,
) -> Result<(), HostError> {
    ns.sysctl_write(key, value).map_err(|e| match e {
        ConfigError::UnknownSysctl(k) => HostError::UnknownSysctl {
            file: file.to_path_buf(),
            key: k,
        },
        ConfigError::UnknownDevice(n) => HostError::UnknownDevice {
            file: file.to_path_buf(),
            name: n,
        },
        e => HostError::BadSysctl {
            file: file.to_path_buf(),
            msg: format!("{key}: {e}"),
        },
    })
}

/// Applies `--sysctl KEY=VALUE` to a loaded host as `sysctl -w KEY=VALUE`
/// would: `net.ipv4.ip_forward` and `net.ipv4.conf.all.forwarding` rewrite
/// every device when they change, `conf.default.X` reaches the devices
/// whose X was never set, and so on (the model's `sysctl_write`). Errors
/// name the file `--sysctl`.
pub fn apply_sysctl_override(ns: &mut Netns, kv: &str) -> Result<(), HostError> {
    let file = Path::new(OVERRIDE_FILE);
    let Some((key, value)) = kv.split_once('=') else {
        return Err(HostError::BadSysctl {
            file: file.to_path_buf(),
            msg: format!("{kv:?} is not KEY=VALUE"),
        });
    };
    let (key, value) = (key.trim(), value.trim());
    let v: i64 = value.parse().map_err(|_| HostError::BadSysctl {
        file: file.to_path_buf(),
        msg: format!("{key}: value {value:?} is not an integer"),
    })?;
    write_sysctl(ns, file, key, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fwdsim_kernel::netns::NetDevice;
    use fwdsim_kernel::uapi::{DevFlags, LinkType};

    fn ns() -> Netns {
        let mut ns = Netns::with_loopback();
        ns.register_netdev(NetDevice {
            name: "eth0.100".into(),
            ifindex: fwdsim_kernel::IfIndex(2),
            flags: DevFlags::IFF_UP,
            mtu: 1500,
            dev_addr: [2, 0, 0, 0, 0, 2],
            broadcast: [0xff; 6],
            link_type: LinkType::Ether,
            group: 0,
            carrier: true,
            ip_ptr: None,
            kind: Default::default(),
            master: None,
            brport: None,
        })
        .unwrap();
        ns
    }

    #[test]
    fn sysctl_a_output_loads_raw() {
        let mut ns = ns();
        let text = "abi.vsyscall32 = 1\n\
                    kernel.hostname = box\n\
                    net.ipv4.conf.all.forwarding = 1\n\
                    net.ipv4.conf.eth0/100.rp_filter = 2\n\
                    net.ipv4.conf.eth9.rp_filter = 1\n\
                    net.ipv4.conf.lo.forwarding = 0\n\
                    net.ipv4.ip_local_port_range = 32768\t60999\n\
                    net.ipv4.tcp_congestion_control = cubic\n\
                    net.ipv4.tcp_fastopen_key = \n\
                    \n# comment\n\
                    net.ipv4.icmp_ratelimit = 250\n";
        load_sysctl_txt(&mut ns, Path::new("s/sysctl.txt"), text).unwrap();
        assert_eq!(ns.sysctl_get("net.ipv4.ip_forward").unwrap(), 1);
        // Raw: no propagation to lo.
        assert_eq!(ns.sysctl_get("net.ipv4.conf.lo.forwarding").unwrap(), 0);
        assert_eq!(
            ns.sysctl_get("net.ipv4.conf.eth0.100.rp_filter").unwrap(),
            2
        );
        assert_eq!(ns.sysctl_get("net.ipv4.icmp_ratelimit").unwrap(), 250);
    }

    #[test]
    fn sysctl_txt_errors_name_the_line() {
        let mut ns = ns();
        let e = load_sysctl_txt(
            &mut ns,
            Path::new("s/sysctl.txt"),
            "net.ipv4.ip_forward = 1\nnet.ipv4.ip_forward = yes\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "s/sysctl.txt:2: net.ipv4.ip_forward: value \"yes\" is not an integer"
        );
        let e = load_sysctl_txt(&mut ns, Path::new("s/sysctl.txt"), "garbage line\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "s/sysctl.txt:1: \"garbage line\" is not a `key = value` line"
        );
    }

    #[test]
    fn overrides_propagate() {
        let mut ns = ns();
        apply_sysctl_override(&mut ns, "net.ipv4.ip_forward=1").unwrap();
        assert_eq!(ns.sysctl_get("net.ipv4.conf.lo.forwarding").unwrap(), 1);
        assert_eq!(
            ns.sysctl_get("net.ipv4.conf.eth0.100.forwarding").unwrap(),
            1
        );
        apply_sysctl_override(&mut ns, "net/ipv4/conf/all/rp_filter=2").unwrap();
        assert_eq!(ns.sysctl_get("net.ipv4.conf.all.rp_filter").unwrap(), 2);
        let e = apply_sysctl_override(&mut ns, "net.ipv4.conf.all.frob=1").unwrap_err();
        assert!(matches!(e, HostError::UnknownSysctl { .. }), "{e}");
        assert!(e.to_string().starts_with("--sysctl: unknown sysctl"));
        let e = apply_sysctl_override(&mut ns, "net.ipv4.ip_forward").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--sysctl: \"net.ipv4.ip_forward\" is not KEY=VALUE"
        );
        let e = apply_sysctl_override(&mut ns, "net.ipv4.ip_forward=on").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--sysctl: net.ipv4.ip_forward: value \"on\" is not an integer"
        );
        let e = apply_sysctl_override(&mut ns, "net.ipv4.conf.eth7.rp_filter=1").unwrap_err();
        assert!(matches!(e, HostError::UnknownDevice { .. }), "{e}");
        let e = apply_sysctl_override(&mut ns, "net.ipv4.conf.all.mc_forwarding=1").unwrap_err();
        assert!(matches!(e, HostError::BadSysctl { .. }), "{e}");
    }
}
