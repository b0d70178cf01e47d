//! The mistakes people make writing a connection string, so that each is named rather than
//! found by a client's 401. Quotes and the documentation's placeholders are refused (the SDK
//! would sign with them and the service refuse every token); a misspelt key, a key the chosen
//! `AuthType` does not read and a `Port` that overrides the port written in `Endpoint` are
//! warnings (the SDK reads past them). Keys are named, never values; an unknown key is shown only
//! when it is a near spelling of a known one, since a stray `;` can make a piece of a secret look
//! like a key.

use std::fmt;

use super::{Authentication, ConnectionString, ConnectionStringError, EntraCredential, KNOWN_KEYS, Properties};

/// A connection string the SDK reads, though not as its author meant. Shown after the setting's
/// name; never holds a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionStringWarning {
    /// An unknown key that is a near spelling of a known one.
    Misspelt {
        /// The key as written.
        written: String,
        /// The known key it is closest to.
        known: &'static str,
    },
    /// An unknown key, not shown: its place among the `;`-separated parts (from 1).
    Unknown(usize),
    /// A key that the credential in use does not read.
    Ignored {
        /// The key.
        key: &'static str,
        /// `AuthType`, as one of the names the parser accepts; `None` without one.
        auth_type: Option<&'static str>,
    },
    /// `Port` and a different port written in `Endpoint`.
    PortOverrides,
}

impl fmt::Display for ConnectionStringWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Misspelt { written, known } => write!(
                f,
                "{written} in the connection string is not a key the SDK reads, so it is ignored: did you mean {known}?"
            ),
            Self::Unknown(place) => write!(
                f,
                "part {place} of the connection string (counting between ';') has a key the SDK does not read, so it \
                is ignored; it is not shown, as it may be a piece of a value (is there a ';' inside a value?)"
            ),
            Self::Ignored {
                key: "AccessKey",
                auth_type: Some(auth_type),
            } => write!(
                f,
                "AccessKey in the connection string is ignored with AuthType={auth_type}: tokens come through \
                Microsoft Entra ID; remove AccessKey, or remove AuthType to sign with the key"
            ),
            Self::Ignored { key, auth_type } => {
                let used_by = if *key == "ClientId" {
                    "AuthType=azure.msi, azure or azure.app"
                } else {
                    "AuthType=azure.app"
                };
                match auth_type {
                    Some(auth_type) => write!(f, "{key} in the connection string is ignored with AuthType={auth_type}"),
                    None => write!(
                        f,
                        "{key} in the connection string is ignored without AuthType (tokens are signed with AccessKey)"
                    ),
                }?;
                write!(f, ": it is used by {used_by}")
            }
            Self::PortOverrides => f.write_str(
                "Port in the connection string and the port written in its Endpoint differ: Port wins (as in the SDK, \
                it replaces the port of Endpoint); remove one of them",
            ),
        }
    }
}

/// The `AuthType` values the parser accepts.
const AUTH_TYPES: [&str; 4] = ["azure", "azure.msi", "azure.app", "aad"];

/// What a connection string that parsed as `parsed` says that its author most likely did not
/// mean: its unknown keys in the order written, then the keys its credential does not read, then
/// a `Port` at odds with `Endpoint`.
pub(super) fn warnings(text: &str, parsed: &ConnectionString) -> Vec<ConnectionStringWarning> {
    let Ok(properties) = Properties::split(text) else {
        return Vec::new();
    };
    // The SDK looks up the keys it knows and drops the rest without a word (Azure/azure-signalr,
    // src/Microsoft.Azure.SignalR.Common/Utilities/ConnectionStringParser.cs).
    let mut found: Vec<ConnectionStringWarning> = unknown_keys(text)
        .map(|(place, key)| match suggestion(key) {
            Some(known) => ConnectionStringWarning::Misspelt {
                written: key.to_owned(),
                known,
            },
            None => ConnectionStringWarning::Unknown(place),
        })
        .collect();
    let auth_type = properties
        .get("AuthType")
        .and_then(|written| AUTH_TYPES.into_iter().find(|name| name.eq_ignore_ascii_case(written)));
    let ignored: &[&'static str] = match &parsed.auth {
        Authentication::AccessKey(_) => &["ClientId", "TenantId", "ClientSecret", "ClientCert", "ClientCertPath"],
        Authentication::MicrosoftEntra(EntraCredential::Default { .. } | EntraCredential::ManagedIdentity { .. }) => {
            &["AccessKey", "TenantId", "ClientSecret", "ClientCert", "ClientCertPath"]
        }
        Authentication::MicrosoftEntra(_) => &["AccessKey"],
    };
    found.extend(
        ignored
            .iter()
            .filter(|key| properties.get(key).is_some())
            .map(|&key| ConnectionStringWarning::Ignored { key, auth_type }),
    );
    // The same parser sets `UriBuilder(endpoint).Port = port`: Port replaces Endpoint's.
    let written_port = properties.get("Endpoint").and_then(written_port);
    if parsed.port.is_some() && written_port.is_some() && parsed.port != written_port {
        found.push(ConnectionStringWarning::PortOverrides);
    }
    found
}

