//! The sources of `--volume-import` (DataVolume specs) and password access credentials.

use serde_json::{Map, Value, json};

use super::err;
use super::params::{self, Spec, flag_err, split_prefixed_name};
use crate::commands::CommandError;

pub(super) fn password_credential(p: &params::Params, src: &str) -> Result<Value, CommandError> {
    const FLAG: &str = "access-cred";
    let method = p.str("method");
    if !method.is_empty() && !method.eq_ignore_ascii_case("ga") {
        return Err(err(flag_err(
            FLAG,
            format!(
                "invalid access credentials password method \"{method}\", supported values are: ga"
            ),
        )));
    }
    if !p.str("user").is_empty() {
        return Err(err(flag_err(
            FLAG,
            "user cannot be specified with selected access credential type and method",
        )));
    }
    Ok(json!({"userPassword": {
        "source": {"secret": {"secretName": src}},
        "propagationMethod": {"qemuGuestAgent": {}},
    }}))
}

/// Go's wording of common file errors.
pub(super) fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// The DataVolume spec and boot order of one `--volume-import` value.
pub(super) fn import_source(kind: &str, value: &str) -> Result<(Value, Option<u32>), CommandError> {
    const FLAG: &str = "volume-import";
    let need = |cond: bool, message: &str| {
        if cond {
            Ok(())
        } else {
            Err(err(flag_err(FLAG, message)))
        }
    };
    let optional = |p: &params::Params, key: &str, field: &str, out: &mut Map<String, Value>| {
        let v = p.str(key);
        if !v.is_empty() {
            out.insert(field.into(), json!(v));
        }
    };
    let namespaced = |p: &params::Params, what: &str| -> Result<(String, String), CommandError> {
        let src = p.str("src");
        need(!src.is_empty(), "src must be specified")?;
        let (namespace, name) = split_prefixed_name(&src)
            .map_err(|e| err(flag_err(FLAG, format!("src invalid: {e}"))))?;
        if namespace.is_empty() {
            return Err(err(flag_err(
                FLAG,
                format!("namespace of {what} \"{name}\" must be specified"),
            )));
        }
        Ok((namespace, name))
    };
    let parse = |spec: Spec| params::map(FLAG, value, spec).map_err(err);
    match kind {
        "blank" => {
            let p = parse(params::BLANK)?;
            Ok((json!({"source": {"blank": {}}}), p.uint("bootorder")))
        }
        "gcs" => {
            let p = parse(params::GCS)?;
            need(
                !p.str("url").is_empty(),
                "url is required with gcs volume source",
            )?;
            let mut s = Map::new();
            s.insert("url".into(), json!(p.str("url")));
            optional(&p, "secretref", "secretRef", &mut s);
            Ok((json!({"source": {"gcs": s}}), p.uint("bootorder")))
        }
        "http" => {
            let p = parse(params::HTTP)?;
            need(
                !p.str("url").is_empty(),
                "url is required with http volume source",
            )?;
            let mut s = Map::new();
            s.insert("url".into(), json!(p.str("url")));
            optional(&p, "secretref", "secretRef", &mut s);
            optional(&p, "certconfigmap", "certConfigMap", &mut s);
            for (key, field) in [
                ("extraheaders", "extraHeaders"),
                ("secretextraheaders", "secretExtraHeaders"),
            ] {
                let list = p.list(key);
                if !list.is_empty() {
                    s.insert(field.into(), json!(list));
                }
            }
            Ok((json!({"source": {"http": s}}), p.uint("bootorder")))
        }
        "imageio" => {
            let p = parse(params::IMAGEIO)?;
            need(
                !p.str("url").is_empty() && !p.str("diskid").is_empty(),
                "url and diskid are both required with imageio volume source",
            )?;
            let mut s = Map::new();
            s.insert("url".into(), json!(p.str("url")));
            s.insert("diskId".into(), json!(p.str("diskid")));
            optional(&p, "secretref", "secretRef", &mut s);
            optional(&p, "certconfigmap", "certConfigMap", &mut s);
            Ok((json!({"source": {"imageio": s}}), p.uint("bootorder")))
        }
        "pvc" | "snapshot" => {
            let p = parse(params::DATA_VOLUME_SOURCE)?;
            let (namespace, name) = namespaced(&p, kind)?;
            Ok((
                json!({"source": {kind: {"name": name, "namespace": namespace}}}),
                p.uint("bootorder"),
            ))
        }
        "registry" => {
            let p = parse(params::REGISTRY)?;
            let pull = p.str("pullmethod");
            need(
                pull.is_empty() || pull == "pod" || pull == "node",
                "pullmethod must be set to pod or node",
            )?;
            let (url, stream) = (p.str("url"), p.str("imagestream"));
            need(
                url.is_empty() != stream.is_empty(),
                "exactly one of url or imagestream must be defined",
            )?;
            let mut s = Map::new();
            optional(&p, "pullmethod", "pullMethod", &mut s);
            optional(&p, "certconfigmap", "certConfigMap", &mut s);
            optional(&p, "imagestream", "imageStream", &mut s);
            optional(&p, "url", "url", &mut s);
            optional(&p, "secretref", "secretRef", &mut s);
            Ok((json!({"source": {"registry": s}}), p.uint("bootorder")))
        }
        "s3" => {
            let p = parse(params::S3)?;
            need(
                !p.str("url").is_empty(),
                "url is required with s3 volume source",
            )?;
            let mut s = Map::new();
            s.insert("url".into(), json!(p.str("url")));
            optional(&p, "certconfigmap", "certConfigMap", &mut s);
            optional(&p, "secretref", "secretRef", &mut s);
            Ok((json!({"source": {"s3": s}}), p.uint("bootorder")))
        }
        "vddk" => {
            let p = parse(params::VDDK)?;
            for (key, label) in [
                ("url", "url"),
                ("uuid", "uuid"),
                ("thumbprint", "thumbprint"),
                ("secretref", "secretref"),
                ("backingfile", "backingfile"),
            ] {
                need(
                    !p.str(key).is_empty(),
                    &format!("{label} is required with vddk volume source"),
                )?;
            }
            let mut s = Map::new();
            s.insert("url".into(), json!(p.str("url")));
            s.insert("uuid".into(), json!(p.str("uuid")));
            s.insert("thumbprint".into(), json!(p.str("thumbprint")));
            s.insert("secretRef".into(), json!(p.str("secretref")));
            optional(&p, "initimageurl", "initImageURL", &mut s);
            s.insert("backingFile".into(), json!(p.str("backingfile")));
            Ok((json!({"source": {"vddk": s}}), p.uint("bootorder")))
        }
        "ds" => {
            let p = parse(params::DATA_VOLUME_SOURCE)?;
            let src = p.str("src");
            need(!src.is_empty(), "src must be specified")?;
            let (namespace, name) = split_prefixed_name(&src)
                .map_err(|e| err(flag_err(FLAG, format!("src invalid: {e}"))))?;
            let mut r = json!({"kind": "DataSource", "name": name});
            if !namespace.is_empty() {
                r["namespace"] = json!(namespace);
            }
            Ok((json!({"sourceRef": r}), p.uint("bootorder")))
        }
        other => Err(err(flag_err(
            FLAG,
            format!("invalid volume import type \"{other}\", see help for supported values"),
        ))),
    }
}
