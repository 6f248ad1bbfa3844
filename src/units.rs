//! Human-readable numbers shared by the command line and the window.

/// Bytes in decimal units, as borg prints them (`1.23 GB`).
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let decimals = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    format!("{value:.decimals$} {}", UNITS[unit])
}

/// A duration in seconds as `1 h 02 min`, `3 min 05 s` or `4.2 s`.
pub fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "–".into();
    }
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h} h {m:02} min")
    } else {
        format!("{m} min {s:02} s")
    }
}

/// borg's ISO timestamps (`2026-11-23T19:53:40.000000`, local time) as `2026-11-23 19:53:40`.
pub fn format_borg_time(iso: &str) -> String {
    let trimmed = iso.split('.').next().unwrap_or(iso);
    trimmed.replacen('T', " ", 1)
}

/// A count with thousands separators: 1234567 → "1,234,567".
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_use_decimal_units_like_borg() {
        assert_eq!(format_bytes(999), "999 B");
        assert_eq!(format_bytes(1_234), "1.23 kB");
        assert_eq!(format_bytes(45_600_000), "45.6 MB");
        assert_eq!(format_bytes(123_000_000_000), "123 GB");
    }

    #[test]
    fn durations_and_times_read_naturally() {
        assert_eq!(format_duration(4.25), "4.2 s");
        assert_eq!(format_duration(185.0), "3 min 05 s");
        assert_eq!(format_duration(3720.0), "1 h 02 min");
        assert_eq!(
            format_borg_time("2026-11-23T19:53:40.000000"),
            "2026-11-23 19:53:40"
        );
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(super::format_count(0), "0");
        assert_eq!(super::format_count(999), "999");
        assert_eq!(super::format_count(1_005_029), "1,005,029");
    }
}
