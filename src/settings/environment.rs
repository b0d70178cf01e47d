//! The environment as settings see it: names matched case-insensitively with `:` and `__` as
//! the same separator, as .NET configuration does (`Azure:SignalR:ConnectionString` is
//! `Azure__SignalR__ConnectionString`), App Service's `CUSTOMCONNSTR_<name>` as
//! `ConnectionStrings:<name>`, and the typed readers every setting goes through.

use std::collections::HashMap;
use std::fmt;
use std::ops::RangeInclusive;

use super::table::{self, Setting};

/// A setting that stops the start. The message names the setting and never shows its value
/// (but for the entry at fault of a list that is no secret, such as a CORS origin).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting {setting}: {message}")]
pub struct SettingError {
    /// The setting's name, as it was set (or as declared, when it was not set).
    pub setting: String,
    /// What is wrong and what would be right; never the value (see above).
    pub message: String,
}

impl SettingError {
    /// An error for a setting.
    pub fn new(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            message: message.into(),
        }
    }
}

/// `Err` for a setting.
pub(super) fn fail<T>(setting: &str, message: impl Into<String>) -> Result<T, SettingError> {
    Err(SettingError::new(setting, message))
}

/// App Service's prefix of a connection string of type Custom (the portal's "Connection
/// strings"), and what .NET configuration reads it as: `CUSTOMCONNSTR_<name>` is
/// `ConnectionStrings:<name>` (`EnvironmentVariablesConfigurationProvider` in dotnet/runtime).
const CUSTOM_CONNECTION_STRING: &str = "customconnstr_";
const CONNECTION_STRINGS: &str = "ConnectionStrings__";

/// A setting's name as lookups compare it: lower-case, `:` as `__`, `CUSTOMCONNSTR_` as
/// `ConnectionStrings__`.
pub fn normalise(name: &str) -> String {
    spelled(name).to_ascii_lowercase()
}

/// A name as the families spell it: `:` as `__`, `CUSTOMCONNSTR_` as `ConnectionStrings__`
/// (the rest keeps its case).
pub fn spelled(name: &str) -> String {
    let name = name.replace(':', "__");
    match name.get(..CUSTOM_CONNECTION_STRING.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(CUSTOM_CONNECTION_STRING) => {
            format!("{CONNECTION_STRINGS}{}", &name[CUSTOM_CONNECTION_STRING.len()..])
        }
        _ => name,
    }
}

/// Every variable, as `(name, value)`, looked up by normalised name.
#[derive(Clone, Default)]
pub struct Environment {
    vars: Vec<(String, String)>,
    by_key: HashMap<String, usize>,
    /// Two spellings of one name set to different values: `(normalised, first, second)`,
    /// names only.
    ambiguous: Vec<(String, String, String)>,
    /// Variables whose value is not text (not valid UTF-8), by name; names only.
    not_unicode: Vec<String>,
}

impl fmt::Debug for Environment {
    /// Names only: values may be secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.vars.iter().map(|(name, _)| name)).finish()
    }
}

impl Environment {
    /// The variables given (the process environment, or a test's own). Two spellings of one
    /// setting (`SIGNALR_AUTH_REQUIRED` and `signalr_auth_required`, `:` and `__`, or
    /// `CUSTOMCONNSTR_x` and `ConnectionStrings__x`) with different values are noted, and
    /// refused by [`Environment::unambiguous`].
    pub fn new(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let mut by_key = HashMap::with_capacity(vars.len());
        let mut ambiguous = Vec::new();
        for (index, (name, value)) in vars.iter().enumerate() {
            let key = normalise(name);
            if let Some(&earlier) = by_key.get(&key) {
                let (earlier_name, earlier_value): &(String, String) = &vars[earlier];
                if earlier_value != value {
                    let mut pair = [earlier_name.clone(), name.clone()];
                    pair.sort();
                    let [first, second] = pair;
                    ambiguous.push((key.clone(), first, second));
                }
            }
            by_key.insert(key, index);
        }
        Self {
            vars,
            by_key,
            ambiguous,
            not_unicode: Vec::new(),
        }
    }

