//! What the benchmarks read of a process and of the host from `/proc` (Linux): memory, CPU
//! time, the load average, the RSS peak while a run lasts; and how they print figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;

/// Memory figures of a process from `/proc/<pid>/status`, in KiB (threads: a count).
#[derive(Debug, Default, Clone, Copy)]
pub struct Memory {
    pub rss: u64,
    pub hwm: u64,
    pub anon: u64,
    pub file: u64,
    pub threads: u64,
}

pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{name} missing from /proc/{pid}/status"))?;
        line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("parsing {line:?}"))
    };
    Ok(Memory {
        rss: field("VmRSS:")?,
        hwm: field("VmHWM:")?,
        anon: field("RssAnon:")?,
        file: field("RssFile:")?,
        threads: field("Threads:")?,
    })
}

/// The highest RSS a process reaches while followed, sampled on a thread of its own every
/// `every` (so a busy async runtime does not delay the samples).
pub struct RssPeak {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Memory>,
}

impl RssPeak {
    pub fn follow(pid: u32, every: Duration) -> RssPeak {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = Memory::default();
            loop {
                if let Ok(m) = memory(pid)
                    && m.rss > peak.rss
                {
                    peak = m;
                }
                if stopped.load(Ordering::Relaxed) {
                    return peak;
                }
                std::thread::sleep(every);
            }
        });
        RssPeak { stop, thread }
    }

    /// The peak, with one last sample taken after the stop.
    pub fn stop(self) -> Memory {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the RSS sampler does not panic")
    }
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`, in clock
/// ticks (100 per second on Linux).
pub fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let field = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .context("short /proc/<pid>/stat")?
            .parse()
            .context("parsing /proc/<pid>/stat")
    };
    Ok(field(11)? + field(12)?)
}

/// Busy and total CPU time of the whole host so far, from the first line of `/proc/stat`, in
/// clock ticks summed over all cores.
pub fn host_ticks() -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().context("parsing /proc/stat"))
        .collect::<anyhow::Result<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    Ok((total - idle, total))
}

/// Share of the host's CPU (all cores) that was busy between two [`host_ticks`] readings.
pub fn host_busy_percent(before: (u64, u64), after: (u64, u64)) -> f64 {
    let total = after.1.saturating_sub(before.1).max(1);
    after.0.saturating_sub(before.0) as f64 / total as f64 * 100.0
}

/// The 1-minute load average.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// Share of one core a process used between two [`cpu_ticks`] readings `elapsed` apart.
pub fn cpu_percent(ticks: u64, elapsed: Duration) -> f64 {
    ticks as f64 / 100.0 / elapsed.as_secs_f64() * 100.0
}

/// KiB as `12.3 MiB`.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Microseconds as milliseconds, two decimals under 10 ms.
pub fn ms(us: u32) -> String {
    let ms = f64::from(us) / 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
