//! Leader election with a `coordination.k8s.io/v1` Lease, with client-go's semantics, so that
//! several kubevirtd processes sharing one store never run the controllers at the same time.
//!
//! A candidate takes the lease when it does not exist, is released (no holder), or has not
//! changed for a whole lease duration as measured on the candidate's own clock (the holder's
//! timestamps are never compared with local time, so clock skew does not matter). Every write
//! is guarded by the lease's resourceVersion, so two candidates cannot both win the same round.
//!
//! The leader renews every retry period; if it cannot renew for the renew deadline, or sees
//! another holder, it stops its work at once. With the renew deadline shorter than the lease
//! duration, a leader that lost contact has stopped before anyone else may take over.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use tokio::time::Instant;

/// Errors of leader election.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeaderError {
    /// A guarded write lost a race with another candidate.
    #[error("the lease was changed concurrently")]
    Conflict,
    /// The API request failed.
    #[error("lease request failed: {0}")]
    Api(String),
    /// Leadership was lost; the work was cancelled.
    #[error("leadership of lease {0} was lost")]
    Lost(String),
}

/// Lease timings (client-go's defaults for controllers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTiming {
    /// How long a lease that does not change stays with its holder.
    pub lease_duration: Duration,
    /// How long the leader keeps working without a successful renewal.
    pub renew_deadline: Duration,
    /// Pause between attempts to acquire or renew.
    pub retry_period: Duration,
}

impl Default for LeaseTiming {
    fn default() -> Self {
        LeaseTiming {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// The fields of a Lease that election reads and writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseRecord {
    /// `None` (or empty) when released.
    pub holder: Option<String>,
    pub lease_duration_seconds: i32,
    pub acquire_time: Option<Timestamp>,
    pub renew_time: Option<Timestamp>,
    pub transitions: i32,
}

impl LeaseRecord {
    fn holder(&self) -> Option<&str> {
        self.holder.as_deref().filter(|h| !h.is_empty())
    }
}

/// A lease as read: its record and resourceVersion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedLease {
    pub record: LeaseRecord,
    pub resource_version: String,
}

/// Access to one Lease object.
#[async_trait]
pub trait LeaseClient: Send + Sync {
    /// The lease, or `None` if it does not exist.
    async fn get(&self) -> Result<Option<ObservedLease>, LeaderError>;
    /// Creates the lease; [`LeaderError::Conflict`] if it exists.
    async fn create(&self, record: &LeaseRecord) -> Result<ObservedLease, LeaderError>;
    /// Replaces the lease if it is still at `resource_version`; [`LeaderError::Conflict`] if not.
    async fn update(
        &self,
        record: &LeaseRecord,
        resource_version: &str,
    ) -> Result<ObservedLease, LeaderError>;
}

/// What a candidate does after reading the lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    Create(LeaseRecord),
    Update(LeaseRecord),
    /// Someone else holds a live lease.
    HeldBy(String),
}

/// The candidate's decision. `observed` is the current record, `unchanged_since` the local
/// time at which the candidate first saw it in this form, `now` the local time and `wall` the
/// time written into the record.
pub fn decide(
    observed: Option<&LeaseRecord>,
    unchanged_since: Instant,
    identity: &str,
    now: Instant,
    wall: Timestamp,
    timing: &LeaseTiming,
) -> Attempt {
    let duration_seconds = i32::try_from(timing.lease_duration.as_secs()).unwrap_or(i32::MAX);
    let Some(record) = observed else {
        return Attempt::Create(LeaseRecord {
            holder: Some(identity.into()),
            lease_duration_seconds: duration_seconds,
            acquire_time: Some(wall),
            renew_time: Some(wall),
            transitions: 0,
        });
    };
    match record.holder() {
        Some(holder) if holder == identity => Attempt::Update(LeaseRecord {
            holder: Some(identity.into()),
            lease_duration_seconds: duration_seconds,
            acquire_time: record.acquire_time.or(Some(wall)),
            renew_time: Some(wall),
            transitions: record.transitions,
        }),
        Some(holder) if now < unchanged_since + held_for(record, timing) => {
            Attempt::HeldBy(holder.into())
        }
        _ => Attempt::Update(LeaseRecord {
            holder: Some(identity.into()),
            lease_duration_seconds: duration_seconds,
            acquire_time: Some(wall),
            renew_time: Some(wall),
            transitions: record.transitions + i32::from(record.holder().is_some()),
        }),
    }
}

