//! Flag value parsers with the semantics and error texts of Go's `strconv` and `time`, as the
//! upstream command line (cobra and pflag) reports them: `strconv.ParseInt: parsing "x":
//! invalid syntax`.

use std::collections::BTreeMap;
use std::time::Duration;

/// Go's `%q` for the ASCII strings flags carry.
fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// `strconv.ParseBool`.
pub fn bool_value(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            quote(s)
        )),
    }
}

/// `strconv.ParseInt(s, 0, bits)`: optional sign, `0x`/`0o`/`0b`/leading-zero octal prefixes
/// and `_` separators after a prefix.
fn parse_int(s: &str, bits: u32) -> Result<i64, String> {
    let syntax = || format!("strconv.ParseInt: parsing {}: invalid syntax", quote(s));
    let range = || format!("strconv.ParseInt: parsing {}: value out of range", quote(s));
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest.to_owned(), true)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest.to_owned(), true)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest.to_owned(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_owned(), true)
    } else {
        (10, lower.clone(), false)
    };
    if digits.contains('_') && (!prefixed || digits.starts_with('_') || digits.ends_with('_')) {
        return Err(syntax());
    }
    let digits = digits.replace('_', "");
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(syntax());
    }
    let magnitude = u128::from_str_radix(&digits, radix).map_err(|_| range())?;
    let limit = 1u128 << (bits - 1);
    if (!negative && magnitude >= limit) || (negative && magnitude > limit) {
        return Err(range());
    }
    let value = magnitude as i128;
    Ok((if negative { -value } else { value }) as i64)
}

/// pflag `int` and `int64`.
pub fn int64(s: &str) -> Result<i64, String> {
    parse_int(s, 64)
}

/// pflag `int32`.
pub fn int32(s: &str) -> Result<i32, String> {
    parse_int(s, 32).map(|v| v as i32)
}

/// Go's `time.ParseDuration`: a sequence of decimal numbers with units `ns`, `us`, `µs`, `ms`,
/// `s`, `m`, `h` (`1h30m`, `1.5s`); `0` alone is allowed. Negative durations are refused.
pub fn duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {}", quote(s));
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() || rest.starts_with('-') {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("time: missing unit in duration {}", quote(s))),
            unit => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(unit),
                    quote(s)
                ));
            }
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    Ok(Duration::from_secs_f64(total))
}

/// Go's `Duration.String()` for whole seconds and above: `5m0s`, `1h0m0s`, `30s`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let frac = d.subsec_nanos();
    if secs == 0 && frac == 0 {
        return "0s".into();
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let seconds = if frac == 0 {
        format!("{s}s")
    } else {
        let f = format!("{:.9}", f64::from(frac) / 1e9);
        format!("{s}{}s", f.trim_start_matches('0').trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => seconds,
        (0, m) => format!("{m}m{seconds}"),
        (h, m) => format!("{h}h{m}m{seconds}"),
    }
}

/// One occurrence of a pflag `stringToString` flag: `k=v,k2=v2`.
pub fn string_to_string(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    if s.is_empty() {
        return Ok(out);
    }
    for pair in s.split(',') {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair} must be formatted as key=value"))?;
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

/// One occurrence of a pflag `stringSlice` flag: comma-separated values (CSV, so a value may be
/// double-quoted to contain commas).
pub fn string_slice(s: &str) -> Result<Vec<String>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if at_start && !quoted => quoted = true,
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            ',' if !quoted => {
                out.push(std::mem::take(&mut field));
                at_start = true;
                continue;
            }
            c => field.push(c),
        }
        at_start = false;
    }
    if quoted {
        return Err(format!(
            "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
            s.len()
        ));
    }
    out.push(field);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_accept_go_spellings_and_reject_others_like_strconv() {
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(bool_value(t), Ok(true), "{t}");
        }
        for f in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(bool_value(f), Ok(false), "{f}");
        }
        assert_eq!(
            bool_value("yes").unwrap_err(),
            "strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
    }

    #[test]
    fn ints_follow_parse_int_base_zero() {
        assert_eq!(int64("-1"), Ok(-1));
        assert_eq!(int64("0x10"), Ok(16));
        assert_eq!(int64("010"), Ok(8));
        assert_eq!(int64("0b1_0"), Ok(2));
        assert_eq!(int64("+7"), Ok(7));
        assert_eq!(
            int64("abc").unwrap_err(),
            "strconv.ParseInt: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            int64("1_0").unwrap_err(),
            "strconv.ParseInt: parsing \"1_0\": invalid syntax"
        );
        assert_eq!(
            int32("3000000000").unwrap_err(),
            "strconv.ParseInt: parsing \"3000000000\": value out of range"
        );
        assert_eq!(int32("-2147483648"), Ok(i32::MIN));
    }

    #[test]
    fn durations_parse_and_print_as_go_does() {
        assert_eq!(duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert_eq!(
            duration("5").unwrap_err(),
            "time: missing unit in duration \"5\""
        );
        assert_eq!(
            duration("5x").unwrap_err(),
            "time: unknown unit \"x\" in duration \"5x\""
        );
        assert_eq!(format_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(format_duration(Duration::from_secs(3661)), "1h1m1s");
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn string_maps_and_slices_split_like_pflag() {
        let m = string_to_string("a=1,b=2").unwrap();
        assert_eq!(m["a"], "1");
        assert_eq!(m["b"], "2");
        assert!(string_to_string("a").unwrap_err().contains("key=value"));
        assert_eq!(string_slice("x,y").unwrap(), ["x", "y"]);
        assert_eq!(string_slice("\"a,b\",c").unwrap(), ["a,b", "c"]);
    }
}
