#![allow(missing_docs, reason = "criterion macros generate undocumented items")]
#![allow(clippy::unwrap_used, reason = "a benchmark aborts on any failure")]
//! In-process benchmarks of the full request pipeline (resolve, key state,
//! authorize, crypto core), with native AES-256-GCM as the reference.
//!
//! Run: `cargo bench -p keyward --bench pipeline`. Figures go in
//! BENCHMARKS.md.

use std::hint::black_box;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keyward::model::{
    CreateKeyRequest, DataKeySpec, DecryptRequest, DescribeKeyRequest, EncryptRequest,
    GenerateDataKeyRequest, GenerateRandomRequest, SecretBytes,
};
use keyward::{Caller, Config, Kms, Principal};

fn setup() -> (tempfile::TempDir, Kms, Caller, String) {
    let dir = tempfile::tempdir().unwrap();
    let (kms, _) = Kms::open_or_init(Config::new(dir.path().join("data"))).unwrap();
    let caller = Caller::new(
        Principal::account_root("111122223333").unwrap(),
        "us-east-1",
    );
    let key = kms
        .create_key(&caller, CreateKeyRequest::default())
        .unwrap();
    (dir, kms, caller, key.key_metadata.key_id)
}

fn pipeline(c: &mut Criterion) {
    let (_dir, kms, caller, key_id) = setup();
    let mut group = c.benchmark_group("pipeline");
    for size in [32usize, 4096] {
        let plaintext = SecretBytes::new(vec![7u8; size]);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(format!("encrypt_{size}B"), |b| {
            b.iter(|| {
                let request = EncryptRequest {
                    key_id: key_id.clone(),
                    plaintext: plaintext.clone(),
                    ..Default::default()
                };
                black_box(kms.encrypt(&caller, request).unwrap())
            })
        });
        let ciphertext = kms
            .encrypt(
                &caller,
                EncryptRequest {
                    key_id: key_id.clone(),
                    plaintext: plaintext.clone(),
                    ..Default::default()
                },
            )
            .unwrap()
            .ciphertext_blob;
        group.bench_function(format!("decrypt_{size}B"), |b| {
            b.iter(|| {
                let request = DecryptRequest {
                    ciphertext_blob: ciphertext.clone(),
                    ..Default::default()
                };
                black_box(kms.decrypt(&caller, request).unwrap())
            })
        });
    }
    group.throughput(Throughput::Elements(1));
    // The pipeline without the crypto core: resolve, key state, authorize.
    group.bench_function("describe_key", |b| {
        b.iter(|| {
            let request = DescribeKeyRequest {
                key_id: key_id.clone(),
                ..Default::default()
            };
            black_box(kms.describe_key(&caller, request).unwrap())
        })
    });
    // One guest call with almost no work in it: the cost of crossing the
    // WIT boundary and the pool.
    group.bench_function("generate_random_32B", |b| {
        b.iter(|| {
            let request = GenerateRandomRequest {
                number_of_bytes: Some(32),
                custom_key_store_id: None,
            };
            black_box(kms.generate_random(&caller, request).unwrap())
        })
    });
    group.bench_function("generate_data_key_aes256", |b| {
        b.iter(|| {
            let request = GenerateDataKeyRequest {
                key_id: key_id.clone(),
                key_spec: Some(DataKeySpec::Aes256),
                ..Default::default()
            };
            black_box(kms.generate_data_key(&caller, request).unwrap())
        })
    });
    group.finish();

    // The reference: native AES-256-GCM over 4096 bytes, no pipeline.
    let mut reference = c.benchmark_group("reference");
    reference.throughput(Throughput::Bytes(4096));
    let cipher = Aes256Gcm::new(&[9u8; 32].into());
    let nonce = Nonce::from([1u8; 12]);
    reference.bench_function("native_aes256gcm_encrypt_4096B", |b| {
        let mut buffer = vec![7u8; 4096];
        b.iter(|| {
            black_box(
                cipher
                    .encrypt_inout_detached(&nonce, b"", buffer.as_mut_slice().into())
                    .unwrap(),
            )
        })
    });
    reference.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
