//! Typed quantities read from text: a size in bytes (`100M`) and a CPU share (`0.5`).
//!
//! Front ends parse a user's words with [`str::parse`] into these and hand the plain number to
//! the builder ([`Builder::memory_limit`](crate::Builder::memory_limit),
//! [`Builder::cpu_limit`](crate::Builder::cpu_limit)).

use core::fmt;
use core::str::FromStr;

use crate::error::ConfigError;

/// A size in bytes, written with an optional binary unit: `100M`, `1.5G`, `64k`, `65536`
/// (`k`, `m`, `g`, `t` in either case, optionally followed by `b` or `iB`).
///
/// ```
/// use isolate::ByteSize;
/// assert_eq!("100M".parse::<ByteSize>().unwrap().get(), 100 << 20);
/// assert_eq!("1.5g".parse::<ByteSize>().unwrap().get(), 3 << 29);
/// assert!("lots".parse::<ByteSize>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(u64);

impl ByteSize {
    /// A size of `bytes` bytes.
    pub const fn new(bytes: u64) -> ByteSize {
        ByteSize(bytes)
    }

    /// The number of bytes.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<ByteSize, ConfigError> {
        let bad = || ConfigError::BadSize(s.into());
        let lower = s.trim().to_ascii_lowercase();
        let t = lower
            .strip_suffix("ib")
            .or_else(|| lower.strip_suffix('b'))
            .unwrap_or(&lower);
        let (num, shift) = match t.as_bytes().last() {
            Some(b'k') => (&t[..t.len() - 1], 10),
            Some(b'm') => (&t[..t.len() - 1], 20),
            Some(b'g') => (&t[..t.len() - 1], 30),
            Some(b't') => (&t[..t.len() - 1], 40),
            _ => (t, 0),
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 6 {
            return Err(bad());
        }
        let i: u64 = int.parse().map_err(|_| bad())?;
        let whole = i
            .checked_shl(shift)
            .filter(|v| v >> shift == i)
            .ok_or_else(bad)?;
        let mut f: u64 = 0;
        if !frac.is_empty() {
            let digits: u64 = frac.parse().map_err(|_| bad())?;
            let scale = 10u64.pow(frac.len() as u32);
            f = ((digits as u128 * (1u128 << shift)) / scale as u128) as u64;
        }
        whole.checked_add(f).map(ByteSize).ok_or_else(bad)
    }
}

impl fmt::Display for ByteSize {
    /// The largest binary unit that divides the size exactly: `100M`, `1536k`, `4097`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (shift, unit) in [(40, "T"), (30, "G"), (20, "M"), (10, "k")] {
            if self.0 != 0 && self.0.is_multiple_of(1u64 << shift) {
                return write!(f, "{}{unit}", self.0 >> shift);
            }
        }
        write!(f, "{}", self.0)
    }
}

/// A CPU share in thousandths of a core, written as a decimal count of cores with at most
/// three decimals: `0.5` is 500, `2` is 2000. Zero is refused.
///
/// ```
/// use isolate::Millicpus;
/// assert_eq!("0.5".parse::<Millicpus>().unwrap().get(), 500);
/// assert!("0".parse::<Millicpus>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millicpus(u64);

impl Millicpus {
    /// Thousandths of a core.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl FromStr for Millicpus {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Millicpus, ConfigError> {
        let bad = || ConfigError::BadLimit("cpus (want e.g. 0.5 or 2)");
        let (int, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || frac.len() > 3
            || int.len() > 6
        {
            return Err(bad());
        }
        let i: u64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| bad())?
        };
        let mut f: u64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        for _ in frac.len()..3 {
            f *= 10;
        }
        match i * 1000 + f {
            0 => Err(bad()),
            m => Ok(Millicpus(m)),
        }
    }
}

impl fmt::Display for Millicpus {
    /// As a count of cores: `0.5`, `2`, `1.25`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, thousandths) = (self.0 / 1000, self.0 % 1000);
        if thousandths == 0 {
            return write!(f, "{whole}");
        }
        let mut frac = thousandths;
        let mut digits = 3;
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        write!(f, "{whole}.{frac:0digits$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn size(s: &str) -> Result<u64, ConfigError> {
        s.parse::<ByteSize>().map(ByteSize::get)
    }

    fn cpus(s: &str) -> Result<u64, ConfigError> {
        s.parse::<Millicpus>().map(Millicpus::get)
    }

    #[test]
    fn sizes_parse_with_binary_units_and_reject_garbage() {
        assert_eq!(size("100M"), Ok(100 << 20));
        assert_eq!(size("100MiB"), Ok(100 << 20));
        assert_eq!(size("64k"), Ok(65536));
        assert_eq!(size("1.5G"), Ok(3 << 29));
        assert_eq!(size("4096"), Ok(4096));
        for bad in [
            "",
            "M",
            "-1M",
            "1.2.3M",
            "lots",
            "99999999999999999999",
            "16777216T",
            "1x",
        ] {
            assert!(size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cpus_parse_to_millicpus() {
        assert_eq!(cpus("0.5"), Ok(500));
        assert_eq!(cpus("2"), Ok(2000));
        assert_eq!(cpus(".25"), Ok(250));
        for bad in ["0", "", ".", "1.2345", "-1", "abc"] {
            assert!(cpus(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn display_reads_back_as_the_same_value() {
        for s in ["100M", "1536k", "4097", "2G", "0"] {
            let v: ByteSize = s.parse().unwrap();
            assert_eq!(v.to_string(), s);
            assert_eq!(v.to_string().parse::<ByteSize>(), Ok(v));
        }
        for s in ["0.5", "2", "1.25", "0.001", "10.1"] {
            let v: Millicpus = s.parse().unwrap();
            assert_eq!(v.to_string(), s);
        }
    }
}
