//! `lodge-bench http`: a real `lodge serve` process under `wrk` (64 connections): the portal view,
//! posting messages and the staff console's dashboard (10,000 invites), beside `GET /healthz` in
//! the same run; the server's memory; and a 1 GiB upload's speed and the server's memory growth
//! beside the disk's own sequential write speed.

mod dashboard;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use lodge_eventlog::EventLog;
use lodge_projections::ReadStore;
use serde::Serialize;
use serde_json::{Value, json};

use super::{BenchDatabase, grouped};
use crate::cli::HttpBenchArgs;

/// Contacts (each on an invite of their own) whose sessions the load rotates through.
const CONTACTS: usize = 32;
const UPLOAD_CHUNK: usize = 1024 * 1024;

#[derive(Debug, Serialize)]
struct Figures {
    bench: &'static str,
    engine: String,
    healthz_rps: f64,
    portal_rps: f64,
    portal_p99_ms: f64,
    message_rps: f64,
    message_p99_ms: f64,
    dashboard_rps: f64,
    dashboard_ratio: f64,
    dashboard_p99_ms: f64,
    server_rss_mib: f64,
    upload_mbps: f64,
    upload_rss_growth_mib: f64,
    disk_mbps: f64,
    #[serde(skip)]
    healthz_p99_ms: f64,
    #[serde(skip)]
    portal_p50_ms: f64,
    #[serde(skip)]
    message_p50_ms: f64,
    #[serde(skip)]
    dashboard_p50_ms: f64,
    #[serde(skip)]
    failed_requests: u64,
}

/// What `wrk --latency` reports.
#[derive(Debug, Default)]
struct Load {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    failed: u64,
}

