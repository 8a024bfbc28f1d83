//! Port forwarding into a real guest through the QEMU driver's gateway: a TCP listener started
//! in the guest's shell answers through `port_forward` (both ways, over several connections),
//! a port nobody listens on closes at once, UDP and guests without a pod network are refused.

mod common;
mod qemu_common;

use std::time::Duration;

use anyhow::{Result, bail};
use common::eventually;
use qemu_common::{BOOT_MARKER, BOOT_TIMEOUT, QemuNode, console_round_trip};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use virt_api::node::{Duplex, NodeError, NodeGateway};

/// What the guest's listener sends first on every connection; it then echoes.
const GREETING: &str = "hello-from-guest";
const GUEST_PORT: u16 = 8080;

/// Reads from `stream` until `expect` shows up; `None` when the stream ends first.
async fn read_until(stream: &mut Box<dyn Duplex>, expect: &str) -> Result<Option<String>> {
    let mut seen = String::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !seen.contains(expect) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(None),
            Ok(Ok(n)) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(_) => bail!("{expect:?} did not arrive; got {seen:?}"),
        }
    }
    Ok(Some(seen))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_tcp_port_answers_through_the_gateway() -> Result<()> {
    let node = QemuNode::start().await?;
    // No interfaces in the spec: the guest gets the default pod interface.
    let vmi = node.run_vmi("pf", json!({})).await?;
    node.wait_serial(&vmi, BOOT_MARKER).await?;

    let mut console = node.gateway.console(&vmi).await?;
    let listener = format!(
        "nc -ll -p {GUEST_PORT} -e /bin/sh -c 'echo {GREETING}; exec cat' & echo started-$((6*7))"
    );
    console_round_trip(&mut console, &listener, "started-42").await?;

    // The listener may need a moment: until then the forwarded connection just closes.
    let mut stream = eventually(BOOT_TIMEOUT, "the guest listener's greeting", || async {
        let mut stream = node
            .gateway
            .port_forward(&vmi, GUEST_PORT, "tcp")
            .await
            .ok()?;
        read_until(&mut stream, GREETING).await.ok()??;
        Some(stream)
    })
    .await?;
    stream.write_all(b"ping-through-the-forward\n").await?;
    stream.flush().await?;
    assert!(
        read_until(&mut stream, "ping-through-the-forward")
            .await?
            .is_some(),
        "the guest did not echo"
    );

    // A second, concurrent connection through the same forward is its own session.
    let mut second = node.gateway.port_forward(&vmi, GUEST_PORT, "tcp").await?;
    assert!(read_until(&mut second, GREETING).await?.is_some());
    second.write_all(b"second\n").await?;
    assert!(read_until(&mut second, "second").await?.is_some());
    drop(second);
    stream.write_all(b"first-still-open\n").await?;
    assert!(read_until(&mut stream, "first-still-open").await?.is_some());
    drop(stream);

    // Nobody listens on this port: the connection ends without data.
    let mut closed = node.gateway.port_forward(&vmi, 8081, "tcp").await?;
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(30), closed.read(&mut buf))
        .await?
        .unwrap_or(0);
    assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&buf[..n]));

    match node.gateway.port_forward(&vmi, GUEST_PORT, "udp").await {
        Err(NodeError::Unsupported(message)) => assert!(message.contains("udp"), "{message}"),
        Err(e) => bail!("UDP: unexpected error {e:?}"),
        Ok(_) => bail!("UDP was forwarded"),
    }

    // The same guest seen without a pod interface (saves a second boot): refused before the
    // launcher is asked.
    let mut no_network = vmi.clone();
    no_network.spec.domain.devices.autoattach_pod_interface = Some(false);
    match node
        .gateway
        .port_forward(&no_network, GUEST_PORT, "tcp")
        .await
    {
        Err(NodeError::Failed(message)) => {
            assert!(message.contains("no pod network interface"), "{message}")
        }
        Err(e) => bail!("no network: unexpected error {e:?}"),
        Ok(_) => bail!("a VMI without a network was forwarded"),
    }
    Ok(())
}
