//! `keyward serve`: the KMS wire protocol over HTTP(S).
//!
//! Settings come from a TOML file (`--config`), overridden by flags; secrets
//! (the master key, identity secrets) can come from environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use serde::Deserialize;

use super::{CliError, DEFAULT_ACCOUNT, GlobalArgs};
use crate::api::identities::{self, Identities};
use crate::api::{Server, ServerConfig, tls};
use crate::service::{Config, Kms};

/// The default listening address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4599";
/// The regions served when none are configured.
pub const DEFAULT_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-northeast-1",
    "ap-southeast-2",
];

/// RSA keys of each size that `serve` keeps ready: RSA_4096 takes seconds
/// to generate (BENCHMARKS.md), two cover a burst.
const DEFAULT_PREPARED_RSA_KEYS: usize = 2;

/// Flags of `keyward serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// A TOML file with any of: listen, data_dir, regions, identities,
    /// tls_cert, tls_key, tls_self_signed, prepared_rsa_keys.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The address to listen on [default: 127.0.0.1:4599].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The regions to serve, comma-separated.
    #[arg(long, value_delimiter = ',')]
    regions: Option<Vec<String>>,
    /// The identities file (access keys → principals). Without one, a
    /// development identity is written to the data directory.
    #[arg(long)]
    identities: Option<PathBuf>,
    /// A PEM certificate chain for TLS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve TLS with a self-signed certificate for localhost, written to
    /// <data dir>/tls/cert.pem for clients to trust.
    #[arg(long, conflicts_with = "tls_cert")]
    tls_self_signed: bool,
    /// Make every audit event of a read-only request reach the disk (fsync)
    /// before its answer, instead of surviving a crash of keyward only.
    /// Mutations are always fsynced with their event.
    #[arg(long)]
    audit_fsync: bool,
    /// RSA keys of each size to generate ahead of use, so that CreateKey and
    /// GenerateDataKeyPair with RSA answer without waiting seconds for one
    /// (0: none; also `prepared_rsa_keys` in the config file).
    #[arg(long)]
    prepared_rsa_keys: Option<usize>,
}

/// The `--config` file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    regions: Option<Vec<String>>,
    identities: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    #[serde(default)]
    tls_self_signed: bool,
    prepared_rsa_keys: Option<usize>,
}

fn load_file(path: &Path) -> Result<FileConfig, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read `{}`: {e}", path.display())))?;
    toml::from_str(&text)
        .map_err(|e| CliError::Usage(format!("`{}` is not a valid config: {e}", path.display())))
}

pub(crate) fn run(global: &GlobalArgs, args: ServeArgs) -> Result<(), CliError> {
    // A build with the test hooks can reveal key material through them: it
    // must never serve.
    if cfg!(feature = "test-hooks") {
        return Err(CliError::Usage(
            "this keyward was built with the `test-hooks` feature, which can reveal key \
             material; it refuses to serve (build without it)"
                .into(),
        ));
    }
    let file = match &args.config {
        Some(path) => load_file(path)?,
        None => FileConfig::default(),
    };
    let data_dir = global
        .data_dir
        .clone()
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from(super::DEFAULT_DATA_DIR));
    let listen = match args.listen.or(file.listen) {
        Some(listen) => listen,
        None => DEFAULT_LISTEN
            .parse()
            .map_err(|e| CliError::Usage(format!("bad default address: {e}")))?,
    };
    let regions = args
        .regions
        .or(file.regions)
        .unwrap_or_else(|| DEFAULT_REGIONS.iter().map(|r| (*r).to_owned()).collect());

    let defaults = Config::new(&data_dir);
    let config = Config {
        core: crate::core::CoreConfig {
            prepared_rsa_keys: args
                .prepared_rsa_keys
                .or(file.prepared_rsa_keys)
                .unwrap_or(DEFAULT_PREPARED_RSA_KEYS),
            ..defaults.core.clone()
        },
        regions: regions.clone(),
        audit_sync: if args.audit_fsync {
            crate::store::AuditSync::Disk
        } else {
            crate::store::AuditSync::Os
        },
        ..defaults
    };
    let (kms, initialized) = Kms::open_or_init(config)?;
    if initialized {
        println!(
            "keyward: no key store in {}; initialised a new one",
            data_dir.display()
        );
    }

    let identities = match args.identities.or(file.identities) {
        Some(path) => Identities::load(&path).map_err(|e| CliError::Usage(format!("{e}")))?,
        None => {
            let path = data_dir.join("identities.json");
            if !path.is_file() {
                let dev = identities::write_dev_identity(&data_dir, DEFAULT_ACCOUNT)
                    .map_err(|e| CliError::io("cannot write the development identity")(e.into()))?;
                println!(
                    "keyward: wrote a development identity: access key {} as {} \
                     (secret in {}; AWS profile `keyward` in {})",
                    dev.access_key_id,
                    dev.principal,
                    path.display(),
                    data_dir.join("credentials").display()
                );
            }
            Identities::load(&path).map_err(|e| CliError::Usage(format!("{e}")))?
        }
    };

    let tls_cert = args.tls_cert.or(file.tls_cert);
    let tls_key = args.tls_key.or(file.tls_key);
    let tls = match (
        tls_cert,
        tls_key,
        args.tls_self_signed || file.tls_self_signed,
    ) {
        (Some(cert), Some(key), _) => {
            Some(tls::from_pem_files(&cert, &key).map_err(|e| CliError::Usage(e.to_string()))?)
        }
        (None, None, true) => {
            let (config, cert) =
                tls::self_signed(&data_dir).map_err(|e| CliError::Usage(e.to_string()))?;
            println!("keyward: self-signed TLS certificate in {}", cert.display());
            Some(config)
        }
        (None, None, false) => None,
        _ => {
            return Err(CliError::Usage(
                "--tls-cert and --tls-key go together".into(),
            ));
        }
    };
    let scheme = if tls.is_some() { "https" } else { "http" };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::io("cannot start the runtime")(e.into()))?;
    let kms = Arc::new(kms);
    runtime.block_on(async move {
        // The deletion sweeper: keys whose waiting period has ended are
        // deleted within a minute.
        let sweeper = Arc::clone(&kms);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                let kms = Arc::clone(&sweeper);
                match tokio::task::spawn_blocking(move || kms.run_maintenance()).await {
                    Ok(Ok(report)) if !report.deleted_keys.is_empty() => {
                        tracing::info!(deleted = ?report.deleted_keys, "maintenance");
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!("maintenance failed: {e}"),
                    Err(e) => tracing::error!("maintenance task failed: {e}"),
                }
            }
        });
        let server = Server::bind(
            kms,
            ServerConfig {
                listen,
                tls,
                identities,
            },
        )
        .await
        .map_err(|e| CliError::io(format!("cannot listen on {listen}"))(e.into()))?;
        let addr = server
            .local_addr()
            .map_err(|e| CliError::io("cannot read the listening address")(e.into()))?;
        println!(
            "keyward: serving AWS KMS on {scheme}://{addr} (regions: {})",
            regions.join(", ")
        );
        server
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await;
        Ok::<(), CliError>(())
    })?;
    Ok(())
}