/// How long the holder keeps the lease: the duration it wrote, else ours.
fn held_for(record: &LeaseRecord, timing: &LeaseTiming) -> Duration {
    u64::try_from(record.lease_duration_seconds)
        .ok()
        .filter(|s| *s > 0)
        .map_or(timing.lease_duration, Duration::from_secs)
}

/// Runs work only while holding a lease.
pub struct LeaderElector {
    client: Arc<dyn LeaseClient>,
    lease_name: String,
    identity: String,
    timing: LeaseTiming,
    observed: Option<(LeaseRecord, Instant)>,
}

impl LeaderElector {
    /// An elector for the Lease `namespace/name` (the namespace must exist), with the default
    /// timings (15 s lease, 10 s renew deadline, 2 s retry).
    pub fn new(client: kube::Client, namespace: &str, name: &str, identity: &str) -> LeaderElector {
        let leases = KubeLeaseClient {
            api: Api::namespaced(client, namespace),
            name: name.into(),
        };
        Self::with_lease_client(Arc::new(leases), name, identity, LeaseTiming::default())
    }

    /// An elector over any lease store.
    pub fn with_lease_client(
        client: Arc<dyn LeaseClient>,
        name: &str,
        identity: &str,
        timing: LeaseTiming,
    ) -> LeaderElector {
        LeaderElector {
            client,
            lease_name: name.into(),
            identity: identity.into(),
            timing,
            observed: None,
        }
    }

    pub fn with_timing(mut self, timing: LeaseTiming) -> LeaderElector {
        self.timing = timing;
        self
    }

    /// One round: true when this candidate holds the lease afterwards.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, LeaderError> {
        let current = self.client.get().await?;
        let now = Instant::now();
        let record = current.as_ref().map(|c| c.record.clone());
        let unchanged_since = match (&self.observed, &record) {
            (Some((seen, at)), Some(r)) if seen == r => *at,
            _ => now,
        };
        if let Some(r) = &record {
            self.observed = Some((r.clone(), unchanged_since));
        }
        let written = match decide(
            record.as_ref(),
            unchanged_since,
            &self.identity,
            now,
            Timestamp::now(),
            &self.timing,
        ) {
            Attempt::HeldBy(_) => return Ok(false),
            Attempt::Create(r) => self.client.create(&r).await,
            Attempt::Update(r) => {
                let rv = current.map(|c| c.resource_version).unwrap_or_default();
                self.client.update(&r, &rv).await
            }
        };
        match written {
            Ok(lease) => {
                self.observed = Some((lease.record, Instant::now()));
                Ok(true)
            }
            Err(LeaderError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the lease up so another candidate can take it at once (best effort).
    async fn release(&mut self) {
        let Ok(Some(current)) = self.client.get().await else {
            return;
        };
        if current.record.holder() != Some(self.identity.as_str()) {
            return;
        }
        let now = Timestamp::now();
        let released = LeaseRecord {
            holder: None,
            lease_duration_seconds: 1,
            acquire_time: Some(now),
            renew_time: Some(now),
            transitions: current.record.transitions,
        };
        if let Err(e) = self
            .client
            .update(&released, &current.resource_version)
            .await
        {
            tracing::debug!(error = %e, lease = %self.lease_name, "cannot release the lease");
        }
    }

    /// Waits until this candidate holds the lease, then runs `work` while renewing it. Returns
    /// the work's output (and releases the lease) when it finishes; cancels the work and
    /// returns [`LeaderError::Lost`] when the lease cannot be renewed within the renew deadline
    /// or another holder appears.
    ///
    /// Renewals run in their own task, as client-go renews in its own goroutine: work that keeps
    /// its task busy (a controller re-listing thousands of objects) cannot starve them, so a
    /// loaded leader keeps its lease as long as the runtime has any thread to spare.
    pub async fn run_while_leader<W, F>(mut self, work: W) -> Result<F::Output, LeaderError>
    where
        W: FnOnce() -> F,
        F: Future,
    {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    tracing::debug!(error = %e, lease = %self.lease_name, "cannot acquire the lease")
                }
            }
            tokio::time::sleep(self.timing.retry_period).await;
        }
        tracing::info!(lease = %self.lease_name, identity = %self.identity, "became leader");
        let lease_name = self.lease_name.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut renewals = AbortOnDrop(tokio::spawn(async move {
            let lost = tokio::select! {
                lost = self.keep_renewing() => Some(lost),
                _ = stopped => None,
            };
            match lost {
                Some(lost) => lost,
                None => {
                    self.release().await;
                    LeaderError::Lost(self.lease_name.clone())
                }
            }
        }));
        let outcome = tokio::select! {
            output = work() => Ok(output),
            lost = &mut renewals.0 => Err(lost.unwrap_or(LeaderError::Lost(lease_name))),
        };
        if outcome.is_ok() {
            // The renewal task releases the lease before it ends.
            let _ = stop.send(());
            let _ = (&mut renewals.0).await;
        }
        outcome
    }

    /// Renews every retry period; returns when leadership is lost. Nothing here waits past the
    /// renew deadline, so the work stops before the lease can expire for the other candidates.
    async fn keep_renewing(&mut self) -> LeaderError {
        let mut last_renewal = Instant::now();
        loop {
            let deadline = last_renewal + self.timing.renew_deadline;
            tokio::time::sleep_until((Instant::now() + self.timing.retry_period).min(deadline))
                .await;
            let started = Instant::now();
            if started >= deadline {
                tracing::warn!(lease = %self.lease_name, "lease not renewed within the deadline");
                return LeaderError::Lost(self.lease_name.clone());
            }
            match tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await {
                Ok(Ok(true)) => last_renewal = started,
                Ok(Ok(false)) => {
                    tracing::warn!(lease = %self.lease_name, "another candidate holds the lease");
                    return LeaderError::Lost(self.lease_name.clone());
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, lease = %self.lease_name, "lease renewal failed")
                }
                Err(_) => {
                    tracing::warn!(lease = %self.lease_name, "lease not renewed within the deadline");
                    return LeaderError::Lost(self.lease_name.clone());
                }
            }
        }
    }
}

