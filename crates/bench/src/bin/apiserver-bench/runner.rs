//! Runs one timed phase of writes with N concurrent clients.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bench::apiserver::{Level, WriteOp, WriteResult};
use bench::stats::{Summary, per_second};

/// What a phase did: results by operation index (`0..results.len()`, all completed).
pub struct Phase<T> {
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    pub results: Vec<T>,
}

impl<T> Phase<T> {
    pub fn result(&self, level: Level, op: WriteOp, clients: usize) -> WriteResult {
        WriteResult {
            level,
            op,
            clients,
            ops: self.results.len(),
            seconds: self.elapsed.as_secs_f64(),
            per_second: per_second(self.results.len(), self.elapsed),
            latency: Summary::of(self.latencies.clone()),
        }
    }
}

/// Runs `op(client, index)` for indices `0..max_ops` on `clients` concurrent tasks; each task
/// takes the next index when its previous operation finished. No new operation starts after
/// `limit`, so the completed indices are always `0..n` for some `n <= max_ops`. Fails on the
/// first failed operation.
pub async fn run<T, F, Fut>(
    clients: usize,
    max_ops: usize,
    limit: Duration,
    op: F,
) -> anyhow::Result<Phase<T>>
where
    T: Send + 'static,
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let op = Arc::clone(&op);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            let mut latencies = Vec::new();
            // The deadline is checked before taking an index so that every taken index is run.
            while start.elapsed() < limit {
                let index = next.fetch_add(1, Ordering::SeqCst);
                if index >= max_ops {
                    break;
                }
                let began = Instant::now();
                let value = op(client, index).await?;
                latencies.push(began.elapsed());
                done.push((index, value));
            }
            anyhow::Ok((done, latencies))
        }));
    }
    let mut all = Vec::new();
    let mut latencies = Vec::new();
    for task in tasks {
        let (done, lat) = task.await??;
        all.extend(done);
        latencies.extend(lat);
    }
    let elapsed = start.elapsed();
    all.sort_unstable_by_key(|(index, _)| *index);
    debug_assert!(all.iter().enumerate().all(|(i, (index, _))| i == *index));
    Ok(Phase {
        elapsed,
        latencies,
        results: all.into_iter().map(|(_, v)| v).collect(),
    })
}

/// A value of exactly `bytes` ASCII characters for object `index`.
pub fn payload(index: usize, bytes: usize) -> String {
    // Distinct per object, fixed size, plain ASCII so JSON escaping does not change its size.
    let head = format!("{index:010}-");
    let mut s = String::with_capacity(bytes);
    s.push_str(&head[..head.len().min(bytes)]);
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = index as u64 ^ 0x9e37_79b9_7f4a_7c15;
    while s.len() < bytes {
        // xorshift: cheap filler that does not compress to nothing.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push(alphabet[(x % alphabet.len() as u64) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_index_runs_once_and_results_are_ordered() {
        let phase = run(
            4,
            50,
            Duration::from_secs(60),
            |_, i| async move { Ok(i * 2) },
        )
        .await
        .unwrap();
        assert_eq!(phase.results, (0..50).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(phase.latencies.len(), 50);
    }

    #[tokio::test]
    async fn a_failed_operation_fails_the_phase() {
        let phase = run(2, 10, Duration::from_secs(60), |_, i| async move {
            anyhow::ensure!(i != 5, "boom");
            Ok(())
        })
        .await;
        assert!(phase.is_err());
    }

    #[test]
    fn payloads_have_the_requested_size_and_differ() {
        assert_eq!(payload(1, 1024).len(), 1024);
        assert_eq!(payload(2, 5).len(), 5);
        assert_ne!(payload(1, 64), payload(2, 64));
    }
}