fn parse_duration_ms(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("m") {
        (n, 60_000.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.trim().parse::<f64>().ok().map(|n| n * scale)
}

fn parse_wrk(output: &str) -> anyhow::Result<Load> {
    let mut load = Load::default();
    for line in output.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            load.rps = rest.trim().parse().context("wrk's Requests/sec")?;
        } else if let Some(rest) = line.strip_prefix("50%") {
            load.p50_ms = parse_duration_ms(rest).context("wrk's 50% latency")?;
        } else if let Some(rest) = line.strip_prefix("99%") {
            load.p99_ms = parse_duration_ms(rest).context("wrk's 99% latency")?;
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            load.failed += rest.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            load.failed += rest
                .split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    if load.rps == 0.0 {
        bail!("wrk reported no requests:\n{output}");
    }
    Ok(load)
}

fn wrk(url: &str, script: Option<&Path>, seconds: u64) -> anyhow::Result<Load> {
    wrk_with(url, script, None, seconds)
}

/// wrk on `url`, with a script or a header on every request.
fn wrk_with(url: &str, script: Option<&Path>, header: Option<&str>, seconds: u64) -> anyhow::Result<Load> {
    let mut command = Command::new("wrk");
    command.args(["-t2", "-c64", &format!("-d{seconds}s"), "--latency"]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    if let Some(header) = header {
        command.arg("-H").arg(header);
    }
    command.arg(url);
    let output = command
        .output()
        .context("cannot run wrk: install it (Debian: apt-get install wrk)")?;
    if !output.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    parse_wrk(&String::from_utf8_lossy(&output.stdout))
}

/// A wrk script that rotates requests through the contacts' session cookies.
fn rotating_script(
    path: &Path,
    cookies: &[String],
    method: &str,
    target: &str,
    body: Option<&str>,
) -> anyhow::Result<()> {
    let list: Vec<String> = cookies.iter().map(|c| format!("\"lodge_portal={c}\"")).collect();
    let body = body.map_or("nil".to_owned(), |b| format!("'{b}'"));
    let script = format!(
        "local cookies = {{{}}}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  local cookie = cookies[(i % #cookies) + 1]\n  return wrk.format(\"{method}\", \"{target}\", {{[\"Cookie\"] = cookie, [\"Content-Type\"] = \"application/json\"}}, {body})\nend\n",
        list.join(", ")
    );
    std::fs::write(path, script)?;
    Ok(())
}

/// A process's resident memory now, in MiB.
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

struct ServerProcess {
    child: Child,
    base: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
    }
}

/// The `lodge` binary to measure: `LODGE_BENCH_LODGE`, or the one cargo built beside this one
/// (`cargo build --release` builds both).
fn lodge_binary() -> anyhow::Result<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("LODGE_BENCH_LODGE") {
        return Ok(path.into());
    }
    let beside = std::env::current_exe()?.with_file_name("lodge");
    if !beside.exists() {
        bail!(
            "no lodge binary at {}: build it first (cargo build --release), or name one in LODGE_BENCH_LODGE",
            beside.display()
        );
    }
    Ok(beside)
}

async fn start_server(db: &BenchDatabase, folder: &Path) -> anyhow::Result<ServerProcess> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new(lodge_binary()?)
        .arg("serve")
        .current_dir(folder)
        .env_remove("LODGE_CONFIG")
        .env("LODGE_DATABASE_URL", &db.url)
        .env("LODGE_LISTEN", format!("127.0.0.1:{port}"))
        .env("LODGE_BLOB_URL", folder.join("blobs"))
        .env("LODGE_MAX_FILE_MIB", "2048")
        // 64 connections from one address post messages as fast as they can: the limits meant for
        // people would refuse most of them, and this measures the command path.
        .env("LODGE_RATE_LIMITS", "false")
        .env("LODGE_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting lodge serve")?;
    let server = ServerProcess {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = client.get(format!("{}/healthz", server.base)).send().await
            && response.status().is_success()
        {
            return Ok(server);
        }
        if Instant::now() > deadline {
            bail!("lodge serve did not answer /healthz within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Invites with one contact each, a few messages in each thread, and a session per contact.
async fn prepare(base: &str, token: &str) -> anyhow::Result<(Vec<String>, Value)> {
    let client = reqwest::Client::new();
    let mut cookies = Vec::new();
    let mut upload_request = Value::Null;
    let due = (chrono::Utc::now().date_naive() + chrono::Days::new(14)).to_string();
    for n in 0..CONTACTS {
        let sent: Value = client
            .post(format!("{base}/api/invites"))
            .bearer_auth(token)
            .json(&json!({
                "title": format!("Tax return 2026 #{n}"),
                "message": "Please send these by the due date.",
                "due_date": due,
                "channels": ["email"],
                "contacts": [{"name": format!("Contact {n}"), "email": format!("contact{n}@example.com")}],
                "requests": [
                    {"kind": "file", "title": "Payslips", "description": "July to June"},
                    {"kind": "file", "title": "Bank statements", "allowed_types": ["application/pdf"]},
                    {"kind": "form", "title": "Your details", "fields": [
                        {"name": "tfn", "label": "Tax file number", "type": "text", "required": true}]}
                ]
            }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let link = sent["contacts"][0]["portal_url"].as_str().context("a portal link")?;
        let session = client
            .post(format!("{base}/api/portal/session"))
            .json(&json!({"token": link.rsplit('/').next()}))
            .send()
            .await?
            .error_for_status()?;
        let cookie = session
            .cookies()
            .find(|c| c.name() == "lodge_portal")
            .map(|c| c.value().to_owned())
            .context("a session cookie")?;
        for m in 0..5 {
            client
                .post(format!("{base}/api/portal/messages"))
                .header("cookie", format!("lodge_portal={cookie}"))
                .json(&json!({"body": format!("Message {m} about the payslips")}))
                .send()
                .await?
                .error_for_status()?;
        }
        if n == 0 {
            upload_request = json!({"request": sent["requests"][0]["id"], "cookie": cookie});
        }
        cookies.push(cookie);
    }
    Ok((cookies, upload_request))
}

/// Writes `bytes` to a file in `folder` in 1 MiB blocks, then fsyncs it: the disk's own speed.
fn disk_mbps(folder: &Path, bytes: u64) -> anyhow::Result<f64> {
    let path = folder.join("disk-speed");
    let block = vec![0x5au8; UPLOAD_CHUNK];
    let started = Instant::now();
    let mut file = std::fs::File::create(&path)?;
    let mut written = 0;
    while written < bytes {
        file.write_all(&block)?;
        written += block.len() as u64;
    }
    file.sync_all()?;
    let elapsed = started.elapsed();
    std::fs::remove_file(&path)?;
    Ok(written as f64 / 1e6 / elapsed.as_secs_f64())
}

/// Uploads `bytes` of incompressible data as one file, watching the server's memory meanwhile.
async fn upload(server: &ServerProcess, target: &Value, bytes: u64) -> anyhow::Result<(f64, f64)> {
    let pid = server.child.id();
    let before = rss_mib(pid);
    let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let watching = watching.clone();
        tokio::spawn(async move {
            let mut peak = before;
            while watching.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_mib(pid));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak.max(rss_mib(pid))
        })
    };
    // A xorshift stream: incompressible, and cheap enough not to be what is measured.
    let chunks = bytes.div_ceil(UPLOAD_CHUNK as u64);
    let stream = futures_util::stream::unfold((0u64, 0x9e37_79b9_7f4a_7c15u64), move |(n, mut state)| async move {
        if n == chunks {
            return None;
        }
        let mut chunk = Vec::with_capacity(UPLOAD_CHUNK);
        while chunk.len() < UPLOAD_CHUNK {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.extend_from_slice(&state.to_le_bytes());
        }
        Some((Ok::<_, std::io::Error>(chunk), (n + 1, state)))
    });
    let part =
        reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), chunks * UPLOAD_CHUNK as u64)
            .file_name("archive.bin");
    let form = reqwest::multipart::Form::new().part("file", part);
    let request = target["request"].as_str().context("a request id")?;
    let cookie = target["cookie"].as_str().context("a cookie")?;
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{}/api/portal/requests/{request}/documents", server.base))
        .header("cookie", format!("lodge_portal={cookie}"))
        .multipart(form)
        .send()
        .await?;
    let elapsed = started.elapsed();
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = watcher.await?;
    if !response.status().is_success() {
        bail!("the upload failed: {}", response.text().await.unwrap_or_default());
    }
    let mbps = (chunks * UPLOAD_CHUNK as u64) as f64 / 1e6 / elapsed.as_secs_f64();
    Ok((mbps, peak - before))
}

async fn measure(db: &BenchDatabase, args: &HttpBenchArgs) -> anyhow::Result<Figures> {
    let engine = match db.engine {
        lodge_eventlog::Engine::Sqlite => "sqlite",
        lodge_eventlog::Engine::Postgres => "postgres",
    };
    let folder = tempfile::tempdir()?;
    let log = EventLog::connect(&db.url).await?;
    log.migrate().await?;
    let store = ReadStore::connect(&db.url).await?;
    lodge_api::migrations::migrate(store.store()).await?;
    let token = lodge_api::staff::tokens::create(store.store(), "Bench Staff", Some("bench@firm.example"))
        .await?
        .token;
    log.close().await;

    let server = start_server(db, folder.path()).await?;
    eprintln!("{engine}: preparing {CONTACTS} invites and portal sessions…");
    let (cookies, upload_target) = prepare(&server.base, &token).await?;
    let portal_script = folder.path().join("portal.lua");
    rotating_script(&portal_script, &cookies, "GET", "/api/portal", None)?;
    let message_script = folder.path().join("message.lua");
    rotating_script(
        &message_script,
        &cookies,
        "POST",
        "/api/portal/messages",
        Some(r#"{"body": "A message from the benchmark"}"#),
    )?;

    let seconds = u64::from(args.seconds);
    eprintln!("{engine}: GET /healthz for {seconds} s…");
    let healthz = wrk(&format!("{}/healthz", server.base), None, seconds)?;
    eprintln!("{engine}: GET /api/portal for {seconds} s…");
    let portal = wrk(&format!("{}/api/portal", server.base), Some(&portal_script), seconds)?;
    eprintln!("{engine}: POST /api/portal/messages for {seconds} s…");
    let message = wrk(
        &format!("{}/api/portal/messages", server.base),
        Some(&message_script),
        seconds,
    )?;
    eprintln!("{engine}: sending {} invites for the dashboard…", dashboard::INVITES);
    dashboard::fill(&server.base, &token).await?;
    let staff_cookie = dashboard::staff_session(&db.url, &server.base, folder.path()).await?;
    eprintln!("{engine}: GET /staff/ (the dashboard) for {seconds} s…");
    let dashboard = wrk_with(
        &format!("{}/staff/", server.base),
        None,
        Some(&format!("Cookie: lodge_staff={staff_cookie}")),
        seconds,
    )?;
    let server_rss_mib = rss_mib(server.child.id());

    let upload_bytes = u64::from(args.upload_mib) * 1024 * 1024;
    eprintln!(
        "{engine}: the disk's sequential write speed, then a {} MiB upload…",
        args.upload_mib
    );
    let disk_mbps = disk_mbps(folder.path(), upload_bytes)?;
    let (upload_mbps, upload_rss_growth_mib) = upload(&server, &upload_target, upload_bytes).await?;
    drop(server);

    Ok(Figures {
        bench: "http",
        engine: engine.to_owned(),
        healthz_rps: healthz.rps,
        portal_rps: portal.rps,
        portal_p99_ms: portal.p99_ms,
        message_rps: message.rps,
        message_p99_ms: message.p99_ms,
        dashboard_rps: dashboard.rps,
        dashboard_ratio: dashboard.rps / healthz.rps,
        dashboard_p99_ms: dashboard.p99_ms,
        server_rss_mib,
        upload_mbps,
        upload_rss_growth_mib,
        disk_mbps,
        healthz_p99_ms: healthz.p99_ms,
        portal_p50_ms: portal.p50_ms,
        message_p50_ms: message.p50_ms,
        dashboard_p50_ms: dashboard.p50_ms,
        failed_requests: healthz.failed + portal.failed + message.failed + dashboard.failed,
    })
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

fn print_table(f: &Figures) {
    println!("{} — 64 connections (wrk), a lodge serve process", f.engine);
    println!(
        "  GET /healthz            {:>8} req/s  p99 {:>6.2} ms   (baseline)",
        grouped(f.healthz_rps),
        f.healthz_p99_ms
    );
    println!(
        "  GET /api/portal         {:>8} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ratio {:.2}",
        grouped(f.portal_rps),
        f.portal_p50_ms,
        f.portal_p99_ms,
        f.portal_rps / f.healthz_rps
    );
    println!(
        "  POST /api/portal/messages {:>6} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
        grouped(f.message_rps),
        f.message_p50_ms,
        f.message_p99_ms
    );
    println!(
        "  GET /staff/ (dashboard, {} invites) {:>6} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ratio {:.2}",
        grouped(dashboard::INVITES as f64),
        grouped(f.dashboard_rps),
        f.dashboard_p50_ms,
        f.dashboard_p99_ms,
        f.dashboard_ratio
    );
    println!("  server RSS after load   {:.1} MiB", f.server_rss_mib);
    println!(
        "  upload                  {:.0} MB/s (disk alone {:.0} MB/s, ratio {:.2}); server RSS grew {:.1} MiB",
        f.upload_mbps,
        f.disk_mbps,
        f.upload_mbps / f.disk_mbps,
        f.upload_rss_growth_mib
    );
    if f.failed_requests > 0 {
        println!("  {} requests failed (non-2xx or socket errors)", f.failed_requests);
    }
    println!(
        "  targets: portal ≥ 50% of healthz: {}; portal p99 < 20 ms: {}; dashboard ≥ 25% of healthz: {}; dashboard p99 < 50 ms: {}; upload ≥ 200 MB/s: {}; RSS growth < 32 MiB: {}",
        verdict(f.portal_rps >= 0.5 * f.healthz_rps),
        verdict(f.portal_p99_ms < 20.0),
        verdict(f.dashboard_ratio >= 0.25),
        verdict(f.dashboard_p99_ms < 50.0),
        verdict(f.upload_mbps >= 200.0),
        verdict(f.upload_rss_growth_mib < 32.0)
    );
    println!();
}

pub async fn run(args: &HttpBenchArgs) -> anyhow::Result<ExitCode> {
    let results = super::on_each_engine(args.only, |db| async move {
        let measured = measure(&db, args).await;
        (db, measured)
    })
    .await?;
    super::print_results(&results, args.json, print_table)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let output = "Running 10s test @ http://127.0.0.1:8080/healthz
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20ms  500.00us  20.00ms   90.00%
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    2.00ms
     99%   12.50ms
  400000 requests in 10.00s, 50.00MB read
  Non-2xx or 3xx responses: 3
Requests/sec:  40000.12
Transfer/sec:      5.00MB
";
        let load = parse_wrk(output).unwrap();
        assert_eq!(load.rps, 40000.12);
        assert!((load.p50_ms - 0.812).abs() < 1e-9);
        assert_eq!(load.p99_ms, 12.5);
        assert_eq!(load.failed, 3);
        assert_eq!(parse_duration_ms("1.50s"), Some(1500.0));
    }
}
