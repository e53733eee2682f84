//! The binary as a newcomer uses it: `--help`, `check-config`, and `serve --demo` answering a
//! first request with the key it printed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn scratch(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "switchyard-cli-{name}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn help_names_every_serve_flag() {
    let out = bin().args(["serve", "--help"]).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--config", "--listen", "--data-dir", "--demo"] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
    let out = bin().arg("--help").output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("serve") && text.contains("check-config") && text.contains("--demo"));
}

#[test]
fn check_config_accepts_the_examples_and_names_bad_fields() {
    for example in [
        "examples/switchyard.example.toml",
        "examples/local-models.toml",
    ] {
        let out = bin()
            .arg("check-config")
            .arg(repo(example))
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));
    }
    let dir = scratch("bad-config");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[providers]]\nslug = \"p\"\nname = \"P\"\nprotocol = \"openai\"\nbase_url = \"http://x\"\n\
         [[models]]\nid = \"a/b\"\nname = \"B\"\ncontext_length = 10\n\
         [[models.endpoints]]\nprovider = \"p\"\nupstream_id = \"b\"\nprompt = \"0.1\"\ncompletion = \"lots\"\n",
    )
    .expect("write");
    let out = bin().arg("check-config").arg(&bad).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("models[0].endpoints[0].completion"), "{err}");

    std::fs::write(&bad, "[server]\nlisten_on = \"x\"\n").expect("write");
    let out = bin().arg("check-config").arg(&bad).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen_on"));
}

fn http(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(request.as_bytes()).expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[test]
fn demo_quick_start_answers_with_the_printed_key() {
    let dir = scratch("demo");
    let mut child = bin()
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .env_remove("SWITCHYARD_API_KEYS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut addr, mut key) = (String::new(), String::new());
    for _ in 0..10 {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(rest) = line.split("listening on http://").nth(1) {
            addr = rest.trim().to_string();
        }
        if let Some(rest) = line.split("API key:").nth(1) {
            key = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
        }
        if !addr.is_empty() && !key.is_empty() {
            break;
        }
    }
    assert!(key.starts_with("sk-sy-v1-"), "printed key: {key}");
    let saved = std::fs::read_to_string(dir.join("data/api-key")).unwrap_or_default();
    assert_eq!(
        saved.trim(),
        key,
        "the printed key is the one kept in the data dir"
    );

    let body = r#"{"model":"switchyard/demo-fast","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}"#;
    let resp = http(
        &addr,
        &format!(
            "POST /api/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        resp.contains("Simulated answer") && resp.contains("\"cost\":"),
        "{resp}"
    );
}

#[test]
fn cli_manages_accounts_credits_and_keys() {
    let dir = scratch("admin");
    let data = dir.join("data");
    let run = |args: &[&str]| {
        let out = bin()
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .expect("runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, out, _) = run(&["accounts", "create", "--name", "team-a"]);
    assert!(ok && out.contains("team-a"), "{out}");
    let (ok, out, _) = run(&[
        "credits",
        "grant",
        "--account",
        "team-a",
        "--amount",
        "12.5",
        "--note",
        "PO 42",
    ]);
    assert!(ok && out.contains("balance $12.5"), "{out}");
    let (ok, out, _) = run(&[
        "credits",
        "grant",
        "--account",
        "team-a",
        "--amount",
        "-2.25",
    ]);
    assert!(ok && out.contains("balance $10.25"), "{out}");
    let (ok, out, _) = run(&["credits", "balance", "--account", "team-a"]);
    assert!(ok && out.trim() == "team-a: $10.25", "{out}");
    let (ok, _, err) = run(&["credits", "grant", "--account", "nobody", "--amount", "1"]);
    assert!(!ok && err.contains("no account `nobody`"), "{err}");
    let (ok, _, err) = run(&[
        "credits",
        "grant",
        "--account",
        "team-a",
        "--amount",
        "lots",
    ]);
    assert!(!ok && err.contains("--amount"), "{err}");
    let (ok, key, _) = run(&["keys", "create", "--account", "team-a", "--management"]);
    assert!(ok && key.trim().starts_with("sk-sy-v1-"));
    let (ok, out, _) = run(&["accounts", "list"]);
    assert!(
        ok && out.contains("team-a") && out.contains("prepaid") && out.contains("$10.25"),
        "{out}"
    );
}
