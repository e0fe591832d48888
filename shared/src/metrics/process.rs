//! The process's own figures, read when `/metrics` is scraped: resident and virtual memory,
//! CPU time, threads, open file descriptors and start time, from `/proc/self` on Linux
//! (nothing elsewhere). Rendered as text after the recorder's series, so the CPU counter
//! keeps its fractions of a second (the `metrics` crate's counters are integers).

use std::fmt::Write;

/// Clock ticks per second of `/proc/<pid>/stat` times: `USER_HZ`, 100 on every Linux
/// architecture Zapini builds for (what the Prometheus clients assume too).
const TICKS_PER_SEC: f64 = 100.0;

/// One reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub cpu_seconds: f64,
    pub threads: u64,
    pub open_fds: u64,
    /// Seconds since the Unix epoch.
    pub start_time_seconds: f64,
}

/// Reads the figures; `None` off Linux or when `/proc` is not mounted.
pub fn read() -> Option<ProcessStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let boot = std::fs::read_to_string("/proc/stat").ok();
    let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    parse(&stat, &status, boot.as_deref(), open_fds)
}

/// Parses `/proc/self/stat`, `/proc/self/status` and (for the boot time) `/proc/stat`.
fn parse(stat: &str, status: &str, proc_stat: Option<&str>, open_fds: u64) -> Option<ProcessStats> {
    // The command name (field 2) is in parentheses and may hold spaces: fields are counted
    // from the last `)`, which is followed by field 3 (the state).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    let cpu_ticks = field(14)? + field(15)?;
    let threads = field(20)?;
    let start_ticks = field(22)?;
    let virtual_bytes = field(23)?;
    let resident_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())?;
    let boot = proc_stat
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("btime ")))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Some(ProcessStats {
        resident_bytes: resident_kib * 1024,
        virtual_bytes,
        cpu_seconds: cpu_ticks as f64 / TICKS_PER_SEC,
        threads,
        open_fds,
        start_time_seconds: boot as f64 + start_ticks as f64 / TICKS_PER_SEC,
    })
}

/// Appends the figures to a Prometheus text exposition (nothing when they cannot be read).
pub fn render_into(out: &mut String) {
    let Some(s) = read() else { return };
    let series: [(&str, &str, &str, f64); 6] = [
        (
            "zapini_process_cpu_seconds_total",
            "counter",
            "User and system CPU time spent, in seconds.",
            s.cpu_seconds,
        ),
        (
            "zapini_process_resident_memory_bytes",
            "gauge",
            "Resident memory size, in bytes.",
            s.resident_bytes as f64,
        ),
        (
            "zapini_process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size, in bytes.",
            s.virtual_bytes as f64,
        ),
        (
            "zapini_process_threads",
            "gauge",
            "Operating-system threads of the process.",
            s.threads as f64,
        ),
        (
            "zapini_process_open_fds",
            "gauge",
            "Open file descriptors.",
            s.open_fds as f64,
        ),
        (
            "zapini_process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch, in seconds.",
            s.start_time_seconds,
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1234 0 0 0 \
        250 125 0 0 20 0 7 0 98765 123456789 2048 18446744073709551615";

    #[test]
    fn parses_proc_files() {
        let status = "Name:\tx\nVmPeak:\t 9000 kB\nVmRSS:\t    5120 kB\nThreads:\t7\n";
        let s = parse(STAT, status, Some("cpu 1 2 3\nbtime 1700000000\n"), 12).unwrap();
        assert_eq!(s.cpu_seconds, 3.75);
        assert_eq!(s.threads, 7);
        assert_eq!(s.virtual_bytes, 123_456_789);
        assert_eq!(s.resident_bytes, 5120 * 1024);
        assert_eq!(s.open_fds, 12);
        assert_eq!(s.start_time_seconds, 1_700_000_000.0 + 987.65);
        assert!(parse("garbage", status, None, 0).is_none());
        assert!(parse(STAT, "Name:\tx\n", None, 0).is_none());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let s = read().unwrap();
        assert!(
            s.resident_bytes > 0 && s.threads >= 1 && s.open_fds > 0,
            "{s:?}"
        );
        let mut out = String::new();
        render_into(&mut out);
        assert!(out.contains("# TYPE zapini_process_cpu_seconds_total counter\n"));
    }
}
