//! A flood of idle connections against a process whose open-file limit is small: the gateway
//! fits its connection cap to the limit, so clients beyond it get a prompt 503 instead of
//! waiting in the accept queue of a process that can no longer accept, and service resumes
//! once the flood is gone.

mod common;

use common::{fake_config, scratch};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use switchyard_testkit::FakeUpstream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The first bytes of the answer to `GET /health`, or `None` if none came within 3 s.
async fn health(addr: &str) -> Option<String> {
    let ask = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut buf = vec![0u8; 64];
        let n = s.read(&mut buf).await.ok()?;
        Some(String::from_utf8_lossy(buf.get(..n)?).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(3), ask)
        .await
        .ok()
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connection_floods_get_503_not_silence_under_a_small_descriptor_limit() {
    let upstream = FakeUpstream::start().await.expect("fake upstream");
    let dir = scratch("descriptors");
    let config = fake_config(&dir, &upstream.base_url("openai"), "0.000001", 10);
    // `ulimit -n` in the shell, then the gateway in its place: soft and hard limit 320.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 320 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_switchyard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = lines
            .next()
            .and_then(Result::ok)
            .expect("server prints its address");
        if let Some(a) = line.split("listening on http://").nth(1) {
            break a.trim().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    assert!(
        health(&addr).await.is_some_and(|h| h.contains(" 200 ")),
        "serves before the flood"
    );

    // More idle connections than the process has descriptors.
    let mut flood = Vec::new();
    for _ in 0..400 {
        if let Ok(Ok(s)) =
            tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(&addr)).await
        {
            flood.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = health(&addr).await;
    assert!(
        during
            .as_deref()
            .is_some_and(|h| h.contains(" 503 ") || h.contains(" 200 ")),
        "a client during the flood got no answer: {during:?}"
    );
    drop(flood);
    let mut back = false;
    for _ in 0..50 {
        if health(&addr).await.is_some_and(|h| h.contains(" 200 ")) {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(back, "service did not resume once the flood was gone");
}
