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
    AliasRequest, CreateGrantRequest, CreateKeyRequest, DecryptRequest, EncryptRequest,
    GenerateDataKeyRequest, GenerateRandomRequest, GrantOperation, ListKeysRequest,
    ReEncryptRequest, SecretBytes, Tag, TagResourceRequest,
};
use keyward::{Caller, Principal};
use serde_json::Value;

use crate::support::{
    ACCOUNT, Env, REGION, code, contains, context, key_id, user, verified, verified_region,
};

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
    // As AWS records Encrypt: with its algorithm, even when the request
    // leaves it out.
    assert_eq!(
        ok["requestParameters"]["encryptionAlgorithm"],
        "SYMMETRIC_DEFAULT"
    );
    // As in AWS's CloudTrail, a cryptographic operation's response is not
    // recorded (its key is in `resources`).
    assert_eq!(ok["responseElements"], Value::Null);
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
    env.schedule_deletion(&other, 7);
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
    // As AWS records Decrypt: with its algorithm, even when the request
    // leaves it out.
    assert_eq!(
        tampered["requestParameters"]["encryptionAlgorithm"],
        "SYMMETRIC_DEFAULT"
    );
    // And ReEncrypt: with both algorithms.
    ciphertext[last] ^= 1;
    let reencrypted = one_event(&env, || {
        env.kms.re_encrypt(
            &env.caller,
            ReEncryptRequest {
                ciphertext_blob: ciphertext.clone(),
                source_encryption_context: Some(context(&[("Department", "Finance")])),
                destination_key_id: key.clone(),
                ..Default::default()
            },
        )
    });
    assert_eq!(reencrypted["eventName"], "ReEncrypt");
    assert!(reencrypted.get("errorCode").is_none(), "{reencrypted}");
    for algorithm in [
        "sourceEncryptionAlgorithm",
        "destinationEncryptionAlgorithm",
    ] {
        assert_eq!(
            reencrypted["requestParameters"][algorithm],
            "SYMMETRIC_DEFAULT"
        );
    }

    let invalid = one_event(&env, || {
        env.kms.encrypt(&env.caller, encrypt_request(&key, b""))
    });
    assert_eq!(invalid["errorCode"], "ValidationException");

    let unserved = Caller::new(Principal::account_root(ACCOUNT).unwrap(), "ap-south-2");
    let before = events(&env).len();
    assert_eq!(
        code(env.kms.encrypt(&unserved, encrypt_request(&key, b"x"))),
        "ValidationException"
    );
    let after = events(&env);
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
    let created_arn = created["responseElements"]["keyMetadata"]["arn"]
        .as_str()
        .unwrap();
    // As CloudTrail records it: the new key is the event's resource.
    assert_eq!(created["resources"][0]["ARN"], created_arn);
    assert_eq!(created["resources"].as_array().unwrap().len(), 1);
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
    let chain = verified_region(&env.kms, REGION);
    assert_eq!((chain.events, chain.digested_through), (10, 10));

    // An edited event.
    let original = std::fs::read(env.audit_log()).unwrap();
    env.edit_audit_log(|lines| lines[3] = lines[3].replace("Encrypt", "Decrypt"));
    let (position, problem) = first_bad(&env).unwrap();
    assert_eq!(position, 4, "{problem}");
    std::fs::write(env.audit_log(), original).unwrap();
    assert_eq!(first_bad(&env), None);

    // A deleted event.
    let (env, _) = busy_env();
    env.edit_audit_log(|lines| {
        lines.remove(4);
    });
    assert_eq!(first_bad(&env).unwrap().0, 5);

    // An inserted event: everything after it renumbered by someone without
    // the digest key.
    let (env, _) = busy_env();
    env.edit_audit_log(|lines| {
        for (index, line) in lines.iter_mut().enumerate().skip(2) {
            let seq = index + 1;
            *line = line.replacen(
                &format!("\"seq\":{seq},"),
                &format!("\"seq\":{},", seq + 1),
                1,
            );
        }
        let copy = lines[1].replacen("\"seq\":2,", "\"seq\":3,", 1);
        lines.insert(2, copy);
    });
    assert_eq!(first_bad(&env).unwrap().0, 3);

    // A line that is not an event at all.
    let (env, _) = busy_env();
    env.edit_audit_log(|lines| lines[5] = "=not json".into());
    let (position, problem) = first_bad(&env).unwrap();
    assert_eq!(position, 6, "{problem}");
    assert!(problem.contains("cannot be read"), "{problem}");

    // The fields of a line outside its event, which queries, exports and
    // the last-use records read: its time, its region, and the mark of an
    // event moved from the database, which hides the event's use.
    let (env, _) = busy_env();
    env.edit_audit_log(|lines| lines[6] = lines[6].replacen("\"time\":17", "\"time\":16", 1));
    let (position, problem) = first_bad(&env).unwrap();
    assert_eq!(position, 7, "{problem}");
    assert!(problem.contains("gives the time"), "{problem}");
    let (env, _) = busy_env();
    env.edit_audit_log(|lines| {
        lines[2] = lines[2].replacen("\"region\":\"us-east-1\"", "\"region\":\"us-west-2\"", 1);
    });
    let (position, problem) = first_bad(&env).unwrap();
    assert_eq!(position, 3, "{problem}");
    assert!(problem.contains("names region"), "{problem}");
    let (env, _) = busy_env();
    env.edit_audit_log(|lines| {
        lines[4] = lines[4].replacen(",\"event\":", ",\"used\":[],\"event\":", 1)
    });
    let (position, problem) = first_bad(&env).unwrap();
    assert_eq!(position, 5, "{problem}");
    assert!(problem.contains("moved from the database"), "{problem}");

    // The tail cut off past the newest digest.
    let (env, _) = busy_env();
    env.edit_audit_log(|lines| lines.truncate(7));
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
    env.edit_audit_log(|lines| {
        lines.remove(1);
    });
    let data_dir = env.data_dir();
    drop(env.kms);
    let out = crate::cli::keyward(&data_dir, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["regions"][0]["firstBad"]["position"], 2);
}

