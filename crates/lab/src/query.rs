//! A route query: the arguments of `ip route get` (and of `fwdsim route get`).

use std::fmt;
use std::net::Ipv4Addr;

/// `DST [from SRC] [iif DEV] [tos T] [mark M]`. Without `iif` it asks the
/// output path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Query {
    /// Destination.
    pub dst: Ipv4Addr,
    /// Source (`from`); `None` leaves it out (the kernel sees 0.0.0.0).
    pub src: Option<Ipv4Addr>,
    /// Ingress device (`iif`); `None` asks the output path.
    pub iif: Option<String>,
    /// `tos` value.
    pub tos: Option<u8>,
    /// `mark` value.
    pub mark: Option<u32>,
}

impl Query {
    /// The words after `route get`, as both `ip` and `fwdsim` take them.
    pub fn args(&self) -> Vec<String> {
        let mut v = vec![self.dst.to_string()];
        if let Some(s) = self.src {
            v.push("from".into());
            v.push(s.to_string());
        }
        if let Some(d) = &self.iif {
            v.push("iif".into());
            v.push(d.clone());
        }
        if let Some(t) = self.tos {
            v.push("tos".into());
            v.push(format!("0x{t:02x}"));
        }
        if let Some(m) = self.mark {
            v.push("mark".into());
            v.push(format!("0x{m:x}"));
        }
        v
    }

    /// The source the kernel sees (0.0.0.0 when `from` is left out).
    pub fn src_or_zero(&self) -> Ipv4Addr {
        self.src.unwrap_or(Ipv4Addr::UNSPECIFIED)
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.args().join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_iproute2_words() {
        let q = Query {
            dst: Ipv4Addr::new(10, 0, 2, 2),
            src: Some(Ipv4Addr::new(10, 0, 1, 2)),
            iif: Some("r0".into()),
            tos: Some(0x10),
            mark: Some(0x107),
        };
        assert_eq!(
            q.to_string(),
            "10.0.2.2 from 10.0.1.2 iif r0 tos 0x10 mark 0x107"
        );
    }
}
