//! Connection strings kept in AWS, read at start: each connection-string setting whose value
//! is the ARN of a Secrets Manager secret (its `SecretString`) or of an SSM parameter
//! (decrypted) is replaced by the value, read with the credentials and endpoint `aws-config`
//! finds (`AWS_ENDPOINT_URL` included), and held in memory only. A failure stops the start with
//! a message naming the ARN, never a value. Without such a setting, nothing of AWS is loaded.
//! The values are read again while serving (`refresh`).

use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;

use super::http::ReqwestClient;
use crate::settings::{Environment, SecretReference, SettingError, aws_references};

/// The connection-string settings whose values were read from AWS, and the means to read them
/// again (`refresh`).
#[derive(Debug, Default)]
pub struct AwsReferences {
    reader: Option<AwsReader>,
    /// Each setting read, where from, and a digest of the value it had.
    read: Vec<(String, SecretReference, ValueDigest)>,
}

impl AwsReferences {
    /// The setting's reference and the digest of the value read at start, if it was one.
    pub(super) fn of(&self, setting: &str) -> Option<(&SecretReference, ValueDigest)> {
        self.read
            .iter()
            .find(|(name, _, _)| name == setting)
            .map(|(_, reference, digest)| (reference, *digest))
    }

    /// The reader the values were read with, when there were any.
    pub(super) fn reader(&self) -> Option<&AwsReader> {
        self.reader.as_ref()
    }
}

/// A SHA-256 digest of a value: tells a changed value from the same one without keeping it.
pub(super) type ValueDigest = [u8; 32];

pub(super) fn digest(value: &str) -> ValueDigest {
    use sha2::Digest as _;
    sha2::Sha256::digest(value.as_bytes()).into()
}

/// Reads secrets and parameters with the configuration `aws-config` found at start.
#[derive(Debug, Clone)]
pub(super) struct AwsReader {
    shared: aws_config::SdkConfig,
}

impl AwsReader {
    /// The value a reference holds now, or why it could not be read (never a value).
    pub(super) async fn read(&self, reference: &SecretReference) -> Result<String, String> {
        match reference {
            SecretReference::SecretsManager { arn, region } => {
                let config = aws_sdk_secretsmanager::config::Builder::from(&self.shared)
                    .region(aws_config::Region::new(region.clone()))
                    .build();
                let client = aws_sdk_secretsmanager::Client::from_conf(config);
                match client.get_secret_value().secret_id(arn).send().await {
                    Ok(output) => output
                        .secret_string()
                        .map(str::to_owned)
                        .ok_or_else(|| "the secret has no SecretString".to_owned()),
                    Err(error) => Err(describe(&error)),
                }
            }
            SecretReference::Parameter { arn, region } => {
                let config = aws_sdk_ssm::config::Builder::from(&self.shared)
                    .region(aws_config::Region::new(region.clone()))
                    .build();
                let client = aws_sdk_ssm::Client::from_conf(config);
                match client.get_parameter().name(arn).with_decryption(true).send().await {
                    Ok(output) => output
                        .parameter()
                        .and_then(|parameter| parameter.value())
                        .map(str::to_owned)
                        .ok_or_else(|| "the parameter has no value".to_owned()),
                    Err(error) => Err(describe(&error)),
                }
            }
        }
    }
}

/// Replaces every AWS reference among the connection-string settings with its value; returns
/// which settings were read, to be read again while serving.
pub async fn resolve(mut env: Environment) -> Result<(Environment, AwsReferences), SettingError> {
    let references = aws_references(&env)?;
    if references.is_empty() {
        return Ok((env, AwsReferences::default()));
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
    let reader = AwsReader { shared };
    let mut read = Vec::with_capacity(references.len());
    for (index, reference) in references {
        let setting = env.vars()[index].0.clone();
        let value = reader.read(&reference).await.map_err(|reason| {
            SettingError::new(
                &setting,
                format!("could not be read from {}: {reason}", reference.arn()),
            )
        })?;
        read.push((setting, reference, digest(&value)));
        env.replace_value(index, value);
    }
    Ok((
        env,
        AwsReferences {
            reader: Some(reader),
            read,
        },
    ))
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
    fn a_digest_tells_values_apart() {
        assert_eq!(digest("a"), digest("a"));
        assert_ne!(digest("a"), digest("b"));
    }

    #[tokio::test]
    async fn without_references_nothing_is_loaded() {
        let vars = vec![(
            "AzureSignalRConnectionString".to_owned(),
            "Endpoint=https://a;AccessKey=k".to_owned(),
        )];
        let (env, references) = resolve(Environment::new(vars.clone())).await.unwrap();
        assert_eq!(env.vars(), vars);
        assert!(references.reader().is_none() && references.of("AzureSignalRConnectionString").is_none());
    }
}