#[test]
fn a_log_cut_or_rewritten_behind_the_service_is_not_vouched_for() {
    // CreateKey and three Encrypts, digested; four more after the digest,
    // which only the service's memory vouches for until the next one.
    let setup = || {
        let env = Env::new();
        let key = env.key();
        for n in 0..3u8 {
            env.encrypt(&key, &[n], None);
        }
        env.kms.seal_audit().unwrap();
        for n in 3..7u8 {
            env.encrypt(&key, &[n], None);
        }
        assert_eq!(first_bad(&env), None);
        (env, key)
    };

    // The last three events cut off: the service goes on from event 8,
    // and the next digest vouches for it, so the gap shows.
    let (env, key) = setup();
    edit_locked(&env, |lines| lines.truncate(5));
    env.encrypt(&key, b"after the cut", None);
    env.kms.seal_audit().unwrap();
    let (position, problem) = first_bad(&env).unwrap();
    assert_eq!(position, 6, "{problem}");
    assert!(problem.contains("missing"), "{problem}");

    // The events after the digest rewritten into a chain of their own, one
    // longer: the service does not take it up either.
    let (env, key) = setup();
    edit_locked(&env, |lines| {
        let forged = lines[5].replace("\"eventName\":\"Encrypt\"", "\"eventName\":\"Decrypt\"");
        lines.insert(6, forged);
        relink(lines, 5);
    });
    assert_eq!(
        first_bad(&env),
        None,
        "a forged tail is only caught by a digest"
    );
    env.encrypt(&key, b"after the rewrite", None);
    env.kms.seal_audit().unwrap();
    // Events 6 to 9 are now the forged ones. The service's event 9
    // follows its own event 8, and the digest vouches for that one.
    let (position, problem) = first_bad(&env).unwrap();
    assert_eq!(position, 9, "{problem}");
    assert!(
        problem.contains("differs from what a digest recorded"),
        "{problem}"
    );

    // The same cut, found by a service opened afterwards: it goes on from
    // the chain's mark in the store, not from the file's end. (The marks
    // are saved first when the trail is sealed; here the digest after them
    // is lost, so only the mark knows of events 6 to 8.)
    let (env, key) = setup();
    env.kms.seal_audit().unwrap();
    env.database()
        .execute("DELETE FROM audit_digests WHERE number = 2", [])
        .unwrap();
    edit_locked(&env, |lines| lines.truncate(5));
    let reopened = keyward::Kms::open(crate::support::config(env.dir.path())).unwrap();
    reopened
        .encrypt(&env.caller, encrypt_request(&key, b"after a restart"))
        .unwrap();
    reopened.seal_audit().unwrap();
    drop(reopened);
    let (position, problem) = first_bad(&env).unwrap();
    assert_eq!(position, 6, "{problem}");
    // A service opened after that goes on from the mark of that chain, not
    // again from event 8: one event 9, then event 10.
    let again = keyward::Kms::open(crate::support::config(env.dir.path())).unwrap();
    again
        .encrypt(&env.caller, encrypt_request(&key, b"after another restart"))
        .unwrap();
    drop(again);
    let positions: Vec<i64> = log_text(&env)
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(&line[1..]).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(positions, [1, 2, 3, 4, 5, 9, 10]);
    assert_eq!(first_bad(&env).unwrap().0, 6);
}

