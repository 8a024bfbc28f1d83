//! `expand`: a VirtualMachine with its instancetype and preference applied, as the server
//! expands it: a stored VM (`--vm`, the `expand-spec` subresource) or one read from a file or
//! standard input (`--file`, `PUT expand-vm-spec` of the namespace). Printed as YAML or JSON.

use std::io::Read;

use http::Method;
use serde::Serialize;
use serde_json::Value;

use super::{CommandError, Ctx};
use crate::cli::ExpandArgs;
use crate::client::Target;

const YAML: &str = "yaml";
const JSON: &str = "json";

/// The checks upstream makes on the arguments before running.
pub fn validate(a: &ExpandArgs) -> Result<(), CommandError> {
    if a.file.is_empty() && a.vm.is_empty() {
        return Err(CommandError::failed(
            "error invalid arguments - VirtualMachine name or file must be provided",
        ));
    }
    if a.output != YAML && a.output != JSON {
        return Err(CommandError::failed(format!(
            "error not supported output format defined: {}",
            a.output
        )));
    }
    Ok(())
}

/// Decodes a VirtualMachine manifest in YAML or JSON.
pub fn decode_vm(data: &str) -> Result<Value, CommandError> {
    let vm: Value = serde_saphyr::from_str(data)
        .map_err(|e| CommandError::failed(format!("error decoding VirtualMachine {e}")))?;
    if !vm.is_object() {
        return Err(CommandError::failed(format!(
            "error decoding VirtualMachine json: cannot unmarshal {} into Go value of type v1.VirtualMachine",
            go_type(&vm)
        )));
    }
    Ok(vm)
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The expanded VM as printed: typed as `kubevirt.io/v1` `VirtualMachine`, then YAML (keys
/// sorted as go-yaml sorts them) or JSON indented by one space.
pub fn render(mut vm: Value, output: &str) -> Result<String, CommandError> {
    if let Some(obj) = vm.as_object_mut() {
        obj.insert("apiVersion".into(), Value::from("kubevirt.io/v1"));
        obj.insert("kind".into(), Value::from("VirtualMachine"));
    }
    if output == JSON {
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        vm.serialize(&mut ser)
            .map_err(|e| CommandError::failed(e.to_string()))?;
        return Ok(String::from_utf8_lossy(&out).into_owned());
    }
    Ok(crate::create_vm::yaml::to_yaml(&vm))
}

/// An I/O error worded as Go's `syscall.Errno`.
fn go_io_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a directory".into(),
        _ => e.to_string(),
    }
}

fn read_manifest(file: &str) -> Result<String, CommandError> {
    if file == "-" {
        let mut data = String::new();
        std::io::stdin()
            .read_to_string(&mut data)
            .map_err(|e| CommandError::failed(format!("error reading from stdin: {e}")))?;
        return Ok(data);
    }
    std::fs::read_to_string(file).map_err(|e| {
        CommandError::failed(format!(
            "error reading file open {file}: {}",
            go_io_error(&e)
        ))
    })
}

pub async fn run(ctx: &Ctx, a: ExpandArgs) -> Result<(), CommandError> {
    validate(&a)?;
    let conn = ctx.connect().await?;
    let ns = &conn.namespace;
    let expanded: Value = if !a.vm.is_empty() {
        let failure = |e: &dyn std::fmt::Display| {
            CommandError::failed(format!(
                "error expanding VirtualMachine - {} in namespace - {ns}: {e}",
                a.vm
            ))
        };
        let raw = conn
            .client
            .get_subresource(ns, "virtualmachines", &a.vm, "expand-spec", "")
            .await
            .map_err(|e| failure(&e))?;
        serde_json::from_slice(&raw).map_err(|e| failure(&e))?
    } else {
        let vm = decode_vm(&read_manifest(&a.file)?)?;
        let name = vm["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let failure = |e: &dyn std::fmt::Display| {
            CommandError::failed(format!(
                "error expanding VirtualMachine - {name} in namespace - {ns}: {e}"
            ))
        };
        let body = serde_json::to_vec(&vm).map_err(|e| failure(&e))?;
        let path = format!("/apis/subresources.kubevirt.io/v1/namespaces/{ns}/expand-vm-spec");
        let (_, raw) = conn
            .client
            .call(
                Method::PUT,
                &path,
                Some(body),
                Target {
                    resource: "expand-vm-spec.subresources.kubevirt.io",
                    name: "",
                },
            )
            .await
            .map_err(|e| failure(&e))?;
        serde_json::from_slice(&raw).map_err(|e| failure(&e))?
    };
    print!("{}", render(expanded, &a.output)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(vm: &str, file: &str, output: &str) -> ExpandArgs {
        ExpandArgs {
            args: vec![],
            file: file.into(),
            output: output.into(),
            vm: vm.into(),
        }
    }

    #[test]
    fn a_name_or_a_file_and_a_known_format_are_required() {
        assert_eq!(
            validate(&args("", "", "yaml")).unwrap_err().to_string(),
            "error invalid arguments - VirtualMachine name or file must be provided"
        );
        assert_eq!(
            validate(&args("vm", "", "xml")).unwrap_err().to_string(),
            "error not supported output format defined: xml"
        );
        assert!(validate(&args("", "-", "json")).is_ok());
    }

    #[test]
    fn output_is_typed_and_formatted_like_go() {
        let vm = serde_json::json!({"metadata": {"name": "v"}, "spec": {"runStrategy": "Always"}});
        let json = render(vm.clone(), JSON).unwrap();
        assert!(json.starts_with("{\n \""), "{json}");
        let back: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["kind"], "VirtualMachine");
        assert_eq!(back["apiVersion"], "kubevirt.io/v1");
        let yaml = render(vm, YAML).unwrap();
        assert!(
            yaml.starts_with(
                "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata:\n  name: v\n"
            ),
            "{yaml}"
        );
    }

    #[test]
    fn manifests_decode_from_yaml_or_json_objects_only() {
        assert_eq!(
            decode_vm("{\"metadata\": {\"name\": \"a\"}}").unwrap()["metadata"]["name"],
            "a"
        );
        assert_eq!(
            decode_vm("metadata:\n  name: b\n").unwrap()["metadata"]["name"],
            "b"
        );
        assert!(decode_vm("- 1\n").is_err());
    }
}
