//! Reading the server's `/metrics` (Prometheus text format): requests by verb, resource and
//! user, and what changed between two scrapes.

use std::collections::BTreeMap;

use serde::Serialize;

/// One series of `apiserver_request_by_user_total`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RequestKey {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub user: String,
}

impl RequestKey {
    /// True for verbs that change objects.
    pub fn is_write(&self) -> bool {
        matches!(
            self.verb.as_str(),
            "POST" | "PUT" | "PATCH" | "APPLY" | "DELETE" | "DELETECOLLECTION"
        )
    }

    /// `resource` or `resource/subresource`.
    pub fn resource_path(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }

    /// The component behind the user: `virt-controller` for
    /// `system:serviceaccount:kubevirt:virt-controller`, the user name otherwise.
    pub fn component(&self) -> &str {
        self.user
            .strip_prefix("system:serviceaccount:kubevirt:")
            .unwrap_or(&self.user)
    }
}

/// Request counts by series.
pub type Counts = BTreeMap<RequestKey, u64>;

/// A sample line: metric name, labels and value. `None` for comments and malformed lines.
pub fn parse_sample(line: &str) -> Option<(&str, BTreeMap<String, String>, f64)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (name, rest) = match line.find('{') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => {
            let (name, value) = line.split_once(' ')?;
            return Some((name, BTreeMap::new(), value.trim().parse().ok()?));
        }
    };
    let mut labels = BTreeMap::new();
    let mut chars = rest.char_indices().peekable();
    let mut end = None;
    loop {
        while chars.peek().is_some_and(|(_, c)| *c == ',' || *c == ' ') {
            chars.next();
        }
        match chars.peek() {
            Some((i, '}')) => {
                end = Some(*i);
                break;
            }
            None => break,
            _ => {}
        }
        let mut key = String::new();
        for (_, c) in chars.by_ref() {
            if c == '=' {
                break;
            }
            key.push(c);
        }
        if chars.next().map(|(_, c)| c) != Some('"') {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()?.1 {
                '"' => break,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                c => value.push(c),
            }
        }
        labels.insert(key, value);
    }
    let value = rest[end? + 1..].trim().parse().ok()?;
    Some((name, labels, value))
}

/// The `apiserver_request_by_user_total` series of a scrape.
pub fn requests_by_user(text: &str) -> Counts {
    let mut counts = Counts::new();
    for (name, labels, value) in text.lines().filter_map(parse_sample) {
        if name != "apiserver_request_by_user_total" {
            continue;
        }
        let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
        let key = RequestKey {
            verb: get("verb"),
            group: get("group"),
            resource: get("resource"),
            subresource: get("subresource"),
            user: get("user"),
        };
        *counts.entry(key).or_default() += value as u64;
    }
    counts
}

/// What `after` counted beyond `before` (series that did not grow are left out).
pub fn difference(before: &Counts, after: &Counts) -> Counts {
    after
        .iter()
        .filter_map(|(k, &n)| {
            let grown = n.saturating_sub(before.get(k).copied().unwrap_or(0));
            (grown > 0).then(|| (k.clone(), grown))
        })
        .collect()
}

/// Writes answered with an error, from `apiserver_request_total`: `"<code> <verb> <resource>"`
/// (with `/<subresource>`) → count. Conflicts (409) are the optimistic-concurrency retries.
pub fn failed_writes(text: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (name, labels, value) in text.lines().filter_map(parse_sample) {
        if name != "apiserver_request_total" {
            continue;
        }
        let get = |k: &str| labels.get(k).map(String::as_str).unwrap_or("");
        let code: u16 = get("code").parse().unwrap_or(0);
        let write = matches!(
            get("verb"),
            "POST" | "PUT" | "PATCH" | "APPLY" | "DELETE" | "DELETECOLLECTION"
        );
        if code < 400 || !write {
            continue;
        }
        let resource = match get("subresource") {
            "" => get("resource").to_string(),
            sub => format!("{}/{sub}", get("resource")),
        };
        *out.entry(format!("{code} {} {resource}", get("verb")))
            .or_default() += value as u64;
    }
    out
}

