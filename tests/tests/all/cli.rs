//! The `keyward` command line, run as a separate process.

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

fn keyward(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyward-under-test"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("KEYWARD_MASTER_KEY")
        .env_remove("AWS_REGION")
        .env_remove("KEYWARD_PRINCIPAL")
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
    let decrypted = json(
        &data,
        &[
            "decrypt",
            "--ciphertext-blob",
            &format!("fileb://{}", sealed.display()),
            "--encryption-context",
            r#"{"stage":"cli","app":"tests"}"#,
            "--outfile",
            opened.to_str().unwrap(),
        ],
    );
    assert!(decrypted.get("Plaintext").is_none());
    assert_eq!(std::fs::read(&opened).unwrap(), bytes);

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
