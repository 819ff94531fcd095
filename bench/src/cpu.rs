//! CPU time of a process, read from `/proc/PID/stat` (Linux): user plus
//! system time in clock ticks (`getconf CLK_TCK`, 100 on Linux).

use anyhow::Context as _;

/// utime + stime of `pid` (`self` for this process), in clock ticks.
pub fn ticks(pid: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("failed to read {path}"))?;
    parse(&stat).with_context(|| format!("{path}: unexpected format"))
}

/// Fields 14 (utime) and 15 (stime); the command name (field 2) may hold
/// spaces and parentheses, so counting starts after its last `)`.
fn parse(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_adds_utime_and_stime_after_a_name_with_spaces() {
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 3 0 99";
        assert_eq!(parse(stat), Some(287));
    }

    #[test]
    fn ticks_reads_this_process() {
        assert!(ticks("self").is_ok());
    }
}