#[test]
fn last_use_is_read_from_the_event_not_the_line_around_it() {
    let unsealed = |config: &mut keyward::Config| config.digest_interval_ms = i64::MAX;
    let env = Env::with_config(unsealed);
    let key = env.key();
    env.encrypt(&key, b"used", None);
    let used = env.last_usage(&key).unwrap();
    // The fields of the line outside the hash edited: the use put a day
    // later, and hidden as if the event had been moved from the database.
    edit_locked(&env, |lines| {
        let encrypt = lines
            .iter_mut()
            .find(|line| line.contains("\"eventName\":\"Encrypt\""))
            .unwrap();
        let time = serde_json::from_str::<Value>(&encrypt[1..]).unwrap()["time"]
            .as_i64()
            .unwrap();
        let edited = format!("\"time\":{},\"used\":[]", time + 86_400_000);
        *encrypt = encrypt.replacen(&format!("\"time\":{time}"), &edited, 1);
    });
    // A service opened now has no mark, and reads the whole file.
    let mut config = crate::support::config(env.dir.path());
    unsealed(&mut config);
    let other = keyward::Kms::open(config).unwrap();
    let seen = other
        .get_key_last_usage(&env.caller, key_id(&key))
        .unwrap()
        .key_last_usage
        .unwrap();
    assert_eq!(seen.cloud_trail_event_id, used.cloud_trail_event_id);
    // The event's own time, to the second.
    assert_eq!(seen.timestamp, used.timestamp.floor());
}

/// Edits the log of `REGION` under its lock, as someone who uses it would,
/// so that the service, which lets an idle lock go within milliseconds,
/// must read the file again before its next write.
fn edit_locked(env: &Env, edit: impl FnOnce(&mut Vec<String>)) {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(env.audit_log())
        .unwrap();
    file.lock().unwrap();
    let mut text = String::new();
    file.read_to_string(&mut text).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    edit(&mut lines);
    let mut text = lines.join("\n");
    text.push('\n');
    file.set_len(0).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, text.as_bytes(), 0).unwrap();
}

/// Gives the lines of a log from `from` on (0-based) the positions and
/// hashes of a chain that goes on from the line before, as someone who
/// edited them without the digest key would.
fn relink(lines: &mut [String], from: usize) {
    let mut prev = line_hash(&lines[from - 1]);
    for (index, line) in lines.iter_mut().enumerate().skip(from) {
        let mut parsed: Value = serde_json::from_str(&line[1..]).unwrap();
        let seq = i64::try_from(index).unwrap() + 1;
        let json = serde_json::to_string(&parsed["event"]).unwrap();
        let event_hash = keyward::audit::chain::event_hash(&json);
        prev = keyward::audit::chain::link(&prev, REGION, seq, &event_hash);
        parsed["seq"] = seq.into();
        parsed["hash"] = hex(&prev).into();
        *line = format!("{}{parsed}", &line[..1]);
    }
}

