//! Benchmarks of the project's servers, with the helpers their binaries share: machine
//! description, latency percentiles and the generated sections of `BENCHMARKS.md`.
//!
//! Binaries:
//! - `apiserver-bench`: durable write throughput of the store and of `kubevirtd` against a
//!   local etcd, watch delivery latency, and memory with many stored objects. Run it through
//!   `scripts/bench-apiserver.sh`.

pub mod apiserver;
pub mod machine;
pub mod markdown;
pub mod stats;
