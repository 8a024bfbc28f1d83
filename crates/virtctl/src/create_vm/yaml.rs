//! YAML output as upstream prints manifests (`sigs.k8s.io/yaml`, that is go-yaml v2): block
//! style, two-space indentation, sequences not indented under their key, mapping keys in
//! go-yaml's natural order, strings plain unless they would read as another type (then
//! double-quoted) or contain YAML indicators (then single-quoted), multi-line strings as
//! literal blocks.

use std::cmp::Ordering;

use serde_json::Value;

/// go-yaml's key order: runs of digits compare as numbers, other characters before letters.
pub fn key_order(a: &str, b: &str) -> Ordering {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut digits = false;
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            digits = ar[i].is_ascii_digit();
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            let a_less = if digits { al } else { bl };
            return if a_less {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let number = |r: &[char]| {
            let mut end = i;
            let mut n: i64 = 0;
            while end < r.len() && r[end].is_ascii_digit() {
                n = n
                    .saturating_mul(10)
                    .saturating_add(i64::from(r[end] as u8 - b'0'));
                end += 1;
            }
            (n, end)
        };
        let (mut an, ai) = number(&ar);
        let (mut bn, bi) = number(&br);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

/// Whether go-yaml would read the plain scalar `s` as something other than a string.
fn resolves_to_non_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
        ".NaN", ".NAN", "<<",
    ];
    if SPECIAL.contains(&s) {
        return true;
    }
    let plain = s.replace('_', "");
    let unsigned = plain.trim_start_matches(['+', '-']);
    let is_int = !unsigned.is_empty()
        && (unsigned.chars().all(|c| c.is_ascii_digit())
            || unsigned
                .strip_prefix("0x")
                .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
            || unsigned
                .strip_prefix("0b")
                .is_some_and(|b| !b.is_empty() && b.chars().all(|c| c == '0' || c == '1')));
    if is_int {
        return true;
    }
    let is_float = {
        let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
            Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
            None => (unsigned, None),
        };
        let mantissa_ok = !mantissa.is_empty()
            && mantissa != "."
            && mantissa.matches('.').count() <= 1
            && mantissa.chars().all(|c| c.is_ascii_digit() || c == '.');
        let exponent_ok = exponent.is_none_or(|e| {
            let e = e.trim_start_matches(['+', '-']);
            !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
        });
        mantissa_ok && exponent_ok
    };
    if is_float {
        return true;
    }
    // Base-60 numbers (`1:20`) and timestamps (`2001-12-14`).
    let sexagesimal = unsigned.contains(':')
        && unsigned
            .split(':')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.'));
    let b = s.as_bytes();
    let timestamp = b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5].is_ascii_digit()
        && b[7] == b'-'
        && b[8].is_ascii_digit();
    sexagesimal || timestamp
}

