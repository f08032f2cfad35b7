//! The wire protocol, driven by the official AWS SDK for Rust (`aws-sdk-kms`)
//! and by raw HTTP for what an SDK would never send.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_kms::config::{BehaviorVersion, Region};
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use keyward::api::client::Signer;
use keyward::api::{Identities, RunningServer, ServerConfig};
use keyward::store::AuditSync;
use keyward::{Config, Kms, Principal};

use crate::support::{OTHER_ACCOUNT, config, verified};

const ROOT_KEY: &str = "AKIAKEYWARDTESTROOT1";
const ROOT_SECRET: &str = "root/secret/for/tests/only/0123456789abcd";
const MALLORY_KEY: &str = "AKIAKEYWARDTESTMALLO";
const MALLORY_SECRET: &str = "mallory/secret/for/tests/only/0123456789a";
const ALICE_KEY: &str = "AKIAKEYWARDTESTALICE";
const ALICE_SECRET: &str = "alice/secret/for/tests/only/0123456789abc";

struct Server {
    _dir: Arc<tempfile::TempDir>,
    server: RunningServer,
    cert_pem: Option<Vec<u8>>,
    kms: Arc<Kms>,
}

impl Server {
    fn start(with_tls: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (kms, _) = Kms::open_or_init(config(dir.path())).unwrap();
        Self::start_with(Arc::new(dir), Arc::new(kms), with_tls)
    }

    /// Another server, in front of the same service.
    fn beside(&self, with_tls: bool) -> Self {
        Self::start_with(Arc::clone(&self._dir), Arc::clone(&self.kms), with_tls)
    }

    fn start_with(dir: Arc<tempfile::TempDir>, kms: Arc<Kms>, with_tls: bool) -> Self {
        let mut identities = Identities::default();
        identities.insert(
            ROOT_KEY,
            ROOT_SECRET.into(),
            Principal::account_root("111122223333").unwrap(),
        );
        identities.insert(
            MALLORY_KEY,
            MALLORY_SECRET.into(),
            Principal::parse(&format!("arn:aws:iam::{OTHER_ACCOUNT}:user/mallory")).unwrap(),
        );
        identities.insert(
            ALICE_KEY,
            ALICE_SECRET.into(),
            Principal::parse("arn:aws:iam::111122223333:user/alice").unwrap(),
        );
        let (tls, cert_pem) = if with_tls {
            let (tls, cert) = keyward::api::tls::self_signed(&dir.path().join("data")).unwrap();
            (Some(tls), Some(std::fs::read(cert).unwrap()))
        } else {
            (None, None)
        };
        let server = RunningServer::start(
            Arc::clone(&kms),
            ServerConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                tls,
                identities,
            },
        )
        .unwrap();
        Self {
            _dir: dir,
            server,
            cert_pem,
            kms,
        }
    }

    /// The trail's `Encrypt` events for a key of the test account.
    fn encrypt_events(&self, key_id: &str) -> Vec<serde_json::Value> {
        self.events(
            Some(key_id),
            keyward::audit::query::Filter {
                event_name: Some("Encrypt".into()),
                ..Default::default()
            },
        )
    }

    /// The audit events that match, as the account's root queries them.
    fn events(
        &self,
        key_id: Option<&str>,
        filter: keyward::audit::query::Filter,
    ) -> Vec<serde_json::Value> {
        self.kms
            .query_audit(&crate::support::root("111122223333"), key_id, filter)
            .unwrap()
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    fn client(&self, access_key: &str, secret: &str) -> aws_sdk_kms::Client {
        let (endpoint, http_client) = match &self.cert_pem {
            Some(pem) => {
                let tls_context = TlsContext::builder()
                    .with_trust_store(TrustStore::empty().with_pem_certificate(pem.clone()))
                    .build()
                    .unwrap();
                let client = aws_smithy_http_client::Builder::new()
                    .tls_provider(tls::Provider::Rustls(
                        tls::rustls_provider::CryptoMode::Ring,
                    ))
                    .tls_context(tls_context)
                    .build_https();
                (format!("https://localhost:{}", self.addr().port()), client)
            }
            None => (
                format!("http://{}", self.addr()),
                aws_smithy_http_client::Builder::new().build_http(),
            ),
        };
        let config = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new(access_key, secret, None, None, "tests"))
            .http_client(http_client)
            .build();
        aws_sdk_kms::Client::from_conf(config)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn round_trip(client: &aws_sdk_kms::Client) {
    let key = client.create_key().description("sdk").send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    let encrypted = client
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"from the rust sdk".to_vec()))
        .encryption_context("app", "tests")
        .send()
        .await
        .unwrap();
    let decrypted = client
        .decrypt()
        .ciphertext_blob(encrypted.ciphertext_blob().unwrap().clone())
        .encryption_context("app", "tests")
        .send()
        .await
        .unwrap();
    assert_eq!(
        decrypted.plaintext().unwrap().as_ref(),
        b"from the rust sdk"
    );
    assert!(decrypted.key_id().unwrap().ends_with(&key_id));

    let data_key = client
        .generate_data_key()
        .key_id(&key_id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(data_key.plaintext().unwrap().as_ref().len(), 32);
    let reopened = client
        .decrypt()
        .ciphertext_blob(data_key.ciphertext_blob().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        reopened.plaintext().unwrap().as_ref(),
        data_key.plaintext().unwrap().as_ref()
    );

    let listed = client.list_keys().send().await.unwrap();
    assert!(
        listed
            .keys()
            .iter()
            .any(|k| k.key_id() == Some(key_id.as_str()))
    );
    let described = client.describe_key().key_id(&key_id).send().await.unwrap();
    let metadata = described.key_metadata().unwrap();
    assert_eq!(metadata.aws_account_id(), Some("111122223333"));
    assert!(metadata.creation_date().is_some());
}

