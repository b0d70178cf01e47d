//! Which rules of the service's application firewall the tokens can serve: a rule skips a
//! connection whose token lacks the claim it counts by (MicrosoftDocs/azure-docs,
//! `articles/azure-signalr/signalr-howto-configure-application-firewall.md`). The user-id rules
//! need a user id, the JWT-signature rules a random claim that tells a caller's tokens apart,
//! the custom-claim rules the claims they name.

use std::fmt::Write as _;

use crate::caller::AuthSource;
use crate::endpoints::{Authentication, display_name};
use crate::settings::Settings;
use crate::settings::table::{AUTH, CLAIMS, COPY_CLAIMS, DEV_QUERY_USER, ENTRA_MODE, UNIQUE_CLAIM};
use crate::tokens::EntraMode;

/// Writes the firewall section: one line per kind of rule.
pub(super) fn report(out: &mut String, settings: &Settings) {
    let _ = writeln!(out, "\napplication firewall (the rules these tokens can serve):");
    let _ = writeln!(
        out,
        "  ThrottleByUserIdRule, TrafficThrottleByUserIdRule: {}",
        user_id(settings)
    );
    let _ = writeln!(
        out,
        "  ThrottleByJwtSignatureRule, TrafficThrottleByJwtSignatureRule: {}",
        signature(settings)
    );
    let _ = writeln!(
        out,
        "  ThrottleByJwtCustomClaimRule, TrafficThrottleByJwtCustomClaimRule: {}",
        custom_claims(settings)
    );
}

/// The names of the endpoints whose tokens the service makes (Entra, generate-token mode).
fn service_made(settings: &Settings) -> Vec<&str> {
    if settings.entra_mode != EntraMode::GenerateToken {
        return Vec::new();
    }
    settings
        .endpoints
        .iter()
        .filter(|endpoint| matches!(endpoint.auth(), Authentication::MicrosoftEntra(_)))
        .map(|endpoint| display_name(endpoint.name()))
        .collect()
}

fn user_id(settings: &Settings) -> String {
    let caller = &settings.caller;
    let sources: Vec<&str> = caller
        .sources
        .iter()
        .filter_map(|source| match source {
            AuthSource::AppService => Some("app-service"),
            AuthSource::ApiGateway => Some("api-gateway"),
            AuthSource::Oidc => Some("oidc"),
            AuthSource::Anonymous => None,
        })
        .collect();
    if !sources.is_empty() {
        let unknown = if caller.required {
            ""
        } else {
            "; a caller without a login has none, and the rules skip its connections"
        };
        return format!(
            "yes: the user id comes from {} ({}){unknown}",
            sources.join(", "),
            AUTH.name
        );
    }
    if caller.dev_query_user {
        return format!(
            "in development only: the user id is the caller's ?userId= ({})",
            DEV_QUERY_USER.name
        );
    }
    format!(
        "no: no identity source gives a user id ({} is anonymous), so the rules skip every connection; list \
        app-service, api-gateway or oidc in {}",
        AUTH.name, AUTH.name
    )
}

fn signature(settings: &Settings) -> String {
    let Some(claim) = &settings.token_policy.unique_claim else {
        return format!(
            "no: tokens carry no unique claim ({} is empty), so tokens made for one caller in the same second are \
            identical and their connections counted together",
            UNIQUE_CLAIM.name
        );
    };
    let made = service_made(settings);
    let fix = format!("set {}=access-key to sign them here", ENTRA_MODE.name);
    if made.is_empty() {
        format!("yes: every token carries a fresh {claim} claim ({})", UNIQUE_CLAIM.name)
    } else if made.len() == settings.endpoints.len() {
        format!("no: the service makes the tokens (Microsoft Entra ID, generate-token mode), without {claim}; {fix}")
    } else {
        format!(
            "partly: the tokens of {} are made by the service (Microsoft Entra ID, generate-token mode), without \
            {claim}; {fix}",
            made.join(", ")
        )
    }
}

