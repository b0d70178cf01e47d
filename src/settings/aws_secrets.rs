//! Connection strings kept in AWS: a connection-string setting whose value is the ARN of a
//! Secrets Manager secret (`arn:aws:secretsmanager:…`, its `SecretString`) or of an SSM
//! parameter (`arn:aws:ssm:…:parameter/…`, decrypted) is read once at start, with the
//! credentials and endpoint `aws-config` finds (`AWS_ENDPOINT_URL` included), and held in
//! memory only. A failure stops the start with a message naming the ARN, never a value.
//! Without such a setting, nothing of AWS is loaded.

use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;

use super::aws_http::ReqwestClient;
use super::connection_names::ConnectionNames;
use super::environment::{Environment, SettingError};

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

/// Replaces every AWS reference among the connection-string settings (the names
/// [`ConnectionNames`] lists, the one list the endpoint settings read too) with its value.
pub async fn resolve(mut env: Environment) -> Result<Environment, SettingError> {
    let names = ConnectionNames::from_env(&env)?;
    let references: Vec<(usize, SecretReference)> = env
        .vars()
        .iter()
        .enumerate()
        .filter(|(_, (name, _))| names.holds_connection_string(name))
        .filter_map(|(index, (_, value))| SecretReference::parse(value).map(|reference| (index, reference)))
        .collect();
    if references.is_empty() {
        return Ok(env);
    }
    // The AWS APIs answer where they are asked; a redirect is not followed.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| {
            SettingError::new(
                &env.vars()[references[0].0].0,
                format!("no HTTP client for AWS: {error}"),
            )
        })?;
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .http_client(ReqwestClient::shared(http))
        .load()
        .await;
    for (index, reference) in references {
        let setting = env.vars()[index].0.clone();
        let fail = |reason: String| {
            SettingError::new(
                &setting,
                format!("could not be read from {}: {reason}", reference.arn()),
            )
        };
        let value = match &reference {
            SecretReference::SecretsManager { arn, region } => {
                let config = aws_sdk_secretsmanager::config::Builder::from(&shared)
                    .region(aws_config::Region::new(region.clone()))
                    .build();
                let client = aws_sdk_secretsmanager::Client::from_conf(config);
                match client.get_secret_value().secret_id(arn).send().await {
                    Ok(output) => output
                        .secret_string()
                        .map(str::to_owned)
                        .ok_or_else(|| fail("the secret has no SecretString".to_owned()))?,
                    Err(error) => return Err(fail(describe(&error))),
                }
            }
            SecretReference::Parameter { arn, region } => {
                let config = aws_sdk_ssm::config::Builder::from(&shared)
                    .region(aws_config::Region::new(region.clone()))
                    .build();
                let client = aws_sdk_ssm::Client::from_conf(config);
                match client.get_parameter().name(arn).with_decryption(true).send().await {
                    Ok(output) => output
                        .parameter()
                        .and_then(|parameter| parameter.value())
                        .map(str::to_owned)
                        .ok_or_else(|| fail("the parameter has no value".to_owned()))?,
                    Err(error) => return Err(fail(describe(&error))),
                }
            }
        };
        env.replace_value(index, value);
    }
    Ok(env)
}

/// The cause of an SDK error in words, from its error code; never a value.
fn describe<E>(error: &aws_sdk_secretsmanager::error::SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata,
{
    use aws_sdk_secretsmanager::error::SdkError;
    const DENIED: &str = "access denied: allow secretsmanager:GetSecretValue or ssm:GetParameter on it";
    match error {
        SdkError::ServiceError(service) => match (service.err().code(), service.raw().status().as_u16()) {
            (Some("ResourceNotFoundException" | "ParameterNotFound"), _) | (None, 404) => "not found".to_owned(),
            (Some(code), _) if code.contains("AccessDenied") || code == "UnrecognizedClientException" => {
                DENIED.to_owned()
            }
            (_, 401 | 403) => DENIED.to_owned(),
            (Some(code), _) => format!("the service answered {code}"),
            (None, status) => format!("the service answered {status}"),
        },
        SdkError::ConstructionFailure(_) => {
            "no AWS credentials were found (environment, profile, container or instance role)".to_owned()
        }
        SdkError::TimeoutError(_) => "the request timed out".to_owned(),
        SdkError::DispatchFailure(failure) if failure.is_io() || failure.is_timeout() => {
            "the AWS endpoint could not be reached".to_owned()
        }
        SdkError::DispatchFailure(_) => "no AWS credentials were found, or the request could not be sent".to_owned(),
        _ => "the answer could not be read".to_owned(),
    }
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

    #[tokio::test]
    async fn without_references_nothing_is_loaded() {
        let vars = vec![(
            "AzureSignalRConnectionString".to_owned(),
            "Endpoint=https://a;AccessKey=k".to_owned(),
        )];
        assert_eq!(resolve(Environment::new(vars.clone())).await.unwrap().vars(), vars);
    }
}
