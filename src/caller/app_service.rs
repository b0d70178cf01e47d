//! App Service authentication ("Easy Auth"): `X-MS-CLIENT-PRINCIPAL-ID` (the user id) and
//! `X-MS-CLIENT-PRINCIPAL` (base64 JSON with the claims). Trusted only where the platform
//! strips client copies of these headers, which the settings check at start.

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;
use serde_json::Value;

use super::{CallerPolicy, Identity, UserId, user_id_from};

#[derive(Deserialize)]
struct ClientPrincipal {
    #[serde(default)]
    claims: Vec<PrincipalClaim>,
}

#[derive(Deserialize)]
struct PrincipalClaim {
    typ: String,
    val: String,
}

/// The identity in the headers; `None` when there are none; `Err` with the reason when they
/// are not readable.
pub(super) fn identity(headers: &HeaderMap, policy: &CallerPolicy) -> Result<Option<Identity>, &'static str> {
    const BAD_PRINCIPAL: &str = "X-MS-CLIENT-PRINCIPAL is not valid base64-encoded JSON";
    let header = |name: &str| headers.get(name).map(|value| value.to_str());
    let principal_id = match header("x-ms-client-principal-id") {
        None => None,
        Some(Ok(id)) if !id.is_empty() => Some(id.to_owned()),
        Some(_) => return Err("X-MS-CLIENT-PRINCIPAL-ID is not valid"),
    };
    let claims = match header("x-ms-client-principal") {
        None => Vec::new(),
        Some(Ok(encoded)) => decode_client_principal(encoded).ok_or(BAD_PRINCIPAL)?,
        Some(Err(_)) => return Err(BAD_PRINCIPAL),
    };
    if principal_id.is_none() && claims.is_empty() {
        return Ok(None);
    }
    let user_id = match principal_id {
        // The claim, when one is named: several values stay several, never the principal id.
        Some(id) if !policy.user_id_claim_set => UserId::One(id),
        principal_id => user_id_from(policy, &claims).or(principal_id),
    };
    // No login end: the session's is not in the headers, and X-MS-TOKEN-*-EXPIRES-ON (with the
    // token store) is the provider's access token's, which /.auth/refresh renews.
    Ok(Some(Identity {
        user_id,
        claims,
        login_end: None,
    }))
}

/// Decodes App Service's `X-MS-CLIENT-PRINCIPAL`: base64 (padded or not) of
/// `{"auth_typ","claims":[{"typ","val"}],"name_typ","role_typ"}`.
pub fn decode_client_principal(encoded: &str) -> Option<Vec<(String, Value)>> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let json = LENIENT.decode(encoded.trim()).ok()?;
    let principal: ClientPrincipal = serde_json::from_slice(&json).ok()?;
    Some(
        principal
            .claims
            .into_iter()
            .map(|claim| (claim.typ, Value::String(claim.val)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn principal(json: &Value) -> String {
        base64::engine::general_purpose::STANDARD.encode(json.to_string())
    }

    fn user_id(principal_id: Option<&str>, claims: &[(&str, &str)], claim: Option<&str>) -> UserId {
        let mut headers = HeaderMap::new();
        if let Some(id) = principal_id {
            headers.insert("x-ms-client-principal-id", id.parse().unwrap());
        }
        let claims: Vec<Value> = claims
            .iter()
            .map(|(typ, val)| json!({"typ": typ, "val": val}))
            .collect();
        let encoded = principal(&json!({"auth_typ": "aad", "claims": claims}));
        headers.insert("x-ms-client-principal", encoded.parse().unwrap());
        let policy = CallerPolicy {
            user_id_claim: claim.unwrap_or("sub").to_owned(),
            user_id_claim_set: claim.is_some(),
            ..CallerPolicy::default()
        };
        identity(&headers, &policy).unwrap().unwrap().user_id
    }

    /// The principal's claims repeat a type once per value: the named user id claim with two
    /// values is several, never the first of them nor the principal id.
    #[test]
    fn a_repeated_user_id_claim_is_several_values() {
        let oid = "oid";
        let two = [(oid, "a"), (oid, "b"), ("name", "Ada")];
        assert_eq!(user_id(Some("principal"), &two, Some(oid)), UserId::Several);
        assert_eq!(user_id(None, &two, Some(oid)), UserId::Several);
        let same = [(oid, "a"), (oid, "a")];
        assert_eq!(user_id(Some("principal"), &same, Some(oid)), UserId::One("a".into()));
        assert_eq!(
            user_id(Some("principal"), &[("name", "Ada")], Some(oid)),
            UserId::One("principal".into())
        );
        // No claim named: the principal id, as before.
        assert_eq!(user_id(Some("principal"), &two, None), UserId::One("principal".into()));
        assert_eq!(user_id(None, &[("sub", "a"), ("sub", "b")], None), UserId::Several);
    }

    #[test]
    fn client_principal_decodes_padded_or_not() {
        let encoded = principal(&json!({
            "auth_typ": "aad",
            "claims": [{"typ": "name", "val": "Ada"}, {"typ": "roles", "val": "admin"}, {"typ": "roles", "val": "ops"}],
            "name_typ": "name",
            "role_typ": "roles"
        }));
        let claims = decode_client_principal(&encoded).unwrap();
        assert_eq!(claims.len(), 3);
        assert_eq!(claims[0], ("name".to_owned(), json!("Ada")));
        assert_eq!(decode_client_principal(encoded.trim_end_matches('=')).unwrap(), claims);
        assert!(decode_client_principal("not base64!").is_none());
        assert!(decode_client_principal(&base64::engine::general_purpose::STANDARD.encode("{not json")).is_none());
    }
}