    /// Refuses an environment where a setting the function reads is set twice, under two
    /// spellings, to different values (one would silently win), or is not text. The setting
    /// is named, never its value.
    pub fn unambiguous(&self) -> Result<(), SettingError> {
        self.unambiguous_where(table::is_read)
    }

    /// As [`Environment::unambiguous`], for the (normalised) names `reads` says are read: names
    /// the settings choose at run time (the setting `SIGNALR_CONNECTION_STRING_SETTING` names,
    /// and its identity-based keys) are not in the settings table.
    pub(crate) fn unambiguous_where(&self, reads: impl Fn(&str) -> bool) -> Result<(), SettingError> {
        if let Some(name) = self.not_unicode.iter().find(|name| reads(&normalise(name))) {
            return Self::refuse_not_unicode(name);
        }
        match self.ambiguous.iter().find(|(key, ..)| reads(key)) {
            None => Ok(()),
            Some((_, first, second)) => Self::refuse_ambiguous(first, second),
        }
    }

    fn refuse_ambiguous(first: &str, second: &str) -> Result<(), SettingError> {
        fail(
            first,
            format!(
                "is also set as {second}, to another value: names are case-insensitive, : equals __ and CUSTOMCONNSTR_ \
                equals ConnectionStrings__, so one would silently win; set it once"
            ),
        )
    }

    fn refuse_not_unicode(name: &str) -> Result<(), SettingError> {
        fail(
            name,
            "is not valid UTF-8 text: set it again, as plain text (a connection string, a number, a list)",
        )
    }

    /// The process environment. A variable whose name is not text cannot be one of ours and
    /// is skipped; one whose value is not text is kept by name, and refused by
    /// [`Environment::unambiguous`] when the function reads it (skipping it would serve a
    /// default in its place).
    pub fn from_process() -> Self {
        Self::from_os(std::env::vars_os())
    }

    /// As [`Environment::from_process`], from the variables given.
    pub fn from_os(vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>) -> Self {
        let mut not_unicode = Vec::new();
        let text = vars
            .into_iter()
            .filter_map(|(name, value)| {
                let name = name.into_string().ok()?;
                match value.into_string() {
                    Ok(value) => Some((name, value)),
                    Err(_) => {
                        not_unicode.push(name);
                        None
                    }
                }
            })
            .collect::<Vec<_>>();
        let mut env = Self::new(text);
        env.not_unicode = not_unicode;
        env
    }

