//! A hard reset through the simulated driver's gateway: running guests (paused or not) are
//! reset and the node reports it; anything else is refused with the driver's usual answers.

mod common;

use anyhow::Result;
use common::{Cluster, fast_options, vmi_condition};
use kube::api::DeleteParams;
use serde_json::json;
use virt_api::node::{NodeError, NodeGateway};

#[tokio::test]
async fn a_running_guest_is_reset_and_the_node_reports_it() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    let gateway = cluster.simulate(fast_options());
    let vmi = cluster.run_vmi("vm1", &[], json!({})).await?;

    gateway.reset(&vmi).await?;
    let (type_, message) = cluster.wait_event("vm1", "Reset").await?;
    assert_eq!(
        (type_.as_str(), message.as_str()),
        ("Normal", "VirtualMachineInstance reset")
    );
    let after = cluster.vmis().get("vm1").await?;
    assert_eq!(after.phase().as_str(), "Running");

    // A paused guest is reset too and stays paused.
    gateway.pause(&vmi).await?;
    gateway.reset(&vmi).await?;
    let paused = cluster.vmis().get("vm1").await?;
    assert_eq!(
        vmi_condition(&paused, "Paused").map(|c| c.0).as_deref(),
        Some("True")
    );
    Ok(())
}

#[tokio::test]
async fn guests_that_do_not_run_here_are_not_reset() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    let gateway = cluster.simulate(fast_options());
    let vmi = cluster.run_vmi("vm1", &[], json!({})).await?;

    let mut elsewhere = vmi.clone();
    elsewhere.status.as_mut().unwrap().node_name = Some("not-a-simulated-node".into());
    assert_eq!(
        gateway.reset(&elsewhere).await,
        Err(NodeError::Unavailable(
            "VMI default/vm1 does not run on a node of the simulated driver".into()
        ))
    );
    let mut unknown = vmi.clone();
    unknown.metadata.uid = Some("no-such-guest".into());
    assert!(matches!(
        gateway.reset(&unknown).await,
        Err(NodeError::Unavailable(_))
    ));

    cluster
        .vmis()
        .delete("vm1", &DeleteParams::default())
        .await?;
    cluster.wait_phase("vm1", "Succeeded").await?;
    assert_eq!(
        gateway.reset(&vmi).await,
        Err(NodeError::Failed("VMI is not running".into()))
    );
    Ok(())
}
