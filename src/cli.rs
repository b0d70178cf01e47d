//! The command line: serving (no arguments), `check`, `--help`, `--version`.

use crate::endpoints::looks_like_connection_string;
use crate::settings::table::{CONNECTION_STRING, DefaultValue, TABLE};

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve on the host the environment names.
    Serve,
    /// Report on the settings, endpoints and a sample token.
    Check {
        /// The sample's hub.
        hub: String,
        /// The sample's user id.
        user: Option<String>,
        /// Send nothing over the network.
        offline: bool,
    },
    /// Print the usage.
    Help,
    /// Print the version.
    Version,
}

const USAGE: &str = "\
signalr-negotiate: the negotiate function for Azure SignalR Service.

USAGE:
    signalr-negotiate                   serve negotiate (host chosen by the environment, below)
    signalr-negotiate check [--hub HUB] [--user USER] [--offline]
                                        load the configuration as serving would, print each
                                        endpoint (secrets masked), probe its health, sign a
                                        sample token and print its header and claims, prove
                                        that the service takes it (its client negotiate, its
                                        REST API, its clock), and say which firewall rules
                                        the tokens serve; exit 0 when all is well, 1 on a
                                        problem, 2 on a bad setting. --offline sends nothing
                                        over the network (no probe, no proof); --user '[a b]'
                                        shows what a user id claim with several values gives
    signalr-negotiate --help | --version

HOSTS:
    AWS Lambda when AWS_LAMBDA_RUNTIME_API is set; the Azure Functions host (127.0.0.1 on
    FUNCTIONS_CUSTOMHANDLER_PORT) when that is set; otherwise a local server on SIGNALR_LISTEN.

SETTINGS (environment; names are case-insensitive, ':' equals '__', CUSTOMCONNSTR_ equals
          ConnectionStrings__):
";

/// The usage text: commands, hosts, and every setting from the settings table.
pub fn usage() -> String {
    format!("{USAGE}{}", settings_help())
}

/// The SETTINGS part of `--help`, from the settings table: one entry per setting, its help and default, wrapped to fit
/// a terminal.
fn settings_help() -> String {
    const INDENT: usize = 4;
    const NAME_WIDTH: usize = 35;
    const LINE: usize = 100;
    let mut out = String::new();
    for setting in TABLE {
        let default = match setting.default {
            DefaultValue::None => None,
            DefaultValue::Value("") => Some("(default: empty)".to_owned()),
            DefaultValue::Value(value) | DefaultValue::Described(value) => Some(format!("(default {value})")),
        };
        out.push_str(&" ".repeat(INDENT));
        out.push_str(setting.name);
        let mut column = INDENT + setting.name.len();
        if column >= INDENT + NAME_WIDTH {
            out.push('\n');
            column = 0;
        }
        // The default stays on one line, as one word.
        for word in setting.help.split(' ').chain(default.as_deref()) {
            if column > INDENT + NAME_WIDTH && column + 1 + word.len() > LINE {
                out.push('\n');
                column = 0;
            }
            if column < INDENT + NAME_WIDTH {
                out.push_str(&" ".repeat(INDENT + NAME_WIDTH - column));
                column = INDENT + NAME_WIDTH;
            } else {
                out.push(' ');
                column += 1;
            }
            out.push_str(word);
            column += word.len();
        }
        out.push('\n');
    }
    out
}

