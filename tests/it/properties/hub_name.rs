//! Hub names: `HubName::parse` accepts exactly the service's rule, spelled out here over characters.
//! The hub generators are shared with the client-URL properties.

use proptest::prelude::*;
use proptest::sample::{Index, select};
use signalr_negotiate::{HubName, HubNameError};

use super::config;

/// `^[A-Za-z][A-Za-z0-9_`,.\[\]]{0,127}$`, spelled out over characters.
fn matches_hub_rule(name: &str) -> bool {
    let letter = |c: char| c.is_ascii_uppercase() || c.is_ascii_lowercase();
    let allowed = |c: char| letter(c) || c.is_ascii_digit() || matches!(c, '_' | '`' | ',' | '.' | '[' | ']');
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => letter(first) && name.chars().count() <= 128 && chars.all(allowed),
        None => false,
    }
}

pub(super) fn valid_hub() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_`,.\\[\\]]{0,127}"
}

/// Characters a hub may hold, URL delimiters, characters look-alike in Unicode (the Kelvin
/// sign lower-cases to `k`, `ſ` upper-cases to `S`, Arabic-Indic digits are digits), controls.
fn hub_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => select("aZz09_`,.[]".chars().collect::<Vec<_>>()),
        3 => select("/?#&=%+ @:".chars().collect::<Vec<_>>()),
        2 => select(
            "-;'\"<>{}|\\^~!$*()\0\t\n\r\u{7f}\u{e4}\u{130}\u{17f}\u{212a}\u{663}\u{ff21}\u{1f600}"
                .chars()
                .collect::<Vec<_>>(),
        ),
        1 => any::<char>(),
    ]
}

pub(super) fn any_hub() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => valid_hub(),
        2 => prop::collection::vec(hub_char(), 0..12).prop_map(String::from_iter),
        1 => prop::collection::vec(hub_char(), 120..135).prop_map(String::from_iter),
        // A valid name with one character put anywhere.
        3 => (valid_hub(), hub_char(), any::<Index>()).prop_map(|(name, c, at)| {
            let mut chars: Vec<char> = name.chars().collect();
            chars.insert(at.index(chars.len() + 1), c);
            String::from_iter(chars)
        }),
        // Around the length limit.
        1 => ("[A-Za-z]", "[a-z0-9]{126,129}").prop_map(|(first, rest)| first + &rest),
        1 => any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn validate_accepts_exactly_the_service_rule(name in any_hub()) {
        let result = HubName::parse(&name);
        prop_assert_eq!(result.is_ok(), matches_hub_rule(&name), "{:?}: {:?}", name, result);
        prop_assert_eq!(result == Err(HubNameError::Empty), name.is_empty());
        if let Ok(hub) = result {
            let lower: String = name.chars().map(|c| c.to_ascii_lowercase()).collect();
            prop_assert_eq!(hub.service_name(None), Ok(lower));
        }
    }
}
