//! Host statistics for heartbeats, read from `/proc` and `statvfs("/")`.
//!
//! `HostSampler` keeps the previous CPU counters so each sample reports the
//! CPU busy share since the last one. The link actor samples it on every
//! heartbeat tick and adds the agent's own counters. Parsing is pure and
//! table-tested; a missing or odd `/proc` file yields zeros, never an error.
//! Disk usage is the root filesystem's, from `statvfs`.

use crate::domain::HostStats;

/// Samples host statistics; remembers CPU counters between samples.
#[derive(Debug, Default)]
pub struct HostSampler {
    prev_cpu: Option<CpuTimes>,
}

/// Aggregate CPU jiffies from `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    /// Non-idle time.
    pub busy: u64,
    /// All time.
    pub total: u64,
}

impl HostSampler {
    /// A sampler with no previous CPU sample.
    pub fn new() -> HostSampler {
        HostSampler::default()
    }

    /// Reads `/proc` now. Agent counters are left for the caller to fill.
    pub fn sample(&mut self) -> HostStats {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let mut stats = HostStats::default();
        if let Some((l1, l5, l15)) = parse_loadavg(&read("/proc/loadavg")) {
            (stats.load1, stats.load5, stats.load15) = (l1, l5, l15);
        }
        if let Some((total, used)) = parse_meminfo(&read("/proc/meminfo")) {
            (stats.mem_total_bytes, stats.mem_used_bytes) = (total, used);
        }
        stats.uptime_s = parse_uptime(&read("/proc/uptime")).unwrap_or(0);
        if let Some((total, used)) = disk_usage("/") {
            (stats.disk_total_bytes, stats.disk_used_bytes) = (total, used);
        }
        if let Some(now) = parse_cpu(&read("/proc/stat")) {
            if let Some(prev) = self.prev_cpu {
                stats.cpu_percent = cpu_percent(prev, now);
            }
            self.prev_cpu = Some(now);
        }
        stats
    }
}

/// `(total, used)` bytes of the filesystem holding `path`.
pub fn disk_usage(path: &str) -> Option<(u64, u64)> {
    let v = rustix::fs::statvfs(path).ok()?;
    let total = v.f_blocks.checked_mul(v.f_frsize)?;
    let used = v
        .f_blocks
        .saturating_sub(v.f_bfree)
        .checked_mul(v.f_frsize)?;
    Some((total, used))
}

/// `(load1, load5, load15)` from `/proc/loadavg`.
pub fn parse_loadavg(text: &str) -> Option<(f64, f64, f64)> {
    let mut it = text.split_whitespace().map(str::parse::<f64>);
    Some((it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?))
}

/// `(total, used)` bytes from `/proc/meminfo`; used = total − available.
pub fn parse_meminfo(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        text.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
            Some(kib * 1024)
        })
    };
    let total = field("MemTotal")?;
    let available = field("MemAvailable").or_else(|| field("MemFree"))?;
    Some((total, total.saturating_sub(available)))
}

/// Whole seconds of uptime from `/proc/uptime`.
pub fn parse_uptime(text: &str) -> Option<u64> {
    let secs: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(secs as u64)
}

/// The aggregate `cpu` line of `/proc/stat`.
pub fn parse_cpu(text: &str) -> Option<CpuTimes> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    if values.len() < 4 {
        return None;
    }
    // user nice system idle iowait irq softirq steal (guest counted in user)
    let total: u64 = values.iter().take(8).sum();
    let idle = values[3] + values.get(4).copied().unwrap_or(0);
    Some(CpuTimes {
        busy: total.saturating_sub(idle),
        total,
    })
}

/// Busy share between two samples, in percent.
pub fn cpu_percent(prev: CpuTimes, now: CpuTimes) -> f64 {
    let total = now.total.saturating_sub(prev.total);
    if total == 0 {
        return 0.0;
    }
    let busy = now.busy.saturating_sub(prev.busy);
    (busy as f64 / total as f64 * 100.0).clamp(0.0, 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_parse() {
        assert_eq!(
            parse_loadavg("0.52 0.58 0.59 2/1234 5678\n"),
            Some((0.52, 0.58, 0.59))
        );
        assert_eq!(parse_loadavg("garbage"), None);
        let meminfo = "MemTotal:       16000 kB\nMemFree:  1000 kB\nMemAvailable:   6000 kB\n";
        assert_eq!(parse_meminfo(meminfo), Some((16000 * 1024, 10000 * 1024)));
        assert_eq!(
            parse_meminfo("MemTotal: 100 kB\nMemFree: 40 kB\n"),
            Some((102400, 61440))
        );
        assert_eq!(parse_meminfo(""), None);
        assert_eq!(parse_uptime("12345.67 54321.00\n"), Some(12345));
        let stat = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n";
        assert_eq!(
            parse_cpu(stat),
            Some(CpuTimes {
                busy: 150,
                total: 1000
            })
        );
        assert_eq!(parse_cpu("intr 1 2 3"), None);
    }

    #[test]
    fn cpu_share_between_samples() {
        let a = CpuTimes {
            busy: 100,
            total: 1000,
        };
        let b = CpuTimes {
            busy: 150,
            total: 1200,
        };
        assert_eq!(cpu_percent(a, b), 25.0);
        assert_eq!(cpu_percent(a, a), 0.0);
    }

    #[test]
    fn sampling_this_host_does_not_fail() {
        let mut s = HostSampler::new();
        let first = s.sample();
        let _second = s.sample();
        assert!(first.cpu_percent == 0.0);
        assert!(first.mem_total_bytes > 0, "this host has /proc/meminfo");
        assert!(first.disk_total_bytes > 0, "the root filesystem has a size");
        assert!(first.disk_used_bytes <= first.disk_total_bytes);
    }
}
