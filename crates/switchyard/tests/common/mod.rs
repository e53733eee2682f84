//! Running the real binary: scratch directories, CLI calls, `serve` on port 0.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use switchyard_api::Money;

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
}

pub fn scratch(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir =
        std::env::temp_dir().join(format!("switchyard-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Runs a CLI command; its stdout, trimmed.
pub fn cli(args: &[&str], storage: &[String]) -> String {
    let out = bin().args(args).args(storage).output().expect("runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `switchyard serve` on an ephemeral port; returns the child and its address.
pub fn serve(config: &Path, extra: &[String], env: &[(&str, &str)]) -> (Child, String) {
    serve_to(config, extra, env, Stdio::null())
}

/// `serve` with its log (stderr) written to `log`; `RUST_LOG` can be set through `env`.
pub fn serve_logged(
    config: &Path,
    extra: &[String],
    env: &[(&str, &str)],
    log: &Path,
) -> (Child, String) {
    let file = std::fs::File::create(log).expect("log file");
    serve_to(config, extra, env, Stdio::from(file))
}

fn serve_to(
    config: &Path,
    extra: &[String],
    env: &[(&str, &str)],
    stderr: Stdio,
) -> (Child, String) {
    let mut cmd = bin();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .args(extra)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(stderr);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = lines.next().and_then(Result::ok).unwrap_or_default();
        if let Some(a) = line.split("listening on http://").nth(1) {
            break a.trim().to_string();
        }
        assert!(
            !line.is_empty() || child.try_wait().ok().flatten().is_none(),
            "server exited"
        );
    };
    // Keep reading what it prints, as a terminal would.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

/// A config with one OpenAI-compatible fake model.
pub fn fake_config(dir: &Path, base_url: &str, price: &str, max_completion: u64) -> PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "default_catalog = false\n[[providers]]\nslug = \"fake\"\nname = \"Fake\"\nprotocol = \"openai\"\nbase_url = \"{base_url}\"\napi_key_env = \"FAKE_KEY\"\n\
             [[models]]\nid = \"fake/gpt\"\nname = \"Fake\"\ncontext_length = 100000\n\
             endpoints = [{{ provider = \"fake\", upstream_id = \"gpt-fake\", prompt = \"{price}\", completion = \"{price}\", max_completion_tokens = {max_completion} }}]\n"
        ),
    )
    .expect("config");
    config
}

/// The exact text of the first `"cost":` number in a body.
pub fn cost_in(body: &str) -> Option<Money> {
    let at = body.find("\"cost\":")? + 7;
    let num: String = body[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    Money::parse(&num).ok()
}
