//! `switchyard-testkit [ADDR]`: runs the fake providers on ADDR (default 127.0.0.1:0) and
//! prints `listening on http://…` so scripts (SDK tests, benchmarks) can find it.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    use std::io::Write;
    std::io::stdout().flush()?;
    switchyard_testkit::serve_forever(listener).await
}