#[test]
fn the_rust_sdk_creates_encrypts_decrypts_and_generates_data_keys() {
    let server = Server::start(false);
    runtime().block_on(round_trip(&server.client(ROOT_KEY, ROOT_SECRET)));
}

#[test]
fn the_rust_sdk_works_over_tls_with_the_self_signed_certificate() {
    let server = Server::start(true);
    runtime().block_on(round_trip(&server.client(ROOT_KEY, ROOT_SECRET)));
}

#[test]
fn the_rust_sdk_sees_aws_errors() {
    let server = Server::start(false);
    runtime().block_on(async {
        let root = server.client(ROOT_KEY, ROOT_SECRET);
        let key = root.create_key().send().await.unwrap();
        let arn = key.key_metadata().unwrap().arn().unwrap().to_owned();

        // Another account is denied.
        let mallory = server.client(MALLORY_KEY, MALLORY_SECRET);
        let denied = mallory
            .encrypt()
            .key_id(&arn)
            .plaintext(Blob::new(b"x".to_vec()))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(denied.code(), Some("AccessDeniedException"), "{denied:?}");
        assert!(
            denied
                .message()
                .unwrap()
                .contains("arn:aws:iam::444455556666:user/mallory")
        );

        // A wrong secret is a bad signature; an unknown key is unrecognized.
        let forged = server.client(ROOT_KEY, "not the secret");
        let error = forged.list_keys().send().await.unwrap_err();
        assert_eq!(error.code(), Some("InvalidSignatureException"), "{error:?}");
        let stranger = server.client("AKIANOBODYKNOWSTHIS1", ROOT_SECRET);
        let error = stranger.list_keys().send().await.unwrap_err();
        assert_eq!(
            error.code(),
            Some("UnrecognizedClientException"),
            "{error:?}"
        );

        // Service errors keep their names.
        let missing = root
            .describe_key()
            .key_id("alias/missing")
            .send()
            .await
            .unwrap_err();
        assert!(missing.into_service_error().is_not_found_exception());
        let invalid = root
            .decrypt()
            .ciphertext_blob(Blob::new(b"garbage".to_vec()))
            .send()
            .await
            .unwrap_err();
        assert!(
            invalid
                .into_service_error()
                .is_invalid_ciphertext_exception()
        );
        let too_long = root
            .encrypt()
            .key_id(&arn)
            .plaintext(Blob::new(vec![0u8; 4097]))
            .send()
            .await
            .unwrap_err();
        assert_eq!(too_long.code(), Some("ValidationException"));
    });
}

