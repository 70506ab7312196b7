//! `bifsmn`: the workbench's command-line interface. See `bifsmn --help`.

fn main() -> std::process::ExitCode {
    bifsmn_cli::main()
}
