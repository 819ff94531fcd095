//! Resident memory of a process, read from `/proc/PID/status` (Linux):
//! `VmRSS` now and `VmHWM`, its peak, in kB.

use anyhow::Context as _;

/// A process's resident set, now and at its peak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    pub rss_kb: u64,
    pub hwm_kb: u64,
}

/// `VmRSS` and `VmHWM` of `pid`.
pub fn status(pid: &str) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("failed to read {path}"))?;
    parse(&text).with_context(|| format!("{path}: no VmRSS or VmHWM line"))
}

fn parse(status: &str) -> Option<Memory> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some(Memory {
        rss_kb: field("VmRSS:")?,
        hwm_kb: field("VmHWM:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_rss_and_peak_in_kb() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    5120 kB\nVmRSS:\t    4096 kB\n";
        assert_eq!(
            parse(status),
            Some(Memory {
                rss_kb: 4096,
                hwm_kb: 5120
            })
        );
    }

    #[test]
    fn status_reads_this_process() {
        assert!(status("self").is_ok_and(|m| m.rss_kb > 0 && m.hwm_kb >= m.rss_kb));
    }
}