#[test]
fn json_key_policies_from_the_rust_sdk_are_enforced() {
    let server = Server::start(false);
    runtime().block_on(async {
        let root = server.client(ROOT_KEY, ROOT_SECRET);
        let alice = server.client(ALICE_KEY, ALICE_SECRET);
        let key = root.create_key().send().await.unwrap();
        let key = key.key_metadata().unwrap().key_id().to_owned();
        // A key created over the API has AWS's default policy, as JSON.
        let default = root.get_key_policy().key_id(&key).send().await.unwrap();
        let default: serde_json::Value =
            serde_json::from_str(default.policy().unwrap()).unwrap();
        assert_eq!(default["Id"], "key-default-1");
        assert_eq!(default["Statement"][0]["Action"], "kms:*");

        let policy = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
    {"Sid": "AliceEncryptsForDemo", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:user/alice"},
     "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
     "Condition": {"StringEquals": {"kms:EncryptionContext:app": "demo"}}},
    {"Sid": "NoPlainHttpDecrypt", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt",
     "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
  ]
}"#;
        root.put_key_policy()
            .key_id(&key)
            .policy(policy)
            .send()
            .await
            .unwrap();
        let got = root.get_key_policy().key_id(&key).send().await.unwrap();
        assert_eq!(got.policy(), Some(policy));

        let encrypt = |context: Option<&'static str>| {
            let mut call = alice
                .encrypt()
                .key_id(&key)
                .plaintext(Blob::new(b"json".to_vec()));
            if let Some(app) = context {
                call = call.encryption_context("app", app);
            }
            call.send()
        };
        let blob = encrypt(Some("demo")).await.unwrap();
        let other = encrypt(Some("other")).await.unwrap_err();
        assert_eq!(other.code(), Some("AccessDeniedException"));
        assert_eq!(encrypt(None).await.unwrap_err().code(), Some("AccessDeniedException"));
        // The Deny wins over the Allow: this is plain HTTP.
        let denied = alice
            .decrypt()
            .ciphertext_blob(blob.ciphertext_blob().unwrap().clone())
            .encryption_context("app", "demo")
            .send()
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Some("AccessDeniedException"));
        assert!(
            denied.message().unwrap().contains("key-policy/NoPlainHttpDecrypt"),
            "{denied:?}"
        );

        // A JSON policy that locks the caller out is refused, and the old
        // one stays.
        let lockout = root
            .put_key_policy()
            .key_id(&key)
            .policy(
                r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Principal": {"AWS": "111122223333"}, "Action": "kms:Encrypt", "Resource": "*"}]}"#,
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(lockout.code(), Some("MalformedPolicyDocumentException"));
        let malformed = root
            .put_key_policy()
            .key_id(&key)
            .policy(r#"{"Statement": [{"Principal": "*", "Action": "kms:*", "Resource": "*"}]}"#)
            .send()
            .await
            .unwrap_err();
        assert_eq!(malformed.code(), Some("MalformedPolicyDocumentException"));
        assert!(malformed.message().unwrap().contains("missing `Effect`"));
        let kept = root.get_key_policy().key_id(&key).send().await.unwrap();
        assert_eq!(kept.policy(), Some(policy));
    });
}

