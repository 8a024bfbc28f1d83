//! Request accounting, served at `GET /metrics` in the Prometheus text format.
//!
//! Every authenticated request the HTTP layer serves is counted once it has its response, with
//! the labels kube-apiserver gives it:
//!
//! - `apiserver_request_total{verb,dry_run,group,version,resource,subresource,scope,component,code}`;
//! - `apiserver_request_duration_seconds{verb,dry_run,group,version,resource,subresource,scope,component}`,
//!   a histogram with kube-apiserver's buckets. A watch is timed until its stream is
//!   established, not until it ends;
//! - `apiserver_request_by_user_total{verb,group,version,resource,subresource,user}`, an
//!   addition of this server: the same requests by authenticated user name, so the writes of
//!   each in-process component (`system:serviceaccount:kubevirt:<component>`) can be told apart;
//! - `process_cpu_seconds_total` and `process_resident_memory_bytes` of this process.
//!
//! Verbs are kube-apiserver's metric verbs: `GET`, `LIST`, `WATCH` for reads, the HTTP method
//! for writes (`POST`, `PUT`, `PATCH`, `DELETE`), `APPLY` for server-side apply patches and
//! `DELETECOLLECTION` for collection deletes. Requests outside resource paths (discovery,
//! OpenAPI, `/version`, `/metrics`) are counted with empty group, resource and scope.
//!
//! Counting is always on; the registry is process-wide ([`global`]) like Prometheus' default
//! registry, so every router in the process reports into the same counters.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};

/// Upper bounds of the request duration buckets, in seconds (kube-apiserver's).
pub const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// The content type of the `/metrics` response.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What a request was about, as kube-apiserver labels it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestLabels {
    /// `GET`, `LIST`, `WATCH`, `POST`, `PUT`, `PATCH`, `APPLY`, `DELETE`, `DELETECOLLECTION`
    /// (other methods are reported as they come).
    pub verb: String,
    pub dry_run: bool,
    /// Empty for the core group and for non-resource requests.
    pub group: String,
    pub version: String,
    /// The plural; empty for non-resource requests.
    pub resource: String,
    pub subresource: String,
    /// `resource` (one named object), `namespace` (a collection in a namespace), `cluster`
    /// (a cluster-scoped collection or all namespaces), empty for non-resource requests.
    pub scope: &'static str,
}

impl RequestLabels {
    /// Labels of a request from its method, path, query and headers.
    pub fn classify(method: &Method, path: &str, query: Option<&str>, headers: &HeaderMap) -> Self {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (group, version, rest) = match segs.as_slice() {
            ["api", version, rest @ ..] if !rest.is_empty() => ("", *version, rest),
            ["apis", group, version, rest @ ..] if !rest.is_empty() => (*group, *version, rest),
            _ => {
                return RequestLabels {
                    verb: method.as_str().to_ascii_uppercase(),
                    ..Default::default()
                };
            }
        };
        let (namespaced, resource, name, subresource) = match rest {
            ["namespaces", _, plural, tail @ ..] if !matches!(*plural, "status" | "finalize") => {
                (true, *plural, tail.first().copied(), tail.get(1).copied())
            }
            [plural, tail @ ..] => (false, *plural, tail.first().copied(), tail.get(1).copied()),
            [] => (false, "", None, None),
        };
        let flag = |key: &str| {
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.into_owned())
        };
        let watching = flag("watch").is_some_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
        let applying = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/apply-patch"));
        let verb = match (method, name.is_some()) {
            (&Method::GET | &Method::HEAD, _) if watching => "WATCH",
            (&Method::GET | &Method::HEAD, true) => "GET",
            (&Method::GET | &Method::HEAD, false) => "LIST",
            (&Method::DELETE, false) => "DELETECOLLECTION",
            (&Method::PATCH, _) if applying => "APPLY",
            (m, _) => m.as_str(),
        };
        RequestLabels {
            verb: verb.to_ascii_uppercase(),
            dry_run: flag("dryRun").is_some_and(|v| !v.is_empty()),
            group: group.to_string(),
            version: version.to_string(),
            resource: resource.to_string(),
            subresource: subresource.unwrap_or("").to_string(),
            scope: match (name.is_some(), namespaced) {
                (true, _) => "resource",
                (false, true) => "namespace",
                (false, false) => "cluster",
            },
        }
    }

    /// True for verbs that change objects.
    pub fn is_write(&self) -> bool {
        matches!(
            self.verb.as_str(),
            "POST" | "PUT" | "PATCH" | "APPLY" | "DELETE" | "DELETECOLLECTION"
        )
    }
}

