//! `port-forward`: local TCP or UDP ports, or standard input and output (`--stdio`), forwarded
//! to ports of a VirtualMachineInstance (or of the VMI of a VirtualMachine) through the
//! `portforward/{port}/{protocol}` subresource.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use super::{CommandError, Connection, Ctx};
use crate::cli::PortForwardArgs;
use crate::stream::{self, StreamError};

const COMPONENT: &str = "portforward";

/// `vm` or `vmi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Vm,
    Vmi,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Vm => "vm",
            Kind::Vmi => "vmi",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Kind::Vm => "virtualmachines",
            Kind::Vmi => "virtualmachineinstances",
        }
    }
}

/// A `type/name[/namespace]` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: Kind,
    pub name: String,
    /// Empty when not given.
    pub namespace: String,
}

/// Parses `type/name[/namespace]` with upstream's messages.
pub fn parse_target(target: &str) -> Result<Target, String> {
    if target.is_empty() {
        return Err("target cannot be empty".into());
    }
    let parts: Vec<&str> = target.split('/').collect();
    let (kind, name, namespace) = match parts.as_slice() {
        [_] => return Err("target must contain type and name separated by '/'".into()),
        [kind, name] => (*kind, *name, ""),
        [kind, name, namespace] => {
            if namespace.is_empty() {
                return Err("namespace cannot be empty".into());
            }
            (*kind, *name, *namespace)
        }
        _ => return Err("target is not valid with more than two '/'".into()),
    };
    let kind = match kind.to_lowercase().as_str() {
        "vm" | "vms" | "virtualmachine" | "virtualmachines" => Kind::Vm,
        "vmi" | "vmis" | "virtualmachineinstance" | "virtualmachineinstances" => Kind::Vmi,
        _ => return Err(format!("unsupported resource type '{kind}'")),
    };
    if name.is_empty() {
        return Err("name cannot be empty".into());
    }
    Ok(Target {
        kind,
        name: name.to_owned(),
        namespace: namespace.to_owned(),
    })
}

/// A `[protocol/]local[:remote]` port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedPort {
    pub protocol: String,
    pub local: i64,
    pub remote: i64,
}

fn atoi(s: &str) -> Result<i64, String> {
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {s:?}: invalid syntax"))
}

/// Parses `[protocol/]local[:remote]` (protocol tcp by default).
pub fn parse_port(arg: &str) -> Result<ForwardedPort, String> {
    let mut protocol = "tcp".to_owned();
    let mut rest = arg;
    let parts: Vec<&str> = arg.split('/').collect();
    if parts.len() > 1 {
        protocol = parts[0].to_owned();
        rest = parts[1];
    }
    let ports: Vec<&str> = rest.split(':').filter(|p| !p.is_empty()).collect();
    let first = ports
        .first()
        .ok_or_else(|| "invalid port, missing local and/or remote port".to_owned())?;
    let local = atoi(first)?;
    let remote = match ports.get(1) {
        Some(r) => atoi(r)?,
        None => local,
    };
    Ok(ForwardedPort {
        protocol,
        local,
        remote,
    })
}

/// The subresource of a forwarded port.
pub fn subresource(port: &ForwardedPort) -> String {
    if port.protocol.is_empty() {
        format!("portforward/{}", port.remote)
    } else {
        format!("portforward/{}/{}", port.remote, port.protocol)
    }
}

/// Opens a stream to the remote port; says so plainly when the server has no port forwarding.
async fn open(
    conn: &Connection,
    target: &Target,
    ns: &str,
    port: &ForwardedPort,
) -> Result<stream::Ws, StreamError> {
    stream::connect(
        &conn.client,
        ns,
        target.kind.plural(),
        &target.name,
        &subresource(port),
        "",
    )
    .await
    .map_err(|mut e| {
        let generic = e.message.starts_with("Can't connect to websocket (404)")
            || e.message
                .starts_with("the server could not find the requested resource");
        if e.status == 404 && generic {
            e.message
                .push_str(" (the server does not serve port forwarding)");
        }
        e
    })
}