/// Sends raw HTTP/1.1 and returns (status, body as JSON).
fn raw(addr: SocketAddr, headers: &[(String, String)], body: &[u8]) -> (u16, serde_json::Value) {
    exchange(connect(addr), addr, headers, body)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// [`raw`] over TLS 1.2 with only `suite` offered, trusting `server`'s
/// certificate.
fn raw_tls12(
    server: &Server,
    suite: rustls::SupportedCipherSuite,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, serde_json::Value) {
    let mut roots = rustls::RootCertStore::empty();
    let cert_pem = server.cert_pem.as_deref().unwrap();
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    for cert in CertificateDer::pem_slice_iter(cert_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = rustls::crypto::CryptoProvider {
        cipher_suites: vec![suite],
        ..rustls::crypto::ring::default_provider()
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connection =
        rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let stream = rustls::StreamOwned::new(connection, connect(server.addr()));
    exchange(stream, server.addr(), headers, body)
}

/// Sends an HTTP/1.1 request on `stream` and returns (status, body as
/// JSON).
fn exchange(
    mut stream: impl Read + Write,
    addr: SocketAddr,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, serde_json::Value) {
    let mut request = String::from("POST / HTTP/1.1\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !headers.iter().any(|(n, _)| n == "host") {
        request.push_str(&format!("host: {addr}\r\n"));
    }
    request.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(request.as_bytes()).unwrap();
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status: u16 = text.split(' ').nth(1).unwrap().parse().unwrap();
    let json = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (
        status,
        serde_json::from_str(json).unwrap_or(serde_json::Value::Null),
    )
}

fn signed(
    addr: SocketAddr,
    operation: &str,
    body: &[u8],
    time: SystemTime,
) -> Vec<(String, String)> {
    Signer::new(ROOT_KEY, ROOT_SECRET, "us-east-1")
        .headers(&addr.to_string(), operation, body, time)
        .unwrap()
}

#[test]
fn bad_requests_get_aws_error_types_and_the_server_keeps_serving() {
    let server = Server::start(false);
    let addr = server.addr();
    let now = SystemTime::now();
    let still_serving = || {
        let body = br#"{"NumberOfBytes": 8}"#;
        let (status, json) = raw(
            addr,
            &signed(addr, "GenerateRandom", body, SystemTime::now()),
            body,
        );
        assert_eq!(status, 200, "{json}");
        assert!(json["Plaintext"].is_string());
    };
    still_serving();

    let check =
        |what: &str, headers: Vec<(String, String)>, body: &[u8], status: u16, code: &str| {
            let (got_status, json) = raw(addr, &headers, body);
            assert_eq!(json["__type"], code, "{what}: {json}");
            assert_eq!(got_status, status, "{what}");
            assert!(json["message"].is_string(), "{what}");
            still_serving();
        };

    // A target header the signature does not cover is tampering.
    let body = b"{}";
    let renamed: Vec<_> = signed(addr, "ListKeys", body, now)
        .into_iter()
        .map(|(n, v)| {
            if n == "x-amz-target" {
                ("x-amz-targe".into(), v)
            } else {
                (n, v)
            }
        })
        .collect();
    check(
        "renamed target",
        renamed,
        body,
        400,
        "InvalidSignatureException",
    );
    check(
        "no target",
        signed_without_target(addr, body, now),
        body,
        400,
        "UnknownOperationException",
    );
    check(
        "unknown operation",
        signed(addr, "FlyToTheMoon", body, now),
        body,
        400,
        "UnknownOperationException",
    );
    let bad_json = b"{\"KeyId\": ";
    check(
        "invalid JSON",
        signed(addr, "DescribeKey", bad_json, now),
        bad_json,
        400,
        "SerializationException",
    );
    let wrong_type = br#"{"KeyId": 12}"#;
    check(
        "wrong field type",
        signed(addr, "DescribeKey", wrong_type, now),
        wrong_type,
        400,
        "SerializationException",
    );
    let bad_enum = br#"{"KeySpec": "AES_512"}"#;
    check(
        "unknown enum value",
        signed(addr, "CreateKey", bad_enum, now),
        bad_enum,
        400,
        "ValidationException",
    );
    let oversized = vec![b' '; (1 << 20) + 1];
    check(
        "oversized body",
        signed(addr, "ListKeys", &oversized, now),
        &oversized,
        413,
        "ValidationException",
    );
    let plain = vec![
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
        (
            "x-amz-target".to_owned(),
            "TrentService.ListKeys".to_owned(),
        ),
    ];
    check(
        "unsigned",
        plain,
        body,
        400,
        "MissingAuthenticationTokenException",
    );
    let stale = now - Duration::from_secs(6 * 60);
    check(
        "expired",
        signed(addr, "ListKeys", body, stale),
        body,
        400,
        "InvalidSignatureException",
    );
    let future = now + Duration::from_secs(6 * 60);
    check(
        "from the future",
        signed(addr, "ListKeys", body, future),
        body,
        400,
        "InvalidSignatureException",
    );
    let mut tampered = signed(addr, "ListKeys", body, now);
    let tampered_body = br#"{"Limit": 1}"#;
    tampered.retain(|(n, _)| n != "content-length");
    check(
        "tampered body",
        tampered,
        tampered_body,
        400,
        "InvalidSignatureException",
    );
    let empty_key_id = br#"{"KeyId": ""}"#;
    check(
        "empty key id",
        signed(addr, "DescribeKey", empty_key_id, now),
        empty_key_id,
        400,
        "ValidationException",
    );
}

/// A request signed without any `X-Amz-Target` header.
fn signed_without_target(addr: SocketAddr, body: &[u8], time: SystemTime) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4::SigningParams;
    let base = vec![
        ("host".to_owned(), addr.to_string()),
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
    ];
    let request = SignableRequest::new(
        "POST",
        "/",
        base.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let identity = Credentials::new(ROOT_KEY, ROOT_SECRET, None, None, "tests").into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("kms")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap();
    let (instructions, _) = sign(request, &params.into()).unwrap().into_parts();
    let mut out = base;
    for (name, value) in instructions.headers() {
        out.push((name.to_owned(), value.to_owned()));
    }
    out
}

#[test]
fn the_request_region_comes_from_the_credential_scope() {
    let server = Server::start(false);
    let addr = server.addr();
    let body = b"{}";
    let create = |region: &str| {
        let headers = Signer::new(ROOT_KEY, ROOT_SECRET, region)
            .headers(&addr.to_string(), "CreateKey", body, SystemTime::now())
            .unwrap();
        raw(addr, &headers, body)
    };
    let (status, json) = create("eu-west-1");
    assert_eq!(status, 200, "{json}");
    assert!(
        json["KeyMetadata"]["Arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:kms:eu-west-1:")
    );
    let (status, json) = create("ap-south-1");
    assert_eq!(status, 400);
    assert_eq!(json["__type"], "ValidationException");
}

#[test]
fn secure_transport_and_source_ip_reach_cedar() {
    let plain = Server::start(false);
    let tls = plain.beside(true);
    runtime().block_on(async {
        let over_tls = tls.client(ROOT_KEY, ROOT_SECRET);
        let over_http = plain.client(ROOT_KEY, ROOT_SECRET);
        let policy = r#"
            @id("root") permit (principal == Account::"111122223333", action, resource)
              when { action != Action::"Encrypt" || context.secure_transport };
            @id("no-loopback-decrypt") forbid (principal, action == Action::"Decrypt", resource)
              when { context has source_ip && context.source_ip.isInRange(ip("127.0.0.0/8")) };
        "#;
        let key = over_tls
            .create_key()
            .policy(policy)
            .send()
            .await
            .unwrap()
            .key_metadata()
            .unwrap()
            .key_id()
            .to_owned();
        let encrypt = |client: &aws_sdk_kms::Client| {
            client
                .encrypt()
                .key_id(&key)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
        };
        let denied = encrypt(&over_http).await.unwrap_err();
        assert_eq!(denied.code(), Some("AccessDeniedException"), "{denied:?}");
        let blob = encrypt(&over_tls)
            .await
            .unwrap()
            .ciphertext_blob()
            .unwrap()
            .clone();
        // The peer address (loopback) is the source IP the forbid tests.
        let decrypt = over_tls
            .decrypt()
            .ciphertext_blob(blob)
            .send()
            .await
            .unwrap_err();
        assert_eq!(decrypt.code(), Some("AccessDeniedException"));
        assert!(decrypt.message().unwrap().contains("no-loopback-decrypt"));
    });
}

#[test]
fn https_events_record_the_tls_version_cipher_suite_and_host() {
    let plain = Server::start(false);
    let tls = plain.beside(true);
    let key_id = runtime().block_on(async {
        let over_tls = tls.client(ROOT_KEY, ROOT_SECRET);
        let key_id = over_tls
            .create_key()
            .send()
            .await
            .unwrap()
            .key_metadata()
            .unwrap()
            .key_id()
            .to_owned();
        for client in [&over_tls, &plain.client(ROOT_KEY, ROOT_SECRET)] {
            client
                .encrypt()
                .key_id(&key_id)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
                .await
                .unwrap();
        }
        key_id
    });
    // A TLS 1.2 client, whose suite CloudTrail names as OpenSSL does.
    let body = format!(r#"{{"KeyId": "{key_id}", "Plaintext": "eA=="}}"#);
    let headers = signed(tls.addr(), "Encrypt", body.as_bytes(), SystemTime::now());
    let suite = rustls::crypto::ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256;
    let (status, response) = raw_tls12(&tls, suite, &headers, body.as_bytes());
    assert_eq!(status, 200, "{response}");

    let events = plain.encrypt_events(&key_id);
    assert_eq!(events.len(), 3, "{events:#?}");
    let tls13 = &events[0]["tlsDetails"];
    assert_eq!(tls13["tlsVersion"], "TLSv1.3", "{tls13}");
    let suites = [
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
    ];
    assert!(
        suites.contains(&tls13["cipherSuite"].as_str().unwrap()),
        "{tls13}"
    );
    let port = tls.addr().port();
    assert_eq!(
        tls13["clientProvidedHostHeader"],
        format!("localhost:{port}")
    );
    // Plain HTTP has no TLS details.
    assert_eq!(events[1]["sourceIPAddress"], "127.0.0.1");
    assert!(events[1].get("tlsDetails").is_none(), "{:#}", events[1]);
    let tls12 = &events[2]["tlsDetails"];
    let expected = serde_json::json!({
        "tlsVersion": "TLSv1.2",
        "cipherSuite": "ECDHE-ECDSA-CHACHA20-POLY1305",
        "clientProvidedHostHeader": tls.addr().to_string(),
    });
    assert_eq!(*tls12, expected);
}

#[test]
fn http_events_record_who_from_where_and_the_request_id_the_sdk_saw() {
    use aws_sdk_kms::operation::RequestId;
    let server = Server::start(false);
    let client = server.client(ROOT_KEY, ROOT_SECRET);
    runtime().block_on(async {
        let key = client.create_key().send().await.unwrap();
        let key_id = key.key_metadata().unwrap().key_id().to_owned();
        let encrypted = client
            .encrypt()
            .key_id(&key_id)
            .plaintext(Blob::new(b"audited over http".to_vec()))
            .send()
            .await
            .unwrap();
        let request_id = encrypted.request_id().unwrap().to_owned();
        let usage = client
            .get_key_last_usage()
            .key_id(&key_id)
            .send()
            .await
            .unwrap();
        let last = usage.key_last_usage().unwrap();
        assert_eq!(last.operation().unwrap().as_str(), "Encrypt");
        assert_eq!(last.kms_request_id(), Some(request_id.as_str()));

        let events = server.encrypt_events(&key_id);
        assert_eq!(events.len(), 1);
        let event = &events[0];
        assert_eq!(event["requestID"], request_id.as_str());
        assert_eq!(last.cloud_trail_event_id(), event["eventID"].as_str());
        assert_eq!(event["sourceIPAddress"], "127.0.0.1");
        assert_eq!(event["userIdentity"]["accessKeyId"], ROOT_KEY);
        assert!(
            event["userAgent"]
                .as_str()
                .unwrap()
                .contains("aws-sdk-rust"),
            "{}",
            event["userAgent"]
        );

        // A request with no user agent is not taken for the library's.
        let addr = server.addr();
        let body = br#"{"NumberOfBytes": 8}"#;
        let headers = signed(addr, "GenerateRandom", body, SystemTime::now());
        assert!(
            !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
        );
        assert_eq!(raw(addr, &headers, body).0, 200);
        let randoms = server.events(
            None,
            keyward::audit::query::Filter {
                event_name: Some("GenerateRandom".into()),
                ..Default::default()
            },
        );
        assert_eq!(randoms.len(), 1);
        assert_eq!(randoms[0]["userAgent"], "");
        assert_eq!(randoms[0]["sourceIPAddress"], "127.0.0.1");

        // A denied call from another account is recorded with its identity.
        let mallory = server.client(MALLORY_KEY, MALLORY_SECRET);
        let arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
        let denied = mallory
            .encrypt()
            .key_id(&arn)
            .plaintext(Blob::new(b"x".to_vec()))
            .send()
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Some("AccessDeniedException"));
        let denials = server.events(
            None,
            keyward::audit::query::Filter {
                error_code: Some("AccessDeniedException".into()),
                ..Default::default()
            },
        );
        assert_eq!(denials.len(), 1);
        assert_eq!(denials[0]["userIdentity"]["accessKeyId"], MALLORY_KEY);
        assert_eq!(denials[0]["userIdentity"]["accountId"], OTHER_ACCOUNT);
        assert_eq!(denials[0]["recipientAccountId"], "111122223333");
    });
}

#[test]
fn over_http_a_failed_audit_write_withholds_the_response() {
    // Both ways a read's event is written: by the request itself, and
    // queued for the writer thread's shared fsync.
    for sync in [AuditSync::Os, AuditSync::Disk] {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            audit_sync: sync,
            ..config(dir.path())
        };
        let (kms, _) = Kms::open_or_init(config).unwrap();
        let server = Server::start_with(Arc::new(dir), Arc::new(kms), false);
        let client = server.client(ROOT_KEY, ROOT_SECRET);
        runtime().block_on(async {
            let key = client.create_key().send().await.unwrap();
            let key_id = key.key_metadata().unwrap().key_id().to_owned();
            let encrypt = || {
                client
                    .encrypt()
                    .key_id(&key_id)
                    .plaintext(Blob::new(b"fail closed over http".to_vec()))
                    .send()
            };
            encrypt().await.unwrap();

            // Audit writes now fail: the server answers with an error,
            // never with a ciphertext.
            server.kms.testing().refuse_audit_writes(true);
            let refused = encrypt().await.unwrap_err().into_service_error();
            assert_eq!(
                refused.meta().code(),
                Some("KMSInternalException"),
                "{sync:?}"
            );
            let refused = client
                .describe_key()
                .key_id(&key_id)
                .send()
                .await
                .unwrap_err()
                .into_service_error();
            assert_eq!(refused.meta().code(), Some("KMSInternalException"));

            // Writable again: served again.
            server.kms.testing().refuse_audit_writes(false);
            encrypt().await.unwrap();
        });
        verified(&server.kms);
    }
}

#[test]
fn concurrent_http_requests_each_record_one_event() {
    let server = Server::start(false);
    let client = server.client(ROOT_KEY, ROOT_SECRET);
    let key_id = runtime().block_on(async {
        let key = client.create_key().send().await.unwrap();
        key.key_metadata().unwrap().key_id().to_owned()
    });
    // A multi-threaded client runtime, so that many requests are in flight
    // and share group commits.
    let requests = 64;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut tasks = Vec::new();
            for i in 0..requests {
                let client = client.clone();
                let key_id = key_id.clone();
                tasks.push(tokio::spawn(async move {
                    client
                        .encrypt()
                        .key_id(key_id)
                        .plaintext(Blob::new(format!("request {i}").into_bytes()))
                        .send()
                        .await
                        .unwrap();
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
        });
    let events = server.encrypt_events(&key_id);
    assert_eq!(events.len(), requests);
    let ids: std::collections::HashSet<_> =
        events.iter().map(|e| e["requestID"].to_string()).collect();
    assert_eq!(ids.len(), requests);
    verified(&server.kms);
}

/// Asymmetric and HMAC keys through the Rust SDK, with a JSON key policy
/// that conditions signing on `kms:SigningAlgorithm`.
#[test]
fn the_rust_sdk_signs_macs_agrees_and_makes_key_pairs() {
    use aws_sdk_kms::types::{
        DataKeyPairSpec, KeyAgreementAlgorithmSpec, KeySpec, KeyUsageType, MacAlgorithmSpec,
        MessageType, SigningAlgorithmSpec,
    };
    let server = Server::start(false);
    runtime().block_on(async {
        let root = server.client(ROOT_KEY, ROOT_SECRET);
        let alice = server.client(ALICE_KEY, ALICE_SECRET);
        let created = root
            .create_key()
            .key_spec(KeySpec::Rsa2048)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await
            .unwrap();
        let metadata = created.key_metadata().unwrap();
        let key = metadata.key_id().to_owned();
        assert_eq!(metadata.signing_algorithms().len(), 6);
        let policy = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Root", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
    {"Sid": "AlicePssOnly", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:user/alice"},
     "Action": ["kms:Sign", "kms:Verify"], "Resource": "*",
     "Condition": {"StringEquals": {"kms:SigningAlgorithm": "RSASSA_PSS_SHA_256"},
                   "StringEqualsIgnoreCase": {"kms:MessageType": "digest"}}}
  ]
}"#;
        root.put_key_policy()
            .key_id(&key)
            .policy(policy)
            .send()
            .await
            .unwrap();
        let digest = {
            use sha2::Digest as _;
            sha2::Sha256::digest(b"signed over HTTP").to_vec()
        };
        let sign = |algorithm: SigningAlgorithmSpec, message_type: MessageType| {
            alice
                .sign()
                .key_id(&key)
                .message(Blob::new(digest.clone()))
                .message_type(message_type)
                .signing_algorithm(algorithm)
                .send()
        };
        let signed = sign(SigningAlgorithmSpec::RsassaPssSha256, MessageType::Digest)
            .await
            .unwrap();
        let refused = sign(
            SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
            MessageType::Digest,
        )
        .await
        .unwrap_err();
        assert_eq!(refused.code(), Some("AccessDeniedException"));
        let verified = alice
            .verify()
            .key_id(&key)
            .message(Blob::new(digest.clone()))
            .message_type(MessageType::Digest)
            .signature(signed.signature().unwrap().clone())
            .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
            .send()
            .await
            .unwrap();
        assert!(verified.signature_valid());
        let mut bad = signed.signature().unwrap().as_ref().to_vec();
        bad[0] ^= 1;
        let invalid = alice
            .verify()
            .key_id(&key)
            .message(Blob::new(digest.clone()))
            .message_type(MessageType::Digest)
            .signature(Blob::new(bad))
            .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
            .send()
            .await
            .unwrap_err();
        assert_eq!(invalid.code(), Some("KMSInvalidSignatureException"));
        let public = root.get_public_key().key_id(&key).send().await.unwrap();
        assert_eq!(public.key_spec(), Some(&KeySpec::Rsa2048));
        {
            use rsa::pkcs8::DecodePublicKey;
            use signature::hazmat::PrehashVerifier;
            let key = rsa::RsaPublicKey::from_public_key_der(public.public_key().unwrap().as_ref())
                .unwrap();
            let sig = rsa::pss::Signature::try_from(signed.signature().unwrap().as_ref()).unwrap();
            rsa::pss::VerifyingKey::<sha2::Sha256>::new(key)
                .verify_prehash(&digest, &sig)
                .unwrap();
        }

        // HMAC.
        let hmac = root
            .create_key()
            .key_spec(KeySpec::Hmac512)
            .key_usage(KeyUsageType::GenerateVerifyMac)
            .send()
            .await
            .unwrap();
        let hmac = hmac.key_metadata().unwrap().key_id().to_owned();
        let mac = root
            .generate_mac()
            .key_id(&hmac)
            .message(Blob::new(b"mac me".to_vec()))
            .mac_algorithm(MacAlgorithmSpec::HmacSha512)
            .send()
            .await
            .unwrap();
        assert_eq!(mac.mac().unwrap().as_ref().len(), 64);
        let mismatch = root
            .verify_mac()
            .key_id(&hmac)
            .message(Blob::new(b"mac me not".to_vec()))
            .mac(mac.mac().unwrap().clone())
            .mac_algorithm(MacAlgorithmSpec::HmacSha512)
            .send()
            .await
            .unwrap_err();
        assert_eq!(mismatch.code(), Some("KMSInvalidMacException"));

        // ECDH and a data key pair.
        let agreement = root
            .create_key()
            .key_spec(KeySpec::EccNistP256)
            .key_usage(KeyUsageType::KeyAgreement)
            .send()
            .await
            .unwrap();
        let agreement = agreement.key_metadata().unwrap().key_id().to_owned();
        let peer = p256::SecretKey::from_slice(&[0x66; 32]).unwrap();
        let peer_der = {
            use p256::pkcs8::EncodePublicKey;
            peer.public_key().to_public_key_der().unwrap()
        };
        let shared = root
            .derive_shared_secret()
            .key_id(&agreement)
            .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(peer_der.as_bytes().to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(shared.shared_secret().unwrap().as_ref().len(), 32);
        let symmetric = root.create_key().send().await.unwrap();
        let symmetric = symmetric.key_metadata().unwrap().key_id().to_owned();
        let pair = root
            .generate_data_key_pair()
            .key_id(&symmetric)
            .key_pair_spec(DataKeyPairSpec::EccSecgP256K1)
            .send()
            .await
            .unwrap();
        let opened = root
            .decrypt()
            .ciphertext_blob(pair.private_key_ciphertext_blob().unwrap().clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            opened.plaintext().unwrap().as_ref(),
            pair.private_key_plaintext().unwrap().as_ref()
        );
    });
}