/// Whether a command-line argument is a connection string (or a piece of one): one of its
/// `;`-separated parts is `key=…` with a key a connection string has.
pub fn looks_like_connection_string(text: &str) -> bool {
    text.split(';')
        .filter_map(|part| part.split_once('='))
        .any(|(key, _)| is_known(key.trim().trim_start_matches(QUOTES).trim()))
}

/// Quote marks, straight and typographic, that a copy from a document or a shell can leave in.
const QUOTES: [char; 5] = ['"', '\'', '\u{201c}', '\u{201d}', '\u{2018}'];

/// The whole string in quotes: its first key is a known one behind a quote mark (which the SDK
/// would read as an unknown key, `"Endpoint`).
pub(super) fn is_quoted_whole(text: &str) -> bool {
    let first = text.split(';').find(|part| !part.trim().is_empty()).unwrap_or_default();
    first.trim_start().starts_with(QUOTES)
        && first
            .split_once('=')
            .is_some_and(|(key, _)| is_known(key.trim().trim_start_matches(QUOTES).trim()))
}

/// Refuses a value in quotes or still a placeholder, naming its key.
pub(super) fn refuse_value(key: &'static str, value: &str) -> Result<(), ConnectionStringError> {
    if value.is_empty() {
        return Ok(());
    }
    if is_quoted(value) {
        return Err(ConnectionStringError::QuotedValue(key));
    }
    if is_placeholder(value) {
        return Err(ConnectionStringError::Placeholder(key));
    }
    Ok(())
}

/// A value that begins or ends with a double quote, or is wrapped in single quotes: neither
/// an access key (base64) nor an Entra ID client secret has them.
fn is_quoted(value: &str) -> bool {
    let double = ['"', '\u{201c}', '\u{201d}'];
    value.starts_with(double)
        || value.ends_with(double)
        || (value.len() >= 2 && value.starts_with(['\'', '\u{2018}']) && value.ends_with(['\'', '\u{2019}']))
}

/// The documentation's placeholders: `<access_key>` (a base64 key, a GUID or a URL never has
/// `<` or `>`), `xxx`, `{key}` (but not a GUID in braces), `…`, `***`, `your-key`.
fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let braced = value
        .strip_prefix('{')
        .and_then(|inner| inner.strip_suffix('}'))
        .is_some_and(|inner| !inner.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    value.contains(['<', '>'])
        || (value.len() >= 3 && lower.bytes().all(|byte| byte == b'x'))
        || braced
        || matches!(value, "..." | "\u{2026}")
        || (value.contains('*') && value.bytes().all(|byte| byte == b'*' || byte == b'.'))
        || ["your-", "your_", "your "]
            .iter()
            .any(|prefix| lower.starts_with(prefix))
}

/// A required key missing, with a near spelling of it among the unknown keys: named as such.
pub(super) fn explain_missing(error: ConnectionStringError, text: &str) -> ConnectionStringError {
    use ConnectionStringError::{MissingAccessKey, MissingEndpoint, MissingForAadApp, MissingForApp};
    let wanted: &[&'static str] = match &error {
        MissingEndpoint => &["Endpoint"],
        MissingAccessKey => &["AccessKey"],
        MissingForApp("ClientId") | MissingForAadApp("ClientId") => &["ClientId"],
        MissingForApp("TenantId") | MissingForAadApp("TenantId") => &["TenantId"],
        MissingForApp(_) | MissingForAadApp(_) => &["ClientSecret", "ClientCert", "ClientCertPath"],
        _ => return error,
    };
    unknown_keys(text)
        .find_map(|(_, key)| {
            let known = suggestion(key).filter(|known| wanted.contains(known))?;
            Some(ConnectionStringError::Misspelt {
                required: known,
                written: key.to_owned(),
            })
        })
        .unwrap_or(error)
}

