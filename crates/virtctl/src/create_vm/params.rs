//! Flags made of parameters (`--volume-import=type:ds,src:ns/ds,size:50Gi`), read as
//! upstream's `create/params` package reads them, with the same error texts.

use std::collections::BTreeMap;

use super::quantity::Quantity;

/// The type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Uint,
    Quantity,
    StrList,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::Uint => "uint",
            Kind::Quantity => "resource.Quantity",
            Kind::StrList => "[]string",
        }
    }
}

/// A list of parameters.
type Group = &'static [(&'static str, Kind)];

/// The parameters a flag accepts, in upstream's order: groups read one after the other.
pub type Spec = &'static [Group];

/// The parameters every `--volume-import` source but `pvc`, `snapshot` and `ds` ends with (its
/// embedded base in upstream).
const IMPORT_BASE: Group = &[
    ("size", Kind::Quantity),
    ("type", Kind::Str),
    ("name", Kind::Str),
    ("bootorder", Kind::Uint),
];

pub const VOLUME_SOURCE: Spec = &[&[
    ("name", Kind::Str),
    ("src", Kind::Str),
    ("bootorder", Kind::Uint),
]];
pub const SYSPREP: Spec = &[&[("src", Kind::Str), ("type", Kind::Str)]];
pub const ACCESS_CREDENTIAL: Spec = &[&[
    ("type", Kind::Str),
    ("src", Kind::Str),
    ("method", Kind::Str),
    ("user", Kind::Str),
]];
pub const DATA_VOLUME_SOURCE: Spec = &[&[
    ("name", Kind::Str),
    ("src", Kind::Str),
    ("size", Kind::Quantity),
    ("type", Kind::Str),
    ("bootorder", Kind::Uint),
]];
pub const BLANK: Spec = &[IMPORT_BASE];
pub const GCS: Spec = &[&[("secretref", Kind::Str), ("url", Kind::Str)], IMPORT_BASE];
pub const HTTP: Spec = &[
    &[
        ("certconfigmap", Kind::Str),
        ("extraheaders", Kind::StrList),
        ("secretextraheaders", Kind::StrList),
        ("secretref", Kind::Str),
        ("url", Kind::Str),
    ],
    IMPORT_BASE,
];
pub const IMAGEIO: Spec = &[
    &[
        ("certconfigmap", Kind::Str),
        ("diskid", Kind::Str),
        ("secretref", Kind::Str),
        ("url", Kind::Str),
    ],
    IMPORT_BASE,
];
pub const REGISTRY: Spec = &[
    &[
        ("certconfigmap", Kind::Str),
        ("imagestream", Kind::Str),
        ("pullmethod", Kind::Str),
        ("secretref", Kind::Str),
        ("url", Kind::Str),
    ],
    IMPORT_BASE,
];
pub const S3: Spec = &[
    &[
        ("certconfigmap", Kind::Str),
        ("secretref", Kind::Str),
        ("url", Kind::Str),
    ],
    IMPORT_BASE,
];
pub const VDDK: Spec = &[
    &[
        ("backingfile", Kind::Str),
        ("initimageurl", Kind::Str),
        ("secretref", Kind::Str),
        ("thumbprint", Kind::Str),
        ("url", Kind::Str),
        ("uuid", Kind::Str),
    ],
    IMPORT_BASE,
];

/// Every parameter of `spec`, in order.
fn all(spec: Spec) -> impl Iterator<Item = &'static (&'static str, Kind)> {
    spec.iter().flat_map(|group| group.iter())
}

