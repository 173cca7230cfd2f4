//! Process metrics in Prometheus's standard names, read from `/proc` at scrape time (as the
//! official client libraries do): resident memory, CPU seconds, open and maximum file
//! descriptors, start time. Empty on systems without `/proc`.

use std::fmt::Write as _;

/// The exposition text of the process metrics (empty where they cannot be read).
pub fn render() -> String {
    let Some(sample) = sample() else { return String::new() };
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: f64| {
        // unwrap: writing to a String cannot fail.
        write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n").unwrap();
    };
    metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", sample.resident_bytes);
    metric("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", sample.cpu_seconds);
    metric("process_open_fds", "gauge", "Number of open file descriptors.", sample.open_fds);
    if let Some(max) = sample.max_fds {
        metric("process_max_fds", "gauge", "Maximum number of open file descriptors.", max);
    }
    metric("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", sample.start_time);
    out
}

struct Sample {
    resident_bytes: f64,
    cpu_seconds: f64,
    open_fds: f64,
    max_fds: Option<f64>,
    start_time: f64,
}

#[cfg(target_os = "linux")]
fn sample() -> Option<Sample> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields are counted after the
    // last ')'. `fields[0]` is then field 3 (state).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
    // SAFETY: sysconf reads a system constant and has no preconditions.
    let (ticks, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
    let (ticks, page) = (ticks.max(1) as f64, page.max(1) as f64);
    let boot_time =
        std::fs::read_to_string("/proc/stat").ok()?.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse::<f64>().ok()?;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as f64;
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| limits.lines().find(|l| l.starts_with("Max open files"))?.split_whitespace().nth(3)?.parse::<f64>().ok());
    Some(Sample {
        resident_bytes: field(24)? * page,
        cpu_seconds: (field(14)? + field(15)?) / ticks,
        open_fds,
        max_fds,
        start_time: boot_time + field(22)? / ticks,
    })
}

#[cfg(not(target_os = "linux"))]
fn sample() -> Option<Sample> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn the_process_metrics_are_read_and_plausible() {
        let text = super::render();
        let value = |name: &str| -> f64 {
            let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name} in {text}"));
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        assert!(value("process_resident_memory_bytes") > 1_000_000.0);
        assert!(value("process_cpu_seconds_total") >= 0.0);
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_start_time_seconds") > 1_600_000_000.0);
        assert!(text.contains("# TYPE process_cpu_seconds_total counter"));
    }
}