/// The unknown keys, trimmed, with their place among the non-empty `;`-separated parts (from 1).
fn unknown_keys(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split(';')
        .filter(|part| !part.trim().is_empty())
        .enumerate()
        .filter_map(|(index, part)| Some((index + 1, part.split_once('=')?.0.trim())))
        .filter(|(_, key)| !is_known(key))
}

fn is_known(key: &str) -> bool {
    KNOWN_KEYS.iter().any(|known| known.eq_ignore_ascii_case(key))
}

/// The known key an unknown one is a near spelling of: the same letters but for case, spaces,
/// `_`, `-` and `.`, or within one edit (two for keys longer than four letters; an edit is an
/// insertion, deletion, substitution or swap of neighbours). Only a key that looks like a key
/// name is considered: a piece of a secret must not be shown.
fn suggestion(key: &str) -> Option<&'static str> {
    let looks_like_a_name = (3..=32).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key
            .chars()
            .all(|c| c.is_ascii_alphabetic() || matches!(c, ' ' | '_' | '-' | '.'));
    if !looks_like_a_name {
        return None;
    }
    let letters: String = key
        .chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    KNOWN_KEYS
        .iter()
        .map(|known| (*known, strsim::osa_distance(&known.to_ascii_lowercase(), &letters)))
        .filter(|(known, distance)| *distance <= if known.len() <= 4 { 1 } else { 2 })
        .min_by_key(|(_, distance)| *distance)
        .map(|(known, _)| known)
}

