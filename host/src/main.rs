//! The `keyward` binary: see `keyward --help`.

fn main() -> std::process::ExitCode {
    keyward::cli::main()
}