    /// Every `(name, value)`, in the order given.
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }

    /// Replaces the value of the variable at `index` (a value resolved from elsewhere).
    pub(crate) fn replace_value(&mut self, index: usize, value: String) {
        self.vars[index].1 = value;
    }

    /// `(name as set, value)` of a variable, by any spelling of its name.
    pub fn get_raw(&self, name: &str) -> Option<(&str, &str)> {
        self.by_key
            .get(&normalise(name))
            .map(|&index| (self.vars[index].0.as_str(), self.vars[index].1.as_str()))
    }

    /// The trimmed value of a variable, `None` when unset or blank.
    pub fn value_raw(&self, name: &str) -> Option<&str> {
        self.get_raw(name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// `(name as set, value)` of a declared setting.
    pub fn get(&self, setting: &Setting) -> Option<(&str, &str)> {
        self.get_raw(setting.name)
    }

    /// The trimmed value of a declared setting, `None` when unset or blank.
    pub fn value(&self, setting: &Setting) -> Option<&str> {
        self.value_raw(setting.name)
    }

    /// The value, else the declared default.
    pub fn value_or_default(&self, setting: &Setting) -> Option<&str> {
        self.value(setting).or(setting.default_value())
    }

    /// Names (as set) of the variables under a prefix.
    pub fn names_under(&self, prefix: &str) -> Vec<&str> {
        let prefix = normalise(prefix);
        let mut names: Vec<&str> = self
            .by_key
            .iter()
            .filter(|(key, _)| key.starts_with(&prefix))
            .map(|(_, &index)| self.vars[index].0.as_str())
            .collect();
        names.sort_unstable();
        names
    }

    /// A whole number within `range` (in `unit`s, for the message), else the declared default.
    pub fn whole_number(&self, setting: &Setting, range: RangeInclusive<u64>, unit: &str) -> Result<u64, SettingError> {
        let text = self.value_or_default(setting).unwrap_or_default();
        match text.parse::<u64>() {
            Ok(number) if range.contains(&number) => Ok(number),
            _ => fail(
                setting.name,
                format!(
                    "must be a whole number of {unit} from {} to {}",
                    range.start(),
                    range.end()
                ),
            ),
        }
    }

    /// `true`/`1` or `false`/`0` (any case), else the declared default (`false` without one).
    pub fn boolean(&self, setting: &Setting) -> Result<bool, SettingError> {
        match self.value_or_default(setting) {
            None => Ok(false),
            Some(value) if value.eq_ignore_ascii_case("true") || value == "1" => Ok(true),
            Some(value) if value.eq_ignore_ascii_case("false") || value == "0" => Ok(false),
            Some(_) => fail(setting.name, "must be true or false"),
        }
    }

    /// The trimmed, non-empty items of a comma list, `None` when unset.
    pub fn list(&self, setting: &Setting) -> Option<Vec<&str>> {
        self.value_or_default(setting)
            .map(|list| list.split(',').map(str::trim).filter(|item| !item.is_empty()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::table;
    use crate::settings::testing::cs;
    use crate::settings::{Host, Settings};

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment::new(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn names_are_case_insensitive_and_colons_are_double_underscores() {
        let env = env(&[("azure:signalr:CONNECTIONSTRING", " x ")]);
        assert_eq!(
            env.get_raw("Azure__SignalR__ConnectionString"),
            Some(("azure:signalr:CONNECTIONSTRING", " x "))
        );
        assert_eq!(env.value_raw("AZURE__SIGNALR__CONNECTIONSTRING"), Some("x"));
        assert_eq!(
            env.names_under("Azure__SignalR__"),
            vec!["azure:signalr:CONNECTIONSTRING"]
        );
    }

    #[test]
    fn numbers_fall_back_to_the_declared_default_and_name_their_range() {
        let lifetime = &table::TOKEN_LIFETIME_SECONDS;
        assert_eq!(env(&[]).whole_number(lifetime, 1..=86_400, "seconds"), Ok(3600));
        assert_eq!(
            env(&[("SIGNALR_TOKEN_LIFETIME_SECONDS", "7")]).whole_number(lifetime, 1..=86_400, "seconds"),
            Ok(7)
        );
        let error = env(&[("SIGNALR_TOKEN_LIFETIME_SECONDS", "x")])
            .whole_number(lifetime, 1..=86_400, "seconds")
            .unwrap_err();
        assert_eq!(error.message, "must be a whole number of seconds from 1 to 86400");
    }

    #[test]
    fn two_spellings_of_a_setting_with_different_values_are_refused() {
        let e = env(&[("SIGNALR_AUTH_REQUIRED", "true"), ("signalr_auth_required", "false")])
            .unambiguous()
            .unwrap_err();
        assert_eq!(e.setting, "SIGNALR_AUTH_REQUIRED");
        assert!(e.message.contains("also set as signalr_auth_required"), "{e}");
        assert!(
            !e.to_string().contains("true") && !e.to_string().contains("false"),
            "{e}"
        );
        let e = env(&[
            (
                "Azure__SignalR__ConnectionString",
                "Endpoint=https://a;AccessKey=SECRET-A",
            ),
            (
                "Azure:SignalR:ConnectionString",
                "Endpoint=https://b;AccessKey=SECRET-B",
            ),
        ])
        .unambiguous()
        .unwrap_err();
        assert_eq!(e.setting, "Azure:SignalR:ConnectionString");
        assert!(e.message.contains("Azure__SignalR__ConnectionString"), "{e}");
        assert!(!e.to_string().contains("SECRET"), "{e}");
        // The same value twice is no ambiguity; variables the function does not read are not
        // its business (HTTP_PROXY and http_proxy often differ).
        assert!(
            env(&[("SIGNALR_HUB", "chat"), ("signalr_hub", "chat")])
                .unambiguous()
                .is_ok()
        );
        assert!(env(&[("HTTP_PROXY", "a"), ("http_proxy", "b")]).unambiguous().is_ok());
        assert!(
            env(&[
                ("Azure__SignalR__Endpoints__east", "a"),
                ("AZURE__SIGNALR__ENDPOINTS__EAST", "b")
            ])
            .unambiguous()
            .is_err()
        );
    }

    #[test]
    fn booleans_are_true_false_1_or_0() {
        let required = &table::AUTH_REQUIRED;
        for (text, value) in [("TRUE", true), ("1", true), ("False", false), ("0", false)] {
            assert_eq!(
                env(&[("SIGNALR_AUTH_REQUIRED", text)]).boolean(required),
                Ok(value),
                "{text}"
            );
        }
        assert_eq!(env(&[]).boolean(required), Ok(false), "the declared default");
        for bad in ["yes", "2", "o"] {
            let error = env(&[("SIGNALR_AUTH_REQUIRED", bad)]).boolean(required).unwrap_err();
            assert_eq!(error.message, "must be true or false", "{bad}");
        }
    }

    #[test]
    fn the_process_environment_and_resolved_values_are_read() {
        assert!(
            Environment::from_process()
                .vars()
                .iter()
                .any(|(name, _)| name == "PATH")
        );
        let mut resolved = env(&[("AzureSignalRConnectionString", "arn:aws:ssm:x")]);
        resolved.replace_value(0, "Endpoint=https://a".to_owned());
        assert_eq!(
            resolved.value_raw("AZURESIGNALRCONNECTIONSTRING"),
            Some("Endpoint=https://a")
        );
    }

    #[test]
    fn debug_shows_names_only() {
        let printed = format!("{:?}", env(&[("AzureSignalRConnectionString", "AccessKey=SECRET")]));
        assert!(printed.contains("AzureSignalRConnectionString") && !printed.contains("SECRET"));
    }

    /// A setting's value that is not text is refused by name: skipping it would serve a default
    /// (the emulator's) in its place.
    #[cfg(unix)]
    #[test]
    fn a_value_that_is_not_text_is_refused_by_name() {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt as _;
        let not_text = OsString::from_vec(b"Endpoint=https://a;AccessKey=\xff\xfe".to_vec());
        for name in [
            "AzureSignalRConnectionString",
            "CUSTOMCONNSTR_AzureSignalRConnectionString",
            "Azure__SignalR__Endpoints__east",
            "SIGNALR_HUB",
        ] {
            let env = Environment::from_os([(OsString::from(name), not_text.clone())]);
            let e = Host::detect(&env).unwrap_err();
            assert_eq!(e.setting, name);
            assert!(e.message.starts_with("is not valid UTF-8 text"), "{e}");
            assert!(!e.to_string().contains("AccessKey"), "{e}");
        }
        // The name SIGNALR_CONNECTION_STRING_SETTING chooses is checked too.
        let env = Environment::from_os([
            (
                OsString::from("SIGNALR_CONNECTION_STRING_SETTING"),
                OsString::from("Mine"),
            ),
            (OsString::from("Mine"), not_text.clone()),
        ]);
        let host = Host::detect(&env).unwrap();
        assert_eq!(Settings::from_environment(&env, host).unwrap_err().setting, "Mine");
        // Variables the function does not read are none of its business, whatever it reads.
        let env = Environment::from_os([(OsString::from("LESSOPEN"), not_text.clone())]);
        assert!(Host::detect(&env).is_ok());
        let cs = cs();
        let env = Environment::from_os([
            (OsString::from("LESSOPEN"), not_text),
            (
                OsString::from("SIGNALR_CONNECTION_STRING_SETTING"),
                OsString::from("Mine"),
            ),
            (OsString::from("Mine"), OsString::from(&cs)),
        ]);
        let host = Host::detect(&env).unwrap();
        assert!(Settings::from_environment(&env, host).is_ok());
    }
}
