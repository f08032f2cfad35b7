//! The `keyward` command line: the KMS operations on the embedded store, in
//! the AWS CLI's style (binary parameters as base64 or `fileb://`, JSON
//! output with AWS's field names).
//!
//! Output is compact JSON when stdout is not a terminal, and an indented,
//! human-readable form when it is; `--output` overrides either.

mod asymmetric;
mod audit;
mod output;
mod policy;
mod serve;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::authz::Principal;
use crate::model::{
    AlgorithmSpec, EncryptionAlgorithmSpec, ExpirationModelType, GetParametersForImportRequest,
    ImportKeyMaterialRequest, OriginType, WrappingKeySpec,
};
use crate::model::{
    AliasRequest, CreateGrantRequest, CreateKeyRequest, DataKeySpec, DecryptRequest,
    DeleteAliasRequest, DescribeKeyRequest, EnableKeyRotationRequest, EncryptRequest,
    EncryptionContext, GenerateDataKeyRequest, GenerateRandomRequest, GetKeyPolicyRequest,
    GrantConstraints, KeyIdRequest, KeySpec, KeyUsage, ListAliasesRequest, ListGrantsRequest,
    ListKeyPoliciesRequest, ListKeyRotationsRequest, ListKeysRequest, ListResourceTagsRequest,
    ListRetirableGrantsRequest, PutKeyPolicyRequest, ReEncryptRequest, RetireGrantRequest,
    RevokeGrantRequest, ScheduleKeyDeletionRequest, SecretBytes, Tag, TagResourceRequest,
    UntagResourceRequest, UpdateKeyDescriptionRequest,
};
use crate::service::{Caller, Config, Kms, KmsError};

/// The account whose root the CLI acts as unless told otherwise.
pub const DEFAULT_ACCOUNT: &str = "111122223333";

