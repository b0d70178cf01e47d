//! What every token gets: its lifetime and the unique-token claim's name.

use super::environment::{Environment, SettingError, fail};
use super::table::{TOKEN_LIFETIME_SECONDS, UNIQUE_CLAIM};
use crate::tokens::{TokenPolicy, may_name_unique_claim};

/// `SIGNALR_TOKEN_LIFETIME_SECONDS` and `SIGNALR_UNIQUE_CLAIM` (empty: no unique claim).
pub(super) fn token_policy(env: &Environment) -> Result<TokenPolicy, SettingError> {
    let lifetime_secs = env.whole_number(&TOKEN_LIFETIME_SECONDS, 1..=86_400, "seconds")?;
    let unique_claim = match env.get(&UNIQUE_CLAIM).map(|(_, value)| value.trim()) {
        None => UNIQUE_CLAIM.default_value().map(str::to_owned),
        Some("") => None,
        Some(name) if !may_name_unique_claim(name) => {
            return fail(
                UNIQUE_CLAIM.name,
                "names a claim the token already uses; choose another name, or leave it empty to send no unique claim",
            );
        }
        Some(name) => Some(name.to_owned()),
    };
    Ok(TokenPolicy {
        lifetime_secs,
        unique_claim,
    })
}
