//! `switchyard-testkit`: the fake providers as a process, and a streaming probe for benchmarks.
//!
//! - `switchyard-testkit [serve] [ADDR]` runs the fake providers on ADDR (default
//!   127.0.0.1:0) and prints `listening on http://…`.
//! - `switchyard-testkit probe URL KEY MODEL STREAMS CONCURRENCY WORDS [TOKDELAY_MS]`
//!   opens STREAMS streamed chat completions (CONCURRENCY at a time) and prints, as JSON, the
//!   time to first content token and the gaps between chunks (milliseconds, percentiles).
//!   For many streams open at once, make them long (WORDS × TOKDELAY_MS) and CONCURRENCY high.
//!   PROBE_HEADERS='{"name":"value"}' adds request headers; PROBE_DEADLINE_SECS stops
//!   waiting after that long and reports the streams still open as `unfinished` (a gateway
//!   that cannot keep up still gets figures instead of none).

use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

/// Extra request headers for the probe, from `PROBE_HEADERS` (a JSON object).
fn extra_headers() -> Vec<(String, String)> {
    std::env::var("PROBE_HEADERS")
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&s).ok())
        .map(|m| {
            m.into_iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn probe(args: &[String]) -> Result<(), String> {
    let get = |i: usize| {
        args.get(i)
            .cloned()
            .ok_or_else(|| format!("missing argument {i}"))
    };
    let (url, key, model) = (get(0)?, get(1)?, get(2)?);
    let streams: usize = get(3)?.parse().map_err(|e| format!("STREAMS: {e}"))?;
    let concurrency: usize = get(4)?.parse().map_err(|e| format!("CONCURRENCY: {e}"))?;
    let words: usize = get(5)?.parse().map_err(|e| format!("WORDS: {e}"))?;
    let tokdelay: u64 = args.get(6).and_then(|s| s.parse().ok()).unwrap_or(0);
    let prompt = format!("{} #tokdelay:{tokdelay}", vec!["token"; words].join(" "));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .map_err(|e| e.to_string())?;
    let deadline = std::env::var("PROBE_DEADLINE_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(|secs| tokio::time::Instant::now() + std::time::Duration::from_secs(secs));
    let sem = Arc::new(Semaphore::new(concurrency));
    let mut tasks = Vec::new();
    for _ in 0..streams {
        let (client, url, key, model, prompt, sem) = (
            client.clone(),
            url.clone(),
            key.clone(),
            model.clone(),
            prompt.clone(),
            sem.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.ok()?;
            let body = serde_json::json!({"model": model, "stream": true, "messages": [{"role": "user", "content": prompt}]});
            let start = Instant::now();
            let mut req = client.post(&url).bearer_auth(&key).json(&body);
            for (k, v) in extra_headers() {
                req = req.header(k, v);
            }
            let resp = req.send().await.ok()?;
            if !resp.status().is_success() {
                return None;
            }
            let mut body = resp.bytes_stream();
            let (mut first, mut last, mut gaps) = (None::<f64>, None::<Instant>, Vec::new());
            while let Some(Ok(chunk)) = body.next().await {
                let now = Instant::now();
                if chunk.windows(9).any(|w| w == b"\"content\"") || chunk.windows(6).any(|w| w == b"\"text\"") {
                    if first.is_none() {
                        first = Some(now.duration_since(start).as_secs_f64() * 1000.0);
                    } else if let Some(l) = last {
                        gaps.push(now.duration_since(l).as_secs_f64() * 1000.0);
                    }
                    last = Some(now);
                }
            }
            Some((first?, gaps))
        }));
    }
    let (mut ttft, mut gaps, mut errors, mut unfinished) = (Vec::new(), Vec::new(), 0usize, 0usize);
    for mut t in tasks {
        let outcome = match deadline {
            Some(d) => match tokio::time::timeout_at(d, &mut t).await {
                Ok(r) => r,
                Err(_) => {
                    t.abort();
                    unfinished += 1;
                    continue;
                }
            },
            None => t.await,
        };
        match outcome.ok().flatten() {
            Some((f, g)) => {
                ttft.push(f);
                gaps.extend(g);
            }
            None => errors += 1,
        }
    }
    let summary = |v: &mut Vec<f64>| serde_json::json!({"p50": pct(v, 0.5), "p90": pct(v, 0.9), "p99": pct(v, 0.99), "max": pct(v, 1.0), "n": v.len()});
    println!(
        "{}",
        serde_json::json!({"ttft_ms": summary(&mut ttft), "gap_ms": summary(&mut gaps), "errors": errors, "unfinished": unfinished, "streams": streams})
    );
    Ok(())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("probe") {
        if let Err(e) = probe(&args[1..]).await {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
        return Ok(());
    }
    let rest: Vec<&String> = args.iter().filter(|a| a.as_str() != "serve").collect();
    let addr = rest
        .first()
        .map(|s| s.to_string())
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    use std::io::Write;
    std::io::stdout().flush()?;
    switchyard_testkit::serve_forever(listener).await
}
