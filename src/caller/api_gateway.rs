//! API Gateway's authorizer, as `lambda_http` puts it in the request context: an HTTP API JWT
//! authorizer's `claims` (and a Lambda authorizer's fields), a REST API's Cognito `claims`, or
//! a REST API Lambda authorizer's context. API Gateway writes it after its authorizer ran; a
//! client cannot set it. A JWT authorizer's `exp` is when the caller's login ends; a Lambda
//! authorizer's context says nothing of it.

use axum::http::Extensions;
use lambda_http::request::RequestContext;
use serde_json::Value;

use super::{CallerPolicy, Identity, expiry_seconds, login_end_from, user_id_from};

/// The identity in the request context, if an authorizer left one.
pub(super) fn identity(extensions: &Extensions, policy: &CallerPolicy) -> Option<Identity> {
    let context = extensions.get::<RequestContext>()?;
    let mut claims: Vec<(String, Value)> = Vec::new();
    let mut principal = None;
    let mut login_end = None;
    match context {
        RequestContext::ApiGatewayV2(context) => {
            let authorizer = context.authorizer.as_ref()?;
            if let Some(jwt) = &authorizer.jwt {
                claims.extend(jwt.claims.iter().map(|(k, v)| (k.clone(), http_api_claim(v))));
                login_end = login_end_from(&claims);
            }
            claims.extend(authorizer.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        RequestContext::ApiGatewayV1(context) => {
            let fields = &context.authorizer.fields;
            match fields.get("claims") {
                Some(Value::Object(jwt_claims)) => {
                    login_end = jwt_claims.get("exp").and_then(rest_api_expiry);
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
    Some(Identity {
        user_id,
        claims,
        login_end,
    })
}

/// A claim as an HTTP API JWT authorizer passes it: a string, in which an array of the token
/// is flattened to its items between brackets, separated by spaces (`["admins","readers"]`
/// arrives as `"[admins readers]"`); read back as the array the caller meant.
pub(super) fn http_api_claim(value: &str) -> Value {
    match value.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
        Some(items) => Value::Array(items.split_whitespace().map(Value::from).collect()),
        None => Value::from(value),
    }
}

/// `exp` of a REST API authorizer's claims: a number (a JWT authorizer keeps the token's JSON
/// types), digits, or the date a Cognito user pool authorizer writes
/// (`Wed Nov 06 07:36:54 UTC 2019`); in Unix seconds.
fn rest_api_expiry(exp: &Value) -> Option<u64> {
    expiry_seconds(exp).or_else(|| {
        // The same date as asctime's (`Wed Nov  6 07:36:54 2019`), with the zone before the
        // year; httpdate (already in the tree, through hyper) reads asctime.
        let (date_time, year) = exp.as_str()?.rsplit_once(" UTC ")?;
        let when = httpdate::parse_http_date(&format!("{date_time} {year}")).ok()?;
        when.duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|since| since.as_secs())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::caller::UserId;

    #[test]
    fn http_api_arrays_are_read_back_as_arrays() {
        assert_eq!(http_api_claim("[admins readers]"), json!(["admins", "readers"]));
        assert_eq!(http_api_claim("[solo]"), json!(["solo"]));
        assert_eq!(http_api_claim("[]"), json!([]));
        assert_eq!(http_api_claim("admins"), json!("admins"));
        assert_eq!(http_api_claim("[not closed"), json!("[not closed"));
        assert_eq!(http_api_claim("1700000000"), json!("1700000000"));
    }

    /// The request context `lambda_http` makes of an event with this authorizer, HTTP API
    /// (payload 2.0) or REST API (1.0).
    fn context(authorizer: Value, http_api: bool) -> Extensions {
        let event = if http_api {
            json!({
                "version": "2.0", "routeKey": "$default", "rawPath": "/api/chat/negotiate", "rawQueryString": "",
                "headers": {"host": "abc.execute-api.eu-west-1.amazonaws.com"},
                "requestContext": {
                    "accountId": "1", "apiId": "abc", "domainName": "abc.execute-api.eu-west-1.amazonaws.com",
                    "domainPrefix": "abc", "requestId": "r", "routeKey": "$default", "stage": "$default",
                    "time": "23/Nov/2026:13:00:00 +0000", "timeEpoch": 0,
                    "http": {"method": "POST", "path": "/api/chat/negotiate", "protocol": "HTTP/1.1",
                        "sourceIp": "203.0.113.9", "userAgent": "t"},
                    "authorizer": authorizer
                },
                "isBase64Encoded": false
            })
        } else {
            json!({
                "resource": "/api/{hub}/negotiate", "path": "/api/chat/negotiate", "httpMethod": "POST",
                "headers": {"Host": "abc.execute-api.eu-west-1.amazonaws.com"}, "multiValueHeaders": {},
                "requestContext": {
                    "accountId": "1", "apiId": "abc", "resourceId": "r", "stage": "prod", "requestId": "r",
                    "resourcePath": "/api/{hub}/negotiate", "httpMethod": "POST", "path": "/prod/api/chat/negotiate",
                    "protocol": "HTTP/1.1", "requestTimeEpoch": 0, "identity": {"sourceIp": "203.0.113.9"},
                    "authorizer": authorizer
                },
                "body": null, "isBase64Encoded": false
            })
        };
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        request.into_parts().0.extensions
    }

    fn user_id(authorizer: Value, http_api: bool, claim: &str) -> UserId {
        let policy = CallerPolicy {
            user_id_claim: claim.to_owned(),
            ..CallerPolicy::default()
        };
        identity(&context(authorizer, http_api), &policy).unwrap().user_id
    }

    /// Every authorizer: an array of user ids (flattened by an HTTP API JWT authorizer, or a
    /// Lambda authorizer's JSON) is several values, never one of them and never the principal.
    #[test]
    fn a_user_id_claim_with_several_values_is_several_from_every_authorizer() {
        let jwt = |sub: &str| json!({"jwt": {"claims": {"sub": sub}, "scopes": null}});
        assert_eq!(user_id(jwt("[alice mallory]"), true, "sub"), UserId::Several);
        assert_eq!(user_id(jwt("[alice]"), true, "sub"), UserId::One("alice".into()));
        assert_eq!(user_id(jwt("alice"), true, "sub"), UserId::One("alice".into()));
        let lambda = |id: Value| json!({"lambda": {"userId": id}});
        assert_eq!(user_id(lambda(json!(["a", "b"])), true, "userId"), UserId::Several);
        assert_eq!(user_id(lambda(json!("a")), true, "userId"), UserId::One("a".into()));
        let rest = |sub: Value| json!({"claims": {"sub": sub}, "principalId": "principal"});
        assert_eq!(user_id(rest(json!(["a", "b"])), false, "sub"), UserId::Several);
        assert_eq!(user_id(rest(json!("a")), false, "sub"), UserId::One("a".into()));
        assert_eq!(
            user_id(json!({"principalId": "p", "plan": "pro"}), false, "sub"),
            UserId::One("p".into()),
            "no claim: the principal"
        );
    }

    #[test]
    fn rest_api_expiry_in_every_form() {
        assert_eq!(rest_api_expiry(&json!(1_573_025_814)), Some(1_573_025_814));
        assert_eq!(rest_api_expiry(&json!("1573025814")), Some(1_573_025_814));
        // 2019-11-06T07:36:54Z
        assert_eq!(
            rest_api_expiry(&json!("Wed Nov 06 07:36:54 UTC 2019")),
            Some(1_573_025_814)
        );
        assert_eq!(rest_api_expiry(&json!("Wed Nov 06 07:36:54 PST 2019")), None);
        assert_eq!(rest_api_expiry(&json!("Wed Nov 06 07:36:54 UTC")), None);
        assert_eq!(rest_api_expiry(&json!("soon")), None);
        assert_eq!(rest_api_expiry(&json!(null)), None);
    }
}
