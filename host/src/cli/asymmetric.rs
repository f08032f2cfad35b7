//! The CLI commands of asymmetric and HMAC keys, named as the AWS CLI names
//! them, with `fileb://` for binary input and `--outfile` for the main
//! binary output.

use clap::{Args, Subcommand};

use super::{BlobOut, CliError, ContextArg, OutputFormat, emit, emit_to_files, output};
use super::{parse_enum, read_blob};
use crate::model::{
    DataKeyPairSpec, DeriveSharedSecretRequest, GenerateDataKeyPairRequest, GenerateMacRequest,
    GetPublicKeyRequest, KeyAgreementAlgorithmSpec, MacAlgorithmSpec, MessageType, SecretBytes,
    SignRequest, SigningAlgorithmSpec, VerifyMacRequest, VerifyRequest,
};
use crate::service::{Caller, Kms};

/// The commands.
#[derive(Debug, Subcommand)]
pub(super) enum AsymmetricCommand {
    /// Sign a message (or its digest) with an asymmetric key.
    Sign {
        #[command(flatten)]
        message: MessageArgs,
        /// The signing algorithm, such as ECDSA_SHA_256.
        #[arg(long, value_parser = parse_enum::<SigningAlgorithmSpec>)]
        signing_algorithm: SigningAlgorithmSpec,
        /// Write the signature raw to this file instead of printing it.
        #[arg(long)]
        outfile: Option<std::path::PathBuf>,
    },
    /// Verify a signature with an asymmetric key; an invalid signature is
    /// KMSInvalidSignatureException.
    Verify {
        #[command(flatten)]
        message: MessageArgs,
        /// The signature: `fileb://PATH` for raw bytes, else base64.
        #[arg(long)]
        signature: String,
        /// The signing algorithm it was made with.
        #[arg(long, value_parser = parse_enum::<SigningAlgorithmSpec>)]
        signing_algorithm: SigningAlgorithmSpec,
    },
    /// The public key of an asymmetric key (DER SubjectPublicKeyInfo).
    GetPublicKey {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
        #[command(flatten)]
        blob_out: BlobOut,
    },
    /// An HMAC of a message under an HMAC key.
    GenerateMac {
        #[command(flatten)]
        mac: MacArgs,
        #[command(flatten)]
        blob_out: BlobOut,
    },
    /// Check an HMAC; a mismatch is KMSInvalidMacException.
    VerifyMac {
        #[command(flatten)]
        mac: MacArgs,
        /// The MAC: `fileb://PATH` for raw bytes, else base64.
        #[arg(long = "mac")]
        tag: String,
    },
    /// Generate a key pair whose private key comes back in the clear and
    /// encrypted under a symmetric key.
    GenerateDataKeyPair {
        #[command(flatten)]
        pair: PairArgs,
        /// Write the private key (PKCS #8 DER) raw to this file.
        #[arg(long)]
        private_key_outfile: Option<std::path::PathBuf>,
    },
    /// Generate a key pair whose private key comes back only encrypted.
    GenerateDataKeyPairWithoutPlaintext {
        #[command(flatten)]
        pair: PairArgs,
    },
    /// ECDH between a KEY_AGREEMENT key and a peer's public key.
    DeriveSharedSecret {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
        /// ECDH, the only algorithm.
        #[arg(long, value_parser = parse_enum::<KeyAgreementAlgorithmSpec>)]
        key_agreement_algorithm: KeyAgreementAlgorithmSpec,
        /// The peer's public key (DER SubjectPublicKeyInfo): `fileb://PATH`
        /// for raw bytes, else base64.
        #[arg(long)]
        public_key: String,
        #[command(flatten)]
        blob_out: BlobOut,
    },
}

/// What Sign and Verify take.
#[derive(Debug, Args)]
pub(super) struct MessageArgs {
    /// Key id, key ARN, alias name or alias ARN.
    #[arg(long)]
    key_id: String,
    /// The message: `fileb://PATH` for raw bytes, else base64.
    #[arg(long)]
    message: String,
    /// RAW (the default) or DIGEST.
    #[arg(long, value_parser = parse_enum::<MessageType>)]
    message_type: Option<MessageType>,
}

/// What the MAC commands take.
#[derive(Debug, Args)]
pub(super) struct MacArgs {
    /// Key id, key ARN, alias name or alias ARN of an HMAC key.
    #[arg(long)]
    key_id: String,
    /// The message: `fileb://PATH` for raw bytes, else base64.
    #[arg(long)]
    message: String,
    /// HMAC_SHA_224, HMAC_SHA_256, HMAC_SHA_384 or HMAC_SHA_512.
    #[arg(long, value_parser = parse_enum::<MacAlgorithmSpec>)]
    mac_algorithm: MacAlgorithmSpec,
}