/// keyward: a key management service that works like AWS KMS.
#[derive(Debug, Parser)]
#[command(name = "keyward", version, about)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// The data directory (database and master key) [default: ./keyward-data]
    #[arg(long, global = true, env = "KEYWARD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The region requests are addressed to.
    #[arg(long, global = true, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// The principal the CLI acts as (an account root, user or role ARN).
    #[arg(
        long,
        global = true,
        env = "KEYWARD_PRINCIPAL",
        default_value = "arn:aws:iam::111122223333:root"
    )]
    principal: String,
    /// Output format; `auto` is JSON when piped and text on a terminal.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Auto)]
    output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Auto,
    Json,
    Text,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the data directory, the master key file (mode 0600) and the
    /// key store.
    Init,
    /// Serve the AWS KMS JSON protocol over HTTP(S), with SigV4.
    Serve(serve::ServeArgs),
    /// The offline policy-testing harness.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Manage the identity policies of an account (keyward's stand-in for
    /// IAM).
    #[command(subcommand)]
    IdentityPolicy(IdentityPolicyCommand),
    /// Replace a key's policy (Cedar).
    PutKeyPolicy {
        /// Key id or key ARN.
        #[arg(long)]
        key_id: String,
        /// The policy: `file://PATH` or the text itself.
        #[arg(long)]
        policy: String,
        /// Skip the lockout safety check.
        #[arg(long)]
        bypass_policy_lockout_safety_check: bool,
    },
    /// Show a key's policy.
    GetKeyPolicy {
        /// Key id or key ARN.
        #[arg(long)]
        key_id: String,
    },
    /// List a key's policy names.
    ListKeyPolicies {
        /// Key id or key ARN.
        #[arg(long)]
        key_id: String,
    },
    /// Create a grant.
    CreateGrant {
        /// Key id or key ARN.
        #[arg(long)]
        key_id: String,
        /// Who the grant allows.
        #[arg(long)]
        grantee_principal: String,
        /// Who may retire it.
        #[arg(long)]
        retiring_principal: Option<String>,
        /// The operations, comma-separated (Encrypt,Decrypt,...).
        #[arg(long, value_delimiter = ',', value_parser = parse_enum::<crate::model::GrantOperation>)]
        operations: Vec<crate::model::GrantOperation>,
        /// Require these encryption-context pairs (JSON or k=v,k=v).
        #[arg(long, value_parser = parse_context)]
        encryption_context_subset: Option<EncryptionContext>,
        /// Require exactly these encryption-context pairs.
        #[arg(long, value_parser = parse_context)]
        encryption_context_equals: Option<EncryptionContext>,
        /// A name, for idempotent retries.
        #[arg(long)]
        name: Option<String>,
    },
    /// List the grants on a key.
    ListGrants {
        /// Key id or key ARN.
        #[arg(long)]
        key_id: String,
    },
    /// List the grants a principal may retire.
    ListRetirableGrants {
        /// The retiring principal.
        #[arg(long)]
        retiring_principal: String,
    },
    /// Retire a grant, by token or by key and grant id.
    RetireGrant {
        /// The grant token.
        #[arg(long)]
        grant_token: Option<String>,
        /// The key (with --grant-id).
        #[arg(long)]
        key_id: Option<String>,
        /// The grant id (with --key-id).
        #[arg(long)]
        grant_id: Option<String>,
    },
    /// Enable a key.
    EnableKey {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
    },
    /// Disable a key.
    DisableKey {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
    },
    /// Change a key's description.
    UpdateKeyDescription {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
        /// The new description.
        #[arg(long)]
        description: String,
    },
    /// Create an alias for a key.
    CreateAlias {
        /// `alias/<name>`.
        #[arg(long)]
        alias_name: String,
        /// Key id or key ARN.
        #[arg(long)]
        target_key_id: String,
    },
    /// Point an alias at another key.
    UpdateAlias {
        /// `alias/<name>`.
        #[arg(long)]
        alias_name: String,
        /// Key id or key ARN.
        #[arg(long)]
        target_key_id: String,
    },
    /// Delete an alias.
    DeleteAlias {
        /// `alias/<name>`.
        #[arg(long)]
        alias_name: String,
    },
    /// List aliases, optionally of one key.
    ListAliases {
        /// Only this key's aliases.
        #[arg(long)]
        key_id: Option<String>,
    },
    /// Add or replace tags on a key: --tags k=v,k2=v2.
    TagResource {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
        /// The tags, as JSON or k=v,k=v.
        #[arg(long, value_parser = parse_context)]
        tags: EncryptionContext,
    },
    /// Remove tags from a key.
    UntagResource {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
        /// The tag keys, comma-separated.
        #[arg(long, value_delimiter = ',')]
        tag_keys: Vec<String>,
    },
    /// List a key's tags.
    ListResourceTags {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
    },
    /// Schedule a key's deletion after a waiting period of 7 to 30 days.
    ScheduleKeyDeletion {
        /// Key id or key ARN.
        #[arg(long)]
        key_id: String,
        /// The waiting period in days (7..=30, default 30).
        #[arg(long)]
        pending_window_in_days: Option<i64>,
    },
    /// Cancel a scheduled deletion (the key becomes Disabled).
    CancelKeyDeletion {
        /// Key id or key ARN.
        #[arg(long)]
        key_id: String,
    },
    /// Turn on automatic rotation.
    EnableKeyRotation {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
        /// The period in days (90..=2560, default 365).
        #[arg(long)]
        rotation_period_in_days: Option<i64>,
    },
    /// Turn off automatic rotation.
    DisableKeyRotation {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
    },
    /// Show a key's rotation status.
    GetKeyRotationStatus {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
    },
    /// Rotate a key's material now.
    RotateKeyOnDemand {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
    },
    /// List a key's completed rotations.
    ListKeyRotations {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
    },
    /// Maintenance of the embedded store.
    #[command(subcommand)]
    Maintenance(MaintenanceCommand),
    /// The audit trail: verify its integrity, query it, export it.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Get a public wrapping key and an import token (both good for 24
    /// hours) for importing key material into an EXTERNAL key.
    GetParametersForImport {
        /// Key id or key ARN.
        #[arg(long)]
        key_id: String,
        /// RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_256 or
        /// RSA_AES_KEY_WRAP_SHA_1.
        #[arg(long, value_parser = parse_enum::<AlgorithmSpec>)]
        wrapping_algorithm: AlgorithmSpec,
        /// RSA_2048, RSA_3072 or RSA_4096.
        #[arg(long, value_parser = parse_enum::<WrappingKeySpec>)]
        wrapping_key_spec: WrappingKeySpec,
        /// Write the public key (DER) raw to this file instead of printing it.
        #[arg(long)]
        public_key_out: Option<PathBuf>,
        /// Write the import token raw to this file instead of printing it.
        #[arg(long)]
        import_token_out: Option<PathBuf>,
    },
    /// Import key material wrapped under the public key of
    /// get-parameters-for-import.
    ImportKeyMaterial {
        /// Key id or key ARN.
        #[arg(long)]
        key_id: String,
        /// The import token: `fileb://PATH` for raw bytes, else base64.
        /// Prefer `fileb://`: other local users can read a command line.
        #[arg(long)]
        import_token: String,
        /// The wrapped material: `fileb://PATH` for raw bytes, else base64.
        /// Prefer `fileb://`: other local users can read a command line.
        #[arg(long)]
        encrypted_key_material: String,
        /// KEY_MATERIAL_EXPIRES (the default, as in AWS; needs --valid-to)
        /// or KEY_MATERIAL_DOES_NOT_EXPIRE.
        #[arg(long, value_parser = parse_enum::<ExpirationModelType>)]
        expiration_model: Option<ExpirationModelType>,
        /// When the material expires (RFC 3339, or epoch seconds; at most
        /// 365 days ahead).
        #[arg(long, value_parser = audit::parse_time)]
        valid_to: Option<i64>,
    },
    /// Delete a key's imported material; the key becomes PendingImport.
    DeleteImportedKeyMaterial {
        /// Key id or key ARN.
        #[arg(long)]
        key_id: String,
    },
    /// When and how a key was last used for a cryptographic operation.
    GetKeyLastUsage {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
    },
    /// Revoke a grant.
    RevokeGrant {
        /// Key id or key ARN.
        #[arg(long)]
        key_id: String,
        /// The grant id.
        #[arg(long)]
        grant_id: String,
    },
    /// Create a KMS key.
    CreateKey {
        /// A description of the key.
        #[arg(long)]
        description: Option<String>,
        /// The key spec (SYMMETRIC_DEFAULT).
        #[arg(long, value_parser = parse_enum::<KeySpec>)]
        key_spec: Option<KeySpec>,
        /// The key usage (ENCRYPT_DECRYPT).
        #[arg(long, value_parser = parse_enum::<KeyUsage>)]
        key_usage: Option<KeyUsage>,
        /// AWS_KMS (material generated inside the guest) or EXTERNAL (you
        /// import it: get-parameters-for-import, import-key-material).
        #[arg(long, value_parser = parse_enum::<OriginType>)]
        origin: Option<OriginType>,
    },
    /// Show a key's metadata.
    DescribeKey {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
    },
    /// List the keys of the account in the region.
    ListKeys {
        /// Page size (1..=1000).
        #[arg(long)]
        limit: Option<i64>,
        /// The NextMarker of the previous page.
        #[arg(long)]
        marker: Option<String>,
    },
    /// Encrypt up to 4096 bytes.
    Encrypt {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
        /// The plaintext: `fileb://PATH` for raw bytes, else base64.
        #[arg(long)]
        plaintext: String,
        #[command(flatten)]
        context: ContextArg,
        /// SYMMETRIC_DEFAULT (the default), or RSAES_OAEP_SHA_1 or
        /// RSAES_OAEP_SHA_256 for RSA keys.
        #[arg(long, value_parser = parse_enum::<EncryptionAlgorithmSpec>)]
        encryption_algorithm: Option<EncryptionAlgorithmSpec>,
        #[command(flatten)]
        blob_out: BlobOut,
    },
    /// Decrypt a ciphertext.
    Decrypt {
        /// The ciphertext: `fileb://PATH` for raw bytes, else base64.
        #[arg(long)]
        ciphertext_blob: String,
        /// If given, the key the ciphertext must be under (required for
        /// RSA keys).
        #[arg(long)]
        key_id: Option<String>,
        #[command(flatten)]
        context: ContextArg,
        /// SYMMETRIC_DEFAULT (the default), or the RSA-OAEP algorithm the
        /// ciphertext was made with.
        #[arg(long, value_parser = parse_enum::<EncryptionAlgorithmSpec>)]
        encryption_algorithm: Option<EncryptionAlgorithmSpec>,
        #[command(flatten)]
        blob_out: BlobOut,
    },
    /// Decrypt and encrypt again under another key, inside the crypto core.
    ReEncrypt {
        /// The ciphertext: `fileb://PATH` for raw bytes, else base64.
        #[arg(long)]
        ciphertext_blob: String,
        /// The key to encrypt under.
        #[arg(long)]
        destination_key_id: String,
        /// The context the ciphertext was encrypted with (JSON or k=v,k=v).
        #[arg(long, value_parser = parse_context)]
        source_encryption_context: Option<EncryptionContext>,
        /// The context for the new ciphertext (JSON or k=v,k=v).
        #[arg(long, value_parser = parse_context)]
        destination_encryption_context: Option<EncryptionContext>,
        #[command(flatten)]
        blob_out: BlobOut,
    },
    /// Generate a data key, returned in plaintext and encrypted.
    GenerateDataKey {
        #[command(flatten)]
        spec: DataKeyArgs,
        #[command(flatten)]
        blob_out: BlobOut,
    },
    /// Generate a data key, returned only encrypted.
    GenerateDataKeyWithoutPlaintext {
        #[command(flatten)]
        spec: DataKeyArgs,
        #[command(flatten)]
        blob_out: BlobOut,
    },
    /// Generate random bytes.
    GenerateRandom {
        /// How many (1..=1024).
        #[arg(long)]
        number_of_bytes: i64,
        #[command(flatten)]
        blob_out: BlobOut,
    },
    #[command(flatten)]
    Asymmetric(asymmetric::AsymmetricCommand),
}

