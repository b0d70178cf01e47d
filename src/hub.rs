//! Hub names: the service's naming rule, and the name a hub has inside the service.

/// Longest hub name the service accepts.
pub const MAX_HUB_NAME_LEN: usize = 128;

/// Why a hub name was refused. Messages never repeat the name: it comes from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HubNameError {
    #[error("the hub name is empty")]
    Empty,
    #[error("the hub name is longer than 128 characters")]
    TooLong,
    #[error("the hub name must start with a letter and contain only letters, digits and the characters _ ` , . [ ]")]
    InvalidCharacter,
}

/// Checks a hub name against the service's rule `^[A-Za-z][A-Za-z0-9_`,.\[\]]{0,127}$`.
pub fn validate(name: &str) -> Result<(), HubNameError> {
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

/// The hub as the service knows it: `{application}_{hub}` when an application name is set,
/// always lower-case (the SDK does the same, so the url and the audience agree).
pub fn service_hub(application: Option<&str>, hub: &str) -> String {
    match application {
        Some(app) => {
            let mut name = String::with_capacity(app.len() + 1 + hub.len());
            name.push_str(app);
            name.push('_');
            name.push_str(hub);
            name.make_ascii_lowercase();
            name
        }
        None => hub.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(service_hub(None, "Chat"), "chat");
        assert_eq!(service_hub(Some("MyApp"), "Chat"), "myapp_chat");
    }
}
