//! The command line: serving (no arguments), `check`, `--help`, `--version`.

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Serve,
    Check { hub: String, user: Option<String> },
    Help,
    Version,
}

pub const USAGE: &str = "\
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

SETTINGS (environment; names are case-insensitive, ':' equals '__'):
    AzureSignalRConnectionString       connection string (Functions binding name); an
                                       arn:aws:secretsmanager:... or arn:aws:ssm:...:parameter/...
                                       value is read from AWS at start
    Azure__SignalR__ConnectionString   the same, ASP.NET name
    AzureSignalRConnectionString__serviceUri (+ __credential, __clientId, __tenantId,
                                       __clientSecret, __clientEndpoint, __serverEndpoint, __type)
                                       identity-based endpoint (Microsoft Entra ID)
    Azure__SignalR__Endpoints__<name>[__primary|__secondary]
    Azure__SignalR__ConnectionString__<name>[__primary|__secondary]
                                       named endpoints (several instances)
    SIGNALR_ENTRA_MODE                 generate-token (default) | access-key
    SIGNALR_UPSTREAM_TIMEOUT_MS        one call to Entra or the service (default 3000)
    SIGNALR_UPSTREAM_DEADLINE_MS       all upstream waiting in one negotiate (default 5000)
    SIGNALR_HEALTH_CHECK_INTERVAL_MS   health probes with several endpoints (default 120000)
    SIGNALR_ROUTE_PREFIX               route prefix (default api)
    SIGNALR_HUB                        hub of /{prefix}/negotiate without ?hub=
    SIGNALR_HUBS                       comma list: the only hubs served
    SIGNALR_APPLICATION_NAME           prefix of hub names in the service
    SIGNALR_TOKEN_LIFETIME_SECONDS     token lifetime, 1..86400 (default 3600)
    SIGNALR_UNIQUE_CLAIM               unique-token claim name (default uniqueToken; empty: none)
    SIGNALR_AUTH                       identity sources in order: app-service, api-gateway,
                                       oidc, anonymous (default anonymous)
    SIGNALR_AUTH_REQUIRED              true: no identity is a 401
    SIGNALR_OIDC_ISSUER, SIGNALR_OIDC_AUDIENCE, SIGNALR_OIDC_JWKS_URI
                                       OIDC bearer token validation
    SIGNALR_USER_ID_CLAIM              claim holding the user id (default sub)
    SIGNALR_COPY_CLAIMS                comma list of caller claims copied into tokens
    SIGNALR_CLAIMS                     JSON object of fixed claims
    SIGNALR_DEV_QUERY_USER             development only: user id from ?userId=
    SIGNALR_CORS_ORIGINS               comma list of browser origins allowed (CORS)
    SIGNALR_LISTEN                     local server address (default 127.0.0.1:7071)
    RUST_LOG                           log level and filters (default info)
";

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
    fn help_documents_every_setting_the_configuration_reads() {
        let config = include_str!("config.rs");
        for setting in config
            .split('"')
            .filter(|s| s.starts_with("SIGNALR_") || s.starts_with("FUNCTIONS_"))
            .filter(|s| {
                s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            })
        {
            assert!(
                USAGE.contains(setting) || setting == "FUNCTIONS_CUSTOMHANDLER_PORT",
                "--help does not mention {setting}"
            );
        }
    }
}
