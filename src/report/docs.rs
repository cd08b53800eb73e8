//! Shell completions and the man page, generated from the clap definition the CLI builds.
//!
//! The CLI owns the `clap::Command`; this module only renders it (clap_complete, clap_mangen),
//! to any `io::Write`, with nothing that varies between runs (the man page carries no date).

use std::io;

/// Writes the completion script for `shell` of the program `cmd` describes.
pub fn completions(cmd: &mut clap::Command, shell: clap_complete::Shell, out: &mut dyn io::Write) {
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, cmd, name, out);
}

/// Writes the roff man page of `cmd` (section 1) with its subcommands listed.
pub fn man_page(cmd: clap::Command, out: &mut dyn io::Write) -> io::Result<()> {
    clap_mangen::Man::new(cmd).render(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, Command};

    fn cmd() -> Command {
        Command::new("captriage")
            .version("0.1.0")
            .about("Offline threat triage")
            .subcommand(
                Command::new("analyze").about("Triage Zeek logs").arg(
                    Arg::new("format")
                        .long("format")
                        .value_parser(["table", "json"]),
                ),
            )
    }

    #[test]
    fn completions_name_the_program_and_its_options() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut out = Vec::new();
            completions(&mut cmd(), shell, &mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("captriage"), "{shell}");
            assert!(text.contains("format"), "{shell}");
        }
    }

    #[test]
    fn man_page_is_roff_and_deterministic() {
        let render = || {
            let mut out = Vec::new();
            man_page(cmd(), &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let text = render();
        assert!(text.starts_with(".ie"), "{text}");
        assert!(text.contains(".TH captriage 1"));
        assert!(text.contains("analyze"));
        assert_eq!(text, render());
    }
}