/// What the data key pair commands take.
#[derive(Debug, Args)]
pub(super) struct PairArgs {
    /// The symmetric key that encrypts the private key.
    #[arg(long)]
    key_id: String,
    /// RSA_2048, ECC_NIST_P256, ...
    #[arg(long, value_parser = parse_enum::<DataKeyPairSpec>)]
    key_pair_spec: DataKeyPairSpec,
    #[command(flatten)]
    context: ContextArg,
    /// Write the encrypted private key raw to this file.
    #[arg(long)]
    outfile: Option<std::path::PathBuf>,
}

impl PairArgs {
    fn request(&self) -> GenerateDataKeyPairRequest {
        GenerateDataKeyPairRequest {
            key_id: self.key_id.clone(),
            key_pair_spec: Some(self.key_pair_spec),
            encryption_context: self.context.encryption_context.clone(),
            ..Default::default()
        }
    }
}

/// Runs one of the commands.
pub(super) fn run(
    kms: &Kms,
    caller: &Caller,
    command: AsymmetricCommand,
    format: OutputFormat,
) -> Result<(), CliError> {
    match command {
        AsymmetricCommand::Sign {
            message,
            signing_algorithm,
            outfile,
        } => {
            let request = SignRequest {
                key_id: message.key_id,
                message: SecretBytes::new(read_blob("--message", &message.message)?),
                message_type: message.message_type,
                signing_algorithm: Some(signing_algorithm),
                ..Default::default()
            };
            let response = kms.sign(caller, request)?;
            emit(
                &response,
                "Signature",
                &response.signature,
                BlobOut { outfile },
                format,
            )
        }
        AsymmetricCommand::Verify {
            message,
            signature,
            signing_algorithm,
        } => {
            let request = VerifyRequest {
                key_id: message.key_id,
                message: SecretBytes::new(read_blob("--message", &message.message)?),
                message_type: message.message_type,
                signature: read_blob("--signature", &signature)?,
                signing_algorithm: Some(signing_algorithm),
                ..Default::default()
            };
            output::print(&kms.verify(caller, request)?, format)
        }
        AsymmetricCommand::GetPublicKey { key_id, blob_out } => {
            let request = GetPublicKeyRequest {
                key_id,
                ..Default::default()
            };
            let response = kms.get_public_key(caller, request)?;
            emit(
                &response,
                "PublicKey",
                &response.public_key,
                blob_out,
                format,
            )
        }
        AsymmetricCommand::GenerateMac { mac, blob_out } => {
            let request = GenerateMacRequest {
                key_id: mac.key_id,
                message: SecretBytes::new(read_blob("--message", &mac.message)?),
                mac_algorithm: Some(mac.mac_algorithm),
                ..Default::default()
            };
            let response = kms.generate_mac(caller, request)?;
            emit(&response, "Mac", &response.mac, blob_out, format)
        }
        AsymmetricCommand::VerifyMac { mac, tag } => {
            let request = VerifyMacRequest {
                key_id: mac.key_id,
                message: SecretBytes::new(read_blob("--message", &mac.message)?),
                mac_algorithm: Some(mac.mac_algorithm),
                mac: read_blob("--mac", &tag)?,
                ..Default::default()
            };
            output::print(&kms.verify_mac(caller, request)?, format)
        }
        AsymmetricCommand::GenerateDataKeyPair {
            pair,
            private_key_outfile,
        } => {
            let response = kms.generate_data_key_pair(caller, pair.request())?;
            emit_to_files(
                &response,
                &[
                    (
                        "PrivateKeyCiphertextBlob",
                        &response.private_key_ciphertext_blob,
                        pair.outfile,
                    ),
                    (
                        "PrivateKeyPlaintext",
                        response.private_key_plaintext.expose(),
                        private_key_outfile,
                    ),
                ],
                format,
            )
        }
        AsymmetricCommand::GenerateDataKeyPairWithoutPlaintext { pair } => {
            let response = kms.generate_data_key_pair_without_plaintext(caller, pair.request())?;
            emit(
                &response,
                "PrivateKeyCiphertextBlob",
                &response.private_key_ciphertext_blob,
                BlobOut {
                    outfile: pair.outfile,
                },
                format,
            )
        }
        AsymmetricCommand::DeriveSharedSecret {
            key_id,
            key_agreement_algorithm,
            public_key,
            blob_out,
        } => {
            let request = DeriveSharedSecretRequest {
                key_id,
                key_agreement_algorithm: Some(key_agreement_algorithm),
                public_key: read_blob("--public-key", &public_key)?,
                ..Default::default()
            };
            let response = kms.derive_shared_secret(caller, request)?;
            emit(
                &response,
                "SharedSecret",
                response.shared_secret.expose(),
                blob_out,
                format,
            )
        }
    }
}