fn line_hash(line: &str) -> [u8; 32] {
    let parsed: Value = serde_json::from_str(&line[1..]).unwrap();
    let digits = parsed["hash"].as_str().unwrap();
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&digits[i * 2..i * 2 + 2], 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    let log_before = std::fs::read(env.audit_log()).unwrap();
    env.kms.testing().refuse_audit_writes(true);

    // A read: no ciphertext comes back.
    let encrypted = env
        .kms
        .encrypt(&env.caller, encrypt_request(&key, b"secret"));
    assert_eq!(code(encrypted), "KMSInternalException");
    // A mutation whose event cannot be written does not happen.
    assert_eq!(
        code(env.kms.create_key(&env.caller, CreateKeyRequest::default())),
        "KMSInternalException"
    );
    env.kms.testing().refuse_audit_writes(false);
    assert_eq!(std::fs::read(env.audit_log()).unwrap(), log_before);

    // Mutations whose commit fails after their event was written: the
    // event is taken back, nothing they did is kept, and each is recorded
    // as the failure it was.
    let db = env.database();
    db.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON audit_committed \
         BEGIN SELECT RAISE(FAIL, 'database disk full'); END;",
    )
    .unwrap();
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
    let log_after = std::fs::read(env.audit_log()).unwrap();
    assert_eq!(log_after[..log_before.len()], log_before[..]);
    let failures: Vec<Value> = events(&env)
        .into_iter()
        .skip(2)
        .map(|e| {
            serde_json::json!([
                e["eventName"],
                e["errorCode"],
                e["readOnly"],
                e["resources"][0]["ARN"]
            ])
        })
        .collect();
    let arn = env.describe(&key).arn;
    assert_eq!(
        failures,
        [
            serde_json::json!(["TagResource", "KMSInternalException", false, arn]),
            serde_json::json!(["DisableKey", "KMSInternalException", false, arn]),
        ]
    );
    assert_eq!(env.describe(&key).key_state.as_str(), "Enabled");
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
    verified(&env.kms);
}