/// Opens a tunnel for one `proto` client, logging the attempt and, when it fails, why.
async fn open_tunnel(
    conn: &Connection,
    target: &Target,
    ns: &str,
    port: &ForwardedPort,
    proto: &str,
) -> Option<stream::Ws> {
    crate::log::info(
        COMPONENT,
        2,
        &format!("opening new {proto} tunnel to {}", port.remote),
    );
    match open(conn, target, ns, port).await {
        Ok(ws) => Some(ws),
        Err(e) => {
            crate::log::error(
                COMPONENT,
                &format!(
                    "can't access {}/{}.{ns}: {e}",
                    target.kind.as_str(),
                    target.name
                ),
            );
            None
        }
    }
}

async fn forward_tcp(
    conn: Connection,
    target: Target,
    ns: String,
    address: String,
    port: ForwardedPort,
) -> Result<(), String> {
    let local = u16::try_from(port.local)
        .map_err(|_| format!("listen tcp: address {}: invalid port", port.local))?;
    let listener = TcpListener::bind((address.as_str(), local))
        .await
        .map_err(|e| format!("listen tcp {address}:{local}: {e}"))?;
    tokio::spawn(async move {
        loop {
            let (socket, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    crate::log::error(COMPONENT, &format!("error accepting connection: {e}"));
                    return;
                }
            };
            let Some(ws) = open_tunnel(&conn, &target, &ns, &port, "tcp").await else {
                continue;
            };
            let local = port.local;
            tokio::spawn(async move {
                crate::log::info(
                    COMPONENT,
                    2,
                    &format!("handling tcp connection for {local}"),
                );
                let (read, write) = socket.into_split();
                if let Err(e) = stream::pump(ws, stream::read_chunks(read), write).await {
                    crate::log::error(
                        COMPONENT,
                        &format!("error handling connection for {local}: {e}"),
                    );
                }
            });
        }
    });
    Ok(())
}

async fn forward_udp(
    conn: Connection,
    target: Target,
    ns: String,
    address: String,
    port: ForwardedPort,
) -> Result<(), String> {
    let local = u16::try_from(port.local)
        .map_err(|_| format!("listen udp: address {}: invalid port", port.local))?;
    let socket = Arc::new(
        UdpSocket::bind((address.as_str(), local))
            .await
            .map_err(|e| format!("listen udp {address}:{local}: {e}"))?,
    );
    type Clients = Arc<Mutex<HashMap<SocketAddr, tokio::sync::mpsc::Sender<Bytes>>>>;
    let clients: Clients = Arc::default();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let (n, from) = match socket.recv_from(&mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    crate::log::error(COMPONENT, &e.to_string());
                    continue;
                }
            };
            let datagram = Bytes::copy_from_slice(&buf[..n]);
            let known = clients.lock().await.get(&from).cloned();
            let sender = match known {
                Some(s) => s,
                None => {
                    let Some(ws) = open_tunnel(&conn, &target, &ns, &port, "udp").await else {
                        continue;
                    };
                    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(64);
                    clients.lock().await.insert(from, tx.clone());
                    let (mut sink, mut source) = ws.split();
                    let reply = socket.clone();
                    let registry = clients.clone();
                    tokio::spawn(async move {
                        loop {
                            tokio::select! {
                                out = rx.recv() => match out {
                                    Some(d) => if sink.send(Message::Binary(d)).await.is_err() { break },
                                    None => break,
                                },
                                incoming = source.next() => match incoming {
                                    Some(Ok(Message::Binary(d))) => {
                                        if let Err(e) = reply.send_to(&d, from).await {
                                            crate::log::error(COMPONENT, &format!("closing client: {e}"));
                                            break;
                                        }
                                    }
                                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                                    Some(Ok(_)) => {}
                                },
                            }
                        }
                        registry.lock().await.remove(&from);
                    });
                    tx
                }
            };
            let _ = sender.send(datagram).await;
        }
    });
    Ok(())
}

