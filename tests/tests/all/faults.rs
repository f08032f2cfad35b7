//! The guest pool survives guest faults: a trap fails that one request with
//! an internal error, the instance is replaced, and the next request works.

use std::time::{Duration, Instant};

use keyward::core::CoreConfig;

use crate::support::Env;

fn works(env: &Env, key: &str) {
    let blob = env.encrypt(key, b"still alive", None);
    let out = env
        .kms
        .decrypt(
            &env.caller,
            keyward::model::DecryptRequest {
                ciphertext_blob: blob,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(out.plaintext.expose(), b"still alive");
}

#[test]
fn a_trapping_guest_is_replaced() {
    let env = Env::with_config(|c| {
        c.core = CoreConfig {
            instances: 1,
            ..CoreConfig::default()
        }
    });
    let key = env.key();
    works(&env, &key);
    for _ in 0..3 {
        let fault = env.kms.testing().inject_fault().unwrap_err();
        assert!(
            format!("{:?}", fault.0).contains("unreachable")
                || format!("{:#}", fault.0).contains("wasm"),
            "{fault:?}"
        );
        // With one instance, the next call can only succeed on a new one.
        works(&env, &key);
    }
}

#[test]
fn a_guest_past_its_deadline_is_stopped_and_replaced() {
    let env = Env::with_config(|c| {
        c.core = CoreConfig {
            instances: 1,
            call_deadline: Duration::from_millis(200),
            ..CoreConfig::default()
        }
    });
    let key = env.key();
    let started = Instant::now();
    let fault = env.kms.testing().spin().unwrap_err();
    let took = started.elapsed();
    assert!(
        format!("{:#}", fault.0)
            .to_lowercase()
            .contains("interrupt"),
        "{fault:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "the deadline did not stop the guest ({took:?})"
    );
    works(&env, &key);
}

#[test]
fn guest_memory_is_capped() {
    let env = Env::with_config(|c| {
        c.core = CoreConfig {
            instances: 1,
            memory_limit: 8 << 20,
            ..CoreConfig::default()
        }
    });
    let key = env.key();
    // 16 pages (1 MiB) fit under the 8 MiB cap; 256 more (16 MiB) do not.
    assert!(env.kms.testing().grow_memory(16).unwrap());
    assert!(!env.kms.testing().grow_memory(256).unwrap());
    works(&env, &key);
}
