//! The command line: serving (no arguments), `check`, `--help`, `--version`.

use crate::settings::table;

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
    signalr-negotiate check [--hub HUB] [--user USER]
                                        load the configuration as serving would, print each
                                        endpoint (secrets masked), probe its health, sign a
                                        sample token and print its header and claims; exit 0
                                        when all is well, 1 on a problem, 2 on a bad setting
    signalr-negotiate --help | --version

HOSTS:
    AWS Lambda when AWS_LAMBDA_RUNTIME_API is set; the Azure Functions host (127.0.0.1 on
    FUNCTIONS_CUSTOMHANDLER_PORT) when that is set; otherwise a local server on SIGNALR_LISTEN.

SETTINGS (environment; names are case-insensitive, ':' equals '__', CUSTOMCONNSTR_ equals
          ConnectionStrings__):
";

/// The usage text: commands, hosts, and every setting from the settings table.
pub fn usage() -> String {
    format!("{USAGE}{}", table::help())
}

/// Reads the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let Some(first) = args.next() else {
        return Ok(Command::Serve);
    };
    match first.as_str() {
        "-h" | "--help" | "help" => Ok(Command::Help),
        "-V" | "--version" => Ok(Command::Version),
        "check" => {
            let (mut hub, mut user) = ("chat".to_owned(), None);
            while let Some(flag) = args.next() {
                let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
                match flag.as_str() {
                    "--hub" => hub = value("--hub")?,
                    "--user" => user = Some(value("--user")?),
                    "-h" | "--help" => return Ok(Command::Help),
                    other => return Err(format!("unknown option for check: {other}")),
                }
            }
            Ok(Command::Check { hub, user })
        }
        other => Err(format!("unknown command: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                user: None
            })
        );
        assert_eq!(
            args(&["check", "--hub", "news", "--user", "ada"]),
            Ok(Command::Check {
                hub: "news".into(),
                user: Some("ada".into())
            })
        );
        assert!(args(&["check", "--hub"]).is_err());
        assert!(args(&["check", "--verbose"]).is_err());
        assert!(args(&["serve"]).is_err());
    }

    #[test]
    fn help_documents_every_setting_in_the_table() {
        let usage = usage();
        for setting in table::TABLE {
            assert!(usage.contains(setting.name), "--help does not mention {}", setting.name);
        }
    }
}
