//! Kubernetes resource quantities (`64Mi`, `1.5G`, `100m`, `1e3`), parsed exactly enough to
//! compare them and to take their integer value as `resource.Quantity.Value()` does.

use std::cmp::Ordering;

/// A parsed quantity, held in nano-units so that every suffix is exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity {
    nanos: i128,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)]
pub struct QuantityError;

const NANO: i128 = 1_000_000_000;

impl Quantity {
    pub const ZERO: Quantity = Quantity { nanos: 0 };

    pub fn from_value(v: i64) -> Self {
        Quantity {
            nanos: i128::from(v) * NANO,
        }
    }

    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        let s = s.trim();
        let (negative, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let number_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let (number, suffix) = rest.split_at(number_len);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(QuantityError);
        }
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        let digits = format!("{int_part}{frac_part}");
        let mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| QuantityError)?
        };
        // value = mantissa * 10^-frac * multiplier; kept as a fraction num/den of nano-units.
        let mut num = mantissa.checked_mul(NANO).ok_or(QuantityError)?;
        let mut den: i128 = 10i128
            .checked_pow(frac_part.len() as u32)
            .ok_or(QuantityError)?;
        let binary = |p: u32| 1024i128.pow(p);
        let (mul, div): (i128, i128) = match suffix {
            "" => (1, 1),
            "n" => (1, NANO),
            "u" => (1, 1_000_000),
            "m" => (1, 1_000),
            "k" => (1_000, 1),
            "M" => (1_000_000, 1),
            "G" => (10i128.pow(9), 1),
            "T" => (10i128.pow(12), 1),
            "P" => (10i128.pow(15), 1),
            "E" => (10i128.pow(18), 1),
            "Ki" => (binary(1), 1),
            "Mi" => (binary(2), 1),
            "Gi" => (binary(3), 1),
            "Ti" => (binary(4), 1),
            "Pi" => (binary(5), 1),
            "Ei" => (binary(6), 1),
            e if e.starts_with(['e', 'E']) => {
                let exp: i32 = e[1..].parse().map_err(|_| QuantityError)?;
                if !(-30..=30).contains(&exp) {
                    return Err(QuantityError);
                }
                let p = 10i128.pow(exp.unsigned_abs());
                if exp >= 0 { (p, 1) } else { (1, p) }
            }
            _ => return Err(QuantityError),
        };
        num = num.checked_mul(mul).ok_or(QuantityError)?;
        den = den.checked_mul(div).ok_or(QuantityError)?;
        // Sub-nano precision rounds up, as Kubernetes does.
        let nanos = (num + den - 1) / den;
        Ok(Quantity {
            nanos: if negative { -nanos } else { nanos },
        })
    }

    /// The value rounded up to an integer (`Quantity.Value()`).
    pub fn value(self) -> i64 {
        ceil_div(self.nanos, NANO) as i64
    }

    /// The value in thousandths, rounded up (`Quantity.MilliValue()`).
    pub fn milli_value(self) -> i64 {
        ceil_div(self.nanos, 1_000_000) as i64
    }

    pub fn is_zero(self) -> bool {
        self.nanos == 0
    }

    pub fn cmp_value(self, other: Quantity) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

fn ceil_div(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b != 0 && a > 0 { q + 1 } else { q }
}

/// `bytes` in the binary-SI form Kubernetes prints (`4Gi`, `1536Mi`, `1000`).
pub fn format_binary_si(bytes: i64) -> String {
    const SUFFIXES: [&str; 6] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    if bytes == 0 {
        return "0".into();
    }
    let mut value = bytes;
    let mut suffix = "";
    for s in SUFFIXES {
        if value % 1024 != 0 {
            break;
        }
        value /= 1024;
        suffix = s;
    }
    format!("{value}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    #[test]
    fn suffixes_scale_the_value() {
        let table = [
            ("64Mi", 64 * 1024 * 1024),
            ("64M", 64_000_000),
            ("1Gi", 1 << 30),
            ("2k", 2000),
            ("1.5Gi", 3 << 29),
            ("1e3", 1000),
            ("0", 0),
            ("+5", 5),
            ("-5Ki", -5120),
        ];
        for (s, v) in table {
            assert_eq!(q(s).value(), v, "{s}");
        }
    }

    #[test]
    fn milli_values_keep_fractions() {
        assert_eq!(q("100m").milli_value(), 100);
        assert_eq!(q("100m").value(), 1);
        assert_eq!(q("2").milli_value(), 2000);
        assert_eq!(q("0.5").milli_value(), 500);
    }

    #[test]
    fn malformed_quantities_are_rejected() {
        for s in ["", "Mi", "1.2.3", "12x", "1e", "--1"] {
            assert!(Quantity::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn quantities_compare_by_value() {
        assert_eq!(q("1M").cmp_value(q("1000k")), Ordering::Equal);
        assert_eq!(q("1Mi").cmp_value(q("1M")), Ordering::Greater);
        assert_eq!(q("999k").cmp_value(q("1M")), Ordering::Less);
    }

    #[test]
    fn binary_si_is_printed_with_the_largest_exact_suffix() {
        assert_eq!(format_binary_si(4 << 30), "4Gi");
        assert_eq!(format_binary_si(1536 << 20), "1536Mi");
        assert_eq!(format_binary_si(1000), "1000");
        assert_eq!(format_binary_si(0x200000), "2Mi");
    }
}
