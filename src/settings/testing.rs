//! What the settings' unit tests share: settings read from a test's own variables, and
//! connection strings whose key no refusal may echo.

use super::{SettingError, Settings};

/// The access key of [`cs`] and [`cs_for`].
pub(super) const KEY: &str = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvu";

/// The settings these variables make.
pub(super) fn config(vars: &[(&str, &str)]) -> Result<Settings, SettingError> {
    Settings::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

/// As [`config`], for variables that must be accepted.
pub(super) fn config_of(vars: &[(&str, &str)]) -> Settings {
    config(vars).unwrap()
}

/// The refusal of these variables, which must not echo [`KEY`].
pub(super) fn error(vars: &[(&str, &str)]) -> SettingError {
    let error = config(vars).expect_err("should be refused");
    assert!(!error.to_string().contains(KEY), "echoes the key: {error}");
    error
}

/// A connection string of `demo.service.signalr.net`.
pub(super) fn cs() -> String {
    format!("Endpoint=https://demo.service.signalr.net;AccessKey={KEY};Version=1.0;")
}

/// A connection string of `{host}.service.signalr.net`.
pub(super) fn cs_for(host: &str) -> String {
    format!("Endpoint=https://{host}.service.signalr.net;AccessKey={KEY};Version=1.0;")
}