/// `name:type,...` as the help lists it.
pub fn supported(spec: Spec) -> String {
    all(spec)
        .map(|(name, kind)| format!("{name}:{}", kind.name()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Upstream's `FlagErr`.
pub fn flag_err(flag: &str, message: impl std::fmt::Display) -> String {
    format!("failed to parse \"--{flag}\" flag: {message}")
}

/// One parsed parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Str(String),
    Uint(u32),
    Quantity(String),
    StrList(Vec<String>),
}

/// The parsed parameters of one flag value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(BTreeMap<String, Param>);

impl Params {
    /// A string parameter, empty when absent.
    pub fn str(&self, name: &str) -> String {
        match self.0.get(name) {
            Some(Param::Str(s)) => s.clone(),
            _ => String::new(),
        }
    }

    pub fn uint(&self, name: &str) -> Option<u32> {
        match self.0.get(name) {
            Some(Param::Uint(u)) => Some(*u),
            _ => None,
        }
    }

    pub fn list(&self, name: &str) -> Vec<String> {
        match self.0.get(name) {
            Some(Param::StrList(l)) => l.clone(),
            _ => Vec::new(),
        }
    }
}

/// Splits `k:v,k2:v2` (a later key wins).
fn split(params: &str) -> Result<BTreeMap<String, String>, String> {
    if params.is_empty() {
        return Err("params may not be empty".into());
    }
    let mut out = BTreeMap::new();
    for param in params.split(',') {
        let (k, v) = param
            .split_once(':')
            .ok_or_else(|| format!("params need to have at least one colon: {param}"))?;
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

/// Reads the parameters of one value of `--flag` against `spec`.
pub fn map(flag: &str, params: &str, spec: Spec) -> Result<Params, String> {
    let mut raw = split(params).map_err(|e| flag_err(flag, e))?;
    let mut out = BTreeMap::new();
    for (name, kind) in all(spec) {
        let Some(value) = raw.remove(*name) else {
            continue;
        };
        let parsed = match kind {
            Kind::Str => Param::Str(value),
            Kind::Uint => Param::Uint(value.parse::<u32>().map_err(|_| {
                let why = if !value.is_empty() && value.chars().all(|c| c.is_ascii_digit()) {
                    "value out of range"
                } else {
                    "invalid syntax"
                };
                flag_err(
                    flag,
                    format!("failed to parse param \"{name}\": strconv.ParseUint: parsing {value:?}: {why}"),
                )
            })?),
            Kind::Quantity => Param::Quantity(
                Quantity::parse(&value)
                    .map_err(|e| flag_err(flag, format!("failed to parse param \"{name}\": {e}")))?
                    .canonical(),
            ),
            Kind::StrList => Param::StrList(value.split(';').map(str::to_owned).collect()),
        };
        out.insert((*name).to_owned(), parsed);
    }
    if !raw.is_empty() {
        let unknown: Vec<String> = raw.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        return Err(flag_err(
            flag,
            format!("unknown param(s): {}", unknown.join(",")),
        ));
    }
    Ok(Params(out))
}

/// One parameter of a value without checking the others (upstream's `GetParamByName`).
pub fn get(name: &str, params: &str) -> Result<String, String> {
    split(params)?
        .remove(name)
        .ok_or_else(|| format!("{name} must be specified"))
}

/// `prefix/name` or `name`.
pub fn split_prefixed_name(value: &str) -> Result<(String, String), String> {
    let parts: Vec<&str> = value.split('/').collect();
    let (prefix, name) = match parts.as_slice() {
        [name] => ("", *name),
        [prefix, name] => (*prefix, *name),
        _ => {
            return Err(format!(
                "invalid count {} of slashes in prefix/name",
                parts.len() - 1
            ));
        }
    };
    if name.is_empty() {
        return Err("name cannot be empty".into());
    }
    Ok((prefix.to_owned(), name.to_owned()))
}

/// Kubernetes' `IsDNS1123Label` errors, joined by `,`.
pub fn dns1123_label_errors(value: &str) -> Option<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_owned());
    }
    let bytes = value.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let valid = !bytes.is_empty()
        && alnum(&bytes[0])
        && alnum(&bytes[bytes.len() - 1])
        && bytes.iter().all(|b| alnum(b) || *b == b'-');
    if !valid {
        errs.push("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_owned());
    }
    (!errs.is_empty()).then(|| errs.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_lists_names_and_types() {
        assert_eq!(
            supported(VOLUME_SOURCE),
            "name:string,src:string,bootorder:uint"
        );
        assert_eq!(
            supported(DATA_VOLUME_SOURCE),
            "name:string,src:string,size:resource.Quantity,type:string,bootorder:uint"
        );
        assert!(supported(HTTP).contains("extraheaders:[]string"));
        assert_eq!(
            supported(GCS),
            "secretref:string,url:string,size:resource.Quantity,type:string,name:string,bootorder:uint"
        );
    }

    #[test]
    fn params_are_typed_and_unknown_ones_refused() {
        let p = map("volume-import", "type:blank,size:1024Mi,bootorder:2", BLANK).unwrap();
        assert_eq!(p.str("type"), "blank");
        assert_eq!(p.uint("bootorder"), Some(2));
        assert_eq!(p.0["size"], Param::Quantity("1Gi".into()));
        assert_eq!(
            map("volume-pvc", "src:x,foo:bar", VOLUME_SOURCE).unwrap_err(),
            "failed to parse \"--volume-pvc\" flag: unknown param(s): foo:bar"
        );
        assert_eq!(
            map("volume-pvc", "", VOLUME_SOURCE).unwrap_err(),
            "failed to parse \"--volume-pvc\" flag: params may not be empty"
        );
        assert_eq!(
            map("volume-pvc", "src", VOLUME_SOURCE).unwrap_err(),
            "failed to parse \"--volume-pvc\" flag: params need to have at least one colon: src"
        );
        assert_eq!(
            map("volume-pvc", "src:x,bootorder:z", VOLUME_SOURCE).unwrap_err(),
            "failed to parse \"--volume-pvc\" flag: failed to parse param \"bootorder\": strconv.ParseUint: parsing \"z\": invalid syntax"
        );
        assert_eq!(
            map("h", "extraheaders:a;b", HTTP)
                .unwrap()
                .list("extraheaders"),
            ["a", "b"]
        );
    }

    #[test]
    fn prefixed_names_and_labels_are_checked() {
        assert_eq!(
            split_prefixed_name("ns/x").unwrap(),
            ("ns".into(), "x".into())
        );
        assert_eq!(
            split_prefixed_name("x").unwrap(),
            (String::new(), "x".into())
        );
        assert_eq!(
            split_prefixed_name("a/b/c").unwrap_err(),
            "invalid count 2 of slashes in prefix/name"
        );
        assert_eq!(
            split_prefixed_name("ns/").unwrap_err(),
            "name cannot be empty"
        );
        assert!(dns1123_label_errors("ok-name1").is_none());
        assert!(
            dns1123_label_errors("Bad_Name")
                .unwrap()
                .starts_with("a lowercase RFC 1123 label")
        );
        assert_eq!(get("type", "type:ds,src:x").unwrap(), "ds");
        assert_eq!(
            get("size", "type:ds").unwrap_err(),
            "size must be specified"
        );
    }
}