#[derive(Debug, Subcommand)]
enum MaintenanceCommand {
    /// Delete the keys whose deletion date has passed (`keyward serve` does
    /// this every minute by itself).
    Run,
}

#[derive(Debug, Subcommand)]
enum IdentityPolicyCommand {
    /// Create or replace an identity policy: IAM JSON attached to a user
    /// (`--user`) or role (`--role`), or an account-wide Cedar document.
    Put {
        /// The account (12 digits).
        #[arg(long)]
        account: String,
        /// The policy's name.
        #[arg(long)]
        name: String,
        /// Attach it to this IAM user (IAM's `PutUserPolicy`).
        #[arg(long, conflicts_with = "role")]
        user: Option<String>,
        /// Attach it to this IAM role (IAM's `PutRolePolicy`).
        #[arg(long)]
        role: Option<String>,
        /// The policy: `file://PATH` or the text itself.
        #[arg(long)]
        policy: String,
    },
    /// List an account's identity policies.
    List {
        /// The account.
        #[arg(long)]
        account: String,
    },
    /// Delete an identity policy.
    Delete {
        /// The account.
        #[arg(long)]
        account: String,
        /// The policy's name.
        #[arg(long)]
        name: String,
        /// The IAM user it is attached to.
        #[arg(long, conflicts_with = "role")]
        user: Option<String>,
        /// The IAM role it is attached to.
        #[arg(long)]
        role: Option<String>,
    },
}

