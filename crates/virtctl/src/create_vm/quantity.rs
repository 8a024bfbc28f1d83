//! Kubernetes resource quantities (`512Mi`, `1.5G`, `100m`), parsed and written back in
//! canonical form as `resource.Quantity` marshals them (`1024Mi` → `1Gi`, `1.5G` → `1500M`).

/// The regular expression upstream names when a quantity does not parse.
pub const QUANTITY_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    BinarySi,
    DecimalSi,
    DecimalExponent,
}

/// A parsed quantity: its value in nano-units and the notation it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

const NANO: i128 = 1_000_000_000;

impl Quantity {
    /// Parses a quantity; values finer than nano-units are rounded up, as upstream does.
    pub fn parse(s: &str) -> Result<Quantity, String> {
        let err = || QUANTITY_ERROR.to_owned();
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
            return Err(err());
        }
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        let digits = format!("{int_part}{frac_part}");
        let mantissa: i128 = digits.parse().map_err(|_| err())?;
        let scale = i32::try_from(frac_part.len()).map_err(|_| err())?;
        // value = mantissa * base^exp10 (decimal) or * 1024^p (binary).
        let (format, exp10, binary_power) = match suffix {
            "" => (Format::DecimalSi, 0, 0),
            "n" => (Format::DecimalSi, -9, 0),
            "u" => (Format::DecimalSi, -6, 0),
            "m" => (Format::DecimalSi, -3, 0),
            "k" => (Format::DecimalSi, 3, 0),
            "M" => (Format::DecimalSi, 6, 0),
            "G" => (Format::DecimalSi, 9, 0),
            "T" => (Format::DecimalSi, 12, 0),
            "P" => (Format::DecimalSi, 15, 0),
            "E" => (Format::DecimalSi, 18, 0),
            "Ki" => (Format::BinarySi, 0, 1),
            "Mi" => (Format::BinarySi, 0, 2),
            "Gi" => (Format::BinarySi, 0, 3),
            "Ti" => (Format::BinarySi, 0, 4),
            "Pi" => (Format::BinarySi, 0, 5),
            "Ei" => (Format::BinarySi, 0, 6),
            s if s.starts_with(['e', 'E']) => {
                let e: i32 = s[1..].parse().map_err(|_| err())?;
                (Format::DecimalExponent, e, 0)
            }
            _ => return Err(err()),
        };
        // nanos = mantissa * 1024^p * 10^(exp10 + 9 - scale), rounded up.
        let mut value = mantissa
            .checked_mul(1024i128.checked_pow(binary_power).ok_or_else(err)?)
            .ok_or_else(err)?;
        let shift = exp10 + 9 - scale;
        if shift >= 0 {
            value = value
                .checked_mul(10i128.checked_pow(shift.unsigned_abs()).ok_or_else(err)?)
                .ok_or_else(err)?;
        } else {
            let div = 10i128.checked_pow(shift.unsigned_abs()).ok_or_else(err)?;
            value = (value + div - 1) / div;
        }
        Ok(Quantity {
            nanos: if negative { -value } else { value },
            format,
        })
    }

    /// The canonical spelling.
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".into();
        }
        let sign = if self.nanos < 0 { "-" } else { "" };
        let abs = self.nanos.abs();
        let whole = abs % NANO == 0;
        if self.format == Format::BinarySi && abs >= 1024 * NANO && whole {
            let mut v = abs / NANO;
            let mut power = 0;
            while v % 1024 == 0 && power < 6 {
                v /= 1024;
                power += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
            return format!("{sign}{v}{suffix}");
        }
        // Decimal: the largest exponent, a multiple of 3, that leaves an integer mantissa.
        let mut exp = -9i32;
        let mut mantissa = abs;
        while mantissa % 1000 == 0 && exp < 18 {
            mantissa /= 1000;
            exp += 3;
        }
        let suffix = if self.format == Format::DecimalExponent {
            if exp == 0 {
                String::new()
            } else {
                format!("e{exp}")
            }
        } else {
            match exp {
                -9 => "n",
                -6 => "u",
                -3 => "m",
                0 => "",
                3 => "k",
                6 => "M",
                9 => "G",
                12 => "T",
                15 => "P",
                _ => "E",
            }
            .to_owned()
        };
        format!("{sign}{mantissa}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        Quantity::parse(s).unwrap().canonical()
    }

    #[test]
    fn quantities_canonicalize_as_kubernetes_does() {
        assert_eq!(canon("512Mi"), "512Mi");
        assert_eq!(canon("1024Mi"), "1Gi");
        assert_eq!(canon("1.5Gi"), "1536Mi");
        assert_eq!(canon("1G"), "1G");
        assert_eq!(canon("1.5G"), "1500M");
        assert_eq!(canon("1000M"), "1G");
        assert_eq!(canon("0.5"), "500m");
        assert_eq!(canon("100"), "100");
        assert_eq!(canon("512"), "512");
        assert_eq!(canon("1e3"), "1e3");
        assert_eq!(canon("0"), "0");
        assert_eq!(canon("64M"), "64M");
    }

    #[test]
    fn garbage_is_refused_with_the_upstream_message() {
        for bad in ["", "abc", "1Zi", "1..2", "Mi"] {
            assert_eq!(Quantity::parse(bad).unwrap_err(), QUANTITY_ERROR, "{bad}");
        }
    }
}
