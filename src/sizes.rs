//! Sizes as people read them, in one rule for every page, message and mail: `640 bytes`,
//! `4.1 KB`, `12 MB`, `10 GB` (powers of 1000, as disks are sold), rounded up, so a size
//! or a quota is never shown below what it is.

pub fn in_words(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return if bytes == 1 {
            "1 byte".to_owned()
        } else {
            format!("{bytes} bytes")
        };
    }
    let mut unit = 0;
    let mut scale: u64 = 1000;
    while bytes >= scale.saturating_mul(1000) && unit + 1 < UNITS.len() {
        scale *= 1000;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("TB");
    // Tenths of the unit, rounded up; one decimal below 10, whole numbers above.
    let tenths = bytes.div_ceil(scale / 10);
    if tenths < 100 {
        format!("{}.{} {name}", tenths / 10, tenths % 10)
    } else {
        format!("{} {name}", tenths.div_ceil(10))
    }
}

#[cfg(test)]
mod tests {
    use super::in_words;

    #[test]
    fn sizes_read_in_decimal_units_never_below_what_they_are() {
        assert_eq!(in_words(1), "1 byte");
        assert_eq!(in_words(639), "639 bytes");
        assert_eq!(in_words(1000), "1.0 KB");
        assert_eq!(in_words(4096), "4.1 KB");
        assert_eq!(in_words(12_400), "13 KB");
        assert_eq!(in_words(3_400_000), "3.4 MB");
        assert_eq!(in_words(20 * 1024 * 1024), "21 MB");
        assert_eq!(in_words(10_000_000_000), "10 GB");
        assert_eq!(in_words(10_737_418_240), "11 GB");
        assert_eq!(in_words(u64::MAX), "18446745 TB");
    }
}
