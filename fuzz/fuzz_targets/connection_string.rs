//! Connection strings: any text is parsed without panicking; what is accepted keeps the
//! parser's promises; a duplicate-key error names a key that really repeats (never a value);
//! and when no key repeats, reversing the order of the segments changes nothing.

#![no_main]

use libfuzzer_sys::fuzz_target;
use signalr_negotiate::{ConnectionString, ConnectionStringError};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = text.parse::<ConnectionString>();
    match &parsed {
        Ok(cs) => check_accepted(cs),
        Err(ConnectionStringError::DuplicateKey(key)) => check_duplicate(text, key),
        Err(_) => {}
    }
    // Which duplicate is met first depends on the order, so duplicates are left out here.
    if !matches!(
        parsed,
        Err(ConnectionStringError::DuplicateKey(_) | ConnectionStringError::DuplicateUnknownKey)
    ) {
        let reversed: Vec<&str> = text.split(';').rev().collect();
        let reversed = reversed.join(";");
        assert_eq!(
            parsed,
            reversed.parse::<ConnectionString>(),
            "segment order changed the result"
        );
    }
});

/// What the parser promises about a string it accepts.
fn check_accepted(cs: &ConnectionString) {
    for url in [
        Some(&cs.endpoint),
        cs.client_endpoint.as_ref(),
        cs.server_endpoint.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        assert!(matches!(url.scheme(), "http" | "https"), "{url}");
        assert!(url.host_str().is_some_and(|host| !host.is_empty()), "{url}");
        assert!(url.username().is_empty() && url.password().is_none(), "{url}");
        assert!(url.query().is_none() && url.fragment().is_none(), "{url}");
    }
    assert_ne!(cs.port, Some(0));
    if let Some(version) = &cs.version {
        let minor = version.strip_prefix("1.").expect("version 1.x");
        assert!(minor.starts_with(|c: char| c.is_ascii_digit()), "{version}");
    }
}

/// A duplicate-key error names, as written (trimmed), the second spelling of a key that
/// appears twice, ignoring ASCII case: a key, never a value.
fn check_duplicate(text: &str, named: &str) {
    let keys: Vec<&str> = text
        .split(';')
        .filter_map(|segment| segment.split_once('=').map(|(key, _)| key.trim()))
        .collect();
    let second = keys
        .iter()
        .enumerate()
        .find(|(i, key)| keys[..*i].iter().any(|earlier| earlier.eq_ignore_ascii_case(key)))
        .map(|(_, key)| *key);
    assert_eq!(second, Some(named), "the error names a key that does not repeat first");
    let message = ConnectionStringError::DuplicateKey(named.to_owned()).to_string();
    assert_eq!(
        message,
        format!("Duplicate properties found in connection string: {named}.")
    );
}