/// The stored name of an identity policy attached to a user or role
/// (`user/<UserName>/<PolicyName>`), or `name` itself.
fn attached_name(name: &str, user: Option<&str>, role: Option<&str>) -> Result<String, CliError> {
    Ok(match (user, role) {
        (Some(user), _) => format!("user/{user}/{name}"),
        (None, Some(role)) => format!("role/{role}/{name}"),
        (None, None) => name.to_owned(),
    })
}

/// The local operator, who changes an account's identity policies with the
/// authority of its root; the audit trail records the CLI as the agent.
fn operator(account: &str, cli: &Caller) -> Result<Caller, CliError> {
    let root = Principal::account_root(account).map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(Caller {
        principal: root,
        ..cli.clone()
    })
}

/// A text parameter: `file://PATH` reads the file.
fn read_text(value: &str) -> Result<String, CliError> {
    match value.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("cannot read `{path}`: {e}"))),
        None => Ok(value.to_owned()),
    }
}

#[derive(Debug, Args)]
struct ContextArg {
    /// The encryption context, as JSON (`{"k":"v"}`) or `k=v,k2=v2`.
    #[arg(long, value_parser = parse_context)]
    encryption_context: Option<EncryptionContext>,
}

#[derive(Debug, Args)]
struct BlobOut {
    /// Write the main binary field (CiphertextBlob, or Plaintext for
    /// decrypt and generate-random) raw to this file instead of printing it.
    #[arg(long)]
    outfile: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct DataKeyArgs {
    /// Key id, key ARN, alias name or alias ARN.
    #[arg(long)]
    key_id: String,
    /// AES_256 or AES_128.
    #[arg(long, value_parser = parse_enum::<DataKeySpec>)]
    key_spec: Option<DataKeySpec>,
    /// The length in bytes (1..=1024), instead of --key-spec.
    #[arg(long)]
    number_of_bytes: Option<i64>,
    #[command(flatten)]
    context: ContextArg,
}

impl DataKeyArgs {
    fn into_request(self) -> GenerateDataKeyRequest {
        GenerateDataKeyRequest {
            key_id: self.key_id,
            encryption_context: self.context.encryption_context,
            number_of_bytes: self.number_of_bytes,
            key_spec: self.key_spec,
            ..Default::default()
        }
    }
}

fn parse_enum<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a valid value"))
}

/// An encryption context from JSON or from `k=v,k2=v2`.
fn parse_context(text: &str) -> Result<EncryptionContext, String> {
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text)
            .map_err(|e| format!("invalid JSON encryption context: {e}"));
    }
    text.split(',')
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| format!("`{pair}` is not `key=value`"))
        })
        .collect()
}

