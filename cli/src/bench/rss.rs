//! Peak resident set size from /proc (Linux); other systems report none.

/// Resets the kernel's peak-RSS counter (`VmHWM`) to the current RSS, so the next reading covers
/// only what runs after this call. Writing `5` to `clear_refs` does that since Linux 4.0.
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak RSS in MiB since the process start or the last [`reset_peak`].
pub fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_hwm_in_kib() {
        let s = "Name:\tjepa\nVmHWM:\t   2048 kB\nVmRSS:\t 1024 kB\n";
        assert_eq!(parse_vm_hwm(s), Some(2.0));
        assert_eq!(parse_vm_hwm("VmRSS: 1 kB"), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn peak_covers_a_fresh_allocation() {
        reset_peak();
        let before = peak_mib().unwrap();
        let v = vec![1u8; 64 << 20];
        std::hint::black_box(&v);
        let after = peak_mib().unwrap();
        assert!(after >= before + 32.0, "{before} -> {after}");
    }
}