/// Whether `s` may be written as a plain scalar.
fn plain_allowed(s: &str) -> bool {
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-`, `?` and `:` are indicators only when followed by a space (or alone).
        let second = s.chars().nth(1);
        if !matches!(first, '-' | '?' | ':') || second.is_none_or(|c| c == ' ') {
            return false;
        }
    }
    !(s.starts_with(' ')
        || s.ends_with(' ')
        || s.ends_with(':')
        || s.contains(": ")
        || s.contains(" #")
        || s.contains(['\t', '\r'])
        || s.chars().any(|c| c.is_control()))
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A scalar string on one line.
fn inline_string(s: &str) -> String {
    if s.is_empty() || resolves_to_non_string(s) {
        double_quoted(s)
    } else if plain_allowed(s) {
        s.to_owned()
    } else if s.chars().any(|c| c.is_control()) {
        double_quoted(s)
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// A string value: literal block for multi-line text, else an inline scalar. `indent` is the
/// indentation of the block's content.
fn string_value(s: &str, indent: usize) -> String {
    let block_allowed = s.contains('\n')
        && !s.ends_with(' ')
        && !s.contains(" \n")
        && !s.chars().any(|c| c.is_control() && c != '\n');
    if !block_allowed {
        return format!(" {}", inline_string(s));
    }
    let chomp = if !s.ends_with('\n') {
        "-"
    } else if s.ends_with("\n\n") {
        "+"
    } else {
        ""
    };
    let indicator = if s.starts_with([' ', '\n']) { "2" } else { "" };
    let body = s.strip_suffix('\n').unwrap_or(s);
    let pad = " ".repeat(indent);
    let lines: Vec<String> = body
        .split('\n')
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect();
    format!(" |{indicator}{chomp}\n{}", lines.join("\n"))
}

fn scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => " null".into(),
        Value::Bool(b) => format!(" {b}"),
        Value::Number(n) => format!(" {n}"),
        Value::String(s) => string_value(s, indent),
        Value::Array(a) if a.is_empty() => " []".into(),
        Value::Object(o) if o.is_empty() => " {}".into(),
        _ => String::new(),
    }
}

fn is_scalar(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => true,
    }
}

fn sorted(map: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| key_order(a.0, b.0));
    entries
}

/// A mapping whose keys sit at `indent`; the first key is written without its indentation when
/// `first_inline` (it follows a `- `).
fn mapping(
    map: &serde_json::Map<String, Value>,
    indent: usize,
    first_inline: bool,
    out: &mut String,
) {
    for (i, (k, v)) in sorted(map).into_iter().enumerate() {
        if !(i == 0 && first_inline) {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&inline_string(k));
        out.push(':');
        value(v, indent, out);
    }
}

/// The value of a key at `indent`.
fn value(v: &Value, indent: usize, out: &mut String) {
    if is_scalar(v) {
        out.push_str(&scalar(v, indent + 2));
        out.push('\n');
        return;
    }
    out.push('\n');
    match v {
        Value::Object(o) => mapping(o, indent + 2, false, out),
        Value::Array(a) => sequence(a, indent, out),
        _ => {}
    }
}

fn sequence(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Value::Object(o) if !o.is_empty() => {
                out.push(' ');
                mapping(o, indent + 2, true, out);
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                sequence(a, indent + 2, out);
            }
            scalar_item => {
                out.push_str(&scalar(scalar_item, indent + 2));
                out.push('\n');
            }
        }
    }
}

/// The YAML document of `v`.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(o) if !o.is_empty() => mapping(o, 0, false, &mut out),
        Value::Array(a) if !a.is_empty() => sequence(a, 0, &mut out),
        other => {
            out.push_str(scalar(other, 2).trim_start());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_default_vm_reads_like_upstream() {
        let vm = json!({
            "apiVersion": "kubevirt.io/v1",
            "kind": "VirtualMachine",
            "metadata": {"name": "vm-abcde"},
            "spec": {
                "runStrategy": "Always",
                "template": {
                    "metadata": {},
                    "spec": {
                        "terminationGracePeriodSeconds": 180,
                        "domain": {"memory": {"guest": "512Mi"}, "devices": {}, "resources": {}}
                    }
                }
            },
            "status": {}
        });
        assert_eq!(
            to_yaml(&vm),
            "apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: vm-abcde
spec:
  runStrategy: Always
  template:
    metadata: {}
    spec:
      domain:
        devices: {}
        memory:
          guest: 512Mi
        resources: {}
      terminationGracePeriodSeconds: 180
status: {}
"
        );
    }

    #[test]
    fn sequences_sit_under_their_key_and_multiline_strings_are_literal() {
        let v = json!({"volumes": [
            {"name": "cloudinitdisk", "cloudInitNoCloud": {"userData": "#cloud-config\nuser: me"}},
            {"name": "d", "containerDisk": {"image": "quay.io/x:1"}}
        ]});
        assert_eq!(
            to_yaml(&v),
            "volumes:
- cloudInitNoCloud:
    userData: |-
      #cloud-config
      user: me
  name: cloudinitdisk
- containerDisk:
    image: quay.io/x:1
  name: d
"
        );
    }

    #[test]
    fn strings_are_quoted_only_when_needed() {
        assert_eq!(inline_string("Always"), "Always");
        assert_eq!(inline_string("512Mi"), "512Mi");
        assert_eq!(inline_string("1"), "\"1\"");
        assert_eq!(inline_string("1e3"), "\"1e3\"");
        assert_eq!(inline_string("true"), "\"true\"");
        assert_eq!(inline_string(""), "\"\"");
        assert_eq!(inline_string("#cloud-config"), "'#cloud-config'");
        assert_eq!(inline_string("a: b"), "'a: b'");
        assert_eq!(
            inline_string("ssh-ed25519 AAAA me@host"),
            "ssh-ed25519 AAAA me@host"
        );
        assert_eq!(inline_string("-x"), "-x");
        assert_eq!(inline_string("- x"), "'- x'");
    }

    #[test]
    fn keys_sort_naturally() {
        let mut keys = vec!["b", "a10", "a9", "A", "a-b", "ab"];
        keys.sort_by(|a, b| key_order(a, b));
        assert_eq!(keys, ["A", "a-b", "a9", "a10", "ab", "b"]);
    }
}