/// Aborts a spawned task when dropped, so a cancelled election stops renewing.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// [`LeaseClient`] over a real `coordination.k8s.io/v1` Lease.
pub struct KubeLeaseClient {
    api: Api<Lease>,
    name: String,
}

impl KubeLeaseClient {
    pub fn new(client: kube::Client, namespace: &str, name: &str) -> KubeLeaseClient {
        KubeLeaseClient {
            api: Api::namespaced(client, namespace),
            name: name.into(),
        }
    }

    fn lease(&self, record: &LeaseRecord, resource_version: Option<&str>) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                resource_version: resource_version.map(Into::into),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: record.holder.clone(),
                lease_duration_seconds: Some(record.lease_duration_seconds),
                acquire_time: record.acquire_time.map(MicroTime),
                renew_time: record.renew_time.map(MicroTime),
                lease_transitions: Some(record.transitions),
                ..Default::default()
            }),
        }
    }
}

fn observed(lease: Lease) -> ObservedLease {
    let spec = lease.spec.unwrap_or_default();
    ObservedLease {
        record: LeaseRecord {
            holder: spec.holder_identity,
            lease_duration_seconds: spec.lease_duration_seconds.unwrap_or_default(),
            acquire_time: spec.acquire_time.map(|t| t.0),
            renew_time: spec.renew_time.map(|t| t.0),
            transitions: spec.lease_transitions.unwrap_or_default(),
        },
        resource_version: lease.metadata.resource_version.unwrap_or_default(),
    }
}

fn api_error(e: kube::Error) -> LeaderError {
    match e {
        kube::Error::Api(s) if s.code == 409 => LeaderError::Conflict,
        e => LeaderError::Api(e.to_string()),
    }
}

#[async_trait]
impl LeaseClient for KubeLeaseClient {
    async fn get(&self) -> Result<Option<ObservedLease>, LeaderError> {
        self.api
            .get_opt(&self.name)
            .await
            .map(|l| l.map(observed))
            .map_err(api_error)
    }

    async fn create(&self, record: &LeaseRecord) -> Result<ObservedLease, LeaderError> {
        self.api
            .create(&PostParams::default(), &self.lease(record, None))
            .await
            .map(observed)
            .map_err(api_error)
    }

    async fn update(
        &self,
        record: &LeaseRecord,
        resource_version: &str,
    ) -> Result<ObservedLease, LeaderError> {
        let lease = self.lease(record, Some(resource_version));
        self.api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
            .map(observed)
            .map_err(api_error)
    }
}

#[cfg(test)]
#[path = "leader_tests.rs"]
mod tests;
