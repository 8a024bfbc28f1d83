//! The VM lifecycle scale benchmark: VMs created at a pace or in a burst on simulated nodes,
//! timed from create to `Running`, with the API requests each start costs and the server's
//! memory and CPU.

pub mod capacity;
pub mod prom;
pub mod report;
pub mod run;
pub mod server;