#[derive(Clone, Debug, Default)]
struct Histogram {
    /// Count per bucket of [`DURATION_BUCKETS`] (not cumulative), then the overflow.
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; DURATION_BUCKETS.len() + 1];
        }
        let slot = DURATION_BUCKETS
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(DURATION_BUCKETS.len());
        self.buckets[slot] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Default)]
struct State {
    requests: HashMap<(RequestLabels, u16, String), u64>,
    durations: HashMap<RequestLabels, Histogram>,
}

/// Counters and histograms of served requests. Thread-safe; recording is one short lock.
#[derive(Default)]
pub struct Metrics {
    state: Mutex<State>,
}

static GLOBAL: LazyLock<Metrics> = LazyLock::new(Metrics::default);

/// The process-wide registry the HTTP layer records into.
pub fn global() -> &'static Metrics {
    &GLOBAL
}

impl Metrics {
    /// Counts one finished request of `user` that got `code` after `elapsed`.
    pub fn record(&self, labels: &RequestLabels, user: &str, code: u16, elapsed: Duration) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *state
            .requests
            .entry((labels.clone(), code, user.to_string()))
            .or_default() += 1;
        state
            .durations
            .entry(labels.clone())
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// Requests counted so far with these labels, over all users and codes.
    pub fn count(&self, labels: &RequestLabels) -> u64 {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .requests
            .iter()
            .filter(|((l, _, _), _)| l == labels)
            .map(|(_, n)| n)
            .sum()
    }

    /// Everything in the Prometheus text exposition format (version 0.0.4), sorted by labels.
    pub fn render(&self) -> String {
        let (by_code, by_user, durations) = {
            let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let mut by_code: BTreeMap<(RequestLabels, u16), u64> = BTreeMap::new();
            let mut by_user: BTreeMap<(RequestLabels, String), u64> = BTreeMap::new();
            for ((labels, code, user), n) in &state.requests {
                *by_code.entry((labels.clone(), *code)).or_default() += n;
                let mut key = labels.clone();
                key.dry_run = false;
                *by_user.entry((key, user.clone())).or_default() += n;
            }
            let durations: BTreeMap<RequestLabels, Histogram> = state
                .durations
                .iter()
                .map(|(l, h)| (l.clone(), h.clone()))
                .collect();
            (by_code, by_user, durations)
        };
        let mut out = String::new();
        out.push_str(
            "# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.\n\
             # TYPE apiserver_request_total counter\n",
        );
        for ((labels, code), n) in &by_code {
            let _ = writeln!(
                out,
                "apiserver_request_total{{{},code=\"{code}\"}} {n}",
                standard_labels(labels)
            );
        }
        out.push_str(
            "# HELP apiserver_request_by_user_total Counter of apiserver requests broken out for each verb, group, version, resource, subresource and authenticated user.\n\
             # TYPE apiserver_request_by_user_total counter\n",
        );
        for ((labels, user), n) in &by_user {
            let _ = writeln!(
                out,
                "apiserver_request_by_user_total{{verb=\"{}\",group=\"{}\",version=\"{}\",resource=\"{}\",subresource=\"{}\",user=\"{}\"}} {n}",
                escape(&labels.verb),
                escape(&labels.group),
                escape(&labels.version),
                escape(&labels.resource),
                escape(&labels.subresource),
                escape(user)
            );
        }
        out.push_str(
            "# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.\n\
             # TYPE apiserver_request_duration_seconds histogram\n",
        );
        for (labels, h) in &durations {
            let common = standard_labels(labels);
            let mut cumulative = 0;
            for (le, n) in DURATION_BUCKETS.iter().zip(&h.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "apiserver_request_duration_seconds_bucket{{{common},le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_bucket{{{common},le=\"+Inf\"}} {}\n\
                 apiserver_request_duration_seconds_sum{{{common}}} {}\n\
                 apiserver_request_duration_seconds_count{{{common}}} {}",
                h.count, h.sum, h.count
            );
        }
        out.push_str(&process_metrics());
        out
    }
}