/// A binary parameter: `fileb://PATH` reads raw bytes, `file://PATH` reads
/// base64 text, anything else is base64 itself (as the AWS CLI v2 does).
fn read_blob(parameter: &str, value: &str) -> Result<Vec<u8>, CliError> {
    let text = if let Some(path) = value.strip_prefix("fileb://") {
        return std::fs::read(path)
            .map_err(|e| CliError::Usage(format!("{parameter}: cannot read `{path}`: {e}")));
    } else if let Some(path) = value.strip_prefix("file://") {
        std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("{parameter}: cannot read `{path}`: {e}")))?
    } else {
        value.to_owned()
    };
    STANDARD.decode(text.trim()).map_err(|_| {
        CliError::Usage(format!(
            "{parameter} is not base64 (use fileb://PATH for raw bytes)"
        ))
    })
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{code}: {error}", code = .0.code(), error = .0)]
    Kms(#[from] KmsError),
    #[error(transparent)]
    Open(#[from] crate::service::OpenError),
    /// An input or output failed; `context` says what keyward was doing.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// An input or output failure while doing `context`.
    pub(crate) fn io(
        context: impl Into<String>,
    ) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}

impl CliError {
    /// The AWS CLI's exit codes: 252 for bad parameters, 254 for a service
    /// error, 255 for anything else.
    fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 252,
            Self::Kms(_) => 254,
            Self::Failed(_) => 1,
            Self::Open(_) | Self::Io { .. } => 255,
        }
    }
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEYWARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

impl GlobalArgs {
    /// The data directory: the flag, else `./keyward-data`.
    fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }
}

/// The warning the CLI prints when it schedules a deletion: deleting a key
/// that is still in use makes its ciphertexts unrecoverable.
fn last_use_warning(scheduled: &crate::model::ScheduleKeyDeletionResponse) -> String {
    match &scheduled.key_last_usage {
        Some(usage) => format!(
            "warning: key {} was last used by {} at {} (audit event {}); check `keyward audit \
             query --key-id {}` before the deletion date",
            scheduled.key_id,
            usage.operation,
            crate::audit::iso8601((usage.timestamp * 1000.0) as i64),
            usage.cloud_trail_event_id,
            scheduled.key_id,
        ),
        None => format!(
            "note: key {} has no recorded cryptographic use since tracking began",
            scheduled.key_id
        ),
    }
}

/// The data directory when none is given.
pub const DEFAULT_DATA_DIR: &str = "./keyward-data";