#[test]
fn an_operation_that_panics_is_recorded_as_a_failure() {
    let env = Env::new();
    let key = env.key();
    env.kms.testing().panic_in_operations(true);
    // The panic goes on to the caller, after the event is written.
    let encrypt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        env.kms
            .encrypt(&env.caller, encrypt_request(&key, b"panics"))
    }));
    assert!(encrypt.is_err());
    let disable = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        env.kms.disable_key(&env.caller, key_id(&key))
    }));
    assert!(disable.is_err());
    env.kms.testing().panic_in_operations(false);

    let failures: Vec<Value> = events(&env)
        .into_iter()
        .filter(|e| e["errorCode"] == "KMSInternalException")
        .map(|e| serde_json::json!([e["eventName"], e["readOnly"]]))
        .collect();
    assert_eq!(
        failures,
        [
            serde_json::json!(["Encrypt", true]),
            serde_json::json!(["DisableKey", false]),
        ]
    );
    // The mutation's transaction was dropped: nothing it did is kept.
    assert_eq!(env.describe(&key).key_state.as_str(), "Enabled");
    env.encrypt(&key, b"works again", None);
    verified(&env.kms);
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
        // 63 bytes: a multiple of 3, so that its base64 is found inside the
        // whole plaintext's.
        ("oversized plaintext", oversized[..63].to_vec()),
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
    // Binary fields leave no member behind, not even a `null` one.
    fn no_null_member(value: &Value, at: &str) {
        if let Value::Object(members) = value {
            for (name, member) in members {
                assert!(!member.is_null(), "`{name}` is null in {at}");
                no_null_member(member, at);
            }
        }
    }
    let events: Vec<Value> = String::from_utf8(cli_query.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(events.len() > 10);
    for event in &events {
        let at = event["eventName"].to_string();
        no_null_member(&event["requestParameters"], &at);
        no_null_member(&event["responseElements"], &at);
    }
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
        // Its creation, CreateAlias, two Encrypts of the root and bob's
        // denied one.
        assert_eq!(
            names(&found),
            ["CreateKey", "CreateAlias", "Encrypt", "Encrypt", "Encrypt"],
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
    env.describe(&key);
    let used = env.last_usage(&key).unwrap();
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

    let scheduled = env.schedule_deletion(&key, 7);
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
    env.schedule_deletion(&doomed, 7);
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
    verified(&env.kms);
}

/// Appends a line to the log of `REGION` as a writer would, continuing the
/// chain: the last event again, under a new event id.
fn append_line(env: &Env, status: char, event_id: &str) -> i64 {
    let text = std::fs::read_to_string(env.audit_log()).unwrap();
    let last_line = text.lines().last().unwrap();
    let last: Value = serde_json::from_str(&last_line[1..]).unwrap();
    let seq = last["seq"].as_i64().unwrap() + 1;
    let mut event = last["event"].clone();
    event["eventID"] = event_id.into();
    let json = serde_json::to_string(&event).unwrap();
    let event_hash = keyward::audit::chain::event_hash(&json);
    let hash = keyward::audit::chain::link(&line_hash(last_line), REGION, seq, &event_hash);
    let hex = hex(&hash);
    let time = &last["time"];
    let line = format!(
        "{status}{{\"seq\":{seq},\"hash\":\"{hex}\",\"region\":\"{REGION}\",\"time\":{time},\"event\":{json}}}\n"
    );
    write_locked(env, line.as_bytes());
    seq
}

/// Appends `bytes` to the log of `REGION` as another process would: under
/// the file's lock (which the service lets go of within milliseconds).
fn write_locked(env: &Env, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(env.audit_log())
        .unwrap();
    file.lock().unwrap();
    std::io::Write::write_all(&mut file, bytes).unwrap();
}

fn log_text(env: &Env) -> String {
    std::fs::read_to_string(env.audit_log()).unwrap()
}

#[test]
fn a_log_left_by_a_writer_that_died_is_mended_by_the_next_write() {
    let env = Env::new();
    let key = env.key();
    env.encrypt(&key, b"one", None);

    // A mutation's event written, the mutation never committed: readers
    // skip it, and the next write cuts it off.
    let _ = append_line(&env, '?', "never-committed");
    assert!(
        !events(&env)
            .iter()
            .any(|e| e["eventID"] == "never-committed")
    );
    verified(&env.kms);
    env.encrypt(&key, b"two", None);
    assert!(!log_text(&env).contains("never-committed"));
    verified(&env.kms);

    // Committed but not yet marked so: readers count it, and the next
    // write marks it.
    let seq = append_line(&env, '?', "committed-id");
    env.database()
        .execute(
            "INSERT INTO audit_committed (event_id, region, seq) VALUES ('committed-id', ?1, ?2)",
            rusqlite::params![REGION, seq],
        )
        .unwrap();
    assert!(events(&env).iter().any(|e| e["eventID"] == "committed-id"));
    env.encrypt(&key, b"three", None);
    let text = log_text(&env);
    let line = text.lines().find(|l| l.contains("committed-id")).unwrap();
    assert!(line.starts_with('='), "{line}");
    // CreateKey, three Encrypts and the marked event.
    assert_eq!(verified_region(&env.kms, REGION).events, 5);

    // A torn last line: cut off by the next write.
    write_locked(&env, b"={\"seq\":6,\"ha");
    env.encrypt(&key, b"four", None);
    assert!(!log_text(&env).contains("\"ha="), "the torn line stayed");
    assert_eq!(verified_region(&env.kms, REGION).events, 6);
}

#[test]
fn two_services_on_one_data_directory_share_each_chain() {
    let env = Env::new();
    let key = env.key();
    let other = keyward::Kms::open(crate::support::config(env.dir.path())).unwrap();
    let encrypt_other = |text: &[u8]| {
        other
            .encrypt(&env.caller, encrypt_request(&key, text))
            .unwrap();
    };
    for n in 0..5u8 {
        env.encrypt(&key, &[n], None);
        encrypt_other(&[n]);
    }
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for n in 0..25u8 {
                env.encrypt(&key, &[n], None);
            }
        });
        scope.spawn(|| {
            for n in 0..25u8 {
                encrypt_other(&[n]);
            }
        });
    });
    // The other service's use is this one's last use.
    encrypt_other(b"last");
    let last = other
        .query_audit(&env.caller, None, Filter::default())
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let used = env.last_usage(&key).unwrap();
    assert_eq!(used.cloud_trail_event_id, last["eventID"].as_str().unwrap());
    drop(other);
    // CreateKey, 61 Encrypts, GetKeyLastUsage.
    assert_eq!(verified_region(&env.kms, REGION).events, 63);
}

#[test]
fn last_use_survives_a_restart_and_a_crash() {
    let env = Env::new();
    let key = env.key();
    env.encrypt(&key, b"x", None);
    let last = |env: &Env| env.last_usage(&key).map(|used| used.cloud_trail_event_id);
    let before = last(&env);
    assert!(before.is_some());
    let Env { dir, kms, caller } = env;
    // A clean stop saves the last uses; a crash (no stop) leaves them to be
    // read back from the log. The "crashed" service's threads live on, so
    // its digests are turned off: a digest saves the last uses, as a crash
    // would not.
    drop(kms);
    let kms = keyward::Kms::open(keyward::Config {
        digest_interval_ms: i64::MAX,
        ..crate::support::config(dir.path())
    })
    .unwrap();
    let env = Env { dir, kms, caller };
    assert_eq!(last(&env), before);
    env.encrypt(&key, b"y", None);
    let after = last(&env);
    assert_ne!(after, before);
    let Env { dir, kms, caller } = env;
    std::mem::forget(kms);
    let kms = keyward::Kms::open(crate::support::config(dir.path())).unwrap();
    let env = Env { dir, kms, caller };
    assert_eq!(last(&env), after);
    verified(&env.kms);
}

