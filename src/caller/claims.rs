//! Which of the caller's claims reach the token: those `SIGNALR_COPY_CLAIMS` names, then the
//! fixed `SIGNALR_CLAIMS`; reserved names and the token's own, in any case, renamed
//! `asrs.u.<name>` (SDK), a name that repeats merged into a JSON array — except `sub`, which
//! only the first keeps (SDK).

use serde_json::{Map, Value};

use super::CallerPolicy;
use crate::tokens::custom_claim_name;

/// `SIGNALR_COPY_CLAIMS` as `(caller's claim, name in the token)`: each name renamed at start
/// as the token needs it, so that no copied claim, whatever its case, sits beside the token's
/// own or a registered name.
pub fn copied_claims<'a>(
    names: impl IntoIterator<Item = &'a str>,
    unique_claim: Option<&str>,
) -> Vec<(String, String)> {
    names
        .into_iter()
        .map(|name| (name.to_owned(), custom_claim_name(name, unique_claim).into_owned()))
        .collect()
}

/// The custom claims of a caller's token, from the claims a trusted source vouched for.
pub fn token_claims(policy: &CallerPolicy, caller_claims: &[(String, Value)]) -> Vec<(String, Value)> {
    let mut merged: Map<String, Value> = Map::new();
    let mut order: Vec<String> = Vec::new();
    // Fixed and copied claims' names were checked and renamed at start.
    let copied = caller_claims.iter().filter_map(|(name, value)| {
        let (_, token_name) = policy.copy_claims.iter().find(|(wanted, _)| wanted == name)?;
        Some((token_name.clone(), value.clone()))
    });
    for (name, value) in copied.chain(policy.fixed_claims.iter().cloned()) {
        if name == SUB {
            for (name, value) in split_sub(merged.contains_key(SUB), value) {
                merge(&mut merged, &mut order, name, value);
            }
            continue;
        }
        merge(&mut merged, &mut order, name, value);
    }
    order
        .into_iter()
        .filter_map(|name| merged.remove(&name).map(|value| (name, value)))
        .collect()
}

/// `sub`, which the service takes as the user's name identifier when there is no user id.
const SUB: &str = "sub";
/// Where the other values of a `sub` go.
const USER_SUB: &str = "asrs.u.sub";

/// The claims for `sub` values: the first `sub` of a token stays `sub`, every other one
/// becomes `asrs.u.sub` (Azure/azure-signalr, `ClaimsUtility.BuildJwtClaims`: "only the first
/// sub is preserved as sub, others will be renamed as user claims"). An array stands for one
/// claim per item, as the SDK's claims are.
fn split_sub(first_taken: bool, value: Value) -> Vec<(String, Value)> {
    let values = match value {
        Value::Array(values) => values,
        one => vec![one],
    };
    values
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            let name = if index == 0 && !first_taken { SUB } else { USER_SUB };
            (name.to_owned(), value)
        })
        .collect()
}

