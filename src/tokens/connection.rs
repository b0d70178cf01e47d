//! The service SDK's connection claims: `asrs.s.*` values that tune how the service treats a
//! client's connection (names from Azure/azure-signalr `Constants.ClaimType`, values and rules
//! from `ClaimsUtility.BuildJwtClaims`). Those that are the same for every token are
//! serialised once, at start, into a [`ConnectionClaims`] fragment that each token copies; the
//! per-caller ones (a diagnostic client, the end of the caller's login) are written with each
//! token (see [`super::AccessTokenClaims`]).

use serde_json::Value;

/// `asrs.s.derror`: the service sends clients detailed hub errors (`EnableDetailedErrors`).
pub const DETAILED_ERRORS: &str = "asrs.s.derror";
/// `asrs.s.cht`: the handshake timeout, in seconds (`CustomHandshakeTimeout`).
pub const HANDSHAKE_TIMEOUT: &str = "asrs.s.cht";
/// `asrs.s.ttl`: the longest a long-polling client may wait between polls, in seconds
/// (`MaxPollInterval`).
pub const MAX_POLL_INTERVAL: &str = "asrs.s.ttl";
/// `asrs.s.htt`: the transports the client may use, as `HttpTransportType` flags.
pub const TRANSPORTS: &str = "asrs.s.htt";
/// `asrs.s.secn`: how many endpoints the application uses, when more than one
/// (`ServiceEndpointsCount`).
pub const ENDPOINT_COUNT: &str = "asrs.s.secn";
/// `asrs.s.dc`: the service records this client's traffic in its resource logs
/// (`DiagnosticClient`).
pub const DIAGNOSTIC_CLIENT: &str = "asrs.s.dc";
/// `asrs.s.coae`: the service closes the connection when the caller's login ends
/// (`CloseOnAuthExpiration`).
pub const CLOSE_ON_AUTH_EXPIRATION: &str = "asrs.s.coae";
/// `asrs.s.aeo`: when the caller's login ends, in Unix seconds (`AuthExpiresOn`).
pub const AUTH_EXPIRES_ON: &str = "asrs.s.aeo";

/// The service's handshake timeout, which the SDK leaves out of the token
/// (`Constants.Periods.DefaultHandshakeTimeout`).
pub const DEFAULT_HANDSHAKE_TIMEOUT_SECS: u64 = 15;
/// The longest handshake timeout the service takes (`Constants.Periods.MaxCustomHandshakeTimeout`).
pub const MAX_HANDSHAKE_TIMEOUT_SECS: u64 = 30;
/// The longest poll interval the SDK accepts (`ServiceOptionsExtensions`: `[1,300]`).
pub const MAX_POLL_INTERVAL_SECS: u64 = 300;

/// ASP.NET Core's `HttpTransportType` flags, as the SDK writes them (`(int)httpTransportType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transports(u8);

impl Transports {
    /// `WebSockets` = 1.
    pub const WEB_SOCKETS: Self = Self(1);
    /// `ServerSentEvents` = 2.
    pub const SERVER_SENT_EVENTS: Self = Self(2);
    /// `LongPolling` = 4.
    pub const LONG_POLLING: Self = Self(4);

    /// A transport by its `HttpTransportType` name, in any case.
    pub fn parse(name: &str) -> Option<Self> {
        [
            ("WebSockets", Self::WEB_SOCKETS),
            ("ServerSentEvents", Self::SERVER_SENT_EVENTS),
            ("LongPolling", Self::LONG_POLLING),
        ]
        .into_iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(_, transport)| transport)
    }

    /// Both sets of transports.
    #[must_use]
    pub fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The flags as the integer `asrs.s.htt` carries.
    pub fn bits(self) -> u8 {
        self.0
    }
}

/// The connection options set at start, the same for every token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// `asrs.s.derror`.
    pub detailed_errors: bool,
    /// `asrs.s.cht`, sent unless it is the default (15).
    pub handshake_timeout_secs: u64,
    /// `asrs.s.ttl`.
    pub max_poll_interval_secs: Option<u64>,
    /// `asrs.s.htt`.
    pub transports: Option<Transports>,
    /// `asrs.s.secn`, sent when more than one.
    pub endpoint_count: usize,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        Self {
            detailed_errors: false,
            handshake_timeout_secs: DEFAULT_HANDSHAKE_TIMEOUT_SECS,
            max_poll_interval_secs: None,
            transports: None,
            endpoint_count: 1,
        }
    }
}

