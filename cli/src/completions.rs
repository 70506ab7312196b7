//! `bifsmn completions <shell>`: a shell completion script on stdout (clap_complete).
//!
//! The .deb installs the output for bash, zsh and fish; from a checkout, for example:
//! `bifsmn completions bash > ~/.local/share/bash-completion/completions/bifsmn`.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;

/// `completions` options.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Write the completion script for `args.shell` to stdout.
pub fn run(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    // Generate into memory first: clap_complete panics on a failed write (a closed pipe).
    let mut script = Vec::new();
    write(args.shell, &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    Ok(ExitCode::SUCCESS)
}

/// Write the completion script for `shell` to `out`.
pub fn write(shell: Shell, out: &mut dyn Write) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "bifsmn", out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(shell: Shell) -> String {
        let mut buf = Vec::new();
        write(shell, &mut buf);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn scripts_name_the_program_and_its_commands() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let s = script(shell);
            assert!(s.contains("bifsmn"), "{shell}");
            for sub in ["deploy", "stream-eval", "completions"] {
                assert!(s.contains(sub), "{shell} lacks {sub}");
            }
        }
        assert!(script(Shell::Zsh).starts_with("#compdef bifsmn"));
    }
}
