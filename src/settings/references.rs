//! App Service and Functions references that the platform failed to resolve. A setting whose
//! value is `@Microsoft.KeyVault(…)` (or `@Microsoft.AppConfiguration(…)`) is replaced by the
//! secret before the process starts; when the platform cannot read it, "the reference value
//! will be used instead" (Microsoft's "Use Key Vault references for App Service and Azure
//! Functions", Troubleshooting). Read as a connection string, that would be the misleading
//! "no Endpoint": this names the setting and what to fix instead, before anything else.

use super::connection_names::ConnectionNames;
use super::environment::{Environment, SettingError, fail, normalise};
use super::table;

/// The platform's reference forms, lower-case, and what the app's identity needs for each.
const REFERENCES: [(&str, &str); 2] = [
    (
        "@microsoft.keyvault(",
        "is a Key Vault reference the platform could not resolve, so the function sees the reference instead of the \
        secret: give the Function App a managed identity (Identity), let it read the secret (the role Key Vault \
        Secrets User on the vault or the secret, or an access policy with Get on secrets), open the vault's firewall \
        to the app if it has one, check the reference's syntax, then restart the app; the setting's status under \
        Environment variables in the portal says which of these failed",
    ),
    (
        "@microsoft.appconfiguration(",
        "is an App Configuration reference the platform could not resolve, so the function sees the reference instead \
        of the value: give the Function App a managed identity, grant it the role App Configuration Data Reader on the \
        store, check the reference's syntax, then restart the app",
    ),
];

/// The first of our settings (and of the names a connection string is read under, the one
/// `SIGNALR_CONNECTION_STRING_SETTING` chooses included) that still holds an unresolved
/// reference stops the start.
pub(super) fn refuse_unresolved(env: &Environment) -> Result<(), SettingError> {
    let names = ConnectionNames::both(env)?;
    for (name, value) in env.vars() {
        let value = value.trim_start().as_bytes();
        let reference = REFERENCES.iter().find(|(prefix, _)| {
            value
                .get(..prefix.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes()))
        });
        match reference {
            Some((_, advice))
                if table::is_read(&normalise(name))
                    || names.iter().any(|names| names.holds_connection_string(name)) =>
            {
                return fail(name, *advice);
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(vars: &[(&str, &str)]) -> Result<(), SettingError> {
        refuse_unresolved(&Environment::new(
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        ))
    }

    #[test]
    fn an_unresolved_reference_in_any_of_our_settings_is_named_with_what_to_fix() {
        let reference = "@Microsoft.KeyVault(SecretUri=https://contoso-vault.vault.azure.net/secrets/signalr/)";
        for name in [
            "AzureSignalRConnectionString",
            "Azure__SignalR__ConnectionString",
            "azure:signalr:connectionstring",
            "Azure__SignalR__Endpoints__east",
            "Azure__SignalR__ConnectionString__west__secondary",
            "AzureSignalRConnectionString__clientSecret",
            "CUSTOMCONNSTR_AzureSignalRConnectionString",
            "SIGNALR_CLAIMS",
            "MySignalR",
        ] {
            let error = check(&[
                ("SIGNALR_HUB", "chat"),
                ("SIGNALR_CONNECTION_STRING_SETTING", "MySignalR"),
                (name, reference),
            ])
            .unwrap_err();
            assert_eq!(error.setting, name);
            assert!(error.message.contains("Key Vault reference"), "{name}: {error}");
            assert!(error.message.contains("managed identity"), "{name}: {error}");
            assert!(error.message.contains("Key Vault Secrets User"), "{name}: {error}");
            assert!(
                !error.to_string().contains("contoso-vault"),
                "the value is echoed: {error}"
            );
        }
        let error = check(&[(
            "AzureSignalRConnectionString",
            "  @microsoft.keyvault(VaultName=v;SecretName=s)",
        )])
        .unwrap_err();
        assert!(
            error.message.contains("Key Vault reference"),
            "any case, leading blanks: {error}"
        );
        let error = check(&[(
            "AzureSignalRConnectionString",
            "@Microsoft.AppConfiguration(Endpoint=https://s.azconfig.io; Key=k)",
        )])
        .unwrap_err();
        assert!(error.message.contains("App Configuration Data Reader"), "{error}");
    }

    #[test]
    fn other_variables_and_ordinary_values_pass() {
        let reference = "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/s/)";
        assert_eq!(
            check(&[("SOMETHING_ELSE", reference), ("AzureWebJobsStorage", reference)]),
            Ok(())
        );
        assert_eq!(
            check(&[("SIGNALR_HUBX", reference)]),
            Ok(()),
            "not a sub-key of SIGNALR_HUB"
        );
        assert_eq!(
            check(&[(
                "AzureSignalRConnectionString",
                "Endpoint=https://x.service.signalr.net;AccessKey=@Microsoft.KeyVault(;Version=1.0;"
            )]),
            Ok(()),
            "only a whole value is a reference"
        );
        assert_eq!(
            check(&[("AzureSignalRConnectionString", "é")]),
            Ok(()),
            "short non-ASCII values"
        );
    }
}
