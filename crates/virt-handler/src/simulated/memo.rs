//! What earlier passes found with nothing to do, so a pass only looks closely at objects that
//! changed.
//!
//! A pass is a pure function of the observed objects, the domains and the clock; for most
//! objects nothing happens most of the time. The memo records, per object UID, the inputs for
//! which the VMI status or pod status computation found nothing to write and nothing scheduled
//! by time; as long as those inputs are unchanged (same resourceVersions, same domain, same pod
//! IP) the computation is skipped, since it would find nothing again. Pod requests are cached
//! by pod UID for the scheduler (a pod's requests do not change after creation).

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;

use super::domain::Domain;
use crate::scheduler::Requests;

/// The inputs of a VMI status computation that found the status up to date.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct VmiInputs {
    pub resource_version: String,
    pub domain: Domain,
    pub pod_ip: Option<String>,
}

/// The inputs of a kubelet decision that found nothing to do and no timer to wait for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PodInputs {
    pub resource_version: String,
    pub vmi_resource_version: Option<String>,
    pub domain: Option<Domain>,
}

/// Results of earlier passes, by object UID. Keep one per driver and pass it to every
/// [`super::plan::plan_with`]; an empty memo only costs a full pass.
#[derive(Clone, Debug, Default)]
pub struct Memo {
    pub(crate) quiet_vmis: HashMap<String, VmiInputs>,
    pub(crate) quiet_pods: HashMap<String, PodInputs>,
    requests: HashMap<String, Requests>,
}

impl Memo {
    pub fn new() -> Memo {
        Memo::default()
    }

    /// The scheduler requests of `pod`, computed once per pod UID.
    pub(crate) fn requests(&mut self, pod: &Pod) -> Requests {
        let Some(uid) = pod.metadata.uid.as_deref() else {
            return Requests::of_pod(pod);
        };
        if let Some(r) = self.requests.get(uid) {
            return r.clone();
        }
        let r = Requests::of_pod(pod);
        self.requests.insert(uid.to_string(), r.clone());
        r
    }

    /// Drops what is known about objects that are gone.
    pub(crate) fn retain(
        &mut self,
        vmi_exists: impl Fn(&str) -> bool,
        pod_exists: impl Fn(&str) -> bool,
    ) {
        self.quiet_vmis.retain(|uid, _| vmi_exists(uid));
        self.quiet_pods.retain(|uid, _| pod_exists(uid));
        self.requests.retain(|uid, _| pod_exists(uid));
    }

    /// Forgets every result, so the next pass looks at everything again.
    pub fn clear(&mut self) {
        self.quiet_vmis.clear();
        self.quiet_pods.clear();
    }
}
