//! The `keyward` CLI, built inside the test package so that the CLI tests
//! can run it (`CARGO_BIN_EXE_keyward-under-test`).

fn main() -> std::process::ExitCode {
    keyward::cli::main()
}
