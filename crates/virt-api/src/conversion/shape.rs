//! The template shape of the pre-v1alpha3 APIs: disks name their volume in `volumeName`, and
//! the container-image volume source is `registryDisk`. Since v1alpha3 a disk and its volume
//! share one name, and the source is `containerDisk`.

use apiserver::Cause;
use serde_json::{Map, Value};

/// `spec.template.spec` of a VirtualMachine-shaped object, if present.
fn template_spec(object: &mut Value) -> Option<&mut Map<String, Value>> {
    object
        .pointer_mut("/spec/template/spec")
        .and_then(Value::as_object_mut)
}

fn volume_names(spec: &Map<String, Value>) -> Vec<String> {
    spec.get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("name").and_then(Value::as_str).map(String::from))
        .collect()
}

fn rename_key(obj: &mut Map<String, Value>, from: &str, to: &str) {
    if obj.contains_key(to) {
        return;
    }
    if let Some(v) = obj.remove(from) {
        obj.insert(to.to_string(), v);
    }
}

/// Renames the source `from` of every volume to `to`.
fn rename_volume_sources(spec: &mut Map<String, Value>, from: &str, to: &str) {
    for v in spec
        .get_mut("volumes")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        rename_key(v, from, to);
    }
}

/// The disks of `spec.domain.devices.disks` with their index; entries that are not objects
/// are skipped.
fn disks(spec: &mut Map<String, Value>) -> impl Iterator<Item = (usize, &mut Map<String, Value>)> {
    spec.get_mut("domain")
        .and_then(|d| d.get_mut("devices"))
        .and_then(|d| d.get_mut("disks"))
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, d)| Some((i, d.as_object_mut()?)))
}

/// Old shape → v1: each disk takes the name of the volume its `volumeName` points at, and
/// `registryDisk` volumes become `containerDisk`. A `volumeName` that names no volume is
/// reported as a cause on that disk (the original disk name cannot be kept either way: v1
/// has no field for it).
pub fn to_v1(object: &mut Value) -> Result<(), Vec<Cause>> {
    let Some(spec) = template_spec(object) else {
        return Ok(());
    };
    let volumes = volume_names(spec);
    rename_volume_sources(spec, "registryDisk", "containerDisk");
    let mut causes = Vec::new();
    for (i, disk) in disks(spec) {
        let Some(target) = disk.remove("volumeName") else {
            continue;
        };
        let Some(target) = target.as_str().map(String::from) else {
            continue;
        };
        if volumes.contains(&target) {
            disk.insert("name".into(), Value::String(target));
        } else {
            causes.push(Cause::invalid(
                format!("spec.template.spec.domain.devices.disks[{i}].volumeName"),
                format!(
                    "Invalid value: {target:?}: no volume named {target}; volumes are [{}]",
                    volumes.join(", ")
                ),
            ));
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(causes)
    }
}

/// v1 → old shape: disks with a volume of their name get `volumeName`, `containerDisk`
/// volumes become `registryDisk`.
pub fn from_v1(object: &mut Value) {
    let Some(spec) = template_spec(object) else {
        return;
    };
    let volumes = volume_names(spec);
    rename_volume_sources(spec, "containerDisk", "registryDisk");
    for (_, disk) in disks(spec) {
        let name = disk.get("name").and_then(Value::as_str).map(String::from);
        if let Some(name) = name.filter(|n| volumes.contains(n)) {
            disk.insert("volumeName".into(), Value::String(name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vm(disks: Value, volumes: Value) -> Value {
        json!({"spec": {"template": {"spec": {"domain": {"devices": {"disks": disks}}, "volumes": volumes}}}})
    }

    #[test]
    fn disks_take_their_volume_names_and_registry_disks_become_container_disks() {
        let mut old = vm(
            json!([{"name": "containerdisk", "volumeName": "registryvolume", "disk": {"bus": "virtio"}}]),
            json!([{"name": "registryvolume", "registryDisk": {"image": "img"}}]),
        );
        to_v1(&mut old).unwrap();
        assert_eq!(
            old,
            vm(
                json!([{"name": "registryvolume", "disk": {"bus": "virtio"}}]),
                json!([{"name": "registryvolume", "containerDisk": {"image": "img"}}]),
            )
        );
    }

    #[test]
    fn a_volume_name_typo_is_reported_on_the_disk() {
        let mut old = vm(
            json!([{"name": "disk0", "volumeName": "mypcv"}]),
            json!([{"name": "mypvc", "persistentVolumeClaim": {"claimName": "c"}}]),
        );
        let causes = to_v1(&mut old).unwrap_err();
        assert_eq!(
            causes[0].field,
            "spec.template.spec.domain.devices.disks[0].volumeName"
        );
        assert_eq!(
            causes[0].message,
            "Invalid value: \"mypcv\": no volume named mypcv; volumes are [mypvc]"
        );
    }

    #[test]
    fn v1_objects_read_back_in_the_old_shape() {
        let mut v1 = vm(
            json!([{"name": "root", "disk": {}}, {"name": "cd", "cdrom": {}}]),
            json!([{"name": "root", "containerDisk": {"image": "img"}}]),
        );
        from_v1(&mut v1);
        assert_eq!(
            v1,
            vm(
                json!([{"name": "root", "disk": {}, "volumeName": "root"}, {"name": "cd", "cdrom": {}}]),
                json!([{"name": "root", "registryDisk": {"image": "img"}}]),
            )
        );
        let mut back = v1.clone();
        to_v1(&mut back).unwrap();
        from_v1(&mut back);
        assert_eq!(back, v1);
    }

    #[test]
    fn objects_without_a_template_are_left_alone() {
        let mut misnested = json!({"spec": {"selector": {"template": {"spec": {}}}}});
        let before = misnested.clone();
        to_v1(&mut misnested).unwrap();
        from_v1(&mut misnested);
        assert_eq!(misnested, before);
    }
}
