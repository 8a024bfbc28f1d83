//! kube-rs clients for the in-process components: requests go straight into the API router
//! (no TCP, no TLS) carrying the component's identity. Only code in this process can attach an
//! identity this way; requests from the network always go through token authentication.

use apiserver::UserInfo;
use axum::Router;

/// A kube-rs client that talks to `router` as `user`.
pub fn client(router: Router, user: UserInfo) -> kube::Client {
    let service = tower::ServiceBuilder::new()
        .map_request(move |mut req: http::Request<kube::client::Body>| {
            req.extensions_mut().insert(user.clone());
            req
        })
        .service(router);
    kube::Client::new(service, "default")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use apiserver::server::auth::Authenticator;
    use apiserver::store::sqlite::{SqliteOptions, SqliteStore};
    use apiserver::{Api, Plugins};
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
    use kube::api::{ListParams, PostParams};

    #[tokio::test]
    async fn in_process_clients_act_with_their_component_identity() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db"), SqliteOptions::default()).unwrap();
        let api = Api::new(
            crate::server::registry().unwrap(),
            Arc::new(store),
            Plugins::default(),
        );
        api.bootstrap().await.unwrap();
        // No tokens at all: only the in-process identity can get in.
        let router = apiserver::server::http::router(api, Arc::new(Authenticator::new()));
        let client = client(router.clone(), UserInfo::system("virt-controller"));
        let ns: kube::Api<Namespace> = kube::Api::all(client.clone());
        let names: Vec<_> = ns
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect();
        assert!(names.contains(&"default".to_string()));
        let cms: kube::Api<ConfigMap> = kube::Api::namespaced(client, "default");
        let cm = cms
            .create(
                &PostParams::default(),
                &ConfigMap {
                    metadata: kube::api::ObjectMeta {
                        name: Some("c".into()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(cm.metadata.uid.is_some());
        // The authenticator knows no tokens: the same request from the network is refused.
        let anonymous = tower::ServiceExt::oneshot(
            router,
            http::Request::get("/api/v1/namespaces")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(anonymous.status(), 401);
    }
}