fn standard_labels(l: &RequestLabels) -> String {
    format!(
        "verb=\"{}\",dry_run=\"{}\",group=\"{}\",version=\"{}\",resource=\"{}\",subresource=\"{}\",scope=\"{}\",component=\"apiserver\"",
        escape(&l.verb),
        if l.dry_run { "All" } else { "" },
        escape(&l.group),
        escape(&l.version),
        escape(&l.resource),
        escape(&l.subresource),
        l.scope
    )
}

/// A label value escaped for the text format: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Linux reports process times in clock ticks of `USER_HZ`, which is 100 on every
/// architecture Linux supports for user space.
const USER_HZ: f64 = 100.0;

/// User plus system CPU seconds from `/proc/<pid>/stat` text.
pub fn cpu_seconds_from_stat(stat: &str) -> Option<f64> {
    // The command name may contain spaces and parentheses; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ... utime is field 14 of the line, i.e. index 11 here.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

fn process_metrics() -> String {
    let mut out = String::new();
    if let Some(cpu) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| cpu_seconds_from_stat(&s))
    {
        let _ = writeln!(
            out,
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n\
             # TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {cpu}"
        );
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss_kib = status.lines().find_map(|l| {
        let v = l.strip_prefix("VmRSS:")?;
        v.split_whitespace().next()?.parse::<u64>().ok()
    });
    if let Some(kib) = rss_kib {
        let _ = writeln!(
            out,
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
             # TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {}",
            kib * 1024
        );
    }
    out
}

/// A request being served; [`InFlight::finish`] records it in [`global`].
#[derive(Debug)]
pub struct InFlight {
    labels: RequestLabels,
    user: String,
    started: Instant,
}

impl InFlight {
    /// Starts timing `req` on behalf of `user`.
    pub fn start(req: &Request<Body>, user: &str) -> Self {
        InFlight {
            labels: RequestLabels::classify(
                req.method(),
                req.uri().path(),
                req.uri().query(),
                req.headers(),
            ),
            user: user.to_string(),
            started: Instant::now(),
        }
    }

    /// Records the request with the status of its response.
    pub fn finish(self, status: StatusCode) {
        global().record(
            &self.labels,
            &self.user,
            status.as_u16(),
            self.started.elapsed(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(method: Method, uri: &str) -> RequestLabels {
        let (path, query) = uri
            .split_once('?')
            .map_or((uri, None), |(p, q)| (p, Some(q)));
        RequestLabels::classify(&method, path, query, &HeaderMap::new())
    }

    #[test]
    fn reads_are_get_list_or_watch_by_name_and_watch_flag() {
        let get = classify(Method::GET, "/api/v1/namespaces/default/pods/p1");
        assert_eq!(
            (get.verb.as_str(), get.scope, get.resource.as_str()),
            ("GET", "resource", "pods")
        );
        let list = classify(
            Method::GET,
            "/apis/kubevirt.io/v1/virtualmachines?limit=500",
        );
        assert_eq!((list.verb.as_str(), list.scope), ("LIST", "cluster"));
        assert_eq!(list.group, "kubevirt.io");
        let watch = classify(
            Method::GET,
            "/apis/kubevirt.io/v1/namespaces/ns/virtualmachineinstances?watch=true&resourceVersion=5",
        );
        assert_eq!((watch.verb.as_str(), watch.scope), ("WATCH", "namespace"));
        assert_eq!(classify(Method::GET, "/api/v1/pods?watch=0").verb, "LIST");
        assert_eq!(classify(Method::GET, "/api/v1/pods?watch=1").verb, "WATCH");
    }

    #[test]
    fn writes_keep_their_method_and_name_the_subresource() {
        let status = classify(Method::PATCH, "/api/v1/namespaces/d/pods/p/status");
        assert_eq!(
            (status.verb.as_str(), status.subresource.as_str()),
            ("PATCH", "status")
        );
        assert!(status.is_write());
        assert_eq!(
            classify(Method::POST, "/api/v1/namespaces/d/pods").verb,
            "POST"
        );
        assert_eq!(
            classify(
                Method::PUT,
                "/apis/kubevirt.io/v1/namespaces/d/virtualmachineinstances/v"
            )
            .verb,
            "PUT"
        );
        let collection = classify(Method::DELETE, "/api/v1/namespaces/d/configmaps");
        assert_eq!(collection.verb, "DELETECOLLECTION");
        let node = classify(Method::PATCH, "/api/v1/nodes/n1/status");
        assert_eq!(
            (
                node.scope,
                node.resource.as_str(),
                node.subresource.as_str()
            ),
            ("resource", "nodes", "status")
        );
        let finalize = classify(Method::PUT, "/api/v1/namespaces/ns1/finalize");
        assert_eq!(
            (finalize.resource.as_str(), finalize.subresource.as_str()),
            ("namespaces", "finalize")
        );
        assert!(!classify(Method::GET, "/api/v1/pods").is_write());
    }

    #[test]
    fn server_side_apply_and_dry_run_are_told_apart() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/apply-patch+yaml".parse().unwrap(),
        );
        let apply = RequestLabels::classify(
            &Method::PATCH,
            "/api/v1/namespaces/d/configmaps/c",
            Some("fieldManager=me&dryRun=All"),
            &headers,
        );
        assert_eq!(apply.verb, "APPLY");
        assert!(apply.dry_run);
    }

    #[test]
    fn non_resource_paths_have_no_resource_labels() {
        for path in [
            "/apis",
            "/api/v1",
            "/apis/kubevirt.io/v1",
            "/version",
            "/metrics",
        ] {
            let l = classify(Method::GET, path);
            assert_eq!(l.verb, "GET", "{path}");
            assert_eq!((l.resource.as_str(), l.scope), ("", ""), "{path}");
        }
    }

    #[test]
    fn counters_sum_by_code_and_by_user() {
        let m = Metrics::default();
        let patch = classify(Method::PATCH, "/api/v1/namespaces/d/pods/p/status");
        let ms = Duration::from_millis(3);
        m.record(
            &patch,
            "system:serviceaccount:kubevirt:virt-handler",
            200,
            ms,
        );
        m.record(
            &patch,
            "system:serviceaccount:kubevirt:virt-handler",
            409,
            ms,
        );
        m.record(&patch, "admin", 200, ms);
        assert_eq!(m.count(&patch), 3);
        let text = m.render();
        let common = "verb=\"PATCH\",dry_run=\"\",group=\"\",version=\"v1\",resource=\"pods\",subresource=\"status\",scope=\"resource\",component=\"apiserver\"";
        assert!(text.contains(&format!(
            "apiserver_request_total{{{common},code=\"200\"}} 2\n"
        )));
        assert!(text.contains(&format!(
            "apiserver_request_total{{{common},code=\"409\"}} 1\n"
        )));
        assert!(text.contains(
            "apiserver_request_by_user_total{verb=\"PATCH\",group=\"\",version=\"v1\",resource=\"pods\",subresource=\"status\",user=\"system:serviceaccount:kubevirt:virt-handler\"} 2\n"
        ));
        assert!(text.contains("user=\"admin\"} 1\n"));
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_the_count() {
        let m = Metrics::default();
        let get = classify(Method::GET, "/api/v1/namespaces/d/pods/p");
        m.record(&get, "u", 200, Duration::from_millis(1));
        m.record(&get, "u", 200, Duration::from_millis(30));
        m.record(&get, "u", 200, Duration::from_secs(100));
        let text = m.render();
        let bucket = |le: &str| {
            text.lines()
                .find(|l| {
                    l.starts_with("apiserver_request_duration_seconds_bucket")
                        && l.contains(&format!("le=\"{le}\""))
                })
                .and_then(|l| l.rsplit(' ').next())
                .map(String::from)
        };
        assert_eq!(bucket("0.005").as_deref(), Some("1"));
        assert_eq!(bucket("0.025").as_deref(), Some("1"));
        assert_eq!(bucket("0.05").as_deref(), Some("2"));
        assert_eq!(bucket("60").as_deref(), Some("2"));
        assert_eq!(bucket("+Inf").as_deref(), Some("3"));
        assert!(text.contains("apiserver_request_duration_seconds_count{"));
        assert!(text.contains("} 3\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn cpu_seconds_add_user_and_system_ticks_after_the_command_name() {
        let stat =
            "4242 (kube virtd) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 1 2 3";
        assert_eq!(cpu_seconds_from_stat(stat), Some(3.0));
        assert_eq!(cpu_seconds_from_stat("garbage"), None);
    }
}
