//! Shared setup of the admission integration tests: a real in-process API (SQLite store,
//! built-in resources, the kubevirt.io CRDs, the OfflineVirtualMachine view and the v1alpha2
//! version) with KubeVirt's admission plug-ins, and object builders.

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use anyhow::Result;
use apiserver::registry::{Registry, ResourceDef};
use apiserver::server::{PatchType, Sub, WriteOptions};
use apiserver::store::sqlite::{SqliteOptions, SqliteStore};
use apiserver::{Api, ApiError, Outcome, Plugins, UserInfo};
use serde_json::{Value, json};
use tempfile::TempDir;
use virt_api::admission::{ClusterConfig, plugins};

pub const NS: &str = "default";

pub struct Env {
    pub api: Api,
    _dir: TempDir,
}

/// Built once: deriving the CRD schemas is the slow part of a test.
pub fn registry() -> Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            let mut reg = Registry::with_builtins();
            for crd in api::crds() {
                let value = serde_json::to_value(&crd).expect("CRDs encode");
                reg.register(ResourceDef::from_crd(&value).expect("valid CRD"))
                    .expect("distinct CRDs");
            }
            virt_api::conversion::register(&mut reg);
            reg
        })
        .clone()
}

pub async fn env() -> Result<Env> {
    let dir = tempfile::tempdir()?;
    let reg = registry();
    let store = SqliteStore::open(&dir.path().join("store.db"), SqliteOptions::default())?;
    let plugins = Plugins {
        admission: plugins(ClusterConfig::default()),
        groups: vec![],
    };
    let api = Api::new(reg, Arc::new(store), plugins);
    api.bootstrap().await?;
    Ok(Env { api, _dir: dir })
}

pub fn alice() -> UserInfo {
    UserInfo::new("alice", &["system:authenticated"])
}

pub fn controller() -> UserInfo {
    UserInfo::system("virt-controller")
}

impl Env {
    pub async fn create(
        &self,
        version: &str,
        plural: &str,
        obj: Value,
        user: &UserInfo,
    ) -> Result<Outcome, ApiError> {
        self.create_with(version, plural, obj, user, &WriteOptions::default())
            .await
    }

    pub async fn create_with(
        &self,
        version: &str,
        plural: &str,
        obj: Value,
        user: &UserInfo,
        opts: &WriteOptions,
    ) -> Result<Outcome, ApiError> {
        let scope = self.api.scope("kubevirt.io", version, plural, Some(NS))?;
        self.api.create(&scope, obj, opts, user, Some("test")).await
    }

    pub async fn get(&self, version: &str, plural: &str, name: &str) -> Result<Value, ApiError> {
        let scope = self.api.scope("kubevirt.io", version, plural, Some(NS))?;
        self.api.get(&scope, name).await
    }

    pub async fn merge(
        &self,
        version: &str,
        plural: &str,
        name: &str,
        sub: Sub,
        patch: Value,
        user: &UserInfo,
    ) -> Result<Outcome, ApiError> {
        let scope = self.api.scope("kubevirt.io", version, plural, Some(NS))?;
        let body = serde_json::to_vec(&patch).expect("JSON");
        self.api
            .patch(
                &scope,
                name,
                sub,
                PatchType::Merge,
                &body,
                &WriteOptions::default(),
                user,
                Some("test"),
            )
            .await
    }
}

pub fn vmi(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "metadata": {"name": name}, "spec": spec})
}

pub fn vm(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name}, "spec": spec})
}

pub fn alpine_spec() -> Value {
    json!({
        "domain": {"devices": {"disks": [{"name": "containerdisk", "disk": {"bus": "virtio"}}]},
                   "resources": {"requests": {"memory": "128Mi"}}},
        "volumes": [{"name": "containerdisk", "containerDisk": {"image": "quay.io/kubevirt/alpine-container-disk-demo:v1.4.0"}}],
    })
}

pub fn causes(e: &ApiError) -> Vec<(String, String)> {
    match e {
        ApiError::Invalid { causes, .. } => causes
            .iter()
            .map(|c| (c.field.clone(), c.message.clone()))
            .collect(),
        other => vec![(String::new(), format!("not an Invalid error: {other}"))],
    }
}
