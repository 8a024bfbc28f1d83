//! Kubernetes resource quantities (`500m`, `2Gi`, `1e3`, `1.5`) as exact integers of
//! thousandths, the unit kube-scheduler compares CPU in.

use std::fmt;

/// A quantity that is not in the Kubernetes quantity syntax.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {0:?}"
)]
pub struct QuantityError(pub String);

/// A quantity in thousandths of its unit (millicores for CPU, millibytes for memory), rounded
/// up as Kubernetes rounds `MilliValue()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Milli(pub i128);

impl Milli {
    pub const ZERO: Milli = Milli(0);

    /// The value in whole units, rounded up (`Value()` of a Kubernetes quantity).
    pub fn units(self) -> i128 {
        self.0.div_euclid(1000) + i128::from(self.0.rem_euclid(1000) != 0)
    }
}

impl std::ops::Add for Milli {
    type Output = Milli;
    fn add(self, rhs: Milli) -> Milli {
        Milli(self.0.saturating_add(rhs.0))
    }
}

impl std::ops::Sub for Milli {
    type Output = Milli;
    fn sub(self, rhs: Milli) -> Milli {
        Milli(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for Milli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 % 1000 == 0 {
            write!(f, "{}", self.0 / 1000)
        } else {
            write!(f, "{}m", self.0)
        }
    }
}

/// Parses a quantity string into thousandths of its unit.
pub fn parse(text: &str) -> Result<Milli, QuantityError> {
    let err = || QuantityError(text.to_string());
    let s = text.trim();
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(err());
    }
    let digits = format!("{whole}{fraction}");
    let mantissa: i128 = digits.parse().map_err(|_| err())?;
    let fraction_digits = i32::try_from(fraction.len()).map_err(|_| err())?;

    // value = mantissa * base^exp / 10^fraction_digits; kept as numerator / denominator.
    let (base, exp): (i128, i32) = match suffix {
        "" => (10, 0),
        "n" => (10, -9),
        "u" => (10, -6),
        "m" => (10, -3),
        "k" => (10, 3),
        "M" => (10, 6),
        "G" => (10, 9),
        "T" => (10, 12),
        "P" => (10, 15),
        "E" => (10, 18),
        "Ki" => (2, 10),
        "Mi" => (2, 20),
        "Gi" => (2, 30),
        "Ti" => (2, 40),
        "Pi" => (2, 50),
        "Ei" => (2, 60),
        s if s.starts_with(['e', 'E']) => (10, s[1..].parse().map_err(|_| err())?),
        _ => return Err(err()),
    };
    if !(-30..=30).contains(&exp) && base == 10 {
        return Err(err());
    }
    let mut numerator = mantissa.checked_mul(1000).ok_or_else(err)?;
    let mut denominator: i128 = 10i128
        .checked_pow(fraction_digits.unsigned_abs())
        .ok_or_else(err)?;
    let scale = base.checked_pow(exp.unsigned_abs()).ok_or_else(err)?;
    if exp >= 0 {
        numerator = numerator.checked_mul(scale).ok_or_else(err)?;
    } else {
        denominator = denominator.checked_mul(scale).ok_or_else(err)?;
    }
    let value = numerator / denominator + i128::from(numerator % denominator != 0);
    Ok(Milli(if negative { -value } else { value }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_binary_and_exponent_forms_parse_to_thousandths() {
        let cases = [
            ("1", 1000),
            ("500m", 500),
            ("0.5", 500),
            ("1.5", 1500),
            ("100m", 100),
            ("2k", 2_000_000),
            ("1Ki", 1_024_000),
            ("32Gi", 32 * (1 << 30) * 1000),
            ("1e3", 1_000_000),
            ("1E-3", 1),
            ("1Ei", (1i128 << 60) * 1000),
            ("1n", 1),
            ("-1", -1000),
            ("+2", 2000),
        ];
        for (text, milli) in cases {
            assert_eq!(parse(text), Ok(Milli(milli)), "{text}");
        }
    }

    #[test]
    fn fractions_of_a_thousandth_round_up() {
        assert_eq!(parse("1u"), Ok(Milli(1)));
        assert_eq!(parse("0.0001"), Ok(Milli(1)));
    }

    #[test]
    fn malformed_quantities_are_rejected() {
        for text in ["", "abc", "1.2.3", "1Xi", "1e", ".", "1 Gi"] {
            assert!(parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn whole_units_round_up() {
        assert_eq!(Milli(1).units(), 1);
        assert_eq!(Milli(1000).units(), 1);
        assert_eq!(Milli(1001).units(), 2);
        assert_eq!(Milli(0).units(), 0);
    }
}
