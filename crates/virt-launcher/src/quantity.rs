//! Kubernetes resource quantities as byte counts (memory sizes, disk capacities).

/// A quantity that is not a valid size in bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("{0:?} is not a valid quantity")]
    Invalid(String),
    #[error("{0:?} is too large")]
    TooLarge(String),
}

/// Parses a Kubernetes quantity (`128Mi`, `1G`, `1.5Gi`, `2e9`, `512`) into bytes, rounding a
/// fractional byte count up.
pub fn parse_bytes(text: &str) -> Result<u64, QuantityError> {
    let invalid = || QuantityError::Invalid(text.to_string());
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let number = number.strip_prefix('+').unwrap_or(number);
    if number.is_empty() || number.starts_with('-') {
        return Err(invalid());
    }
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty() && frac.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(invalid());
    }
    // value = digits / 10^frac_len * multiplier, computed exactly in u128.
    let digits: u128 = format!("{whole}{frac}").parse().map_err(|_| invalid())?;
    let mut denominator: u128 = 10u128
        .checked_pow(u32::try_from(frac.len()).map_err(|_| invalid())?)
        .ok_or_else(invalid)?;
    let multiplier: u128 = match suffix {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        "m" => {
            denominator *= 1000;
            1
        }
        exp if exp.starts_with(['e', 'E']) => {
            let e: u32 = exp[1..].parse().map_err(|_| invalid())?;
            10u128.checked_pow(e).ok_or_else(invalid)?
        }
        _ => return Err(invalid()),
    };
    let total = digits
        .checked_mul(multiplier)
        .ok_or_else(|| QuantityError::TooLarge(text.to_string()))?;
    let bytes = total.div_ceil(denominator);
    u64::try_from(bytes).map_err(|_| QuantityError::TooLarge(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_and_decimal_suffixes_are_understood() {
        assert_eq!(parse_bytes("128Mi"), Ok(128 << 20));
        assert_eq!(parse_bytes("1Gi"), Ok(1 << 30));
        assert_eq!(parse_bytes("1024M"), Ok(1_024_000_000));
        assert_eq!(parse_bytes("2k"), Ok(2000));
        assert_eq!(parse_bytes("512"), Ok(512));
        assert_eq!(parse_bytes("2e3"), Ok(2000));
    }

    #[test]
    fn fractions_round_up_to_whole_bytes() {
        assert_eq!(parse_bytes("1.5Gi"), Ok(3 << 29));
        assert_eq!(parse_bytes("1500m"), Ok(2));
        assert_eq!(parse_bytes("0.1"), Ok(1));
    }

    #[test]
    fn garbage_and_negative_values_are_rejected() {
        for bad in ["", "Mi", "-1Gi", "1.2.3", "12Q", "1e"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(matches!(
            parse_bytes("100Ei"),
            Err(QuantityError::TooLarge(_))
        ));
    }
}