pub async fn run(ctx: &Ctx, a: PortForwardArgs) -> Result<(), CommandError> {
    let conn = ctx.connect().await?;
    let target = parse_target(&a.args[0]).map_err(CommandError::Failed)?;
    let ports = a.args[1..]
        .iter()
        .map(|p| parse_port(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CommandError::Failed)?;
    let ns = if target.namespace.is_empty() {
        conn.namespace.clone()
    } else {
        target.namespace.clone()
    };
    if a.stdio {
        if ports.len() != 1 {
            return Err(CommandError::failed(
                "only one port supported when forwarding to stdout",
            ));
        }
        let ws = open(conn, &target, &ns, &ports[0])
            .await
            .map_err(|e| CommandError::failed(e.to_string()))?;
        crate::log::info(
            COMPONENT,
            3,
            &format!("forwarding to {ns}/{}:{}", target.name, ports[0].remote),
        );
        stream::pump(
            ws,
            stream::read_chunks(tokio::io::stdin()),
            tokio::io::stdout(),
        )
        .await
        .map_err(|e| CommandError::failed(e.to_string()))?;
        return Ok(());
    }
    let address = match a.address.as_str() {
        "localhost" => "127.0.0.1".to_owned(),
        other => other.to_owned(),
    };
    if address.parse::<std::net::IpAddr>().is_err() {
        return Err(CommandError::failed(format!(
            "lookup {address}: no such host"
        )));
    }
    for port in ports {
        crate::log::info(
            COMPONENT,
            2,
            &format!(
                "forwarding {} {address}:{} to {}",
                port.protocol, port.local, port.remote
            ),
        );
        let started = match port.protocol.as_str() {
            "tcp" => {
                forward_tcp(
                    conn.clone(),
                    target.clone(),
                    ns.clone(),
                    address.clone(),
                    port,
                )
                .await
            }
            "udp" => {
                forward_udp(
                    conn.clone(),
                    target.clone(),
                    ns.clone(),
                    address.clone(),
                    port,
                )
                .await
            }
            other => Err(format!("unknown protocol: {other}")),
        };
        started.map_err(CommandError::Failed)?;
    }
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_optional_namespace() {
        assert_eq!(
            parse_target("vmi/testvmi").unwrap(),
            Target {
                kind: Kind::Vmi,
                name: "testvmi".into(),
                namespace: String::new()
            }
        );
        let t = parse_target("VirtualMachines/vm1/ns1").unwrap();
        assert_eq!(
            (t.kind, t.name.as_str(), t.namespace.as_str()),
            (Kind::Vm, "vm1", "ns1")
        );
        let err = |s: &str| parse_target(s).unwrap_err();
        assert_eq!(err(""), "target cannot be empty");
        assert_eq!(
            err("testvmi"),
            "target must contain type and name separated by '/'"
        );
        assert_eq!(err("vmi/x/"), "namespace cannot be empty");
        assert_eq!(err("a/b/c/d"), "target is not valid with more than two '/'");
        assert_eq!(err("pod/x"), "unsupported resource type 'pod'");
        assert_eq!(err("vmi/"), "name cannot be empty");
    }

    #[test]
    fn ports_parse_with_protocol_and_remote() {
        let p = parse_port("8080").unwrap();
        assert_eq!(
            (p.protocol.as_str(), p.local, p.remote),
            ("tcp", 8080, 8080)
        );
        let p = parse_port("udp/8080:9090").unwrap();
        assert_eq!(
            (p.protocol.as_str(), p.local, p.remote),
            ("udp", 8080, 9090)
        );
        assert_eq!(subresource(&p), "portforward/9090/udp");
        assert_eq!(
            parse_port("x").unwrap_err(),
            "strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            parse_port(":").unwrap_err(),
            "invalid port, missing local and/or remote port"
        );
    }
}