fn custom_claims(settings: &Settings) -> String {
    let caller = &settings.caller;
    let mut names: Vec<&str> = Vec::new();
    for name in caller
        .copy_claims
        .iter()
        .map(|(_, in_token)| in_token)
        .chain(caller.fixed_claims.iter().map(|(name, _)| name))
    {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    if names.is_empty() {
        let settings_named = format!("{} or {}", COPY_CLAIMS.name, CLAIMS.name);
        return if service_made(settings).is_empty() {
            format!("no: tokens carry no custom claim; name some in {settings_named}")
        } else {
            format!(
                "no: the service makes the tokens (Microsoft Entra ID, generate-token mode), without custom claims; \
                set {}=access-key to add some ({settings_named})",
                ENTRA_MODE.name
            )
        };
    }
    let copied = if caller.copy_claims.is_empty() {
        ""
    } else {
        " (a copied claim only when the caller's credential has it)"
    };
    format!("yes, with claimName {}{copied}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(vars: &[(&str, &str)]) -> String {
        let settings = Settings::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap();
        let mut out = String::new();
        report(&mut out, &settings);
        out
    }

    fn rule<'a>(section: &'a str, rule: &str) -> &'a str {
        section
            .lines()
            .find_map(|line| line.strip_prefix(&format!("  {rule}, Traffic{rule}: ")))
            .unwrap_or_else(|| panic!("no {rule} in {section}"))
    }

    #[test]
    fn anonymous_callers_serve_the_signature_rule_only() {
        let out = section(&[]);
        assert!(rule(&out, "ThrottleByUserIdRule").starts_with("no: no identity source gives a user id"));
        assert_eq!(
            rule(&out, "ThrottleByJwtSignatureRule"),
            "yes: every token carries a fresh uniqueToken claim (SIGNALR_UNIQUE_CLAIM)"
        );
        assert_eq!(
            rule(&out, "ThrottleByJwtCustomClaimRule"),
            "no: tokens carry no custom claim; name some in SIGNALR_COPY_CLAIMS or SIGNALR_CLAIMS"
        );
        let without = section(&[("SIGNALR_UNIQUE_CLAIM", "")]);
        assert!(rule(&without, "ThrottleByJwtSignatureRule").starts_with("no: tokens carry no unique claim"));
        let dev = section(&[("SIGNALR_DEV_QUERY_USER", "true")]);
        assert!(rule(&dev, "ThrottleByUserIdRule").starts_with("in development only"));
    }

    #[test]
    fn an_identity_source_and_claims_serve_every_rule() {
        let out = section(&[
            ("SIGNALR_AUTH", "oidc,anonymous"),
            ("SIGNALR_OIDC_ISSUER", "https://login.example.com"),
            ("SIGNALR_OIDC_AUDIENCE", "api"),
            ("SIGNALR_COPY_CLAIMS", "tier"),
            ("SIGNALR_CLAIMS", r#"{"plan":"free"}"#),
        ]);
        assert_eq!(
            rule(&out, "ThrottleByUserIdRule"),
            "yes: the user id comes from oidc (SIGNALR_AUTH); a caller without a login has none, and the rules skip \
            its connections"
        );
        assert_eq!(
            rule(&out, "ThrottleByJwtCustomClaimRule"),
            "yes, with claimName tier, plan (a copied claim only when the caller's credential has it)"
        );
    }

    #[test]
    fn tokens_the_service_makes_serve_neither_claim_rule() {
        let out = section(&[(
            "AzureSignalRConnectionString",
            "Endpoint=https://demo.service.signalr.net;AuthType=azure.msi;Version=1.0;",
        )]);
        assert!(
            rule(&out, "ThrottleByJwtSignatureRule").starts_with(
                "no: the service makes the tokens (Microsoft Entra ID, generate-token mode), without uniqueToken"
            ),
            "{out}"
        );
        assert!(rule(&out, "ThrottleByJwtCustomClaimRule").contains("set SIGNALR_ENTRA_MODE=access-key"));
        let signed_here = section(&[
            (
                "AzureSignalRConnectionString",
                "Endpoint=https://demo.service.signalr.net;AuthType=azure.msi;Version=1.0;",
            ),
            ("SIGNALR_ENTRA_MODE", "access-key"),
        ]);
        assert!(rule(&signed_here, "ThrottleByJwtSignatureRule").starts_with("yes"));
    }
}
