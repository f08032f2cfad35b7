//! The audit trail: one event per request on every pipeline path, integrity
//! (edits, deletions, insertions, truncation, forged digests), fail-closed
//! writes, no secrets, queries, CloudTrail export and last use.

use std::io::Read as _;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyward::audit::query::Filter;
use keyward::clock::{Clock, ManualClock};
use keyward::model::{
    AliasRequest, CreateGrantRequest, CreateKeyRequest, DecryptRequest, DescribeKeyRequest,
    EncryptRequest, GenerateDataKeyRequest, GenerateRandomRequest, GrantOperation, ListKeysRequest,
    ReEncryptRequest, ScheduleKeyDeletionRequest, SecretBytes, Tag, TagResourceRequest,
};
use keyward::{Caller, Principal};
use serde_json::Value;

use crate::support::{ACCOUNT, Env, REGION, code, contains, context, key_id, user};

fn events(env: &Env) -> Vec<Value> {
    env.kms
        .query_audit(&env.caller, None, Filter::default())
        .unwrap()
}

/// Runs `request` and returns the one event it appended (failing if it
/// appended none or more than one).
fn one_event<T>(env: &Env, request: impl FnOnce() -> T) -> Value {
    let before = events(env).len();
    request();
    let after = events(env);
    assert_eq!(after.len(), before + 1, "exactly one event per request");
    after.last().unwrap().clone()
}

fn encrypt_request(key: &str, plaintext: &[u8]) -> EncryptRequest {
    EncryptRequest {
        key_id: key.to_owned(),
        plaintext: SecretBytes::new(plaintext),
        encryption_context: Some(context(&[("Department", "Finance")])),
        ..Default::default()
    }
}

