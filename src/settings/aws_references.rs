//! Connection strings kept in AWS, as the settings spell them: a connection-string setting
//! whose value is the ARN of a Secrets Manager secret (`arn:aws:secretsmanager:…`) or of an SSM
//! parameter (`arn:aws:ssm:…:parameter/…`) is a reference, read at start and again every
//! `SIGNALR_SECRET_REFRESH_SECONDS` by `crate::aws`.

use std::time::Duration;

use super::connection_names::ConnectionNames;
use super::environment::{Environment, SettingError};
use super::table::SECRET_REFRESH_SECONDS;

/// Where a value lives in AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretReference {
    /// A Secrets Manager secret's `SecretString`.
    SecretsManager { arn: String, region: String },
    /// An SSM parameter, decrypted.
    Parameter { arn: String, region: String },
}

impl SecretReference {
    /// `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>` or
    /// `arn:<partition>:ssm:<region>:<account>:parameter/<name>`.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let mut parts = value.splitn(6, ':');
        let (arn, _partition, service, region, _account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        if arn != "arn" || region.is_empty() {
            return None;
        }
        match service {
            "secretsmanager" if resource.starts_with("secret:") && resource.len() > "secret:".len() => {
                Some(Self::SecretsManager {
                    arn: value.to_owned(),
                    region: region.to_owned(),
                })
            }
            "ssm" if resource.starts_with("parameter/") && resource.len() > "parameter/".len() => {
                Some(Self::Parameter {
                    arn: value.to_owned(),
                    region: region.to_owned(),
                })
            }
            _ => None,
        }
    }

    /// The ARN as written.
    pub fn arn(&self) -> &str {
        match self {
            Self::SecretsManager { arn, .. } | Self::Parameter { arn, .. } => arn,
        }
    }
}

/// The variables (by index) among the connection-string settings (the names
/// [`ConnectionNames`] lists, the one list the endpoint settings read too) whose value is a
/// reference to AWS.
pub(crate) fn aws_references(env: &Environment) -> Result<Vec<(usize, SecretReference)>, SettingError> {
    let names = ConnectionNames::both(env)?;
    Ok(env
        .vars()
        .iter()
        .enumerate()
        .filter(|(_, (name, _))| names.iter().any(|names| names.holds_connection_string(name)))
        .filter_map(|(index, (_, value))| SecretReference::parse(value).map(|reference| (index, reference)))
        .collect())
}

/// `SIGNALR_SECRET_REFRESH_SECONDS`: how often values read from AWS are read again; `None` when
/// 0 (off).
pub(super) fn refresh_period(env: &Environment) -> Result<Option<Duration>, SettingError> {
    let seconds = env.whole_number(&SECRET_REFRESH_SECONDS, 0..=86_400, "seconds")?;
    Ok((seconds > 0).then(|| Duration::from_secs(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_recognised() {
        assert_eq!(
            SecretReference::parse("arn:aws:secretsmanager:eu-west-1:123456789012:secret:signalr-AbCdEf"),
            Some(SecretReference::SecretsManager {
                arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:signalr-AbCdEf".into(),
                region: "eu-west-1".into()
            })
        );
        assert_eq!(
            SecretReference::parse("arn:aws-cn:ssm:cn-north-1:123456789012:parameter/signalr/cs"),
            Some(SecretReference::Parameter {
                arn: "arn:aws-cn:ssm:cn-north-1:123456789012:parameter/signalr/cs".into(),
                region: "cn-north-1".into()
            })
        );
        for not in [
            "Endpoint=https://a;AccessKey=k",
            "arn:aws:s3:::bucket/key",
            "arn:aws:secretsmanager:eu-west-1:1:secret:",
            "arn:aws:ssm:eu-west-1:1:document/x",
            "arn:aws:ssm::1:parameter/x",
        ] {
            assert_eq!(SecretReference::parse(not), None, "{not}");
        }
    }

    #[test]
    fn references_are_read_under_either_services_names_only() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cs-AbCdEf";
        let env = Environment::new(
            [
                ("WebPubSubConnectionString", arn),
                ("CUSTOMCONNSTR_AzureSignalRConnectionString", arn),
                ("SOME_OTHER_SETTING", arn),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        let found: Vec<usize> = aws_references(&env).unwrap().into_iter().map(|(at, _)| at).collect();
        assert_eq!(found, [0, 1]);
    }

    #[test]
    fn the_refresh_period_is_five_minutes_unless_set_and_zero_turns_it_off() {
        let period = |vars: &[(&str, &str)]| {
            refresh_period(&Environment::new(
                vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            ))
        };
        assert_eq!(period(&[]), Ok(Some(Duration::from_secs(300))));
        assert_eq!(
            period(&[("SIGNALR_SECRET_REFRESH_SECONDS", "1")]),
            Ok(Some(Duration::from_secs(1)))
        );
        assert_eq!(period(&[("SIGNALR_SECRET_REFRESH_SECONDS", "0")]), Ok(None));
        assert_eq!(
            period(&[("SIGNALR_SECRET_REFRESH_SECONDS", "86400")]),
            Ok(Some(Duration::from_secs(86_400)))
        );
        for bad in ["86401", "-1", "5m"] {
            let error = period(&[("SIGNALR_SECRET_REFRESH_SECONDS", bad)]).unwrap_err();
            assert_eq!(error.setting, "SIGNALR_SECRET_REFRESH_SECONDS", "{bad}");
        }
    }
}
