//! HSM-style custody: backing key material and data-key plaintexts never
//! reach the data directory in the clear.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyward::model::{DataKeySpec, GenerateDataKeyRequest};

use crate::support::{Env, REGION, contains};

#[test]
fn backing_key_material_and_data_keys_never_reach_the_data_directory() {
    let env = Env::new();
    let keys: Vec<String> = (0..3).map(|_| env.key()).collect();
    let mut secrets = Vec::new();
    for key in &keys {
        let material = env
            .kms
            .testing()
            .reveal_backing_key(REGION, key, 1)
            .unwrap();
        assert_eq!(material.len(), 32);
        secrets.push(material);
        let data_key = env
            .kms
            .generate_data_key(
                &env.caller,
                GenerateDataKeyRequest {
                    key_id: key.clone(),
                    key_spec: Some(DataKeySpec::Aes256),
                    ..Default::default()
                },
            )
            .unwrap();
        secrets.push(data_key.plaintext.expose().to_vec());
        env.encrypt(key, &data_key.plaintext.expose()[..16], None);
    }
    let check = |stage: &str| {
        let files = env.data_dir_bytes();
        assert!(
            files.len() > 4096,
            "{stage}: the data directory is nearly empty"
        );
        for secret in &secrets {
            assert!(
                !contains(&files, secret),
                "{stage}: a secret is in the data directory"
            );
            assert!(
                !contains(&files, &secret[..16]),
                "{stage}: half a secret is in the data directory"
            );
            let encoded = STANDARD.encode(secret);
            assert!(
                !contains(&files, encoded.as_bytes()),
                "{stage}: a secret's base64 is in the data directory"
            );
        }
    };
    // While open (WAL not yet checkpointed) and after closing.
    check("open");
    let Env { dir, kms, .. } = env;
    drop(kms);
    let files = crate::support::dir_bytes(&dir.path().join("data"));
    for secret in &secrets {
        assert!(
            !contains(&files, secret),
            "closed: a secret is in the data directory"
        );
    }
}

#[test]
fn the_scan_would_find_material_if_it_were_there() {
    // The scan above must be able to fail: plant a known secret and find it.
    let env = Env::new();
    let key = env.key();
    let material = env
        .kms
        .testing()
        .reveal_backing_key(REGION, &key, 1)
        .unwrap();
    std::fs::write(env.data_dir().join("planted"), &material).unwrap();
    assert!(contains(&env.data_dir_bytes(), &material));
}

#[test]
fn the_master_key_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let mode = std::fs::metadata(env.data_dir().join("master.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(env.data_dir())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        dir_mode & 0o077,
        0,
        "the data directory is open to others: {dir_mode:o}"
    );
}

#[test]
fn secrets_do_not_show_in_debug_output() {
    let env = Env::new();
    let key = env.key();
    let response = env
        .kms
        .generate_data_key(
            &env.caller,
            GenerateDataKeyRequest {
                key_id: key,
                key_spec: Some(DataKeySpec::Aes256),
                ..Default::default()
            },
        )
        .unwrap();
    let shown = format!("{response:?} {:?}", env.kms);
    let plaintext = response.plaintext.expose();
    assert!(!shown.contains(&format!("{plaintext:?}")));
    assert!(!shown.contains(&STANDARD.encode(plaintext)));
    assert!(shown.contains("SecretBytes(32 bytes)"));
}
