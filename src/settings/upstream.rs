//! Calls out of the function: how Entra endpoints get tokens, how long calls to Entra and the
//! service may take, and how often endpoints' health is probed.

use std::time::Duration;

use super::environment::{Environment, SettingError, fail};
use super::table::{
    CLAIMS, COPY_CLAIMS, ENTRA_MODE, HEALTH_CHECK_INTERVAL_MS, UPSTREAM_DEADLINE_MS, UPSTREAM_TIMEOUT_MS,
};
use crate::endpoints::{Authentication, ServiceEndpoint};
use crate::service::UpstreamLimits;
use crate::tokens::EntraMode;

/// `SIGNALR_ENTRA_MODE`; generate-token mode refuses settings that add custom claims, which
/// the service's generateToken cannot carry.
pub(super) fn entra_mode(env: &Environment, endpoints: &[ServiceEndpoint]) -> Result<EntraMode, SettingError> {
    let mode = match env.value_or_default(&ENTRA_MODE) {
        Some(mode) if mode.eq_ignore_ascii_case(EntraMode::GenerateToken.name()) => EntraMode::GenerateToken,
        Some(mode) if mode.eq_ignore_ascii_case(EntraMode::AccessKey.name()) => EntraMode::AccessKey,
        _ => return fail(ENTRA_MODE.name, "must be generate-token or access-key"),
    };
    let uses_entra = endpoints
        .iter()
        .any(|endpoint| matches!(endpoint.auth(), Authentication::MicrosoftEntra(_)));
    if mode == EntraMode::GenerateToken && uses_entra {
        for custom in [CLAIMS, COPY_CLAIMS] {
            if env.value(&custom).is_some() {
                return fail(
                    custom.name,
                    "custom claims cannot be added to tokens the service makes (generateToken); set SIGNALR_ENTRA_MODE=access-key to sign tokens with claims locally",
                );
            }
        }
    }
    Ok(mode)
}

/// `SIGNALR_UPSTREAM_TIMEOUT_MS` and `SIGNALR_UPSTREAM_DEADLINE_MS`.
pub(super) fn upstream_limits(env: &Environment) -> Result<UpstreamLimits, SettingError> {
    let millis = |setting| -> Result<Duration, SettingError> {
        Ok(Duration::from_millis(env.whole_number(
            setting,
            1..=120_000,
            "milliseconds",
        )?))
    };
    Ok(UpstreamLimits {
        attempt_timeout: millis(&UPSTREAM_TIMEOUT_MS)?,
        deadline: millis(&UPSTREAM_DEADLINE_MS)?,
    })
}

/// `SIGNALR_HEALTH_CHECK_INTERVAL_MS`.
pub(super) fn health_interval(env: &Environment) -> Result<Duration, SettingError> {
    let ms = env.whole_number(&HEALTH_CHECK_INTERVAL_MS, 100..=3_600_000, "milliseconds")?;
    Ok(Duration::from_millis(ms))
}
