//! Web PubSub's permission grammar: the roles a client token may carry and the groups it may
//! join on connect, checked once where they enter (a setting, a trusted caller's claim).
//!
//! Roles (the service's "Permissions" for clients, and its wildcard group roles):
//! `webpubsub.joinLeaveGroup` and `webpubsub.sendToGroup` (every group),
//! `webpubsub.joinLeaveGroup.{group}` and `webpubsub.sendToGroup.{group}` (one group),
//! `webpubsub.joinLeaveGroups.{pattern}` and `webpubsub.sendToGroups.{pattern}` (groups matching
//! `?`, `*`, `**`, with `\` escaping `\`, `*` and `?`, at most five `*`). A group name is 1 to
//! 1,024 characters and not only white space (the REST API's group parameter,
//! `^(?!\s+$).{1,1024}$`); control characters are refused too: no group the service makes has
//! one, and a log or a URL should never carry one.

/// Longest group name the service takes.
pub const MAX_GROUP_LEN: usize = 1024;

/// Most `*` a wildcard group role may hold (the service's pattern rule).
const MAX_STARS: usize = 5;

/// The roles that grant a permission for every group.
const WHOLE_HUB_ROLES: [&str; 2] = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"];

/// Why a role or a group was refused. Messages never repeat the value: it may come from a
/// caller's claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    /// Not one of the service's role forms.
    #[error(
        "is not a Web PubSub role: expected webpubsub.joinLeaveGroup or webpubsub.sendToGroup, optionally followed by \
         .<group>, or webpubsub.joinLeaveGroups.<pattern> or webpubsub.sendToGroups.<pattern>"
    )]
    Unknown,
    /// A role's group, or a group, that the service would refuse.
    #[error("names a group that is empty, only white space, over 1,024 characters or holds a control character")]
    BadGroup,
    /// A wildcard pattern that the service would refuse.
    #[error("has a group pattern with more than five *, a \\ that escapes nothing, or a control character")]
    BadPattern,
}

/// Checks a role against the service's grammar.
pub fn check_role(role: &str) -> Result<(), RoleError> {
    if WHOLE_HUB_ROLES.contains(&role) {
        return Ok(());
    }
    for permission in WHOLE_HUB_ROLES {
        let Some(rest) = role.strip_prefix(permission) else {
            continue;
        };
        if let Some(group) = rest.strip_prefix('.') {
            return check_group(group);
        }
        if let Some(pattern) = rest.strip_prefix("s.") {
            return check_pattern(pattern);
        }
    }
    Err(RoleError::Unknown)
}

/// Checks a group name (what `webpubsub.group` and a one-group role carry).
pub fn check_group(group: &str) -> Result<(), RoleError> {
    let fits = !group.is_empty()
        && group.chars().count() <= MAX_GROUP_LEN
        && !group.chars().all(char::is_whitespace)
        && !group.chars().any(char::is_control);
    if fits { Ok(()) } else { Err(RoleError::BadGroup) }
}

/// A wildcard group pattern: a group name where `\` escapes `\`, `*` or `?`, with at most
/// five `*`.
fn check_pattern(pattern: &str) -> Result<(), RoleError> {
    check_group(pattern).map_err(|_| RoleError::BadPattern)?;
    let mut stars = 0;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\' | '*' | '?') => {}
                _ => return Err(RoleError::BadPattern),
            },
            '*' => stars += 1,
            _ => {}
        }
    }
    if stars > MAX_STARS {
        return Err(RoleError::BadPattern);
    }
    Ok(())
}

/// Whether a caller's claim value is meant as a Web PubSub role: an identity provider's other
/// roles (an application's own `admin`, say) are not the service's business and are left out.
pub fn is_meant_as_role(value: &str) -> bool {
    value.starts_with("webpubsub.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_role_forms_are_taken() {
        for role in [
            "webpubsub.joinLeaveGroup",
            "webpubsub.sendToGroup",
            "webpubsub.joinLeaveGroup.lobby",
            "webpubsub.sendToGroup.lobby",
            "webpubsub.sendToGroup.room.with.dots",
            "webpubsub.joinLeaveGroup.𝄞 music",
            "webpubsub.sendToGroups.clientA.**",
            "webpubsub.joinLeaveGroups.public.*",
            "webpubsub.joinLeaveGroups.chat-?",
            "webpubsub.joinLeaveGroups.literal\\*star",
            "webpubsub.joinLeaveGroups.a\\\\b",
            "webpubsub.joinLeaveGroups.*.*.*.*.*",
        ] {
            assert_eq!(check_role(role), Ok(()), "{role}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_its_reason() {
        for role in [
            "",
            "admin",
            "webpubsub",
            "webpubsub.",
            "webpubsub.joinleavegroup",
            "WebPubSub.sendToGroup",
            "webpubsub.sendToGroupx",
            "webpubsub.sendToGroupsx",
            "webpubsub.joinLeaveGroup ",
        ] {
            assert_eq!(check_role(role), Err(RoleError::Unknown), "{role:?}");
        }
        for role in [
            "webpubsub.sendToGroup.",
            "webpubsub.sendToGroup.   ",
            "webpubsub.sendToGroup.a\nb",
            "webpubsub.sendToGroup.a\u{0}b",
        ] {
            assert_eq!(check_role(role), Err(RoleError::BadGroup), "{role:?}");
        }
        let long = format!("webpubsub.sendToGroup.{}", "g".repeat(MAX_GROUP_LEN + 1));
        assert_eq!(check_role(&long), Err(RoleError::BadGroup));
        let fits = format!("webpubsub.sendToGroup.{}", "é".repeat(MAX_GROUP_LEN));
        assert_eq!(check_role(&fits), Ok(()), "characters are counted, not bytes");
        for role in [
            "webpubsub.sendToGroups.",
            "webpubsub.sendToGroups.*.*.*.*.*.*",
            "webpubsub.sendToGroups.***.***",
            "webpubsub.sendToGroups.a\\",
            "webpubsub.sendToGroups.a\\b",
            "webpubsub.sendToGroups.\t",
        ] {
            assert_eq!(check_role(role), Err(RoleError::BadPattern), "{role:?}");
        }
    }

    #[test]
    fn groups_follow_the_rest_apis_rule() {
        assert_eq!(check_group("lobby"), Ok(()));
        assert_eq!(
            check_group(" a "),
            Ok(()),
            "white space around a name is kept, as the service keeps it"
        );
        assert_eq!(check_group(&"g".repeat(MAX_GROUP_LEN)), Ok(()));
        for bad in ["", " ", "\t\n", "a\u{7f}"] {
            assert_eq!(check_group(bad), Err(RoleError::BadGroup), "{bad:?}");
        }
        assert_eq!(check_group(&"g".repeat(MAX_GROUP_LEN + 1)), Err(RoleError::BadGroup));
    }

    #[test]
    fn only_webpubsub_values_are_meant_as_roles() {
        assert!(is_meant_as_role("webpubsub.sendToGroup"));
        assert!(
            is_meant_as_role("webpubsub.nonsense"),
            "meant as one, then refused by the grammar"
        );
        assert!(!is_meant_as_role("admin"));
        assert!(!is_meant_as_role("WebPubSub.sendToGroup"));
    }
}
