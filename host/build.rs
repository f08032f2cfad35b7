//! Builds the crypto-core guest (`guest/`) for `wasm32-wasip2` and places the
//! component in `OUT_DIR`, where `core` embeds it with `include_bytes!`.
//!
//! The guest gets its own target directory, the way wasmtime's test-programs
//! build theirs, so that the nested cargo never contends with the outer one.
//! rustup does not add a target just because `rust-toolchain.toml` names it
//! when the toolchain is already installed, so this script adds it.

use std::env;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn main() -> Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let workspace = manifest_dir
        .parent()
        .ok_or("host/ has no parent directory")?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let test_hooks = env::var_os("CARGO_FEATURE_TEST_HOOKS").is_some();

    for watched in ["guest/src", "guest/Cargo.toml", "wit", "Cargo.lock"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }

    ensure_target()?;

    let guest_target_dir = guest_target_dir(&out_dir, workspace);
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "keyward-guest",
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(&guest_target_dir)
        // The guest is small: optimise it fully and leave debug info out.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        // Flags and wrappers meant for the host build (clippy, coverage,
        // sanitizers) must not leak into the guest build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET");
    if test_hooks {
        command.args(["--features", "test-hooks"]);
    }
    let status = command.status()?;
    if !status.success() {
        return Err(format!("building the guest for {TARGET} failed ({status})").into());
    }

    let built = guest_target_dir
        .join(TARGET)
        .join("release")
        .join("keyward_guest.wasm");
    std::fs::copy(&built, out_dir.join("keyward_guest.wasm"))
        .map_err(|e| format!("copying {}: {e}", built.display()))?;
    Ok(())
}

/// `<workspace target>/guest`, shared by every profile of the host, or a
/// folder in `OUT_DIR` when the target directory cannot be found.
fn guest_target_dir(out_dir: &Path, workspace: &Path) -> PathBuf {
    // OUT_DIR is <target>/<profile>/build/keyward-<hash>/out, or with
    // --target, <target>/<triple>/<profile>/build/keyward-<hash>/out.
    let target = out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace.join("target"));
    target.join("keyward-guest")
}

/// Makes sure `wasm32-wasip2` is installed for the toolchain building us.
fn ensure_target() -> Result<()> {
    let toolchain = env::var("RUSTUP_TOOLCHAIN").ok();
    let sysroot = Command::new(env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()?;
    let sysroot = PathBuf::from(String::from_utf8(sysroot.stdout)?.trim());
    if sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        return Ok(());
    }

    let manual = match &toolchain {
        Some(toolchain) => format!("rustup target add {TARGET} --toolchain {toolchain}"),
        None => format!("rustup target add {TARGET}"),
    };
    println!("cargo:warning=the {TARGET} target is missing; installing it with `{manual}`");
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", TARGET]);
    if let Some(toolchain) = &toolchain {
        rustup.args(["--toolchain", toolchain]);
    }
    match rustup.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => {
            Err(format!("`{manual}` failed ({status}); run it by hand, then build again").into())
        }
        Err(e) => {
            Err(format!("could not run rustup ({e}); install the target with `{manual}`").into())
        }
    }
}