/// Reads the arguments (without the program name). An argument that looks like a connection
/// string is refused before anything could echo it: it holds a key.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let args: Vec<String> = args.into_iter().collect();
    if args.iter().any(|arg| looks_like_connection_string(arg)) {
        return Err(format!(
            "an argument looks like a connection string (not shown: it holds a key); connection strings are \
            settings, read from the environment: set {} to it instead",
            CONNECTION_STRING.name
        ));
    }
    let mut args = args.into_iter();
    let Some(first) = args.next() else {
        return Ok(Command::Serve);
    };
    match first.as_str() {
        "-h" | "--help" | "help" => Ok(Command::Help),
        "-V" | "--version" => Ok(Command::Version),
        "check" => {
            let (mut hub, mut user, mut offline) = ("chat".to_owned(), None, false);
            while let Some(flag) = args.next() {
                let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
                match flag.as_str() {
                    "--hub" => hub = value("--hub")?,
                    "--user" => user = Some(value("--user")?),
                    "--offline" => offline = true,
                    "-h" | "--help" => return Ok(Command::Help),
                    other => return Err(format!("unknown option for check: {other}")),
                }
            }
            Ok(Command::Check { hub, user, offline })
        }
        other => Err(format!("unknown command: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_setting_with_its_default() {
        let help = settings_help();
        for setting in TABLE {
            assert!(help.contains(setting.name), "--help lacks {}", setting.name);
            if let Some(value) = setting.default_value() {
                assert!(help.contains(&format!("(default {value})")), "{}", setting.name);
            }
        }
    }

    /// `--help` is laid out in two columns: each name at column 4, its help from column 39,
    /// wrapped at 100 characters (a name too long for its column has its help on the next
    /// line), and the words are the help's and the default's, in order.
    #[test]
    fn help_is_two_columns_wrapped_at_100() {
        let help = settings_help();
        let mut lines = help.lines().peekable();
        for setting in TABLE {
            let first = lines.next().unwrap();
            let name = format!("    {}", setting.name);
            assert!(first.starts_with(&name), "{first:?}");
            let mut words: Vec<&str> = Vec::new();
            let mut text = &first[name.len()..];
            if name.len() >= 39 {
                assert_eq!(first, name, "a name too long for its column stands alone");
            }
            if text.is_empty() {
                text = lines.next().unwrap();
            }
            loop {
                words.extend(text.split_whitespace());
                match lines.peek() {
                    Some(next) if next.starts_with(&" ".repeat(39)) && !next[39..].starts_with(' ') => {
                        text = lines.next().unwrap();
                    }
                    _ => break,
                }
            }
            let default = match setting.default {
                DefaultValue::None => String::new(),
                DefaultValue::Value("") => "(default: empty)".to_owned(),
                DefaultValue::Value(value) | DefaultValue::Described(value) => format!("(default {value})"),
            };
            let expected: Vec<&str> = setting
                .help
                .split_whitespace()
                .chain(default.split_whitespace())
                .collect();
            assert_eq!(words, expected, "{}", setting.name);
        }
        assert!(lines.next().is_none());
        for line in help.lines() {
            assert!(line.len() <= 100, "{} characters: {line:?}", line.len());
            let indent = line.len() - line.trim_start().len();
            assert!(indent == 4 || indent == 39, "indent {indent}: {line:?}");
        }
        // Help starts at column 39 on the name's line when the name fits its column.
        let short = help.lines().find(|line| line.starts_with("    SIGNALR_HUB ")).unwrap();
        assert_eq!(&short[39..39 + 3], "hub", "{short:?}");
        // Lines are filled: a wrapped line could not have taken the next word.
        let all: Vec<&str> = help.lines().collect();
        for pair in all.windows(2) {
            let continued = pair[1].starts_with(&" ".repeat(39)) && !pair[1][39..].starts_with(' ');
            // A name too long for its column stands alone on its line.
            if continued && pair[0].trim_start().contains(' ') {
                let next_word = pair[1].split_whitespace().next().unwrap();
                assert!(
                    pair[0].len() + 1 + next_word.len() > 100,
                    "{:?} could take {next_word:?}",
                    pair[0]
                );
            }
        }
    }

    fn args(list: &[&str]) -> Result<Command, String> {
        parse(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn commands() {
        assert_eq!(args(&[]), Ok(Command::Serve));
        assert_eq!(args(&["--help"]), Ok(Command::Help));
        assert_eq!(args(&["--version"]), Ok(Command::Version));
        assert_eq!(
            args(&["check"]),
            Ok(Command::Check {
                hub: "chat".into(),
                user: None,
                offline: false
            })
        );
        assert_eq!(
            args(&["check", "--hub", "news", "--user", "ada"]),
            Ok(Command::Check {
                hub: "news".into(),
                user: Some("ada".into()),
                offline: false
            })
        );
        assert_eq!(
            args(&["check", "--offline"]),
            Ok(Command::Check {
                hub: "chat".into(),
                user: None,
                offline: true
            })
        );
        assert!(args(&["check", "--hub"]).is_err());
        assert!(args(&["check", "--verbose"]).is_err());
        assert!(args(&["serve"]).is_err());
    }

    #[test]
    fn a_connection_string_argument_is_refused_unechoed_and_sent_to_its_setting() {
        const KEY: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH";
        let connection_string = format!("Endpoint=https://a.service.signalr.net;AccessKey={KEY};Version=1.0;");
        for list in [
            vec![connection_string.as_str()],
            vec!["check", connection_string.as_str()],
            vec!["check", "--user", connection_string.as_str()],
        ] {
            let error = args(&list).unwrap_err();
            assert!(!error.contains(KEY) && !error.contains("Endpoint="), "{error}");
            assert_eq!(
                error,
                "an argument looks like a connection string (not shown: it holds a key); connection strings are \
                settings, read from the environment: set AzureSignalRConnectionString to it instead"
            );
        }
        // Other unknown arguments are still named.
        assert_eq!(args(&["serve"]), Err("unknown command: serve".to_owned()));
    }

    #[test]
    fn help_documents_every_setting_in_the_table() {
        let usage = usage();
        for setting in TABLE {
            assert!(usage.contains(setting.name), "--help does not mention {}", setting.name);
        }
    }
}
