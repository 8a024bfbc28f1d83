//! Exact resource quantities with apimachinery's parsing, arithmetic and canonical printing.
//!
//! A [`Quantity`] holds its value in nano-units, so every quantity Kubernetes accepts
//! (`100m`, `1.5Gi`, `2e3`, `700000001n`) is exact. Parsing rounds finer precision up to the
//! next nano-unit, as apimachinery does. The printed form is apimachinery's canonical one: a
//! binary quantity (`Ki`…`Ei`) stays binary while it is a whole number of bytes of at least
//! 1024, everything else is printed with the largest decimal suffix that keeps an integer
//! mantissa (`1500m`, `50M`, `1303943013`).

use std::cmp::Ordering;
use std::fmt;

/// A quantity string that is not in Kubernetes' quantity grammar.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {0:?}"
)]
pub struct QuantityError(pub String);

/// How a quantity prints: the family of its suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Powers of 1024: `Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`.
    BinarySi,
    /// Powers of 1000: `n`, `u`, `m`, `k`, `M`, `G`, `T`, `P`, `E`.
    DecimalSi,
    /// Powers of ten written as `e<n>`.
    DecimalExponent,
}

const NANO: i128 = 1_000_000_000;

/// An exact quantity: a value in nano-units and the format it prints in.
#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Quantity {
    /// Zero, printed in decimal.
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: Format::DecimalSi,
    };

    /// `value` whole units in the given format.
    pub fn from_units(value: i64, format: Format) -> Quantity {
        Quantity {
            nanos: i128::from(value) * NANO,
            format,
        }
    }

    /// `value` bytes printed with binary suffixes (`Mi(240)` is `240Mi`).
    pub fn mebibytes(value: i64) -> Quantity {
        Quantity::from_units(value * 1024 * 1024, Format::BinarySi)
    }

    /// `value` thousandths of a unit, printed in decimal (`100m`).
    pub fn millis(value: i64) -> Quantity {
        Quantity {
            nanos: i128::from(value) * 1_000_000,
            format: Format::DecimalSi,
        }
    }

    /// Parses a quantity string (`128Mi`, `0.5`, `100m`, `1e3`, `2G`).
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        let err = || QuantityError(s.to_string());
        let (negative, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(split);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(err());
        }
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        // Digits beyond what i128 can hold carry no meaning for resources.
        if int_part.len() + frac_part.len() > 30 {
            return Err(err());
        }
        let mut mantissa: i128 = 0;
        for c in int_part.chars().chain(frac_part.chars()) {
            mantissa = mantissa * 10 + i128::from(c as u8 - b'0');
        }
        let frac_digits = frac_part.len() as i32;
        let (format, base, exponent) = match suffix {
            "" => (Format::DecimalSi, 10, 0),
            "n" => (Format::DecimalSi, 10, -9),
            "u" => (Format::DecimalSi, 10, -6),
            "m" => (Format::DecimalSi, 10, -3),
            "k" => (Format::DecimalSi, 10, 3),
            "M" => (Format::DecimalSi, 10, 6),
            "G" => (Format::DecimalSi, 10, 9),
            "T" => (Format::DecimalSi, 10, 12),
            "P" => (Format::DecimalSi, 10, 15),
            "E" => (Format::DecimalSi, 10, 18),
            "Ki" => (Format::BinarySi, 2, 10),
            "Mi" => (Format::BinarySi, 2, 20),
            "Gi" => (Format::BinarySi, 2, 30),
            "Ti" => (Format::BinarySi, 2, 40),
            "Pi" => (Format::BinarySi, 2, 50),
            "Ei" => (Format::BinarySi, 2, 60),
            s if s.starts_with(['e', 'E']) => {
                let e: i32 = s[1..].parse().map_err(|_| err())?;
                if !(-30..=30).contains(&e) {
                    return Err(err());
                }
                (Format::DecimalExponent, 10, e)
            }
            _ => return Err(err()),
        };
        // value = mantissa * base^exponent / 10^frac_digits, in nano-units (×10^9).
        let (mut num, mut den) = (mantissa, 10i128.pow(frac_digits as u32));
        if base == 2 {
            num = num.checked_mul(1i128 << exponent).ok_or_else(err)?;
            num = num.checked_mul(NANO).ok_or_else(err)?;
        } else {
            let e = exponent + 9;
            if e >= 0 {
                num = num.checked_mul(10i128.pow(e as u32)).ok_or_else(err)?;
            } else {
                den = den.checked_mul(10i128.pow((-e) as u32)).ok_or_else(err)?;
            }
        }
        // Finer than a nano-unit rounds up (away from zero), as apimachinery does.
        let mut nanos = num / den + i128::from(num % den != 0);
        if negative {
            nanos = -nanos;
        }
        Ok(Quantity { nanos, format })
    }

    /// The quantity in the same format.
    pub fn with_format(self, format: Format) -> Quantity {
        Quantity { format, ..self }
    }

    pub fn format(self) -> Format {
        self.format
    }

    pub fn is_zero(self) -> bool {
        self.nanos == 0
    }

    /// The value rounded up to a whole number (apimachinery's `Value()`).
    pub fn value(self) -> i64 {
        ceil_div(self.nanos, NANO) as i64
    }

    /// The value in thousands, rounded up (apimachinery's `ScaledValue(Kilo)`).
    pub fn kilo_value(self) -> i64 {
        ceil_div(self.nanos, NANO * 1000) as i64
    }

    /// The value in thousandths, rounded up (apimachinery's `MilliValue()`).
    pub fn milli_value(self) -> i64 {
        ceil_div(self.nanos, 1_000_000) as i64
    }

    /// The value in nano-units.
    pub fn nanos(self) -> i128 {
        self.nanos
    }

    /// A k8s-openapi quantity holding the canonical string.
    pub fn to_k8s(self) -> k8s_openapi::apimachinery::pkg::api::resource::Quantity {
        k8s_openapi::apimachinery::pkg::api::resource::Quantity(self.to_string())
    }
}

