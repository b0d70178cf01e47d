//! API Gateway's authorizer, as `lambda_http` puts it in the request context: an HTTP API JWT
//! authorizer's `claims` (and a Lambda authorizer's fields), a REST API's Cognito `claims`, or
//! a REST API Lambda authorizer's context. API Gateway writes it after its authorizer ran; a
//! client cannot set it.

use axum::http::Extensions;
use lambda_http::request::RequestContext;
use serde_json::Value;

use super::{CallerPolicy, Identity, user_id_from};

/// The identity in the request context, if an authorizer left one.
pub(super) fn identity(extensions: &Extensions, policy: &CallerPolicy) -> Option<Identity> {
    let context = extensions.get::<RequestContext>()?;
    let mut claims: Vec<(String, Value)> = Vec::new();
    let mut principal = None;
    match context {
        RequestContext::ApiGatewayV2(context) => {
            let authorizer = context.authorizer.as_ref()?;
            if let Some(jwt) = &authorizer.jwt {
                claims.extend(jwt.claims.iter().map(|(k, v)| (k.clone(), http_api_claim(v))));
            }
            claims.extend(authorizer.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        RequestContext::ApiGatewayV1(context) => {
            let fields = &context.authorizer.fields;
            match fields.get("claims") {
                Some(Value::Object(jwt_claims)) => {
                    claims.extend(jwt_claims.iter().map(|(k, v)| (k.clone(), v.clone())))
                }
                _ => claims.extend(
                    fields
                        .iter()
                        .filter(|(k, _)| !matches!(k.as_str(), "principalId" | "integrationLatency" | "claims"))
                        .map(|(k, v)| (k.clone(), v.clone())),
                ),
            }
            principal = fields.get("principalId").and_then(Value::as_str).map(str::to_owned);
        }
        _ => return None,
    }
    claims.sort_by(|a, b| a.0.cmp(&b.0));
    if claims.is_empty() && principal.is_none() {
        return None;
    }
    let user_id = user_id_from(policy, &claims).or(principal);
    Some(Identity { user_id, claims })
}

/// A claim as an HTTP API JWT authorizer passes it: a string, in which an array of the token
/// is flattened to its items between brackets, separated by spaces (`["admins","readers"]`
/// arrives as `"[admins readers]"`); read back as the array the caller meant.
fn http_api_claim(value: &str) -> Value {
    match value.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
        Some(items) => Value::Array(items.split_whitespace().map(Value::from).collect()),
        None => Value::from(value),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn http_api_arrays_are_read_back_as_arrays() {
        assert_eq!(http_api_claim("[admins readers]"), json!(["admins", "readers"]));
        assert_eq!(http_api_claim("[solo]"), json!(["solo"]));
        assert_eq!(http_api_claim("[]"), json!([]));
        assert_eq!(http_api_claim("admins"), json!("admins"));
        assert_eq!(http_api_claim("[not closed"), json!("[not closed"));
        assert_eq!(http_api_claim("1700000000"), json!("1700000000"));
    }
}
