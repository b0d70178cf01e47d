//! Which of the caller's claims reach the token: those `SIGNALR_COPY_CLAIMS` names, then the
//! fixed `SIGNALR_CLAIMS`; reserved names renamed `asrs.u.<name>` (SDK), the token's own names
//! never taken, and a name that repeats merged into a JSON array.

use serde_json::{Map, Value};

use super::CallerPolicy;
use crate::tokens::{custom_claim_name, is_system_claim};

/// The custom claims of a caller's token, from the claims a trusted source vouched for.
pub fn token_claims(policy: &CallerPolicy, caller_claims: &[(String, Value)]) -> Vec<(String, Value)> {
    let unique_claim = policy.unique_claim.as_deref();
    let mut merged: Map<String, Value> = Map::new();
    let mut order: Vec<String> = Vec::new();
    let copied = caller_claims
        .iter()
        .filter(|(name, _)| policy.copy_claims.iter().any(|wanted| wanted == name))
        .map(|(name, value)| (custom_claim_name(name).into_owned(), value.clone()));
    for (name, value) in copied.chain(policy.fixed_claims.iter().cloned()) {
        if is_system_claim(&name, unique_claim) {
            continue;
        }
        match merged.get_mut(&name) {
            None => {
                order.push(name.clone());
                merged.insert(name, value);
            }
            Some(Value::Array(values)) if !matches!(value, Value::Array(_)) => values.push(value),
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
    order
        .into_iter()
        .filter_map(|name| merged.remove(&name).map(|value| (name, value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn copied_claims_are_filtered_renamed_and_merged() {
        let policy = CallerPolicy {
            copy_claims: vec!["roles".into(), "email".into(), "aud".into(), "nameid".into()],
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
                ("tier".to_owned(), json!("gold")),
            ]
        );
    }
}