#[test]
fn every_pipeline_path_records_exactly_one_event() {
    let env = Env::new();
    let key = env.key();

    let ok = one_event(&env, || {
        env.kms.encrypt(&env.caller, encrypt_request(&key, b"x"))
    });
    assert_eq!(ok["eventName"], "Encrypt");
    assert_eq!(ok["eventSource"], "kms.amazonaws.com");
    assert_eq!(ok["awsRegion"], REGION);
    assert!(ok.get("errorCode").is_none());
    assert_eq!(ok["readOnly"], true);
    assert_eq!(ok["userIdentity"]["type"], "Root");
    assert_eq!(
        ok["userIdentity"]["arn"],
        format!("arn:aws:iam::{ACCOUNT}:root")
    );
    assert_eq!(ok["userIdentity"]["accountId"], ACCOUNT);
    assert_eq!(ok["requestParameters"]["keyId"], key);
    assert_eq!(
        ok["requestParameters"]["encryptionContext"]["Department"],
        "Finance"
    );
    assert!(ok["requestParameters"].get("plaintext").is_none());
    assert!(ok["responseElements"].get("ciphertextBlob").is_none());
    let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}");
    assert_eq!(ok["resources"][0]["ARN"], arn);
    assert_eq!(ok["resources"][0]["type"], "AWS::KMS::Key");
    assert_eq!(
        ok["additionalEventData"]["keywardAuthorization"]["decision"],
        "Allow"
    );
    assert!(
        !ok["additionalEventData"]["keywardAuthorization"]["reasons"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let alice = user(ACCOUNT, "alice");
    let denied = one_event(&env, || {
        env.kms.encrypt(&alice, encrypt_request(&key, b"x"))
    });
    assert_eq!(denied["errorCode"], "AccessDeniedException");
    assert!(denied["errorMessage"].as_str().unwrap().contains("alice"));
    assert_eq!(denied["userIdentity"]["type"], "IAMUser");
    assert_eq!(denied["userIdentity"]["userName"], "alice");
    assert_eq!(denied["resources"][0]["ARN"], arn);
    assert_eq!(
        denied["additionalEventData"]["keywardAuthorization"]["decision"],
        "Deny"
    );

    let missing = one_event(&env, || {
        env.kms.encrypt(
            &env.caller,
            encrypt_request("1234abcd-12ab-34cd-56ef-1234567890ab", b"x"),
        )
    });
    assert_eq!(missing["errorCode"], "NotFoundException");

    env.kms.disable_key(&env.caller, key_id(&key)).unwrap();
    let disabled = one_event(&env, || {
        env.kms.encrypt(&env.caller, encrypt_request(&key, b"x"))
    });
    assert_eq!(disabled["errorCode"], "DisabledException");
    env.kms.enable_key(&env.caller, key_id(&key)).unwrap();

    let other = env.key();
    env.kms
        .schedule_key_deletion(
            &env.caller,
            ScheduleKeyDeletionRequest {
                key_id: other.clone(),
                pending_window_in_days: Some(7),
            },
        )
        .unwrap();
    let pending = one_event(&env, || {
        env.kms.encrypt(&env.caller, encrypt_request(&other, b"x"))
    });
    assert_eq!(pending["errorCode"], "KMSInvalidStateException");

    let mut ciphertext = env.encrypt(&key, b"secret", Some(context(&[("Department", "Finance")])));
    let last = ciphertext.len() - 1;
    ciphertext[last] ^= 1;
    let tampered = one_event(&env, || {
        env.kms.decrypt(
            &env.caller,
            DecryptRequest {
                ciphertext_blob: ciphertext.clone(),
                encryption_context: Some(context(&[("Department", "Finance")])),
                ..Default::default()
            },
        )
    });
    assert_eq!(tampered["eventName"], "Decrypt");
    assert_eq!(tampered["errorCode"], "InvalidCiphertextException");

    let invalid = one_event(&env, || {
        env.kms.encrypt(&env.caller, encrypt_request(&key, b""))
    });
    assert_eq!(invalid["errorCode"], "ValidationException");

    let unserved = Caller::new(Principal::account_root(ACCOUNT).unwrap(), "ap-south-2");
    let before = env
        .kms
        .query_audit(&env.caller, None, Filter::default())
        .unwrap()
        .len();
    assert_eq!(
        code(env.kms.encrypt(&unserved, encrypt_request(&key, b"x"))),
        "ValidationException"
    );
    let after = env
        .kms
        .query_audit(&env.caller, None, Filter::default())
        .unwrap();
    assert_eq!(after.len(), before + 1);
    assert_eq!(
        after
            .iter()
            .filter(|e| e["awsRegion"] == "ap-south-2")
            .count(),
        1
    );

    let created = one_event(&env, || {
        env.kms.create_key(&env.caller, CreateKeyRequest::default())
    });
    assert_eq!(created["eventName"], "CreateKey");
    assert_eq!(created["readOnly"], false);
    assert!(
        created["responseElements"]["keyMetadata"]["keyId"]
            .as_str()
            .is_some()
    );
}

#[test]
fn every_served_operation_records_one_event_with_its_read_only_flag() {
    let env = Env::new();
    for operation in keyward::api::dispatch::OPERATIONS {
        let event = one_event(&env, || {
            let _ = keyward::api::dispatch::dispatch(&env.kms, &env.caller, operation, b"{}");
        });
        assert_eq!(event["eventName"], *operation);
        assert_eq!(
            event["readOnly"],
            !keyward::api::dispatch::is_mutation(operation),
            "{operation}"
        );
    }
}

/// Runs a little of everything and seals the trail.
fn busy_env() -> (Env, String) {
    let env = Env::new();
    let key = env.key();
    for n in 0..6u8 {
        env.encrypt(&key, &[n; 8], None);
    }
    env.kms.seal_audit().unwrap();
    for n in 0..3u8 {
        env.encrypt(&key, &[n; 8], None);
    }
    env.kms.seal_audit().unwrap();
    (env, key)
}

fn first_bad(env: &Env) -> Option<(i64, String)> {
    let verification = env.kms.verify_audit().unwrap();
    let region = verification
        .regions
        .iter()
        .find(|r| r.region == REGION)
        .unwrap();
    region
        .first_bad
        .as_ref()
        .map(|bad| (bad.position, bad.problem.clone()))
}

#[test]
fn verify_finds_edits_deletions_insertions_truncation_and_forged_digests() {
    let (env, _) = busy_env();
    assert_eq!(first_bad(&env), None);
    let verification = env.kms.verify_audit().unwrap();
    assert!(verification.intact());
    assert_eq!(verification.regions[0].events, 10);
    assert_eq!(verification.regions[0].digested_through, 10);

    // An edited event.
    let db = env.database();
    let original: String = db
        .query_row(
            "SELECT event FROM audit_events WHERE region = ?1 AND seq = 4",
            [REGION],
            |row| row.get(0),
        )
        .unwrap();
    db.execute(
        "UPDATE audit_events SET event = replace(event, 'Encrypt', 'Decrypt') WHERE seq = 4",
        [],
    )
    .unwrap();
    let (position, problem) = first_bad(&env).unwrap();
    assert_eq!(position, 4, "{problem}");
    db.execute(
        "UPDATE audit_events SET event = ?1 WHERE seq = 4",
        [&original],
    )
    .unwrap();
    assert_eq!(first_bad(&env), None);

    // A deleted event.
    let (env, _) = busy_env();
    let db = env.database();
    db.execute("DELETE FROM audit_events WHERE seq = 5", [])
        .unwrap();
    assert_eq!(first_bad(&env).unwrap().0, 5);

    // An inserted event: everything after it renumbered and re-hashed by
    // someone without the digest key.
    let (env, _) = busy_env();
    let db = env.database();
    db.execute_batch(
        "UPDATE audit_events SET seq = -seq WHERE seq >= 3;
         UPDATE audit_events SET seq = 1 - seq WHERE seq < 0;
         INSERT INTO audit_events (region, seq, time_ms, event, prev_hash, hash)
         SELECT region, 3, time_ms, event, prev_hash, hash FROM audit_events WHERE seq = 2;",
    )
    .unwrap();
    assert_eq!(first_bad(&env).unwrap().0, 3);

    // The tail cut off past the newest digest.
    let (env, _) = busy_env();
    let db = env.database();
    db.execute("DELETE FROM audit_events WHERE seq > 7", [])
        .unwrap();
    let (position, problem) = first_bad(&env).unwrap();
    assert_eq!(position, 8, "{problem}");

    // A forged digest, and a rewritten chain with a digest re-made without
    // the guest's key.
    let (env, _) = busy_env();
    let db = env.database();
    db.execute(
        "UPDATE audit_digests SET mac = zeroblob(32) WHERE number = 2",
        [],
    )
    .unwrap();
    let (position, problem) = first_bad(&env).unwrap();
    assert!(problem.contains("not signed"), "{problem}");
    assert_eq!(position, 10);

    // The CLI reports the same and exits 1.
    let (env, _) = busy_env();
    env.database()
        .execute("DELETE FROM audit_events WHERE seq = 2", [])
        .unwrap();
    let data_dir = env.data_dir();
    drop(env.kms);
    let out = crate::cli::keyward(&data_dir, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["regions"][0]["firstBad"]["position"], 2);
}

#[test]
fn a_failed_audit_write_fails_the_request_and_keeps_nothing() {
    let env = Env::new();
    let key = env.key();
    let keys_before = env
        .kms
        .list_keys(&env.caller, ListKeysRequest::default())
        .unwrap()
        .keys
        .len();
    let db = env.database();
    db.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON audit_events \
         BEGIN SELECT RAISE(FAIL, 'audit disk full'); END;",
    )
    .unwrap();

    // A read: no ciphertext comes back.
    let encrypted = env
        .kms
        .encrypt(&env.caller, encrypt_request(&key, b"secret"));
    assert_eq!(code(encrypted), "KMSInternalException");
    // Mutations: nothing they did is kept.
    assert_eq!(
        code(env.kms.create_key(&env.caller, CreateKeyRequest::default())),
        "KMSInternalException"
    );
    let tagged = env.kms.tag_resource(
        &env.caller,
        TagResourceRequest {
            key_id: key.clone(),
            tags: vec![Tag {
                tag_key: "Team".into(),
                tag_value: "A".into(),
            }],
        },
    );
    assert_eq!(code(tagged), "KMSInternalException");
    assert_eq!(
        code(env.kms.disable_key(&env.caller, key_id(&key))),
        "KMSInternalException"
    );

    db.execute_batch("DROP TRIGGER refuse;").unwrap();
    let described = env
        .kms
        .describe_key(
            &env.caller,
            DescribeKeyRequest {
                key_id: key.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(described.key_metadata.key_state.as_str(), "Enabled");
    let tags = env
        .kms
        .list_resource_tags(
            &env.caller,
            keyward::model::ListResourceTagsRequest {
                key_id: key.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(tags.tags.is_empty());
    let keys_after = env
        .kms
        .list_keys(&env.caller, ListKeysRequest::default())
        .unwrap()
        .keys
        .len();
    assert_eq!(keys_after, keys_before);
    env.encrypt(&key, b"works again", None);
    assert!(env.kms.verify_audit().unwrap().intact());
}

#[test]
fn no_audit_output_or_log_holds_a_secret() {
    let env = Env::new();
    let key = env.key();
    env.kms
        .create_alias(
            &env.caller,
            AliasRequest {
                alias_name: "alias/scan".into(),
                target_key_id: key.clone(),
            },
        )
        .unwrap();
    let plaintext = b"PLAINTEXT-SECRET-7f3a9c2e-never-log-me".to_vec();
    let ec = context(&[("Department", "Finance")]);
    let ciphertext = env.encrypt(&key, &plaintext, Some(ec.clone()));
    let decrypted = env
        .kms
        .decrypt(
            &env.caller,
            DecryptRequest {
                ciphertext_blob: ciphertext.clone(),
                encryption_context: Some(ec.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(decrypted.plaintext.expose(), plaintext);
    let data_key = env
        .kms
        .generate_data_key(
            &env.caller,
            GenerateDataKeyRequest {
                key_id: "alias/scan".into(),
                number_of_bytes: Some(32),
                encryption_context: Some(ec.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    let reencrypted = env
        .kms
        .re_encrypt(
            &env.caller,
            ReEncryptRequest {
                ciphertext_blob: ciphertext.clone(),
                source_encryption_context: Some(ec.clone()),
                destination_key_id: key.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    let random = env
        .kms
        .generate_random(
            &env.caller,
            GenerateRandomRequest {
                number_of_bytes: Some(64),
                ..Default::default()
            },
        )
        .unwrap();
    let grant = env
        .kms
        .create_grant(
            &env.caller,
            CreateGrantRequest {
                key_id: key.clone(),
                grantee_principal: format!("arn:aws:iam::{ACCOUNT}:role/app"),
                operations: vec![GrantOperation::Decrypt],
                ..Default::default()
            },
        )
        .unwrap();
    // A grant token used, and a failure on an oversized plaintext.
    let _ = env.kms.decrypt(
        &env.caller,
        DecryptRequest {
            ciphertext_blob: ciphertext.clone(),
            encryption_context: Some(ec.clone()),
            grant_tokens: vec![grant.grant_token.clone()],
            ..Default::default()
        },
    );
    let oversized = b"OVERSIZED-PLAINTEXT-SECRET-".repeat(200);
    let _ = env
        .kms
        .encrypt(&env.caller, encrypt_request(&key, &oversized));
    env.kms.seal_audit().unwrap();

    let export_dir = env.dir.path().join("export");
    env.kms
        .export_audit(&env.caller, None, Filter::default(), &export_dir)
        .unwrap();
    let mut audit_output = serde_json::to_vec(&events(&env)).unwrap();
    for file in std::fs::read_dir(&export_dir).unwrap() {
        let mut gz =
            flate2::read::GzDecoder::new(std::fs::File::open(file.unwrap().path()).unwrap());
        gz.read_to_end(&mut audit_output).unwrap();
    }
    let data_dir = env.data_dir();
    let key_for_cli = key.clone();
    drop(env.kms);
    // The CLI with logging at its most verbose.
    let out = crate::cli::keyward_with_env(
        &data_dir,
        &[
            "encrypt",
            "--key-id",
            &key_for_cli,
            "--plaintext",
            &STANDARD.encode(&plaintext),
        ],
        &[("KEYWARD_LOG", "keyward=trace")],
    );
    assert!(out.status.success());
    // The log is not empty: the scan below reads what was logged.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Encrypt"),
        "nothing was logged"
    );
    let cli_query = crate::cli::keyward(&data_dir, &["audit", "query"]);
    audit_output.extend(&cli_query.stdout);
    audit_output.extend(&out.stderr);
    audit_output.extend(&cli_query.stderr);
    let store_files = crate::support::dir_bytes(&data_dir);

    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("plaintext", plaintext.clone()),
        ("data key", data_key.plaintext.expose().to_vec()),
        ("random bytes", random.plaintext.expose().to_vec()),
        ("grant token", grant.grant_token.clone().into_bytes()),
        ("oversized plaintext", oversized[..64].to_vec()),
    ];
    for (what, secret) in &secrets {
        for (form, needle) in [
            ("raw", secret.clone()),
            ("base64", STANDARD.encode(secret).into_bytes()),
        ] {
            assert!(
                !contains(&audit_output, &needle),
                "the audit output holds the {form} {what}"
            );
            // The grants table keeps grant tokens by design (they are
            // looked up by token); everything else stays out of the files.
            assert!(
                *what == "grant token" || !contains(&store_files, &needle),
                "the store files hold the {form} {what}"
            );
        }
    }
    // Ciphertext bodies stay out of the trail too.
    for blob in [
        &ciphertext,
        &data_key.ciphertext_blob,
        &reencrypted.ciphertext_blob,
    ] {
        assert!(!contains(&audit_output, STANDARD.encode(blob).as_bytes()));
    }
    // Control: the scan does find what the trail should hold.
    assert!(contains(&audit_output, b"Finance"));
    assert!(contains(&audit_output, grant.grant_id.as_bytes()));
    assert!(contains(&audit_output, b"GenerateRandom"));
}

#[test]
fn queries_filter_by_key_principal_event_error_and_time() {
    let clock = Arc::new(ManualClock::new(1_767_225_600_000));
    let env = Env::with_config(|config| config.clock = clock.clone());
    let key = env.key();
    let other = env.key();
    env.kms
        .create_alias(
            &env.caller,
            AliasRequest {
                alias_name: "alias/q".into(),
                target_key_id: key.clone(),
            },
        )
        .unwrap();
    env.encrypt(&key, b"a", None);
    clock.advance_ms(60_000);
    let middle = clock.now_ms();
    env.encrypt(&other, b"b", None);
    let _ = env
        .kms
        .encrypt(&user(ACCOUNT, "bob"), encrypt_request(&key, b"c"));
    clock.advance_ms(60_000);
    env.encrypt(&key, b"d", None);

    let query = |key_ref: Option<&str>, filter: Filter| {
        env.kms.query_audit(&env.caller, key_ref, filter).unwrap()
    };
    let names = |found: &[Value]| -> Vec<String> {
        found
            .iter()
            .map(|e| e["eventName"].as_str().unwrap().to_owned())
            .collect()
    };
    let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}");
    for key_ref in [key.as_str(), arn.as_str(), "alias/q"] {
        let found = query(Some(key_ref), Filter::default());
        // CreateAlias, two Encrypts of the root and bob's denied one.
        assert_eq!(
            names(&found),
            ["CreateAlias", "Encrypt", "Encrypt", "Encrypt"],
            "{key_ref}"
        );
    }
    let by_bob = query(
        None,
        Filter {
            principal: Some(format!("arn:aws:iam::{ACCOUNT}:user/bob")),
            ..Filter::default()
        },
    );
    assert_eq!(by_bob.len(), 1);
    assert_eq!(by_bob[0]["errorCode"], "AccessDeniedException");
    let denied = query(
        None,
        Filter {
            error_code: Some("AccessDeniedException".into()),
            ..Filter::default()
        },
    );
    assert_eq!(denied, by_bob);
    let creates = query(
        None,
        Filter {
            event_name: Some("CreateKey".into()),
            ..Filter::default()
        },
    );
    assert_eq!(creates.len(), 2);
    let window = query(
        None,
        Filter {
            start_ms: Some(middle),
            end_ms: Some(middle + 60_000),
            ..Filter::default()
        },
    );
    assert_eq!(names(&window), ["Encrypt", "Encrypt"]);
    let successes = query(
        None,
        Filter {
            error_code: Some(String::new()),
            ..Filter::default()
        },
    );
    assert_eq!(successes.len(), 6);

    // The CLI: JSON lines when piped.
    let data_dir = env.data_dir();
    drop(env.kms);
    let out = crate::cli::keyward(
        &data_dir,
        &[
            "audit",
            "query",
            "--key-id",
            "alias/q",
            "--error-code",
            "AccessDeniedException",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["userIdentity"]["userName"], "bob");
    let table = crate::cli::keyward(
        &data_dir,
        &[
            "--output",
            "text",
            "audit",
            "query",
            "--event-name",
            "Encrypt",
        ],
    );
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.starts_with("TIME"), "{table}");
    assert_eq!(table.lines().count(), 5, "{table}");
}

#[test]
fn export_writes_cloudtrail_files_that_parse_back() {
    let env = Env::new();
    let key = env.key();
    env.encrypt(&key, b"x", Some(context(&[("App", "billing")])));
    let _ = env
        .kms
        .encrypt(&user(ACCOUNT, "mallory"), encrypt_request(&key, b"x"));
    let dir = env.dir.path().join("trail");
    let exported = env
        .kms
        .export_audit(&env.caller, None, Filter::default(), &dir)
        .unwrap();
    assert_eq!(exported.records, 3);
    assert_eq!(exported.files.len(), 1);
    let name = exported.files[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        name.starts_with(&format!("{ACCOUNT}_CloudTrail_{REGION}_")),
        "{name}"
    );
    assert!(name.ends_with(".json.gz"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&exported.files[0]).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let log: Value = serde_json::from_str(&text).unwrap();
    let records = log["Records"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    for record in records {
        for field in [
            "eventVersion",
            "userIdentity",
            "eventTime",
            "eventSource",
            "eventName",
            "awsRegion",
            "sourceIPAddress",
            "userAgent",
            "requestParameters",
            "responseElements",
            "requestID",
            "eventID",
            "readOnly",
            "resources",
            "eventType",
            "recipientAccountId",
        ] {
            assert!(record.get(field).is_some(), "{field} missing from {record}");
        }
        assert_eq!(record["eventType"], "AwsApiCall");
        let time = record["eventTime"].as_str().unwrap();
        assert_eq!(time.len(), 20, "{time}");
        assert!(time.ends_with('Z'));
    }
    assert_eq!(
        records[1]["requestParameters"]["encryptionContext"]["App"],
        "billing"
    );
    assert_eq!(records[2]["errorCode"], "AccessDeniedException");
    assert_eq!(records[2]["responseElements"], Value::Null);
}

#[test]
fn last_use_comes_from_the_trail_and_warns_before_deletion() {
    let clock = Arc::new(ManualClock::new(1_767_225_600_000));
    let env = Env::with_config(|config| config.clock = clock.clone());
    let key = env.key();
    let unused = env
        .kms
        .get_key_last_usage(&env.caller, key_id(&key))
        .unwrap();
    assert_eq!(unused.key_last_usage, None);
    assert_eq!(unused.tracking_start_date, 1_767_225_600.0);

    clock.advance_ms(5_000);
    let ciphertext = env.encrypt(&key, b"x", None);
    clock.advance_ms(5_000);
    env.kms
        .decrypt(
            &env.caller,
            DecryptRequest {
                ciphertext_blob: ciphertext,
                ..Default::default()
            },
        )
        .unwrap();
    // Failures and non-cryptographic calls do not count.
    clock.advance_ms(5_000);
    let _ = env
        .kms
        .encrypt(&user(ACCOUNT, "eve"), encrypt_request(&key, b"x"));
    env.kms
        .describe_key(
            &env.caller,
            DescribeKeyRequest {
                key_id: key.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    let used = env
        .kms
        .get_key_last_usage(&env.caller, key_id(&key))
        .unwrap()
        .key_last_usage
        .unwrap();
    assert_eq!(used.operation, "Decrypt");
    assert_eq!(used.timestamp, 1_767_225_610.0);
    let decrypts = env
        .kms
        .query_audit(
            &env.caller,
            Some(&key),
            Filter {
                event_name: Some("Decrypt".into()),
                ..Filter::default()
            },
        )
        .unwrap();
    assert_eq!(decrypts[0]["eventID"], used.cloud_trail_event_id);
    assert_eq!(decrypts[0]["requestID"], used.kms_request_id);

    let scheduled = env
        .kms
        .schedule_key_deletion(
            &env.caller,
            ScheduleKeyDeletionRequest {
                key_id: key.clone(),
                pending_window_in_days: Some(7),
            },
        )
        .unwrap();
    assert_eq!(scheduled.key_last_usage, Some(used));

    // The CLI warns.
    let other = env.key();
    env.encrypt(&other, b"y", None);
    let data_dir = env.data_dir();
    drop(env.kms);
    let out = crate::cli::keyward(
        &data_dir,
        &[
            "schedule-key-deletion",
            "--key-id",
            &other,
            "--pending-window-in-days",
            "7",
        ],
    );
    assert!(out.status.success());
    let warning = String::from_utf8(out.stderr).unwrap();
    assert!(warning.contains("last used by Encrypt"), "{warning}");

    // The sweeper's deletion is itself an audited service event.
    let env = Env::with_config(|config| config.clock = clock.clone());
    let doomed = env.key();
    env.kms
        .schedule_key_deletion(
            &env.caller,
            ScheduleKeyDeletionRequest {
                key_id: doomed.clone(),
                pending_window_in_days: Some(7),
            },
        )
        .unwrap();
    clock.advance_ms(8 * 24 * 3600 * 1000);
    env.kms.run_maintenance().unwrap();
    let deleted = env
        .kms
        .query_audit(&env.caller, Some(&doomed), Filter::default())
        .unwrap();
    let last = deleted.last().unwrap();
    assert_eq!(last["eventName"], "DeleteKey");
    assert_eq!(last["eventType"], "AwsServiceEvent");
    assert_eq!(last["userIdentity"]["invokedBy"], "kms.amazonaws.com");
    assert!(env.kms.verify_audit().unwrap().intact());
}
