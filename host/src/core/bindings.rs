//! Generated bindings for the crypto-core world. Nothing here is written by
//! hand but the names the rest of `core` uses.

#[cfg(not(feature = "test-hooks"))]
mod generated {
    wasmtime::component::bindgen!({ path: "../wit", world: "crypto-core" });

    pub type Bindings = CryptoCore;
    pub type BindingsPre<T> = CryptoCorePre<T>;
}

#[cfg(feature = "test-hooks")]
mod generated {
    wasmtime::component::bindgen!({ path: "../wit", world: "crypto-core-testing" });

    pub type Bindings = CryptoCoreTesting;
    pub type BindingsPre<T> = CryptoCoreTestingPre<T>;
}

pub use generated::keyward::crypto::types::{
    CiphertextDestination, CiphertextSource, DataKey, DataKeyPair, Error as WitError, GeneratedKey,
    ImportedKey, KeySpec as CoreKeySpec, MacAlgorithm, MessageType as CoreMessageType, OaepHash,
    RsaCiphertext, RsaDestination, SigningAlgorithm as CoreSigningAlgorithm, SymmetricCiphertext,
    SymmetricDestination, WrappedKey, WrappingAlgorithm, WrappingKeyPair,
};
pub use generated::{Bindings, BindingsPre};