/// The port written in an `Endpoint` URL, even the scheme's default (which a parsed URL drops).
fn written_port(url: &str) -> Option<u16> {
    let authority = url.split_once("://")?.1.split(['/', '?', '#']).next()?;
    let host_and_port = authority.rsplit_once('@').map_or(authority, |(_, rest)| rest);
    let (host, port) = host_and_port.rsplit_once(':')?;
    // An IPv6 address without a port ends in `]`, and its colons are not a port.
    if host.starts_with('[') && !host.ends_with(']') {
        return None;
    }
    port.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH";

    fn refused(text: &str) -> String {
        let error = text.parse::<ConnectionString>().expect_err(text).to_string();
        assert!(!error.contains(KEY), "the key is echoed: {error}");
        error
    }

    fn warned(text: &str) -> Vec<String> {
        let parsed: ConnectionString = text.parse().unwrap();
        let found: Vec<String> = warnings(text, &parsed).iter().map(ToString::to_string).collect();
        for warning in &found {
            assert!(!warning.contains(KEY), "the key is echoed: {warning}");
        }
        found
    }

    #[test]
    fn a_misspelt_key_is_named_with_the_key_it_is_near() {
        let text = format!("Endpoint=https://a;AccessKey={KEY};ClientEndpiont=https://proxy");
        assert_eq!(
            warned(&text),
            [
                "ClientEndpiont in the connection string is not a key the SDK reads, so it is ignored: did you mean \
              ClientEndpoint?"
            ]
        );
        for (written, known) in [
            ("client endpoint", "ClientEndpoint"),
            ("Client_Endpoint", "ClientEndpoint"),
            ("SERVERENDPIONT", "ServerEndpoint"),
            ("Tenant", "TenantId"),
            ("AuthTpye", "AuthType"),
            ("Prot", "Port"),
            ("ClientCertPth", "ClientCertPath"),
        ] {
            assert_eq!(suggestion(written), Some(known), "{written}");
        }
        for far in [
            "Host",
            "Key",
            "EntityPath",
            "SharedAccessKeyName",
            "ab",
            "Xy7Ab",
            "Client3ndpoint",
        ] {
            assert_eq!(suggestion(far), None, "{far}");
        }
    }

    #[test]
    fn an_unknown_key_that_may_be_a_piece_of_a_secret_is_not_shown() {
        // A ';' inside the key: its tail reads as a key.
        let text = "Endpoint=https://a;AccessKey=abc;TAILofTHEkey+/9=;Unrelated=1";
        let found = warned(text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("part 3 of the connection string"), "{}", found[0]);
        assert!(found[1].starts_with("part 4 of the connection string"), "{}", found[1]);
        assert!(found.iter().all(|w| !w.contains("TAIL") && !w.contains("Unrelated")));
    }

    #[test]
    fn a_missing_required_key_points_at_its_misspelling() {
        assert_eq!(
            refused(&format!("Endpiont=https://a;AccessKey={KEY}")),
            "Endpoint is missing from the connection string: Endpiont is not a key the SDK reads; did you mean \
            Endpoint?"
        );
        assert_eq!(
            refused("Endpoint=https://a;AcessKey=abc"),
            "AccessKey is missing from the connection string: AcessKey is not a key the SDK reads; did you mean \
            AccessKey?"
        );
        assert!(
            refused("Endpoint=https://a;AuthType=azure.app;ClientId=c;TennantId=t;ClientSecret=s")
                .starts_with("TenantId is missing from the connection string: TennantId")
        );
        assert!(
            refused("Endpoint=https://a;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecert=s")
                .starts_with("ClientSecret is missing from the connection string: ClientSecert")
        );
        // Nothing near: the plain message.
        assert_eq!(
            refused("Endpoint=https://a;Secret=abc"),
            "AccessKey is required in the connection string when AuthType is not set"
        );
    }

    #[test]
    fn quotes_around_the_whole_string_are_refused() {
        for text in [
            format!("\"Endpoint=https://a;AccessKey={KEY};Version=1.0;\""),
            format!("  'Endpoint=https://a;AccessKey={KEY}'"),
            format!("\u{201c}Endpoint=https://a;AccessKey={KEY}\u{201d}"),
        ] {
            assert_eq!(
                refused(&text),
                "the connection string is in quotes: remove the quotes around it",
                "{text}"
            );
        }
    }

    #[test]
    fn quotes_around_a_value_are_refused_naming_the_key() {
        for (text, key) in [
            ("Endpoint=https://a;AccessKey=\"abc\"".to_owned(), "AccessKey"),
            ("Endpoint=https://a;AccessKey='abc'".to_owned(), "AccessKey"),
            (format!("Endpoint=\"https://a\";AccessKey={KEY}"), "Endpoint"),
            (format!("Endpoint=https://a;AccessKey={KEY};Version=1.0\""), "Version"),
            (
                "Endpoint=https://a;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=\"s3cr3t\"".to_owned(),
                "ClientSecret",
            ),
        ] {
            let message = refused(&text);
            assert_eq!(
                message,
                format!(
                    "{key} in the connection string is in quotes: remove them (they would be read as part of its \
                    value)"
                ),
                "{text}"
            );
            assert!(!message.contains("abc") && !message.contains("s3cr3t"));
        }
        // A quote inside a value is not quoting it.
        assert!(
            "Endpoint=https://a;AuthType=azure.msi;ClientId=it's"
                .parse::<ConnectionString>()
                .is_ok()
        );
    }

    #[test]
    fn a_placeholder_is_refused_naming_the_key() {
        for (text, key) in [
            (
                "Endpoint=https://<resource_name>.service.signalr.net;AccessKey=abc",
                "Endpoint",
            ),
            ("Endpoint=https://a;AccessKey=<access_key>;Version=1.0;", "AccessKey"),
            ("Endpoint=xxx;AuthType=azure", "Endpoint"),
            ("Endpoint=https://a;AccessKey=XXXX", "AccessKey"),
            ("Endpoint=https://a;AccessKey={key}", "AccessKey"),
            ("Endpoint=https://a;AccessKey=your-access-key", "AccessKey"),
            ("Endpoint=https://a;AccessKey=YOUR_ACCESS_KEY", "AccessKey"),
            ("Endpoint=https://a;AuthType=azure.msi;ClientId=\u{2026}", "ClientId"),
            (
                "Endpoint=https://a;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=*********.******",
                "ClientSecret",
            ),
            ("Endpoint=https://a;AuthType=azure.msi;ClientId=<client_id>", "ClientId"),
        ] {
            let message = refused(text);
            assert!(
                message.starts_with(&format!("{key} in the connection string is still a placeholder")),
                "{text}: {message}"
            );
        }
        // Real values are not placeholders: base64 keys, GUIDs (in braces too), paths, one x.
        for text in [
            format!("Endpoint=https://a;AccessKey={KEY}"),
            "Endpoint=https://a;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWEXYZ0123456789+=/".to_owned(),
            "Endpoint=https://x;AccessKey=xyz".to_owned(),
            "Endpoint=https://a;AuthType=azure.msi;ClientId={00000000-0000-0000-0000-000000000000}".to_owned(),
            "Endpoint=https://a;AuthType=azure.app;ClientId=c;TenantId=t;ClientCert=/certs/your.pem".to_owned(),
        ] {
            assert!(text.parse::<ConnectionString>().is_ok(), "{text}");
        }
    }

    #[test]
    fn keys_the_auth_type_does_not_read_are_named_with_the_auth_type_that_does() {
        // As the Arabic connection-string page prints it, values filled in.
        assert_eq!(
            warned("Endpoint=https://a;AuthType=azure.msi;ClientId=c1;clientSecret=s3cr3t"),
            [
                "ClientSecret in the connection string is ignored with AuthType=azure.msi: it is used by \
              AuthType=azure.app"
            ]
        );
        assert_eq!(
            warned("Endpoint=https://a;AuthType=Azure.MSI;ClientId=c;TenantId=t;clientCertPath=/c.pem"),
            [
                "TenantId in the connection string is ignored with AuthType=azure.msi: it is used by \
                AuthType=azure.app",
                "ClientCertPath in the connection string is ignored with AuthType=azure.msi: it is used by \
                AuthType=azure.app",
            ]
        );
        assert_eq!(
            warned(&format!("Endpoint=https://a;AccessKey={KEY};ClientId=c")),
            [
                "ClientId in the connection string is ignored without AuthType (tokens are signed with AccessKey): it \
                is used by AuthType=azure.msi, azure or azure.app"
            ]
        );
        assert_eq!(
            warned(&format!(
                "Endpoint=https://a;AuthType=azure;AccessKey={KEY};ClientSecret=s"
            )),
            [
                "AccessKey in the connection string is ignored with AuthType=azure: tokens come through Microsoft \
                Entra ID; remove AccessKey, or remove AuthType to sign with the key",
                "ClientSecret in the connection string is ignored with AuthType=azure: it is used by \
                AuthType=azure.app",
            ]
        );
        assert_eq!(
            warned("Endpoint=https://a;AuthType=aad;TenantId=t"),
            ["TenantId in the connection string is ignored with AuthType=aad: it is used by AuthType=azure.app"]
        );
        assert!(warned("Endpoint=https://a;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=s").is_empty());
        assert!(warned("Endpoint=https://a;AuthType=azure.msi;ClientId=c").is_empty());
        assert!(
            warned(&format!(
                "Endpoint=http://localhost;Port=8999;AccessKey={KEY};Version=1.0;"
            ))
            .is_empty()
        );
    }

    #[test]
    fn a_port_that_overrides_the_port_in_endpoint_is_named() {
        let expected = [
            "Port in the connection string and the port written in its Endpoint differ: Port wins (as in \
                         the SDK, it replaces the port of Endpoint); remove one of them",
        ];
        for endpoint in [
            "https://a:8443",
            "https://a:443/",
            "http://[::1]:80",
            "http://127.0.0.1:9000/x",
        ] {
            assert_eq!(
                warned(&format!("Endpoint={endpoint};Port=8080;AccessKey={KEY}")),
                expected,
                "{endpoint}"
            );
        }
        for endpoint in ["https://a", "https://a:8080", "http://[::1]", "http://[::1]:8080/"] {
            assert!(
                warned(&format!("Endpoint={endpoint};Port=8080;AccessKey={KEY}")).is_empty(),
                "{endpoint}"
            );
        }
        assert!(warned(&format!("Endpoint=https://a:8443;AccessKey={KEY}")).is_empty());
    }

    #[test]
    fn a_connection_string_is_recognised_as_an_argument() {
        for argument in [
            format!("Endpoint=https://a;AccessKey={KEY};Version=1.0;"),
            format!("AccessKey={KEY}"),
            format!("\"endpoint=https://a;accesskey={KEY}\""),
            "x;authtype=azure".to_owned(),
        ] {
            assert!(looks_like_connection_string(&argument), "{argument}");
        }
        for argument in [
            "serve",
            "--hub=chat",
            "check",
            "key=value",
            "https://a.service.signalr.net",
        ] {
            assert!(!looks_like_connection_string(argument), "{argument}");
        }
    }
}