fn run(cli: Cli) -> Result<(), CliError> {
    let global = cli.global;
    let command = match cli.command {
        Command::Serve(args) => return serve::run(&global, args),
        Command::Policy(command) => return policy::run(command),
        other => other,
    };
    let data_dir = global.data_dir();
    let config = Config {
        regions: vec![global.region.clone()],
        ..Config::new(&data_dir)
    };
    let format = match global.output {
        OutputFormat::Auto if std::io::stdout().is_terminal() => OutputFormat::Text,
        OutputFormat::Auto => OutputFormat::Json,
        other => other,
    };
    if let Command::Init = command {
        Kms::init(&config)?;
        let done =
            serde_json::json!({ "DataDir": data_dir.display().to_string(), "Initialized": true });
        return output::print(&done, format);
    }

    let principal =
        Principal::parse(&global.principal).map_err(|e| CliError::Usage(e.to_string()))?;
    let caller = Caller {
        user_agent: Some(concat!("keyward-cli/", env!("CARGO_PKG_VERSION")).to_owned()),
        ..Caller::new(principal, global.region.clone())
    };
    let (kms, initialized) = Kms::open_or_init(config)?;
    if initialized {
        eprintln!(
            "keyward: initialised a new key store in {} (master key in {}/master.key)",
            data_dir.display(),
            data_dir.display()
        );
    }

    match command {
        Command::Init | Command::Serve(_) | Command::Policy(_) => Ok(()),
        Command::IdentityPolicy(command) => match command {
            IdentityPolicyCommand::Put {
                account,
                name,
                user,
                role,
                policy,
            } => {
                let name = attached_name(&name, user.as_deref(), role.as_deref())?;
                kms.put_identity_policy(
                    &operator(&account, &caller)?,
                    &account,
                    &name,
                    &read_text(&policy)?,
                )?;
                output::print(
                    &serde_json::json!({ "Account": account, "PolicyName": name }),
                    format,
                )
            }
            IdentityPolicyCommand::List { account } => {
                let policies: Vec<_> = kms
                    .identity_policies(&account)?
                    .into_iter()
                    .map(|(name, document)| serde_json::json!({ "PolicyName": name, "Policy": document }))
                    .collect();
                output::print(
                    &serde_json::json!({ "Account": account, "Policies": policies }),
                    format,
                )
            }
            IdentityPolicyCommand::Delete {
                account,
                name,
                user,
                role,
            } => {
                let name = attached_name(&name, user.as_deref(), role.as_deref())?;
                kms.delete_identity_policy(&operator(&account, &caller)?, &account, &name)?;
                output::print(
                    &serde_json::json!({ "Account": account, "Deleted": name }),
                    format,
                )
            }
        },
        Command::PutKeyPolicy {
            key_id,
            policy,
            bypass_policy_lockout_safety_check,
        } => {
            let request = PutKeyPolicyRequest {
                key_id,
                policy: read_text(&policy)?,
                bypass_policy_lockout_safety_check: Some(bypass_policy_lockout_safety_check),
                policy_name: None,
            };
            output::print(&kms.put_key_policy(&caller, request)?, format)
        }
        Command::GetKeyPolicy { key_id } => {
            let request = GetKeyPolicyRequest {
                key_id,
                policy_name: None,
            };
            output::print(&kms.get_key_policy(&caller, request)?, format)
        }
        Command::ListKeyPolicies { key_id } => {
            let request = ListKeyPoliciesRequest {
                key_id,
                ..Default::default()
            };
            output::print(&kms.list_key_policies(&caller, request)?, format)
        }
        Command::CreateGrant {
            key_id,
            grantee_principal,
            retiring_principal,
            operations,
            encryption_context_subset,
            encryption_context_equals,
            name,
        } => {
            let constrained =
                encryption_context_subset.is_some() || encryption_context_equals.is_some();
            let constraints = constrained.then_some(GrantConstraints {
                encryption_context_subset,
                encryption_context_equals,
            });
            let request = CreateGrantRequest {
                key_id,
                grantee_principal,
                retiring_principal,
                operations,
                constraints,
                name,
                ..Default::default()
            };
            output::print(&kms.create_grant(&caller, request)?, format)
        }
        Command::ListGrants { key_id } => {
            let request = ListGrantsRequest {
                key_id,
                ..Default::default()
            };
            output::print(&kms.list_grants(&caller, request)?, format)
        }
        Command::ListRetirableGrants { retiring_principal } => {
            let request = ListRetirableGrantsRequest {
                retiring_principal,
                ..Default::default()
            };
            output::print(&kms.list_retirable_grants(&caller, request)?, format)
        }
        Command::RetireGrant {
            grant_token,
            key_id,
            grant_id,
        } => {
            let request = RetireGrantRequest {
                grant_token,
                key_id,
                grant_id,
                dry_run: None,
            };
            output::print(&kms.retire_grant(&caller, request)?, format)
        }
        Command::EnableKey { key_id } => {
            output::print(&kms.enable_key(&caller, KeyIdRequest { key_id })?, format)
        }
        Command::DisableKey { key_id } => {
            output::print(&kms.disable_key(&caller, KeyIdRequest { key_id })?, format)
        }
        Command::UpdateKeyDescription {
            key_id,
            description,
        } => output::print(
            &kms.update_key_description(
                &caller,
                UpdateKeyDescriptionRequest {
                    key_id,
                    description,
                },
            )?,
            format,
        ),
        Command::CreateAlias {
            alias_name,
            target_key_id,
        } => output::print(
            &kms.create_alias(
                &caller,
                AliasRequest {
                    alias_name,
                    target_key_id,
                },
            )?,
            format,
        ),
        Command::UpdateAlias {
            alias_name,
            target_key_id,
        } => output::print(
            &kms.update_alias(
                &caller,
                AliasRequest {
                    alias_name,
                    target_key_id,
                },
            )?,
            format,
        ),
        Command::DeleteAlias { alias_name } => output::print(
            &kms.delete_alias(&caller, DeleteAliasRequest { alias_name })?,
            format,
        ),
        Command::ListAliases { key_id } => output::print(
            &kms.list_aliases(
                &caller,
                ListAliasesRequest {
                    key_id,
                    ..Default::default()
                },
            )?,
            format,
        ),
        Command::TagResource { key_id, tags } => {
            let tags = tags
                .into_iter()
                .map(|(tag_key, tag_value)| Tag { tag_key, tag_value })
                .collect();
            output::print(
                &kms.tag_resource(&caller, TagResourceRequest { key_id, tags })?,
                format,
            )
        }
        Command::UntagResource { key_id, tag_keys } => output::print(
            &kms.untag_resource(&caller, UntagResourceRequest { key_id, tag_keys })?,
            format,
        ),
        Command::ListResourceTags { key_id } => output::print(
            &kms.list_resource_tags(
                &caller,
                ListResourceTagsRequest {
                    key_id,
                    ..Default::default()
                },
            )?,
            format,
        ),
        Command::ScheduleKeyDeletion {
            key_id,
            pending_window_in_days,
        } => {
            let scheduled = kms.schedule_key_deletion(
                &caller,
                ScheduleKeyDeletionRequest {
                    key_id,
                    pending_window_in_days,
                },
            )?;
            eprintln!("{}", last_use_warning(&scheduled));
            output::print(&scheduled, format)
        }
        Command::CancelKeyDeletion { key_id } => output::print(
            &kms.cancel_key_deletion(&caller, KeyIdRequest { key_id })?,
            format,
        ),
        Command::EnableKeyRotation {
            key_id,
            rotation_period_in_days,
        } => output::print(
            &kms.enable_key_rotation(
                &caller,
                EnableKeyRotationRequest {
                    key_id,
                    rotation_period_in_days,
                },
            )?,
            format,
        ),
        Command::DisableKeyRotation { key_id } => output::print(
            &kms.disable_key_rotation(&caller, KeyIdRequest { key_id })?,
            format,
        ),
        Command::GetKeyRotationStatus { key_id } => output::print(
            &kms.get_key_rotation_status(&caller, KeyIdRequest { key_id })?,
            format,
        ),
        Command::RotateKeyOnDemand { key_id } => output::print(
            &kms.rotate_key_on_demand(&caller, KeyIdRequest { key_id })?,
            format,
        ),
        Command::ListKeyRotations { key_id } => output::print(
            &kms.list_key_rotations(
                &caller,
                ListKeyRotationsRequest {
                    key_id,
                    ..Default::default()
                },
            )?,
            format,
        ),
        Command::Maintenance(MaintenanceCommand::Run) => {
            output::print(&kms.run_maintenance()?, format)
        }
        Command::Audit(command) => audit::run(&kms, &caller, command, format),
        Command::GetParametersForImport {
            key_id,
            wrapping_algorithm,
            wrapping_key_spec,
            public_key_out,
            import_token_out,
        } => {
            let request = GetParametersForImportRequest {
                key_id,
                wrapping_algorithm: Some(wrapping_algorithm),
                wrapping_key_spec: Some(wrapping_key_spec),
            };
            let response = kms.get_parameters_for_import(&caller, request)?;
            emit_to_files(
                &response,
                &[
                    ("PublicKey", &response.public_key, public_key_out),
                    (
                        "ImportToken",
                        response.import_token.expose(),
                        import_token_out,
                    ),
                ],
                format,
            )
        }
        Command::ImportKeyMaterial {
            key_id,
            import_token,
            encrypted_key_material,
            expiration_model,
            valid_to,
        } => {
            let request = ImportKeyMaterialRequest {
                key_id,
                import_token: read_blob("--import-token", &import_token)?.into(),
                encrypted_key_material: read_blob(
                    "--encrypted-key-material",
                    &encrypted_key_material,
                )?
                .into(),
                expiration_model,
                valid_to: valid_to.map(|ms| ms as f64 / 1000.0),
            };
            output::print(&kms.import_key_material(&caller, request)?, format)
        }
        Command::DeleteImportedKeyMaterial { key_id } => output::print(
            &kms.delete_imported_key_material(&caller, KeyIdRequest { key_id })?,
            format,
        ),
        Command::GetKeyLastUsage { key_id } => output::print(
            &kms.get_key_last_usage(&caller, KeyIdRequest { key_id })?,
            format,
        ),
        Command::RevokeGrant { key_id, grant_id } => {
            let request = RevokeGrantRequest {
                key_id,
                grant_id,
                dry_run: None,
            };
            output::print(&kms.revoke_grant(&caller, request)?, format)
        }
        Command::CreateKey {
            description,
            key_spec,
            key_usage,
            origin,
        } => {
            let request = CreateKeyRequest {
                description,
                key_spec,
                key_usage,
                origin,
                ..Default::default()
            };
            output::print(&kms.create_key(&caller, request)?, format)
        }
        Command::DescribeKey { key_id } => {
            let request = DescribeKeyRequest {
                key_id,
                ..Default::default()
            };
            output::print(&kms.describe_key(&caller, request)?, format)
        }
        Command::ListKeys { limit, marker } => output::print(
            &kms.list_keys(&caller, ListKeysRequest { limit, marker })?,
            format,
        ),
        Command::Encrypt {
            key_id,
            plaintext,
            context,
            encryption_algorithm,
            blob_out,
        } => {
            let request = EncryptRequest {
                key_id,
                plaintext: SecretBytes::new(read_blob("--plaintext", &plaintext)?),
                encryption_context: context.encryption_context,
                encryption_algorithm,
                ..Default::default()
            };
            let response = kms.encrypt(&caller, request)?;
            emit(
                &response,
                "CiphertextBlob",
                &response.ciphertext_blob,
                blob_out,
                format,
            )
        }
        Command::Decrypt {
            ciphertext_blob,
            key_id,
            context,
            encryption_algorithm,
            blob_out,
        } => {
            let request = DecryptRequest {
                ciphertext_blob: read_blob("--ciphertext-blob", &ciphertext_blob)?,
                key_id,
                encryption_context: context.encryption_context,
                encryption_algorithm,
                ..Default::default()
            };
            let response = kms.decrypt(&caller, request)?;
            emit(
                &response,
                "Plaintext",
                response.plaintext.expose(),
                blob_out,
                format,
            )
        }
        Command::ReEncrypt {
            ciphertext_blob,
            destination_key_id,
            source_encryption_context,
            destination_encryption_context,
            blob_out,
        } => {
            let request = ReEncryptRequest {
                ciphertext_blob: read_blob("--ciphertext-blob", &ciphertext_blob)?,
                destination_key_id,
                source_encryption_context,
                destination_encryption_context,
                ..Default::default()
            };
            let response = kms.re_encrypt(&caller, request)?;
            emit(
                &response,
                "CiphertextBlob",
                &response.ciphertext_blob,
                blob_out,
                format,
            )
        }
        Command::GenerateDataKey { spec, blob_out } => {
            let response = kms.generate_data_key(&caller, spec.into_request())?;
            emit(
                &response,
                "CiphertextBlob",
                &response.ciphertext_blob,
                blob_out,
                format,
            )
        }
        Command::GenerateDataKeyWithoutPlaintext { spec, blob_out } => {
            let response = kms.generate_data_key_without_plaintext(&caller, spec.into_request())?;
            emit(
                &response,
                "CiphertextBlob",
                &response.ciphertext_blob,
                blob_out,
                format,
            )
        }
        Command::Asymmetric(command) => asymmetric::run(&kms, &caller, command, format),
        Command::GenerateRandom {
            number_of_bytes,
            blob_out,
        } => {
            let request = GenerateRandomRequest {
                number_of_bytes: Some(number_of_bytes),
                custom_key_store_id: None,
            };
            let response = kms.generate_random(&caller, request)?;
            emit(
                &response,
                "Plaintext",
                response.plaintext.expose(),
                blob_out,
                format,
            )
        }
    }
}

