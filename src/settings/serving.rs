//! Where and what is served: the host (Lambda, the Functions host, a local server), the route
//! prefix, the hubs, and the browser origins allowed by CORS.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::environment::{Environment, SettingError, fail};
use super::table::{
    APPLICATION_NAME, BODY_TIMEOUT_MS, CORS_ORIGINS, FIRST_BYTE_TIMEOUT_MS, FUNCTIONS_PORT, HEADER_TIMEOUT_MS, HUB,
    HUBS, IGNORE_STAGE_IN_PATH, LAMBDA_FUNCTION_MEMORY_SIZE, LAMBDA_FUNCTION_NAME, LAMBDA_FUNCTION_VERSION,
    LAMBDA_RUNTIME_API, LISTEN, MAX_CONNECTIONS, ROUTE_PREFIX, SHUTDOWN_GRACE_MS, Setting, WEBSITE_INSTANCE_ID,
    WRITE_TIMEOUT_MS,
};
use crate::hub::HubName;
use crate::url_rules::AllowedOrigin;

/// Where the binary serves from, decided once from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// `AWS_LAMBDA_RUNTIME_API` is set: the Lambda Runtime API drives us.
    Lambda,
    /// `FUNCTIONS_CUSTOMHANDLER_PORT` is set: the Azure Functions host forwards requests.
    Functions {
        /// `127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT`.
        addr: SocketAddr,
        /// A Function App in Azure (`WEBSITE_INSTANCE_ID` set, as App Service sets it), not
        /// Core Tools' `func start` on a developer's machine.
        deployed: bool,
    },
    /// Neither: a plain HTTP server on `SIGNALR_LISTEN`.
    Local(SocketAddr),
}

impl Host {
    /// Lambda, then the Functions host, then a local server. An environment that sets a
    /// setting twice, to different values, is refused first.
    pub fn detect(env: &Environment) -> Result<Self, SettingError> {
        env.unambiguous()?;
        if Self::lambda_runtime_api(env).is_some() {
            return Ok(Self::Lambda);
        }
        if let Some(port) = env.value(&FUNCTIONS_PORT) {
            return match port.parse::<u16>() {
                Ok(port) => Ok(Self::Functions {
                    addr: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port),
                    deployed: env.value(&WEBSITE_INSTANCE_ID).is_some(),
                }),
                Err(_) => fail(FUNCTIONS_PORT.name, "must be a port number from 0 to 65535"),
            };
        }
        match env.value_or_default(&LISTEN).unwrap_or_default().parse::<SocketAddr>() {
            Ok(addr) => Ok(Self::Local(addr)),
            Err(_) => fail(
                LISTEN.name,
                "must be an IP address and port, for example 127.0.0.1:7071 or 0.0.0.0:8080",
            ),
        }
    }
}

impl Host {
    /// `AWS_LAMBDA_RUNTIME_API`, the address of the Runtime API when Lambda runs the binary;
    /// read as [`Host::detect`] reads it, also when the rest of the environment is refused (a
    /// refusal is reported there).
    pub fn lambda_runtime_api(env: &Environment) -> Option<&str> {
        env.value(&LAMBDA_RUNTIME_API)
    }

    /// Serving in the cloud: on AWS Lambda, or as a Function App in Azure. Development-only
    /// settings are refused there.
    pub fn is_deployed(&self) -> bool {
        matches!(self, Self::Lambda | Self::Functions { deployed: true, .. })
    }
}

/// How long clients may take and how many connections are held, on the hosts that run their
/// own HTTP server (local and Functions); the body timeout applies on every host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request's line and headers, from when the connection opens or its last answer went
    /// out: also the idle keep-alive timeout.
    pub header_timeout: Duration,
    /// A request's whole body.
    pub body_timeout: Duration,
    /// An answer to a client that stops reading, from when a write first has to wait.
    pub write_timeout: Duration,
    /// Connections held open at once.
    pub max_connections: usize,
    /// A new connection's first byte, when connections are crowded (above three quarters of
    /// the cap) or shutting down.
    pub first_byte_timeout: Duration,
    /// After SIGTERM or Ctrl-C, for requests in flight.
    pub shutdown_grace: Duration,
}

/// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`, set to anything: read as lambda_http reads it (under
/// this exact name), so that the check of each event agrees with lambda_http's conversion.
pub(super) fn ignore_stage_in_path(env: &Environment) -> bool {
    env.vars().iter().any(|(name, _)| name == IGNORE_STAGE_IN_PATH.name)
}

/// On Lambda, what the Lambda runtime reads at start, read as it reads it: under these exact
/// names, the memory as an `i32`, the Runtime API's address as a URI (lambda_runtime 1.x,
/// `Config::from_env`; lambda_runtime_api_client, `resolve_uri`). It panics on a missing or
/// unreadable one; here it is a refusal that names it.
pub(super) fn lambda_runtime(env: &Environment) -> Result<(), SettingError> {
    let exact = |setting: &Setting| {
        env.vars()
            .iter()
            .find(|(name, _)| name == setting.name)
            .map(|(_, value)| value.as_str())
    };
    let required = [
        LAMBDA_FUNCTION_NAME,
        LAMBDA_FUNCTION_VERSION,
        LAMBDA_FUNCTION_MEMORY_SIZE,
    ];
    let missing: Vec<&str> = required
        .iter()
        .filter(|setting| exact(setting).is_none())
        .map(|setting| setting.name)
        .collect();
    if let Some((first, others)) = missing.split_first() {
        let nor = others.iter().map(|name| format!(", nor {name}")).collect::<String>();
        return fail(
            first,
            format!(
                "is not set{nor}: the Lambda runtime needs AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION and \
                AWS_LAMBDA_FUNCTION_MEMORY_SIZE, under these exact names; Lambda sets them, and so must an emulator \
                (cargo lambda watch does)"
            ),
        );
    }
    if exact(&LAMBDA_FUNCTION_MEMORY_SIZE).is_some_and(|memory| memory.parse::<i32>().is_err()) {
        return fail(
            LAMBDA_FUNCTION_MEMORY_SIZE.name,
            "must be the function's memory in MB, a whole number such as 128 (the Lambda runtime reads it so)",
        );
    }
    match exact(&LAMBDA_RUNTIME_API) {
        Some(api) if axum::http::Uri::try_from(api).is_ok() => Ok(()),
        Some(_) => fail(
            LAMBDA_RUNTIME_API.name,
            "must be the Runtime API's address: host:port, as Lambda sets it, or http://host:port/path",
        ),
        None => fail(
            LAMBDA_RUNTIME_API.name,
            "is set in another case: the Lambda runtime reads only AWS_LAMBDA_RUNTIME_API, in capitals",
        ),
    }
}

/// `SIGNALR_HEADER_TIMEOUT_MS`, `SIGNALR_BODY_TIMEOUT_MS`, `SIGNALR_WRITE_TIMEOUT_MS`,
/// `SIGNALR_MAX_CONNECTIONS`, `SIGNALR_FIRST_BYTE_TIMEOUT_MS` and `SIGNALR_SHUTDOWN_GRACE_MS`.
pub(super) fn connection_limits(env: &Environment) -> Result<ConnectionLimits, SettingError> {
    let millis = |setting, least| -> Result<Duration, SettingError> {
        Ok(Duration::from_millis(env.whole_number(
            setting,
            least..=600_000,
            "milliseconds",
        )?))
    };
    Ok(ConnectionLimits {
        header_timeout: millis(&HEADER_TIMEOUT_MS, 100)?,
        body_timeout: millis(&BODY_TIMEOUT_MS, 100)?,
        write_timeout: millis(&WRITE_TIMEOUT_MS, 100)?,
        max_connections: env.whole_number(&MAX_CONNECTIONS, 1..=1_000_000, "connections")? as usize,
        first_byte_timeout: millis(&FIRST_BYTE_TIMEOUT_MS, 100)?,
        shutdown_grace: millis(&SHUTDOWN_GRACE_MS, 0)?,
    })
}

/// The hubs: `SIGNALR_HUB`, `SIGNALR_HUBS` (lower-case) and `SIGNALR_APPLICATION_NAME`.
pub(super) struct Hubs {
    pub default_hub: Option<HubName>,
    pub allowed_hubs: Option<Vec<String>>,
    pub application_name: Option<String>,
}

