//! `keyward-load`: an HTTP load generator for `keyward serve`.
//!
//! It opens N keep-alive connections, sends SigV4-signed Encrypt (32 bytes)
//! or GenerateDataKey requests for T seconds, and prints requests/s and the
//! p50/p99/p999 latency. Each connection signs its request afresh every
//! second, so the server verifies real signatures throughout.
//!
//! ```text
//! keyward-load --endpoint http://127.0.0.1:4599 --credentials keyward-data/credentials \
//!     --connections 32 --seconds 10 --operation encrypt
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use keyward::api::client::Signer;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Operation {
    /// Encrypt 32 bytes.
    Encrypt,
    /// GenerateDataKey with KeySpec AES_256.
    GenerateDataKey,
}

/// Load generator for keyward's KMS endpoint.
#[derive(Debug, Parser)]
#[command(name = "keyward-load", about)]
struct Args {
    /// The server (http only).
    #[arg(long, default_value = "http://127.0.0.1:4599")]
    endpoint: String,
    /// An AWS shared-credentials file with the profile `keyward` (as
    /// `keyward serve` writes); otherwise AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY.
    #[arg(long)]
    credentials: Option<PathBuf>,
    /// The region to sign for.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// How long to run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// What to send.
    #[arg(long, value_enum, default_value_t = Operation::Encrypt)]
    operation: Operation,
    /// The key to use; by default one is created.
    #[arg(long)]
    key_id: Option<String>,
    /// Client threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn credentials(args: &Args) -> Result<(String, String), Error> {
    if let Some(path) = &args.credentials {
        let text = std::fs::read_to_string(path)?;
        let value = |name: &str| {
            text.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == name)
                .map(|(_, v)| v.trim().to_owned())
                .ok_or_else(|| format!("`{name}` is not in {}", path.display()))
        };
        return Ok((value("aws_access_key_id")?, value("aws_secret_access_key")?));
    }
    Ok((
        std::env::var("AWS_ACCESS_KEY_ID")?,
        std::env::var("AWS_SECRET_ACCESS_KEY")?,
    ))
}

struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
}

impl Connection {
    async fn open(host: &str) -> Result<Self, Error> {
        let stream = tokio::net::TcpStream::connect(host).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Self {
            sender,
            host: host.to_owned(),
        })
    }

    async fn send(
        &mut self,
        headers: &[(String, String)],
        body: &Bytes,
    ) -> Result<(u16, Bytes), Error> {
        // Unsigned, as SDKs send it: the trail names the load's requests.
        let mut request = http::Request::post("/").header(
            http::header::USER_AGENT,
            concat!("keyward-load/", env!("CARGO_PKG_VERSION")),
        );
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(body.clone()))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

async fn call(
    connection: &mut Connection,
    signer: &Signer,
    operation: &str,
    body: &[u8],
) -> Result<serde_json::Value, Error> {
    let headers = signer.headers(&connection.host, operation, body, SystemTime::now())?;
    let (status, response) = connection
        .send(&headers, &Bytes::copy_from_slice(body))
        .await?;
    if status != 200 {
        return Err(format!(
            "{operation} failed with {status}: {}",
            String::from_utf8_lossy(&response)
        )
        .into());
    }
    Ok(serde_json::from_slice(&response)?)
}

/// One connection's loop: latencies in microseconds, and errors.
async fn worker(
    host: String,
    signer: Signer,
    operation: &'static str,
    body: Bytes,
    until: Instant,
) -> Result<(Vec<u32>, u64), Error> {
    let mut connection = Connection::open(&host).await?;
    let mut latencies = Vec::with_capacity(1 << 16);
    let mut errors = 0u64;
    let mut signed_at = Instant::now();
    let mut headers = signer.headers(&host, operation, &body, SystemTime::now())?;
    while Instant::now() < until {
        if signed_at.elapsed() >= Duration::from_secs(1) {
            headers = signer.headers(&host, operation, &body, SystemTime::now())?;
            signed_at = Instant::now();
        }
        let started = Instant::now();
        match connection.send(&headers, &body).await {
            Ok((200, _)) => {
                latencies.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX))
            }
            Ok(_) => errors += 1,
            Err(_) => {
                errors += 1;
                connection = Connection::open(&host).await?;
            }
        }
    }
    Ok((latencies, errors))
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a sample of at most a few million"
    )]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted
        .get(index.min(sorted.len().saturating_sub(1)))
        .map_or(0.0, |micros| f64::from(*micros) / 1000.0)
}

async fn run(args: Args) -> Result<(), Error> {
    let host = args
        .endpoint
        .strip_prefix("http://")
        .ok_or("only http:// endpoints are supported")?
        .trim_end_matches('/')
        .to_owned();
    let (access_key, secret) = credentials(&args)?;
    let signer = Signer::new(&access_key, &secret, &args.region);

    let key_id = match &args.key_id {
        Some(key) => key.clone(),
        None => {
            let mut connection = Connection::open(&host).await?;
            let created = call(
                &mut connection,
                &signer,
                "CreateKey",
                br#"{"Description":"keyward-load"}"#,
            )
            .await?;
            created
                .get("KeyMetadata")
                .and_then(|m| m.get("KeyId"))
                .and_then(|id| id.as_str())
                .ok_or("CreateKey returned no KeyId")?
                .to_owned()
        }
    };
    let (operation, body) = match args.operation {
        Operation::Encrypt => (
            "Encrypt",
            serde_json::json!({ "KeyId": key_id, "Plaintext": STANDARD.encode([7u8; 32]) }),
        ),
        Operation::GenerateDataKey => (
            "GenerateDataKey",
            serde_json::json!({ "KeyId": key_id, "KeySpec": "AES_256" }),
        ),
    };
    let body = Bytes::from(serde_json::to_vec(&body)?);
    // One real call first, so that a misconfiguration fails loudly.
    call(
        &mut Connection::open(&host).await?,
        &signer,
        operation,
        &body,
    )
    .await?;

    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        tasks.push(tokio::spawn(worker(
            host.clone(),
            signer.clone(),
            operation,
            body.clone(),
            until,
        )));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut mine, failed) = task.await??;
        latencies.append(&mut mine);
        errors += failed;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    #[expect(clippy::cast_precision_loss, reason = "a request count")]
    let rate = latencies.len() as f64 / elapsed;
    println!(
        "{operation}: {} connections, {elapsed:.1} s: {} requests, {errors} errors, {rate:.0} req/s, \
         latency p50 {:.3} ms, p99 {:.3} ms, p999 {:.3} ms, max {:.3} ms",
        args.connections,
        latencies.len(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
        percentile(&latencies, 1.0),
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