/// The sum, in the format of the left operand, or of the right one when the left is zero (as
/// apimachinery's `Add` does).
impl std::ops::Add for Quantity {
    type Output = Quantity;

    fn add(self, other: Quantity) -> Quantity {
        let format = if self.nanos == 0 {
            other.format
        } else {
            self.format
        };
        Quantity {
            nanos: self.nanos + other.nanos,
            format,
        }
    }
}

/// The difference, with the same format rule as the sum.
impl std::ops::Sub for Quantity {
    type Output = Quantity;

    fn sub(self, other: Quantity) -> Quantity {
        let format = if self.nanos == 0 {
            other.format
        } else {
            self.format
        };
        Quantity {
            nanos: self.nanos - other.nanos,
            format,
        }
    }
}

/// The product with a whole number.
impl std::ops::Mul<i64> for Quantity {
    type Output = Quantity;

    fn mul(self, factor: i64) -> Quantity {
        Quantity {
            nanos: self.nanos * i128::from(factor),
            format: self.format,
        }
    }
}

fn ceil_div(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b != 0 && a > 0 { q + 1 } else { q }
}

fn decimal_suffix(exponent: i32) -> Option<&'static str> {
    Some(match exponent {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return None,
    })
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let mut format = self.format;
        if format == Format::BinarySi && (self.nanos.abs() < 1024 * NANO || self.nanos % NANO != 0)
        {
            format = Format::DecimalSi;
        }
        if format == Format::BinarySi {
            let mut amount = self.nanos / NANO;
            let mut exponent = 0;
            while amount % 1024 == 0 && exponent < 6 {
                amount /= 1024;
                exponent += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exponent];
            return write!(f, "{amount}{suffix}");
        }
        // Strip factors of ten, then lower the exponent to a multiple of three.
        let mut amount = self.nanos;
        let mut exponent: i32 = -9;
        while amount % 10 == 0 {
            amount /= 10;
            exponent += 1;
        }
        match exponent.rem_euclid(3) {
            1 => {
                amount *= 10;
                exponent -= 1;
            }
            2 => {
                amount *= 100;
                exponent -= 2;
            }
            _ => {}
        }
        match (format, decimal_suffix(exponent)) {
            (Format::DecimalExponent, _) if exponent == 0 => write!(f, "{amount}"),
            (Format::DecimalExponent, _) => write!(f, "{amount}e{exponent}"),
            (_, Some(suffix)) => write!(f, "{amount}{suffix}"),
            (_, None) => write!(f, "{amount}e{exponent}"),
        }
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        Quantity::parse(s).unwrap().to_string()
    }

    #[test]
    fn canonical_forms_match_apimachinery() {
        let cases = [
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("0.1", "100m"),
            ("1.5", "1500m"),
            ("50M", "50M"),
            ("50000k", "50M"),
            ("1000", "1k"),
            ("2e3", "2e3"),
            ("100m", "100m"),
            ("0", "0"),
            ("512", "512"),
            ("1Ki", "1Ki"),
            ("0.5Ki", "512"),
            ("1.5Ki", "1536"),
            ("-1Gi", "-1Gi"),
        ];
        for (input, want) in cases {
            assert_eq!(canon(input), want, "{input}");
        }
    }

    #[test]
    fn precision_finer_than_nano_rounds_up() {
        assert_eq!(canon("700.0000000000001m"), "700000001n");
        assert_eq!(canon("0.0000000001"), "1n");
    }

    #[test]
    fn sums_keep_the_format_of_the_left_operand() {
        let gi = Quantity::parse("1Gi").unwrap();
        let overhead = Quantity::parse("290Mi").unwrap();
        assert_eq!((gi + overhead).to_string(), "1314Mi");
        let g = Quantity::parse("1G").unwrap();
        assert_eq!((g + Quantity::mebibytes(1)).to_string(), "1001048576");
        assert_eq!(
            (gi + Quantity::from_units(1, Format::DecimalSi)).to_string(),
            "1073741825"
        );
        assert_eq!((Quantity::ZERO + Quantity::mebibytes(2)).to_string(), "2Mi");
    }

    #[test]
    fn values_round_up() {
        let q = Quantity::parse("1500m").unwrap();
        assert_eq!(q.value(), 2);
        assert_eq!(q.milli_value(), 1500);
        assert_eq!(Quantity::parse("1Gi").unwrap().kilo_value(), 1_073_742);
    }

    #[test]
    fn malformed_quantities_are_rejected() {
        for bad in ["", "abc", "1.2.3", "1Xi", "Gi", "1e", "."] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn comparison_ignores_the_format() {
        assert_eq!(
            Quantity::parse("1Ki").unwrap(),
            Quantity::parse("1024").unwrap()
        );
        assert!(Quantity::parse("1Gi").unwrap() > Quantity::parse("1G").unwrap());
    }
}
