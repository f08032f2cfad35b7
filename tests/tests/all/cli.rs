//! The `keyward` command line, run as a separate process.

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

pub fn keyward(data_dir: &Path, args: &[&str]) -> Output {
    keyward_with_env(data_dir, args, &[])
}

/// [`keyward`] with extra environment variables.
pub fn keyward_with_env(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyward-under-test"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("KEYWARD_MASTER_KEY")
        .env_remove("AWS_REGION")
        .env_remove("KEYWARD_PRINCIPAL")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Runs a command that must succeed and parses its (piped, so JSON) output.
fn json(data_dir: &Path, args: &[&str]) -> Value {
    let out = keyward(data_dir, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn init_creates_a_private_master_key_and_refuses_to_run_twice() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = json(&data, &["init"]);
    assert_eq!(first["Initialized"], true);
    let mode = std::fs::metadata(data.join("master.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = keyward(&data, &["init"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already initialised"));
}

#[test]
fn key_commands_round_trip_data_through_files_and_base64() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The first command initialises the store by itself and says so once.
    let out = keyward(&data, &["create-key", "--description", "cli test"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("initialised a new key store"));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key_id = created["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    assert_eq!(created["KeyMetadata"]["Description"], "cli test");

    let listed = json(&data, &["list-keys"]);
    assert_eq!(listed["Keys"][0]["KeyId"], key_id.as_str());
    let described = json(&data, &["describe-key", "--key-id", &key_id]);
    assert_eq!(described["KeyMetadata"]["KeyState"], "Enabled");

    // fileb:// in, --outfile out, with an encryption context.
    let plain = dir.path().join("plain.bin");
    let sealed = dir.path().join("sealed.bin");
    let opened = dir.path().join("opened.bin");
    let bytes: Vec<u8> = (0..=255u8).collect();
    std::fs::write(&plain, &bytes).unwrap();
    std::fs::write(&opened, b"old").unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&opened, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let encrypted = json(
        &data,
        &[
            "encrypt",
            "--key-id",
            &key_id,
            "--plaintext",
            &format!("fileb://{}", plain.display()),
            "--encryption-context",
            "app=tests,stage=cli",
            "--outfile",
            sealed.to_str().unwrap(),
        ],
    );
    assert!(encrypted.get("CiphertextBlob").is_none());
    assert!(encrypted["KeyId"].as_str().unwrap().ends_with(&key_id));
    let decrypt_to = |context: &str, outfile: &str| {
        json(
            &data,
            &[
                "decrypt",
                "--ciphertext-blob",
                &format!("fileb://{}", sealed.display()),
                "--encryption-context",
                context,
                "--outfile",
                outfile,
            ],
        )
    };
    let decrypted = decrypt_to(r#"{"stage":"cli","app":"tests"}"#, opened.to_str().unwrap());
    assert!(decrypted.get("Plaintext").is_none());
    assert_eq!(std::fs::read(&opened).unwrap(), bytes);
    // The plaintext is readable by its owner only, even in a file that
    // was there before with a wider mode.
    let mode = |path: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(mode(&opened), 0o600);
    // A device is written to, not changed.
    let null = std::path::Path::new("/dev/null");
    let null_mode = mode(null);
    let to_null = decrypt_to("app=tests,stage=cli", "/dev/null");
    let changed = mode(null);
    if changed != null_mode {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(null, std::fs::Permissions::from_mode(null_mode)).unwrap();
    }
    assert!(to_null.get("Plaintext").is_none());
    assert_eq!(changed, null_mode, "the CLI changed /dev/null's mode");

    // Base64 in and out.
    let encrypted = json(
        &data,
        &[
            "encrypt",
            "--key-id",
            &key_id,
            "--plaintext",
            &STANDARD.encode(b"hi"),
        ],
    );
    let blob = encrypted["CiphertextBlob"].as_str().unwrap();
    let decrypted = json(&data, &["decrypt", "--ciphertext-blob", blob]);
    assert_eq!(
        STANDARD
            .decode(decrypted["Plaintext"].as_str().unwrap())
            .unwrap(),
        b"hi"
    );

    let data_key = json(
        &data,
        &[
            "generate-data-key",
            "--key-id",
            &key_id,
            "--key-spec",
            "AES_256",
        ],
    );
    let plaintext_key = STANDARD
        .decode(data_key["Plaintext"].as_str().unwrap())
        .unwrap();
    assert_eq!(plaintext_key.len(), 32);
    let reopened = json(
        &data,
        &[
            "decrypt",
            "--ciphertext-blob",
            data_key["CiphertextBlob"].as_str().unwrap(),
        ],
    );
    assert_eq!(
        STANDARD
            .decode(reopened["Plaintext"].as_str().unwrap())
            .unwrap(),
        plaintext_key
    );

    let random = json(&data, &["generate-random", "--number-of-bytes", "16"]);
    assert_eq!(
        STANDARD
            .decode(random["Plaintext"].as_str().unwrap())
            .unwrap()
            .len(),
        16
    );
}

#[test]
fn service_errors_exit_254_with_the_aws_error_code() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let created = json(&data, &["create-key"]);
    let key_id = created["KeyMetadata"]["KeyId"].as_str().unwrap();

    let too_big = STANDARD.encode(vec![0u8; 4097]);
    for (args, expected) in [
        (
            vec![
                "encrypt",
                "--key-id",
                key_id,
                "--plaintext",
                too_big.as_str(),
            ],
            "ValidationException",
        ),
        (
            vec![
                "describe-key",
                "--key-id",
                "00000000-0000-0000-0000-000000000000",
            ],
            "NotFoundException",
        ),
        (
            vec!["decrypt", "--ciphertext-blob", "AAAAAAAA"],
            "InvalidCiphertextException",
        ),
        (
            vec!["generate-random", "--number-of-bytes", "0"],
            "ValidationException",
        ),
        (
            vec![
                "describe-key",
                "--key-id",
                key_id,
                "--principal",
                "arn:aws:iam::444455556666:root",
            ],
            "NotFoundException",
        ),
    ] {
        let out = keyward(&data, &args);
        assert_eq!(out.status.code(), Some(254), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }

    // Parameters the CLI cannot read exit 252.
    let out = keyward(
        &data,
        &["encrypt", "--key-id", key_id, "--plaintext", "not base64!"],
    );
    assert_eq!(out.status.code(), Some(252));
}

#[test]
fn text_output_is_human_readable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = keyward(&data, &["create-key", "--output", "text"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("KeyMetadata:\n"), "{text}");
    assert!(text.contains("  KeyState: Enabled\n"), "{text}");
}

fn examples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/examples")
}

fn keyward_plain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyward-under-test"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn policy_test_runs_the_shipped_examples() {
    let out = keyward_plain(&["policy", "test", examples().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let summary = stdout.lines().last().unwrap();
    let passed: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(passed >= 14, "{summary}");
    assert!(summary.ends_with("passed, 0 failed"), "{summary}");
    // Every example folder has both ALLOW and DENY cases.
    for folder in std::fs::read_dir(examples()).unwrap() {
        let folder = folder.unwrap().path();
        if folder.is_dir() {
            assert!(
                folder.join("ALLOW").is_dir() && folder.join("DENY").is_dir(),
                "{}",
                folder.display()
            );
        }
    }
}

#[test]
fn policy_test_fails_on_a_wrong_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let case_dir = dir.path().join("case");
    std::fs::create_dir_all(case_dir.join("ALLOW")).unwrap();
    let source = examples().join("regional-guardrail");
    std::fs::copy(source.join("entities.json"), case_dir.join("entities.json")).unwrap();
    // A request the guardrail denies, filed under ALLOW.
    std::fs::copy(
        source.join("DENY/root_encrypt_from_another_region.json"),
        case_dir.join("ALLOW/root_encrypt_from_another_region.json"),
    )
    .unwrap();
    let out = keyward_plain(&["policy", "test", case_dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "FAIL ALLOW/root_encrypt_from_another_region.json: deny (guardrail/regional)"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
}

#[test]
fn policy_validate_reports_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.cedar");
    std::fs::write(&bad, "permit (principal, action, resource);\npermit (principal, action == Action::\"Fly\", resource);\n").unwrap();
    let out = keyward_plain(&["policy", "validate", bad.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains(&format!("{}:2:", bad.display())),
        "{stdout}"
    );
    assert!(stdout.contains("Fly"), "{stdout}");
    let good = keyward_plain(&["policy", "validate", examples().to_str().unwrap()]);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stdout)
    );
}

#[test]
fn policy_explain_shows_the_decision_and_its_reasons() {
    let request = examples()
        .join("forbid-overrides-grant/DENY/contractor_decrypt_forbidden_despite_grant.json");
    let out = keyward_plain(&["policy", "explain", request.to_str().unwrap()]);
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["Decision"], "DENY");
    assert_eq!(report["Reasons"][0], "key-policy/no-contractors");
}

#[test]
fn grants_and_identity_policies_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key_id = json(&data, &["create-key"])["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let app = "arn:aws:iam::111122223333:role/app";
    let as_app = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--principal", app]);
        keyward(&data, &all)
    };
    let plaintext = STANDARD.encode(b"cli grant");
    let encrypt = [
        "encrypt",
        "--key-id",
        key_id.as_str(),
        "--plaintext",
        plaintext.as_str(),
        "--encryption-context",
        "tenant=acme",
    ];
    assert_eq!(as_app(&encrypt).status.code(), Some(254));
    let grant = json(
        &data,
        &[
            "create-grant",
            "--key-id",
            &key_id,
            "--grantee-principal",
            app,
            "--operations",
            "Encrypt,Decrypt",
            "--encryption-context-subset",
            "tenant=acme",
        ],
    );
    assert!(as_app(&encrypt).status.success());
    let listed = json(&data, &["list-grants", "--key-id", &key_id]);
    assert_eq!(listed["Grants"][0]["GrantId"], grant["GrantId"]);
    json(
        &data,
        &[
            "revoke-grant",
            "--key-id",
            &key_id,
            "--grant-id",
            grant["GrantId"].as_str().unwrap(),
        ],
    );
    assert_eq!(as_app(&encrypt).status.code(), Some(254));

    let policy =
        format!(r#"permit (principal == Role::"{app}", action == Action::"Encrypt", resource);"#);
    json(
        &data,
        &[
            "identity-policy",
            "put",
            "--account",
            "111122223333",
            "--name",
            "app",
            "--policy",
            &policy,
        ],
    );
    assert!(as_app(&encrypt).status.success());
    // An IAM JSON policy attached to the role, with a Deny that wins.
    let attach = |verb: &str, extra: &[&str]| {
        let mut args = vec![
            "identity-policy",
            verb,
            "--account",
            "111122223333",
            "--role",
            "app",
            "--name",
            "NoEncrypt",
        ];
        args.extend_from_slice(extra);
        json(&data, &args)
    };
    attach(
        "put",
        &[
            "--policy",
            r#"{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "kms:Encrypt", "Resource": "*"}}"#,
        ],
    );
    assert_eq!(as_app(&encrypt).status.code(), Some(254));
    attach("delete", &[]);
    assert!(as_app(&encrypt).status.success());
    let current = json(&data, &["get-key-policy", "--key-id", &key_id]);
    assert_eq!(current["PolicyName"], "default");
}

#[test]
fn imported_key_material_from_the_cli_through_files() {
    use rsa::pkcs8::DecodePublicKey;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    json(&data, &["init"]);
    let created = json(&data, &["create-key", "--origin", "EXTERNAL"]);
    assert_eq!(created["KeyMetadata"]["KeyState"], "PendingImport");
    let key = created["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();

    let public_path = dir.path().join("public.der");
    let token_path = dir.path().join("token.bin");
    let parameters = json(
        &data,
        &[
            "get-parameters-for-import",
            "--key-id",
            &key,
            "--wrapping-algorithm",
            "RSAES_OAEP_SHA_256",
            "--wrapping-key-spec",
            "RSA_2048",
            "--public-key-out",
            public_path.to_str().unwrap(),
            "--import-token-out",
            token_path.to_str().unwrap(),
        ],
    );
    assert!(parameters.get("PublicKey").is_none());
    assert!(parameters.get("ImportToken").is_none());
    assert!(parameters["ParametersValidTo"].as_f64().is_some());
    let public =
        rsa::RsaPublicKey::from_public_key_der(&std::fs::read(&public_path).unwrap()).unwrap();
    let material = [0x5au8; 32];
    let wrapped = public
        .encrypt(
            &mut rand_core::UnwrapErr(getrandom::SysRng),
            rsa::Oaep::<sha2::Sha256>::new(),
            &material,
        )
        .unwrap();
    let wrapped_path = dir.path().join("wrapped.bin");
    std::fs::write(&wrapped_path, wrapped).unwrap();
    let token_arg = format!("fileb://{}", token_path.display());
    let wrapped_arg = format!("fileb://{}", wrapped_path.display());
    let import = |valid_to: &str| {
        keyward(
            &data,
            &[
                "import-key-material",
                "--key-id",
                &key,
                "--import-token",
                &token_arg,
                "--encrypted-key-material",
                &wrapped_arg,
                "--valid-to",
                valid_to,
            ],
        )
    };
    // Past ValidTo: the AWS error code, exit 254.
    let refused = import("2001-01-01T00:00:00Z");
    assert_eq!(refused.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("ValidationException"));
    let valid_to = (std::time::SystemTime::now() + std::time::Duration::from_secs(86_400 * 30))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let out = import(&valid_to);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let described = json(&data, &["describe-key", "--key-id", &key]);
    assert_eq!(described["KeyMetadata"]["KeyState"], "Enabled");
    assert_eq!(
        described["KeyMetadata"]["ExpirationModel"],
        "KEY_MATERIAL_EXPIRES"
    );
    assert_eq!(
        described["KeyMetadata"]["ValidTo"].as_f64(),
        valid_to.parse::<f64>().ok()
    );
    json(&data, &["delete-imported-key-material", "--key-id", &key]);
    let described = json(&data, &["describe-key", "--key-id", &key]);
    assert_eq!(described["KeyMetadata"]["KeyState"], "PendingImport");
}

#[test]
fn asymmetric_and_hmac_commands_through_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let document = dir.path().join("document");
    std::fs::write(&document, b"a document to sign").unwrap();
    let message = format!("fileb://{}", document.display());
    let key = json(
        &data,
        &[
            "create-key",
            "--key-spec",
            "ECC_NIST_P384",
            "--key-usage",
            "SIGN_VERIFY",
        ],
    )["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let signature = dir.path().join("signature");
    let signed = json(
        &data,
        &[
            "sign",
            "--key-id",
            &key,
            "--message",
            &message,
            "--signing-algorithm",
            "ECDSA_SHA_384",
            "--outfile",
            signature.to_str().unwrap(),
        ],
    );
    assert!(
        signed.get("Signature").is_none(),
        "written to the file instead"
    );
    assert_eq!(signed["SigningAlgorithm"], "ECDSA_SHA_384");
    let signature_arg = format!("fileb://{}", signature.display());
    let verified = json(
        &data,
        &[
            "verify",
            "--key-id",
            &key,
            "--message",
            &message,
            "--signature",
            &signature_arg,
            "--signing-algorithm",
            "ECDSA_SHA_384",
        ],
    );
    assert_eq!(verified["SignatureValid"], true);
    // Another document: the AWS error code, exit 254.
    std::fs::write(&document, b"another document").unwrap();
    let refused = keyward(
        &data,
        &[
            "verify",
            "--key-id",
            &key,
            "--message",
            &message,
            "--signature",
            &signature_arg,
            "--signing-algorithm",
            "ECDSA_SHA_384",
        ],
    );
    assert_eq!(refused.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("KMSInvalidSignatureException"));
    // The public key, raw to a file, is the DER that `verify` used.
    let public = dir.path().join("public.der");
    json(
        &data,
        &[
            "get-public-key",
            "--key-id",
            &key,
            "--outfile",
            public.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read(&public).unwrap()[0], 0x30, "DER SEQUENCE");

    // HMAC: generate, then verify the MAC given as base64.
    let hmac = json(
        &data,
        &[
            "create-key",
            "--key-spec",
            "HMAC_256",
            "--key-usage",
            "GENERATE_VERIFY_MAC",
        ],
    )["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let tag = json(
        &data,
        &[
            "generate-mac",
            "--key-id",
            &hmac,
            "--message",
            &message,
            "--mac-algorithm",
            "HMAC_SHA_256",
        ],
    )["Mac"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(STANDARD.decode(&tag).unwrap().len(), 32);
    let checked = json(
        &data,
        &[
            "verify-mac",
            "--key-id",
            &hmac,
            "--message",
            &message,
            "--mac-algorithm",
            "HMAC_SHA_256",
            "--mac",
            &tag,
        ],
    );
    assert_eq!(checked["MacValid"], true);

    // A data key pair, its private key to a file; decrypt opens the blob.
    let symmetric = json(&data, &["create-key"])["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let private = dir.path().join("private.der");
    let blob = dir.path().join("private.enc");
    json(
        &data,
        &[
            "generate-data-key-pair",
            "--key-id",
            &symmetric,
            "--key-pair-spec",
            "ECC_NIST_P256",
            "--outfile",
            blob.to_str().unwrap(),
            "--private-key-outfile",
            private.to_str().unwrap(),
        ],
    );
    let opened = json(
        &data,
        &[
            "decrypt",
            "--ciphertext-blob",
            &format!("fileb://{}", blob.display()),
        ],
    );
    assert_eq!(
        STANDARD
            .decode(opened["Plaintext"].as_str().unwrap())
            .unwrap(),
        std::fs::read(&private).unwrap()
    );
}

#[test]
fn a_build_with_test_hooks_refuses_to_serve() {
    // This binary is built with `test-hooks`, which can reveal key material.
    let dir = tempfile::tempdir().unwrap();
    let out = keyward(
        &dir.path().join("data"),
        &["serve", "--listen", "127.0.0.1:0"],
    );
    assert_eq!(out.status.code(), Some(252));
    assert!(String::from_utf8_lossy(&out.stderr).contains("test-hooks"));
}