impl ConnectionOptions {
    /// The claims these options add, in the SDK's order, valued as the SDK writes them: every
    /// value a string (`Claim` values are), `True` for detailed errors (`true.ToString()`).
    pub fn claims(&self) -> Vec<(&'static str, String)> {
        let mut claims = Vec::new();
        if self.handshake_timeout_secs != DEFAULT_HANDSHAKE_TIMEOUT_SECS {
            claims.push((HANDSHAKE_TIMEOUT, self.handshake_timeout_secs.to_string()));
        }
        if self.endpoint_count > 1 {
            claims.push((ENDPOINT_COUNT, self.endpoint_count.to_string()));
        }
        if self.detailed_errors {
            claims.push((DETAILED_ERRORS, "True".to_owned()));
        }
        if let Some(seconds) = self.max_poll_interval_secs {
            claims.push((MAX_POLL_INTERVAL, seconds.to_string()));
        }
        if let Some(transports) = self.transports {
            claims.push((TRANSPORTS, transports.bits().to_string()));
        }
        claims
    }
}

/// The connection claims every token carries, serialised once: `,"name":"value"` per claim,
/// ready to be copied into a token's JSON after its first members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionClaims(String);

impl ConnectionClaims {
    /// The claims of these options, serialised.
    pub fn new(options: &ConnectionOptions) -> Self {
        let mut fragment = String::new();
        for (name, value) in options.claims() {
            fragment.push(',');
            // Names and values are ours (ASCII, nothing to escape); serde_json writes them anyway.
            fragment.push_str(&Value::from(name).to_string());
            fragment.push(':');
            fragment.push_str(&Value::from(value).to_string());
        }
        Self(fragment)
    }

    /// The fragment: empty, or `,"name":"value"` per claim.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_default_is_the_services() {
        let setting = crate::settings::table::HANDSHAKE_TIMEOUT_SECONDS;
        assert_eq!(
            setting.default_value(),
            Some(DEFAULT_HANDSHAKE_TIMEOUT_SECS.to_string().as_str())
        );
    }

    #[test]
    fn nothing_set_adds_nothing() {
        assert!(ConnectionOptions::default().claims().is_empty());
        assert_eq!(ConnectionClaims::new(&ConnectionOptions::default()).as_str(), "");
        let written_out = ConnectionOptions {
            handshake_timeout_secs: 15,
            ..ConnectionOptions::default()
        };
        assert_eq!(
            written_out,
            ConnectionOptions::default(),
            "15 s is the default handshake timeout"
        );
    }

    #[test]
    fn every_option_is_written_as_the_sdk_writes_it() {
        let options = ConnectionOptions {
            detailed_errors: true,
            handshake_timeout_secs: 20,
            max_poll_interval_secs: Some(5),
            transports: Some(Transports::WEB_SOCKETS.with(Transports::LONG_POLLING)),
            endpoint_count: 2,
        };
        assert_eq!(
            ConnectionClaims::new(&options).as_str(),
            r#","asrs.s.cht":"20","asrs.s.secn":"2","asrs.s.derror":"True","asrs.s.ttl":"5","asrs.s.htt":"5""#
        );
    }

    #[test]
    fn transports_are_the_http_transport_type_flags() {
        assert_eq!(Transports::parse("websockets"), Some(Transports::WEB_SOCKETS));
        assert_eq!(Transports::parse("ServerSentEvents").map(Transports::bits), Some(2));
        assert_eq!(Transports::parse("LONGPOLLING").map(Transports::bits), Some(4));
        assert_eq!(Transports::parse("None"), None);
        assert_eq!(Transports::parse("WebSocket"), None);
        let all = Transports::WEB_SOCKETS
            .with(Transports::SERVER_SENT_EVENTS)
            .with(Transports::LONG_POLLING);
        assert_eq!(all.bits(), 7);
        assert_eq!(all.with(Transports::WEB_SOCKETS), all);
    }
}
