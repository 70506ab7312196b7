//! POSIX shell quoting for remote commands.
//!
//! Every remote command is a string that the board's login shell parses, so every piece that
//! comes from the user (work dir, file names, the execution prefix's words) goes through
//! [`quote`]: single quotes make everything literal, and a single quote itself is written as
//! `'\''` (close, escaped quote, reopen). Nothing else is special inside single quotes in POSIX
//! sh, so `$(...)`, backticks, `;`, globs and newlines all stay inert.

/// Quote `s` as one literal word for a POSIX shell.
///
/// Plain words made only of characters no shell treats specially are returned as they are, so
/// commands stay readable in logs; everything else is single-quoted.
pub fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b',' | b':' | b'+' | b'=' | b'@')
        })
        // A leading `=` or `~` could be expanded by some shells; quote to be safe.
        && !s.starts_with('~')
        && !s.starts_with('=');
    if plain {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Quote every word and join them with spaces.
pub fn join<I, S>(words: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    words
        .into_iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// What `sh` makes of `echo-args <quoted words>`: each argument on its own line.
    fn through_sh(words: &[&str]) -> Vec<String> {
        let script = format!("for a in {}; do printf '%s\\n' \"$a\"; done", join(words));
        let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
        assert!(out.status.success(), "sh failed on {script}");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn plain_words_stay_readable() {
        assert_eq!(quote("bifsmn-runner"), "bifsmn-runner");
        assert_eq!(quote("models/a_1.bkw"), "models/a_1.bkw");
        assert_eq!(quote("--runs=10"), "--runs=10");
    }

    #[test]
    fn special_words_are_single_quoted() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("$(rm -rf ~)"), "'$(rm -rf ~)'");
        assert_eq!(quote("~/x"), "'~/x'");
    }

    #[test]
    fn the_shell_sees_exactly_the_original_words() {
        let words = [
            "dir with spaces/model.bkw",
            "it's \"quoted\"",
            "$(touch /tmp/bifsmn-quote-pwned)",
            "`id`",
            "a;b|c&d>e<f",
            "*",
            "$HOME",
            "back\\slash",
            "tab\there",
            "'",
            "''",
            "-n",
        ];
        assert_eq!(through_sh(&words), words);
        assert!(!std::path::Path::new("/tmp/bifsmn-quote-pwned").exists());
    }

    #[test]
    fn newlines_survive_as_part_of_one_word() {
        let script = format!("printf '%s' {}", quote("two\nlines"));
        let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
        assert_eq!(out.stdout, b"two\nlines");
    }
}