/// Adds a claim; a name already there becomes an array of both values (arrays flattened).
fn merge(merged: &mut Map<String, Value>, order: &mut Vec<String>, name: String, value: Value) {
    match merged.get_mut(&name) {
        None => {
            order.push(name.clone());
            merged.insert(name, value);
        }
        Some(existing) => {
            let first = existing.take();
            let mut values = match first {
                Value::Array(values) => values,
                other => vec![other],
            };
            match value {
                Value::Array(more) => values.extend(more),
                one => values.push(one),
            }
            *existing = Value::Array(values);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn copied_claims_are_filtered_renamed_and_merged() {
        let policy = CallerPolicy {
            copy_claims: copied_claims(["roles", "email", "aud", "nameid"], Some("uniqueToken")),
            fixed_claims: vec![("tier".into(), json!("gold")), ("roles".into(), json!("reader"))],
            unique_claim: Some("uniqueToken".into()),
            ..CallerPolicy::default()
        };
        let caller_claims = vec![
            ("roles".into(), json!("admin")),
            ("email".into(), json!("a@example.com")),
            ("roles".into(), json!("ops")),
            ("secret".into(), json!("not copied")),
            ("aud".into(), json!("their-api")),
            ("nameid".into(), json!("spoof")),
        ];
        let claims = token_claims(&policy, &caller_claims);
        assert_eq!(
            claims,
            vec![
                ("roles".to_owned(), json!(["admin", "ops", "reader"])),
                ("email".to_owned(), json!("a@example.com")),
                ("asrs.u.aud".to_owned(), json!("their-api")),
                ("asrs.u.nameid".to_owned(), json!("spoof")),
                ("tier".to_owned(), json!("gold")),
            ]
        );
    }

    #[test]
    fn repeated_arrays_and_values_merge_into_one_flat_array() {
        let policy = CallerPolicy {
            copy_claims: copied_claims(["roles"], None),
            fixed_claims: vec![("roles".into(), json!(["x", "y"]))],
            ..CallerPolicy::default()
        };
        let caller_claims = vec![("roles".into(), json!(["a", "b"])), ("roles".into(), json!("c"))];
        assert_eq!(
            token_claims(&policy, &caller_claims),
            vec![("roles".to_owned(), json!(["a", "b", "c", "x", "y"]))]
        );
    }

    #[test]
    fn only_the_first_sub_stays_sub() {
        let policy = CallerPolicy {
            copy_claims: copied_claims(["sub", "roles"], None),
            fixed_claims: vec![("sub".into(), json!("fixed-sub"))],
            ..CallerPolicy::default()
        };
        let caller_claims = vec![
            ("sub".into(), json!("first")),
            ("roles".into(), json!("a")),
            ("sub".into(), json!("second")),
            ("roles".into(), json!("b")),
        ];
        assert_eq!(
            token_claims(&policy, &caller_claims),
            vec![
                ("sub".to_owned(), json!("first")),
                ("roles".to_owned(), json!(["a", "b"])),
                ("asrs.u.sub".to_owned(), json!(["second", "fixed-sub"])),
            ]
        );
        // One sub: as it was. An array of subs: its first item is the sub.
        let one = vec![("sub".into(), json!("only"))];
        assert_eq!(token_claims(&policy, &one)[0], ("sub".to_owned(), json!("only")));
        let fixed_array = CallerPolicy {
            fixed_claims: vec![("sub".into(), json!(["x", "y", "z"]))],
            ..CallerPolicy::default()
        };
        assert_eq!(
            token_claims(&fixed_array, &[]),
            vec![
                ("sub".to_owned(), json!("x")),
                ("asrs.u.sub".to_owned(), json!(["y", "z"])),
            ]
        );
        let empty = CallerPolicy {
            fixed_claims: vec![("sub".into(), json!([]))],
            ..CallerPolicy::default()
        };
        assert!(token_claims(&empty, &[]).is_empty());
    }

    /// Settings refuse to copy the token's own names; should a policy list them anyway, a
    /// copied claim with such a name, in any case, is renamed, never written as itself.
    #[test]
    fn copied_claims_never_take_the_tokens_own_names_in_any_case() {
        let uri = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier";
        let names = ["ASRS.S.UID", "NameId", uri, "UNIQUETOKEN", "Aud", "NONCE"];
        let policy = CallerPolicy {
            copy_claims: copied_claims(names, Some("uniqueToken")),
            unique_claim: Some("uniqueToken".into()),
            ..CallerPolicy::default()
        };
        let caller_claims: Vec<(String, Value)> = names.iter().map(|name| ((*name).to_owned(), json!("x"))).collect();
        let claims = token_claims(&policy, &caller_claims);
        let got: Vec<&str> = claims.iter().map(|(name, _)| name.as_str()).collect();
        let expected: Vec<String> = names.iter().map(|name| format!("asrs.u.{name}")).collect();
        assert_eq!(got, expected);
    }
}