pub(super) fn hubs(env: &Environment) -> Result<Hubs, SettingError> {
    // The service knows hub `h` as `{app}_h`, a hub name under the service's rule: the
    // application name must follow it and leave room for `_` and a hub.
    let application_name = match env.value(&APPLICATION_NAME) {
        Some(name) => match HubName::parse(name) {
            Ok(_) if name.len() <= HubName::MAX_APPLICATION_NAME_LEN => Some(name.to_owned()),
            _ => {
                return fail(
                    APPLICATION_NAME.name,
                    "must start with a letter and contain only letters, digits and the characters _ ` , . [ ], at most \
                    126 of them ({app}_{hub} is the service's hub name, 128 characters at most)",
                );
            }
        },
        None => None,
    };
    let allowed_hubs = match env.list(&HUBS) {
        None => None,
        Some(list) => {
            let mut hubs = Vec::with_capacity(list.len());
            for hub in list {
                if let Err(error) = HubName::parse(hub) {
                    return fail(HUBS.name, format!("lists an invalid hub name: {error}"));
                }
                hubs.push(hub.to_ascii_lowercase());
            }
            Some(hubs)
        }
    };
    let default_hub = match env.value(&HUB) {
        Some(hub) => {
            let hub = HubName::parse(hub).or_else(|error| fail(HUB.name, error.to_string()))?;
            if allowed_hubs
                .as_ref()
                .is_some_and(|hubs| !hubs.contains(&hub.to_ascii_lowercase()))
            {
                return fail(HUB.name, "is not one of the hubs listed in SIGNALR_HUBS");
            }
            Some(hub)
        }
        None => None,
    };
    Ok(Hubs {
        default_hub,
        allowed_hubs,
        application_name,
    })
}

/// `SIGNALR_ROUTE_PREFIX` without leading or trailing `/`; may be empty.
pub(super) fn route_prefix(env: &Environment) -> Result<String, SettingError> {
    let prefix = match env.get(&ROUTE_PREFIX) {
        Some((_, value)) => value.trim(),
        None => ROUTE_PREFIX.default_value().unwrap_or_default(),
    };
    let prefix = prefix.trim_matches('/');
    let valid_segment = |segment: &str| {
        !segment.is_empty()
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
    };
    if prefix.is_empty() || prefix.split('/').all(valid_segment) {
        Ok(prefix.to_owned())
    } else {
        fail(
            ROUTE_PREFIX.name,
            "must be path segments of letters, digits, - _ . ~ separated by / (for example api), or empty",
        )
    }
}

/// `SIGNALR_CORS_ORIGINS`: a comma list of origins (`scheme://host[:port]`), each exact or with
/// a leading label wildcard (`https://*.contoso.com`, see [`AllowedOrigin`]). Any other `*` is
/// refused: `*` alone cannot be combined with the credentials the SignalR client sends, and a
/// wildcard elsewhere would never match (or match too much). A refusal names the entry at
/// fault: an origin is no secret (the setting is not declared secret), and in a long list it
/// is what tells the user which one to fix.
pub(super) fn cors_origins(env: &Environment) -> Result<Option<Vec<AllowedOrigin>>, SettingError> {
    let Some(list) = env.list(&CORS_ORIGINS) else {
        return Ok(None);
    };
    let mut origins = Vec::with_capacity(list.len());
    for entry in list {
        match AllowedOrigin::parse(entry) {
            Some(origin) => origins.push(origin),
            None => return fail(CORS_ORIGINS.name, refused_origin(entry)),
        }
    }
    Ok(Some(origins))
}

