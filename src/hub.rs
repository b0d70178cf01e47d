//! Hub names: the service's naming rule, checked once where a name enters (a request, a
//! setting) and carried as [`HubName`] from there on, and the name a hub has inside the service.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

/// Longest hub name the service accepts.
pub const MAX_HUB_NAME_LEN: usize = 128;

/// Why a hub name was refused. Messages never repeat the name: it comes from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HubNameError {
    /// No name at all.
    #[error("the hub name is empty")]
    Empty,
    /// Over [`MAX_HUB_NAME_LEN`] characters.
    #[error("the hub name is longer than 128 characters")]
    TooLong,
    /// Outside the service's alphabet.
    #[error("the hub name must start with a letter and contain only letters, digits and the characters _ ` , . [ ]")]
    InvalidCharacter,
    /// Fits alone, but not behind the application name: `{application}_{hub}` is the
    /// service's name for it, and over [`MAX_HUB_NAME_LEN`] characters.
    #[error("the hub name is too long: with SIGNALR_APPLICATION_NAME in front it is over the service's 128 characters")]
    TooLongWithApplication,
    /// Outside Web PubSub's narrower alphabet (its REST API's `hub` parameter: "should start with
    /// alphabetic characters and only contain alpha-numeric characters or underscore").
    #[error("the hub name must start with a letter and contain only letters, digits and _ (Azure Web PubSub's rule)")]
    NotWebPubSub,
}

/// A hub name that follows the service's rule `^[A-Za-z][A-Za-z0-9_`,.\[\]]{0,127}$`, as it
/// was written (the service's name for it is [`HubName::service_name`]).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HubName(String);

impl HubName {
    /// Checks a name against the service's rule.
    pub fn parse(name: &str) -> Result<Self, HubNameError> {
        check(name)?;
        Ok(Self(name.to_owned()))
    }

    /// Checks a name against the service's rule, keeping the string (no copy).
    pub fn from_string(name: String) -> Result<Self, HubNameError> {
        check(&name)?;
        Ok(Self(name))
    }

    /// The name as written, case kept (the service's name is [`HubName::service_name`]).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hub as the service knows it: `{application}_{hub}` when an application name is
    /// set, always lower-case (the SDK does the same, so the url and the audience agree). The
    /// service's rule holds for that name too: at most [`MAX_HUB_NAME_LEN`] characters.
    pub fn service_name(&self, application: Option<&str>) -> Result<String, HubNameError> {
        let length = application.map_or(0, |app| app.len() + 1) + self.0.len();
        if length > MAX_HUB_NAME_LEN {
            return Err(HubNameError::TooLongWithApplication);
        }
        let mut name = String::with_capacity(length);
        if let Some(app) = application {
            name.push_str(app);
            name.push('_');
        }
        name.push_str(&self.0);
        name.make_ascii_lowercase();
        Ok(name)
    }

    /// Checks the name against Web PubSub's rule too: letters, digits and `_` only.
    pub fn check_webpubsub(&self) -> Result<(), HubNameError> {
        if self.0.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            Ok(())
        } else {
            Err(HubNameError::NotWebPubSub)
        }
    }

    /// The longest application name that leaves room for `_` and a hub of one character.
    pub const MAX_APPLICATION_NAME_LEN: usize = MAX_HUB_NAME_LEN - 2;
}

/// `^[A-Za-z][A-Za-z0-9_`,.\[\]]{0,127}$`
fn check(name: &str) -> Result<(), HubNameError> {
    let bytes = name.as_bytes();
    let Some(first) = bytes.first() else {
        return Err(HubNameError::Empty);
    };
    let allowed = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'`' | b',' | b'.' | b'[' | b']');
    // Characters first: the alphabet is ASCII, so past this check bytes are characters.
    if !(first.is_ascii_alphabetic() && bytes.iter().all(allowed)) {
        return Err(HubNameError::InvalidCharacter);
    }
    if bytes.len() > MAX_HUB_NAME_LEN {
        return Err(HubNameError::TooLong);
    }
    Ok(())
}

impl FromStr for HubName {
    type Err = HubNameError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::parse(name)
    }
}

impl Deref for HubName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for HubName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for HubName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(name: &str) -> Result<(), HubNameError> {
        HubName::parse(name).map(|_| ())
    }

    #[test]
    fn accepts_the_service_alphabet() {
        for good in ["a", "Chat", "chat_1", "a`b", "a,b", "a.b", "a[0]", &"h".repeat(128)] {
            assert_eq!(validate(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        assert_eq!(validate(""), Err(HubNameError::Empty));
        assert_eq!(validate(&"h".repeat(129)), Err(HubNameError::TooLong));
        // 65 characters of two bytes each: not too long, but outside the alphabet.
        assert_eq!(validate(&"é".repeat(65)), Err(HubNameError::InvalidCharacter));
        for bad in [
            "1chat", "_chat", "a/b", "a&b=c", "a b", "a-b", "chät", "a%2Fb", "a?b", "a#b", "a\0b", ".a",
        ] {
            assert_eq!(validate(bad), Err(HubNameError::InvalidCharacter), "{bad:?}");
        }
    }

    #[test]
    fn error_messages_do_not_echo_the_name() {
        assert_eq!(
            HubNameError::InvalidCharacter.to_string(),
            "the hub name must start with a letter and contain only letters, digits and the characters _ ` , . [ ]"
        );
    }

    #[test]
    fn service_hub_is_prefixed_and_lower_cased() {
        let chat = HubName::parse("Chat").unwrap();
        assert_eq!(chat.service_name(None).unwrap(), "chat");
        assert_eq!(chat.service_name(Some("MyApp")).unwrap(), "myapp_chat");
        assert_eq!(chat.as_str(), "Chat");
    }

    #[test]
    fn the_prefixed_hub_fits_the_service_rule_too() {
        let longest = HubName::parse(&"h".repeat(128)).unwrap();
        assert_eq!(longest.service_name(None).unwrap().len(), 128);
        assert_eq!(
            longest.service_name(Some("a")),
            Err(HubNameError::TooLongWithApplication)
        );
        // "app" + "_" + 124 characters = 128: fits; one more does not.
        let fits = HubName::parse(&"h".repeat(124)).unwrap();
        assert_eq!(fits.service_name(Some("App")).unwrap().len(), 128);
        let over = HubName::parse(&"h".repeat(125)).unwrap();
        assert_eq!(
            over.service_name(Some("App")),
            Err(HubNameError::TooLongWithApplication)
        );
        let app = "a".repeat(HubName::MAX_APPLICATION_NAME_LEN);
        assert_eq!(
            HubName::parse("h").unwrap().service_name(Some(&app)).unwrap().len(),
            128
        );
    }
}
