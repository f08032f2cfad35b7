//! TLS for `keyward serve`: a certificate and key from PEM files, or a
//! self-signed certificate for local use, written so that clients can trust
//! it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{CipherSuite, ProtocolVersion, ServerConfig, ServerConnection};

use crate::service::TlsDetails;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("cannot use `{path}`")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The certificate or key is not usable.
    #[error("the TLS certificate or key is not usable: {0}")]
    Invalid(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A rustls server configuration from PEM files.
pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let cert_pem = std::fs::read(cert).map_err(io(cert))?;
    let key_pem = std::fs::read(key).map_err(io(key))?;
    server_config(&cert_pem, &key_pem)
}

fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<ServerConfig>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Invalid("no certificate in the PEM file".into()));
    }
    let key: PrivateKeyDer<'static> = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| TlsError::Invalid(format!("no usable private key in the PEM file: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Invalid(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Invalid(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// What the audit trail records of an established connection: its version
/// and cipher suite, by CloudTrail's names (the `Host` is the request's).
pub fn details(connection: &ServerConnection) -> TlsDetails {
    let version = match connection.protocol_version() {
        Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
        Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(other) => other.as_str().unwrap_or("unknown"),
        None => "unknown",
    };
    let cipher_suite = connection
        .negotiated_cipher_suite()
        .map_or("unknown", |suite| cipher_suite_name(suite.suite()));
    TlsDetails {
        version: version.into(),
        cipher_suite: cipher_suite.into(),
        host: None,
    }
}

/// A cipher suite's name as CloudTrail writes it: the IANA name for
/// TLS 1.3, OpenSSL's for TLS 1.2, and rustls's for any other.
fn cipher_suite_name(suite: CipherSuite) -> &'static str {
    match suite {
        CipherSuite::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        CipherSuite::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
            "ECDHE-ECDSA-CHACHA20-POLY1305"
        }
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        other => other.as_str().unwrap_or("unknown"),
    }
}

/// Where the self-signed certificate lives in a data directory.
pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, created in
/// `<data dir>/tls/` on first use (key mode 0600) and reused afterwards.
/// Returns the configuration and the certificate's path, for clients to
/// trust.
pub fn self_signed(data_dir: &Path) -> Result<(Arc<ServerConfig>, PathBuf), TlsError> {
    let (cert_path, key_path) = self_signed_paths(data_dir);
    if !cert_path.is_file() || !key_path.is_file() {
        let dir = cert_path.parent().unwrap_or(data_dir);
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let certified = rcgen::generate_simple_self_signed(names)
            .map_err(|e| TlsError::Invalid(e.to_string()))?;
        // A key left from a half-written pair is replaced, never reused.
        match std::fs::remove_file(&key_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&key_path)(e)),
            _ => {}
        }
        let pem = zeroize::Zeroizing::new(certified.signing_key.serialize_pem());
        crate::store::write_private(&key_path, pem.as_bytes()).map_err(io(&key_path))?;
        std::fs::write(&cert_path, certified.cert.pem()).map_err(io(&cert_path))?;
    }
    Ok((from_pem_files(&cert_path, &key_path)?, cert_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suite_the_server_offers_has_its_cloudtrail_name() {
        let suites = rustls::crypto::ring::default_provider().cipher_suites;
        assert!(suites.len() >= 6, "{suites:?}");
        for suite in suites {
            let suite = suite.suite();
            let name = cipher_suite_name(suite);
            let rustls_name = suite.as_str().unwrap_or_default();
            assert_ne!(name, rustls_name, "{suite:?} has no CloudTrail name");
            let expected_prefix = if rustls_name.starts_with("TLS13_") {
                "TLS_"
            } else {
                "ECDHE-"
            };
            assert!(name.starts_with(expected_prefix), "{suite:?}: {name}");
        }
    }
}
