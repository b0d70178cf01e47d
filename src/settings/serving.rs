//! Where and what is served: the host (Lambda, the Functions host, a local server), the route
//! prefix, the hubs, and the browser origins allowed by CORS.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::environment::{Environment, SettingError, fail};
use super::table::{
    APPLICATION_NAME, BODY_TIMEOUT_MS, CORS_ORIGINS, FUNCTIONS_PORT, HEADER_TIMEOUT_MS, HUB, HUBS, LAMBDA_RUNTIME_API,
    LISTEN, MAX_CONNECTIONS, ROUTE_PREFIX, SHUTDOWN_GRACE_MS, WEBSITE_INSTANCE_ID,
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
        if env.value(&LAMBDA_RUNTIME_API).is_some() {
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
    /// Connections held open at once.
    pub max_connections: usize,
    /// After SIGTERM or Ctrl-C, for requests in flight.
    pub shutdown_grace: Duration,
}

/// `SIGNALR_HEADER_TIMEOUT_MS`, `SIGNALR_BODY_TIMEOUT_MS`, `SIGNALR_MAX_CONNECTIONS` and
/// `SIGNALR_SHUTDOWN_GRACE_MS`.
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
        max_connections: env.whole_number(&MAX_CONNECTIONS, 1..=1_000_000, "connections")? as usize,
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
                    "must start with a letter and contain only letters, digits and the characters _ ` , . [ ], at most 126 of them ({app}_{hub} is the service's hub name, 128 characters at most)",
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
/// wildcard elsewhere would never match (or match too much).
pub(super) fn cors_origins(env: &Environment) -> Result<Option<Vec<AllowedOrigin>>, SettingError> {
    let Some(list) = env.list(&CORS_ORIGINS) else {
        return Ok(None);
    };
    let mut origins = Vec::with_capacity(list.len());
    for origin in list {
        match AllowedOrigin::parse(origin) {
            Some(origin) => origins.push(origin),
            None => {
                return fail(
                    CORS_ORIGINS.name,
                    "must list origins such as https://app.example.com or http://localhost:8080, no path; a * only as the leading label of a domain of two labels or more, as in https://*.example.com (the SignalR client sends credentials, which * alone cannot allow)",
                );
            }
        }
    }
    Ok(Some(origins))
}