/// What `after` counted beyond `before`, for keyed counters.
pub fn grown(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, &n)| {
            let g = n.saturating_sub(before.get(k).copied().unwrap_or(0));
            (g > 0).then(|| (k.clone(), g))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &str = "# HELP apiserver_request_by_user_total x\n\
# TYPE apiserver_request_by_user_total counter\n\
apiserver_request_by_user_total{verb=\"PATCH\",group=\"\",version=\"v1\",resource=\"pods\",subresource=\"status\",user=\"system:serviceaccount:kubevirt:virt-handler\"} 7\n\
apiserver_request_by_user_total{verb=\"PUT\",group=\"kubevirt.io\",version=\"v1\",resource=\"virtualmachineinstances\",subresource=\"\",user=\"system:serviceaccount:kubevirt:virt-controller\"} 3\n\
apiserver_request_by_user_total{verb=\"GET\",group=\"\",version=\"\",resource=\"\",subresource=\"\",user=\"a \\\"quoted\\\" user\"} 2\n\
apiserver_request_total{verb=\"PUT\",code=\"200\"} 99\n\
apiserver_request_total{verb=\"PUT\",resource=\"pods\",subresource=\"status\",code=\"409\"} 4\n\
apiserver_request_total{verb=\"GET\",resource=\"pods\",code=\"404\"} 5\n\
process_cpu_seconds_total 12.5\n";

    #[test]
    fn samples_parse_with_escaped_label_values() {
        let (name, labels, value) =
            parse_sample("m{a=\"x\\\"y\",b=\"1\\\\2\",c=\"l\\n\"} 4.5").unwrap();
        assert_eq!(name, "m");
        assert_eq!(labels["a"], "x\"y");
        assert_eq!(labels["b"], "1\\2");
        assert_eq!(labels["c"], "l\n");
        assert_eq!(value, 4.5);
        assert_eq!(
            parse_sample("process_cpu_seconds_total 12.5").map(|s| s.2),
            Some(12.5)
        );
        assert!(parse_sample("# TYPE m counter").is_none());
        assert!(parse_sample("m{a=\"unterminated} 1").is_none());
    }

    #[test]
    fn by_user_series_are_read_and_other_families_ignored() {
        let counts = requests_by_user(SCRAPE);
        assert_eq!(counts.len(), 3);
        let patch = counts
            .iter()
            .find(|(k, _)| k.verb == "PATCH")
            .map(|(k, n)| (k.clone(), *n))
            .unwrap();
        assert_eq!(patch.1, 7);
        assert_eq!(patch.0.component(), "virt-handler");
        assert_eq!(patch.0.resource_path(), "pods/status");
        assert!(counts.keys().any(|k| k.user == "a \"quoted\" user"));
        let writes: u64 = counts
            .iter()
            .filter(|(k, _)| k.is_write())
            .map(|(_, n)| n)
            .sum();
        assert_eq!(writes, 10);
    }

    #[test]
    fn differences_keep_only_what_grew() {
        let before = requests_by_user(SCRAPE);
        let after_text = SCRAPE.replace("} 7\n", "} 12\n");
        let diff = difference(&before, &requests_by_user(&after_text));
        assert_eq!(diff.len(), 1);
        assert_eq!(diff.values().copied().collect::<Vec<_>>(), vec![5]);
        assert!(difference(&before, &before).is_empty());
    }

    #[test]
    fn failed_writes_are_keyed_by_code_verb_and_resource_and_reads_ignored() {
        let failed = failed_writes(SCRAPE);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed.get("409 PUT pods/status"), Some(&4));
        let later = failed_writes(&SCRAPE.replace("} 4\n", "} 9\n"));
        assert_eq!(grown(&failed, &later).get("409 PUT pods/status"), Some(&5));
        assert!(grown(&failed, &failed).is_empty());
    }
}
