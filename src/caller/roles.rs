//! A trusted caller's Web PubSub roles (`WEBPUBSUB_ROLES_FROM_CLAIM`): the values of one claim
//! of the identity a trusted source vouched for that are meant as Web PubSub roles
//! (`webpubsub.*`), each checked against the service's role grammar. A client never names its
//! own: nothing here reads the request.

use serde_json::Value;

use super::CallerError;
use crate::product::{check_role, is_meant_as_role};

/// The roles in every value of every claim named `claim` (a string, or an array of strings);
/// other values (an application's own roles) are left out, and a `webpubsub.*` value the
/// service would refuse refuses the caller.
pub(super) fn from_claims(claim: &str, claims: &[(String, Value)]) -> Result<Vec<String>, CallerError> {
    let mut roles: Vec<String> = Vec::new();
    let values = claims
        .iter()
        .filter(|(name, _)| name == claim)
        .flat_map(|(_, value)| match value {
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>(),
            Value::String(text) => vec![text.as_str()],
            _ => Vec::new(),
        });
    for value in values.filter(|value| is_meant_as_role(value)) {
        check_role(value).map_err(|error| CallerError::NotARole {
            claim: claim.to_owned(),
            error,
        })?;
        if !roles.iter().any(|role| role == value) {
            roles.push(value.to_owned());
        }
    }
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect()
    }

    #[test]
    fn webpubsub_values_of_the_claim_only_once_each() {
        let identity = claims(&[
            (
                "roles",
                json!(["admin", "webpubsub.sendToGroup.lobby", "webpubsub.joinLeaveGroup.lobby"]),
            ),
            ("roles", json!("webpubsub.sendToGroup.lobby")),
            ("roles", json!(7)),
            ("groups", json!("webpubsub.sendToGroup")),
        ]);
        assert_eq!(
            from_claims("roles", &identity).unwrap(),
            ["webpubsub.sendToGroup.lobby", "webpubsub.joinLeaveGroup.lobby"]
        );
        assert!(from_claims("missing", &identity).unwrap().is_empty());
    }

    #[test]
    fn a_webpubsub_value_the_service_would_refuse_refuses_the_caller() {
        let identity = claims(&[("roles", json!(["webpubsub.sendToGroup.\u{0}"]))]);
        let error = from_claims("roles", &identity).unwrap_err();
        assert!(matches!(error, CallerError::NotARole { .. }));
        let message = error.to_string();
        assert!(
            message.starts_with("the caller's roles claim holds a value that names a group"),
            "{message}"
        );
        assert!(!message.contains('\u{0}'), "the value is not repeated");
    }
}