#[test]
fn events_kept_in_the_database_by_an_older_keyward_move_to_the_log() {
    let Env { dir, kms, caller } = Env::new();
    drop(kms);
    // Two events as the database kept them before the log files, in a
    // region this store has not written to.
    let db = rusqlite::Connection::open(crate::support::data_dir(dir.path()).join("keyward.db"))
        .unwrap();
    let mut prev = [0; 32];
    for seq in 1..=2i64 {
        let json = format!(r#"{{"eventName":"Encrypt","eventID":"old-{seq}","requestID":"r"}}"#);
        let hash = keyward::audit::chain::link_v1(&prev, "eu-west-1", seq, &json);
        db.execute(
            "INSERT INTO audit_events (region, seq, time_ms, event, prev_hash, hash) \
             VALUES ('eu-west-1', ?1, 0, ?2, ?3, ?4)",
            rusqlite::params![seq, json, prev.as_slice(), hash.as_slice()],
        )
        .unwrap();
        prev = hash;
    }
    let kms = keyward::Kms::open(crate::support::config(dir.path())).unwrap();
    let env = Env { dir, kms, caller };
    assert_eq!(env.count_rows("audit_events"), 0);
    assert_eq!(verified_region(&env.kms, "eu-west-1").events, 2);
    // The chain goes on from them.
    let mut caller = env.caller.clone();
    caller.region = "eu-west-1".into();
    let _ = env.kms.list_keys(&caller, ListKeysRequest::default());
    assert_eq!(verified_region(&env.kms, "eu-west-1").events, 3);
}

#[test]
fn requests_for_regions_not_served_share_one_chain() {
    let env = Env::new();
    for region in ["ap-south-2", "../../etc", "x/y"] {
        let mut caller = env.caller.clone();
        caller.region = region.into();
        let refused = env.kms.list_keys(&caller, ListKeysRequest::default());
        assert_eq!(code(refused), "ValidationException");
    }
    let files: Vec<String> = std::fs::read_dir(env.data_dir().join("audit"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".log"))
        .collect();
    assert_eq!(files, ["unserved.log"]);
    let unserved = verified_region(&env.kms, keyward::service::UNSERVED_CHAIN);
    assert_eq!(unserved.events, 3);
    // Each event still names the region its caller asked for.
    let named: Vec<Value> = events(&env)
        .into_iter()
        .filter(|e| e["eventName"] == "ListKeys")
        .map(|e| e["awsRegion"].clone())
        .collect();
    assert_eq!(named, ["ap-south-2", "../../etc", "x/y"]);
}

#[test]
fn records_of_committed_mutations_go_once_the_marks_pass_them() {
    let env = Env::with_config(|config| config.digest_interval_ms = i64::MAX);
    let key = env.key();
    env.kms
        .tag_resource(
            &env.caller,
            TagResourceRequest {
                key_id: key,
                tags: vec![Tag {
                    tag_key: "Team".into(),
                    tag_value: "A".into(),
                }],
            },
        )
        .unwrap();
    assert_eq!(env.count_rows("audit_committed"), 2);
    env.kms.seal_audit().unwrap();
    assert_eq!(env.count_rows("audit_committed"), 0);
    verified(&env.kms);
}

#[test]
fn the_service_makes_digests_on_its_own_while_requests_come_in() {
    let env = Env::with_config(|config| config.digest_interval_ms = 20);
    let key = env.key();
    let digests = || env.count_rows("audit_digests");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while digests() == 0 {
        assert!(std::time::Instant::now() < deadline, "no digest was made");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Events after that digest get one of their own, with no request
    // waiting for it.
    let first = digests();
    env.encrypt(&key, b"x", None);
    while digests() == first {
        assert!(
            std::time::Instant::now() < deadline,
            "no second digest was made"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(verified_region(&env.kms, REGION).digested_through >= 2);
}
