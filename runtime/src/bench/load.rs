//! The load generator every WebSocket row shares, and the bare echo server
//! that is the floor it is compared with.

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How requests are offered: `pipeline` in flight per connection (closed
/// loop), or a steady total `rate` per second (open loop).
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub connections: usize,
    pub pipeline: usize,
    pub duration: Duration,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Measured {
    pub per_second: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub failed: u64,
    /// How busy the machine's CPUs were during the run (0 to 1, all of
    /// them together), where the kernel tells.
    pub cpu_busy: Option<f64>,
}

/// Builds the request frame with `id` for connection `conn`.
pub type Frames = Arc<dyn Fn(usize, u64) -> String + Send + Sync>;

pub async fn run(url: &str, frames: Frames, load: Load) -> anyhow::Result<Measured> {
    let cpu_before = CpuTimes::now();
    let pacer = load
        .rate
        .map(|rate| Pacer::start(load.connections, rate))
        .transpose()
        .context("start the load's pacing thread")?;
    let tasks: Vec<_> = (0..load.connections)
        .map(|conn| {
            let permits = pacer.as_ref().map(|p| p.permits[conn].clone());
            tokio::spawn(connection(
                url.to_string(),
                conn,
                frames.clone(),
                load,
                permits,
            ))
        })
        .collect();
    let mut histogram = new_histogram();
    let (mut done, mut failed) = (0u64, 0u64);
    for task in tasks {
        let (h, f) = task.await??;
        done += h.len();
        failed += f;
        histogram.add(&h)?;
    }
    Ok(Measured {
        per_second: done as f64 / load.duration.as_secs_f64(),
        p50_us: histogram.value_at_quantile(0.5) as f64,
        p99_us: histogram.value_at_quantile(0.99) as f64,
        failed,
        cpu_busy: cpu_before
            .zip(CpuTimes::now())
            .map(|(a, b)| b.busy_since(&a)),
    })
}

/// The machine's CPU time so far, from `/proc/stat` (Linux), in ticks.
struct CpuTimes {
    busy: u64,
    idle: u64,
}

impl CpuTimes {
    fn now() -> Option<CpuTimes> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|n| n.parse().ok())
            .collect::<Option<_>>()?;
        // user nice system idle iowait irq softirq steal ...: time stolen
        // by the hypervisor counts as neither, guest time is within user.
        let at = |i: usize| ticks.get(i).copied().unwrap_or(0);
        Some(CpuTimes {
            busy: at(0) + at(1) + at(2) + at(5) + at(6),
            idle: at(3) + at(4),
        })
    }

    fn busy_since(&self, earlier: &CpuTimes) -> f64 {
        let busy = self.busy.saturating_sub(earlier.busy) as f64;
        let idle = self.idle.saturating_sub(earlier.idle) as f64;
        busy / (busy + idle).max(1.0)
    }
}

/// `rounds` runs of `load` against each target, the targets taken in turn
/// within a round so that all of them meet the same moments of a noisy
/// machine; the runs of each target, in the order of `targets`.
pub async fn in_turn(
    targets: &[(&str, Frames)],
    load: Load,
    rounds: usize,
) -> anyhow::Result<Vec<Vec<Measured>>> {
    let mut runs = vec![Vec::with_capacity(rounds); targets.len()];
    for _ in 0..rounds {
        for ((url, frames), runs) in targets.iter().zip(&mut runs) {
            runs.push(run(url, frames.clone(), load).await?);
        }
    }
    Ok(runs)
}

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

async fn connection(
    url: String,
    conn: usize,
    frames: Frames,
    load: Load,
    permits: Option<Arc<Semaphore>>,
) -> anyhow::Result<(Histogram<u64>, u64)> {
    let (mut sink, mut stream) = connect(&url, false).await?.split();
    let mut histogram = new_histogram();
    let mut sent: HashMap<u64, Instant> = HashMap::new();
    let (mut next, mut failed) = (0u64, 0u64);
    let end = Instant::now() + load.duration;
    if permits.is_none() {
        for _ in 0..load.pipeline {
            sink.send(Message::text(frames(conn, next))).await?;
            sent.insert(next, Instant::now());
            next += 1;
        }
    }
    while Instant::now() < end {
        let tick = async {
            match &permits {
                Some(p) => p.acquire().await.map(|permit| permit.forget()),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Ok(()) = tick => {
                sink.send(Message::text(frames(conn, next))).await?;
                sent.insert(next, Instant::now());
                next += 1;
            }
            frame = stream.next() => {
                let Some(frame) = frame else { break };
                let Message::Text(text) = frame? else { continue };
                let Some(at) = reply_id(&text).and_then(|id| sent.remove(&id)) else { continue };
                histogram.record(at.elapsed().as_micros().max(1) as u64)?;
                if text.contains("\"success\":false") {
                    failed += 1;
                }
                if permits.is_none() && Instant::now() < end {
                    sink.send(Message::text(frames(conn, next))).await?;
                    sent.insert(next, Instant::now());
                    next += 1;
                }
            }
            () = tokio::time::sleep_until(end.into()) => break,
        }
    }
    Ok((histogram, failed))
}

/// Releases send permits, round robin over the connections, at a steady
/// `rate`. It runs on a thread of its own because tokio's timers tick once a
/// millisecond: paced by them, an open-loop load arrives as one burst per
/// millisecond, and the latency measured is mostly the wait behind that burst.
struct Pacer {
    permits: Vec<Arc<Semaphore>>,
    stop: Arc<AtomicBool>,
}

impl Pacer {
    /// How often the pacer wakes; a few requests are released at each wake.
    const STEP: Duration = Duration::from_micros(250);

    fn start(connections: usize, rate: f64) -> std::io::Result<Self> {
        let permits: Vec<_> = (0..connections)
            .map(|_| Arc::new(Semaphore::new(0)))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let (to_release, stopped) = (permits.clone(), stop.clone());
        std::thread::Builder::new()
            .name("bench-pacer".into())
            .spawn(move || {
                let started = Instant::now();
                let mut released = 0u64;
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(Self::STEP);
                    let due = (started.elapsed().as_secs_f64() * rate) as u64;
                    for n in released..due {
                        to_release[n as usize % to_release.len()].add_permits(1);
                    }
                    released = released.max(due);
                }
            })?;
        Ok(Pacer { permits, stop })
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The `"id"` of a reply, found without parsing the whole frame: the load
/// generator shares the machine with what it measures, so it must be cheap.
fn reply_id(text: &str) -> Option<u64> {
    let rest = &text[text.find("\"id\":")? + 5..];
    let digits = rest
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?;
    digits.parse().ok()
}

pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A client with the hub's limits; `disable_nagle` for one request at a time.
pub async fn connect(url: &str, disable_nagle: bool) -> anyhow::Result<Client> {
    let config = Some(crate::ws::config());
    Ok(
        tokio_tungstenite::connect_async_with_config(url, config, disable_nagle)
            .await?
            .0,
    )
}

/// A bare tokio-tungstenite server echoing every text frame: the floor.
pub async fn echo_server() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(ws) =
                    tokio_tungstenite::accept_async_with_config(stream, Some(crate::ws::config()))
                        .await
                else {
                    return;
                };
                let (mut sink, mut stream) = ws.split();
                while let Some(Ok(frame)) = stream.next().await {
                    if frame.is_text() && sink.send(frame).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(addr)
}