/// Why an entry of `SIGNALR_CORS_ORIGINS` is not an origin, naming it (quoted and escaped, as
/// Rust's `Debug` writes a string, so it cannot break the line; cut at 100 characters).
fn refused_origin(entry: &str) -> String {
    const SHOWN: usize = 100;
    let shown = match entry.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}…", &entry[..cut]),
        None => format!("{entry:?}"),
    };
    let why = if entry == "*" {
        "allows every origin, which cannot go with the credentials the SignalR client sends: list the origins, \
        such as https://app.example.com"
    } else if entry.contains('*') {
        "has a * where none is allowed: a * may only be the whole first label of a domain of two labels or more, \
        as in https://*.example.com"
    } else {
        "is not an origin: scheme://host[:port] and nothing more (no path), such as https://app.example.com or \
        http://localhost:8080"
    };
    format!("the entry {shown} {why}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::testing::{config, cs, error};

    #[test]
    fn cors_origins_are_read_as_origins() {
        assert_eq!(config(&[]).unwrap().cors_origins, None);
        assert_eq!(
            config(&[("SIGNALR_CORS_ORIGINS", "https://App.example.com, http://localhost:8080")])
                .unwrap()
                .cors_origins,
            Some(vec![
                AllowedOrigin::Exact("https://app.example.com".to_owned()),
                AllowedOrigin::Exact("http://localhost:8080".to_owned())
            ])
        );
        assert_eq!(
            config(&[("SIGNALR_CORS_ORIGINS", "https://*.Contoso.com:8443")])
                .unwrap()
                .cors_origins,
            Some(vec![AllowedOrigin::Subdomains {
                prefix: "https://".to_owned(),
                suffix: ".contoso.com:8443".to_owned()
            }])
        );
        for (bad, entry, why) in [
            ("*", "\"*\"", "allows every origin"),
            (
                "https://a.example.com/path",
                "\"https://a.example.com/path\"",
                "is not an origin",
            ),
            ("https://a.example.com,ftp://b", "\"ftp://b\"", "is not an origin"),
            (
                "https://a.*.zz-wildcard.com",
                "\"https://a.*.zz-wildcard.com\"",
                "has a * where none",
            ),
            (
                "https://ok.example.com, https://*zz-wildcard.com",
                "\"https://*zz-wildcard.com\"",
                "has a *",
            ),
            (
                "https://*.zz-wildcard",
                "\"https://*.zz-wildcard\"",
                "two labels or more",
            ),
        ] {
            let refusal = error(&[("SIGNALR_CORS_ORIGINS", bad)]);
            assert_eq!(refusal.setting, "SIGNALR_CORS_ORIGINS", "{bad}");
            assert!(refusal.message.starts_with(&format!("the entry {entry} ")), "{refusal}");
            assert!(refusal.message.contains(why), "{refusal}");
            assert!(
                !refusal.message.contains("ok.example.com"),
                "only the entry at fault: {refusal}"
            );
        }
        // Escaped and cut: an entry cannot break the line or fill the screen.
        let long = format!("https://x\n{}.example.com/signalr", "a".repeat(200));
        let refusal = error(&[("SIGNALR_CORS_ORIGINS", &long)]);
        assert!(
            !refusal.message.contains('\n') && refusal.message.contains("aaa\"…"),
            "{refusal}"
        );
        assert!(refusal.message.len() < 400, "{refusal}");
    }

    #[test]
    fn hubs_and_application_name_are_validated() {
        let config_ok = config(&[
            ("SIGNALR_HUB", "Chat"),
            ("SIGNALR_HUBS", "chat, News"),
            ("SIGNALR_APPLICATION_NAME", "app1"),
        ])
        .unwrap();
        assert_eq!(config_ok.default_hub.as_deref(), Some("Chat"));
        assert_eq!(config_ok.allowed_hubs, Some(vec!["chat".to_owned(), "news".to_owned()]));
        assert_eq!(config_ok.application_name.as_deref(), Some("app1"));
        assert_eq!(error(&[("SIGNALR_HUB", "a/b")]).setting, "SIGNALR_HUB");
        assert_eq!(error(&[("SIGNALR_HUBS", "chat,a&b")]).setting, "SIGNALR_HUBS");
        let e = error(&[("SIGNALR_HUB", "other"), ("SIGNALR_HUBS", "chat")]);
        assert_eq!(e.message, "is not one of the hubs listed in SIGNALR_HUBS");
        assert_eq!(
            error(&[("SIGNALR_APPLICATION_NAME", "my-app")]).setting,
            "SIGNALR_APPLICATION_NAME"
        );
        // `{app}_{hub}` is the service's hub name: 128 characters leave 126 for the application.
        let longest = "a".repeat(126);
        assert_eq!(
            config(&[("SIGNALR_APPLICATION_NAME", &longest)])
                .unwrap()
                .application_name
                .as_deref(),
            Some(longest.as_str())
        );
        let e = error(&[("SIGNALR_APPLICATION_NAME", &"a".repeat(127))]);
        assert_eq!(e.setting, "SIGNALR_APPLICATION_NAME");
        assert!(e.message.contains("at most 126"), "{e}");
    }

    #[test]
    fn route_prefix_is_trimmed_and_checked() {
        assert_eq!(
            config(&[("SIGNALR_ROUTE_PREFIX", "/signalr/")]).unwrap().route_prefix,
            "signalr"
        );
        assert_eq!(config(&[("SIGNALR_ROUTE_PREFIX", "")]).unwrap().route_prefix, "");
        assert_eq!(
            config(&[("SIGNALR_ROUTE_PREFIX", "v1/api")]).unwrap().route_prefix,
            "v1/api"
        );
        for bad in ["{hub}", "a//b", "a b", "*rest"] {
            assert_eq!(
                error(&[("SIGNALR_ROUTE_PREFIX", bad)]).setting,
                "SIGNALR_ROUTE_PREFIX",
                "{bad}"
            );
        }
    }

    #[test]
    fn connection_limits_have_safe_defaults_and_ranges() {
        assert_eq!(
            config(&[]).unwrap().connections,
            ConnectionLimits {
                header_timeout: Duration::from_secs(10),
                body_timeout: Duration::from_secs(10),
                write_timeout: Duration::from_secs(10),
                max_connections: 512,
                first_byte_timeout: Duration::from_secs(1),
                shutdown_grace: Duration::from_secs(8),
            }
        );
        let set = config(&[
            ("SIGNALR_HEADER_TIMEOUT_MS", "250"),
            ("SIGNALR_BODY_TIMEOUT_MS", "300"),
            ("SIGNALR_MAX_CONNECTIONS", "8"),
            ("SIGNALR_SHUTDOWN_GRACE_MS", "0"),
            ("SIGNALR_WRITE_TIMEOUT_MS", "400"),
            ("SIGNALR_FIRST_BYTE_TIMEOUT_MS", "150"),
        ])
        .unwrap()
        .connections;
        assert_eq!(set.header_timeout, Duration::from_millis(250));
        assert_eq!(set.body_timeout, Duration::from_millis(300));
        assert_eq!(set.max_connections, 8);
        assert_eq!(set.shutdown_grace, Duration::ZERO);
        assert_eq!(set.write_timeout, Duration::from_millis(400));
        assert_eq!(set.first_byte_timeout, Duration::from_millis(150));
        for (setting, bad) in [
            ("SIGNALR_HEADER_TIMEOUT_MS", "0"),
            ("SIGNALR_HEADER_TIMEOUT_MS", "99"),
            ("SIGNALR_BODY_TIMEOUT_MS", "600001"),
            ("SIGNALR_MAX_CONNECTIONS", "0"),
            ("SIGNALR_MAX_CONNECTIONS", "many"),
            ("SIGNALR_SHUTDOWN_GRACE_MS", "-1"),
            ("SIGNALR_WRITE_TIMEOUT_MS", "0"),
            ("SIGNALR_FIRST_BYTE_TIMEOUT_MS", "99"),
        ] {
            assert_eq!(error(&[(setting, bad)]).setting, setting, "{bad}");
        }
    }

    #[test]
    fn host_is_lambda_then_functions_then_local() {
        assert_eq!(
            config(&[
                ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
                ("AWS_LAMBDA_FUNCTION_NAME", "negotiate"),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
                ("FUNCTIONS_CUSTOMHANDLER_PORT", "1"),
                ("AzureSignalRConnectionString", &cs()),
            ])
            .unwrap()
            .host,
            Host::Lambda
        );
        assert_eq!(
            config(&[
                ("FUNCTIONS_CUSTOMHANDLER_PORT", "40001"),
                ("SIGNALR_LISTEN", "0.0.0.0:1")
            ])
            .unwrap()
            .host,
            Host::Functions {
                addr: "127.0.0.1:40001".parse().unwrap(),
                deployed: false,
            }
        );
        let deployed = config(&[
            ("FUNCTIONS_CUSTOMHANDLER_PORT", "40001"),
            ("WEBSITE_INSTANCE_ID", "a1b2c3"),
            ("AzureSignalRConnectionString", &cs()),
        ])
        .unwrap()
        .host;
        assert!(deployed.is_deployed(), "{deployed:?}");
        assert!(Host::Lambda.is_deployed());
        assert!(!Host::Local("127.0.0.1:1".parse().unwrap()).is_deployed());
        assert_eq!(
            config(&[("SIGNALR_LISTEN", "0.0.0.0:8080")]).unwrap().host,
            Host::Local("0.0.0.0:8080".parse().unwrap())
        );
        assert_eq!(
            error(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "http")]).setting,
            "FUNCTIONS_CUSTOMHANDLER_PORT"
        );
        assert_eq!(error(&[("SIGNALR_LISTEN", "localhost")]).setting, "SIGNALR_LISTEN");
    }

    /// What the Lambda runtime would panic on is a refusal naming it: a variable it needs that is
    /// missing (or set in another case), a memory size it cannot read, a Runtime API address
    /// that is no URI. The local and Functions hosts need none of them.
    #[test]
    fn on_lambda_the_runtimes_own_variables_are_required_as_it_reads_them() {
        let cs = cs();
        let lambda = [
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_FUNCTION_NAME", "negotiate"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AzureSignalRConnectionString", cs.as_str()),
        ];
        let with = |changes: &[(&str, Option<&str>)]| {
            let mut vars: Vec<(&str, &str)> = lambda.to_vec();
            for (name, value) in changes {
                vars.retain(|(set, _)| set != name);
                if let Some(value) = value {
                    vars.push((name, value));
                }
            }
            config(&vars)
        };
        assert_eq!(with(&[]).unwrap().host, Host::Lambda);
        // cargo lambda watch's form of the address.
        assert!(with(&[("AWS_LAMBDA_RUNTIME_API", Some("http://[::]:9000/.rt"))]).is_ok());
        for (changes, setting, says) in [
            (
                &[("AWS_LAMBDA_FUNCTION_NAME", None)][..],
                "AWS_LAMBDA_FUNCTION_NAME",
                "is not set: the Lambda runtime needs",
            ),
            (
                &[
                    ("AWS_LAMBDA_FUNCTION_VERSION", None),
                    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", None),
                ][..],
                "AWS_LAMBDA_FUNCTION_VERSION",
                "is not set, nor AWS_LAMBDA_FUNCTION_MEMORY_SIZE: ",
            ),
            (
                &[
                    ("AWS_LAMBDA_FUNCTION_NAME", None),
                    ("aws_lambda_function_name", Some("negotiate")),
                ][..],
                "AWS_LAMBDA_FUNCTION_NAME",
                "under these exact names",
            ),
            (
                &[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", Some("lots"))][..],
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                "a whole number",
            ),
            (
                &[("AWS_LAMBDA_RUNTIME_API", Some("not a uri"))][..],
                "AWS_LAMBDA_RUNTIME_API",
                "the Runtime API's address",
            ),
            (
                &[
                    ("AWS_LAMBDA_RUNTIME_API", None),
                    ("aws_lambda_runtime_api", Some("127.0.0.1:9001")),
                ][..],
                "AWS_LAMBDA_RUNTIME_API",
                "in capitals",
            ),
        ] {
            let refusal = with(changes).expect_err("refused");
            assert_eq!(refusal.setting, setting, "{changes:?}: {refusal}");
            assert!(refusal.message.contains(says), "{changes:?}: {refusal}");
        }
        // Elsewhere they are not needed.
        assert!(config(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "7000")]).is_ok());
    }

    /// Set to anything, under exactly the name lambda_http reads.
    #[test]
    fn the_stage_is_ignored_as_lambda_http_reads_it() {
        let read = |vars: &[(&str, &str)]| {
            ignore_stage_in_path(&Environment::new(
                vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            ))
        };
        assert!(read(&[("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "")]));
        assert!(read(&[("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "false")]));
        assert!(!read(&[]));
        assert!(!read(&[("aws_lambda_http_ignore_stage_in_path", "1")]));
        assert!(
            config(&[("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "1")])
                .unwrap()
                .ignore_stage_in_path
        );
    }
}