/// Writes a binary field raw to a file the user named, readable by its
/// owner only (mode 0600, also if the file was there before): the fields
/// written so are plaintexts, random bytes and import tokens.
fn write_out(path: &std::path::Path, bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| {
            // An existing file may have been wider; a device (`/dev/stdout`,
            // `/dev/null`) is not the CLI's to change.
            if file.metadata()?.is_file() {
                file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            }
            file.write_all(bytes)
        });
    written.map_err(|e| CliError::io(format!("cannot write `{}`", path.display()))(e.into()))
}

/// Prints a response, or, with `--outfile`, writes `field` raw to the file
/// and prints the rest.
fn emit<T: Serialize>(
    response: &T,
    field: &str,
    bytes: &[u8],
    blob_out: BlobOut,
    format: OutputFormat,
) -> Result<(), CliError> {
    emit_to_files(response, &[(field, bytes, blob_out.outfile)], format)
}

/// Prints a response, with each binary field that has a file written raw to
/// it instead of printed.
fn emit_to_files<T: Serialize>(
    response: &T,
    files: &[(&str, &[u8], Option<PathBuf>)],
    format: OutputFormat,
) -> Result<(), CliError> {
    let mut value = serde_json::to_value(response)
        .map_err(|e| CliError::io("cannot render the response")(e.into()))?;
    for (field, bytes, path) in files {
        if let Some(path) = path {
            write_out(path, bytes)?;
            if let Some(object) = value.as_object_mut() {
                object.remove(*field);
            }
        }
    }
    output::print(&value, format)
}
