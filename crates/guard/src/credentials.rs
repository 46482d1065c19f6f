//! The service's own credentials.

use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError};

/// Credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, read
/// on each call. For the SDKs' whole default chain (profiles, web identity, containers,
/// instance metadata), pass `aws_config`'s provider instead: any [`ProvideCredentials`] works.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvCredentials;

impl ProvideCredentials for EnvCredentials {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let read = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let result = match (read("AWS_ACCESS_KEY_ID"), read("AWS_SECRET_ACCESS_KEY")) {
            (Some(key), Some(secret)) => Ok(Credentials::new(
                key,
                secret,
                read("AWS_SESSION_TOKEN"),
                None,
                "environment",
            )),
            _ => Err(CredentialsError::not_loaded(
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set",
            )),
        };
        provider::future::ProvideCredentials::ready(result)
    }
}
