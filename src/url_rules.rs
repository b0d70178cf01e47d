//! The URL rules shared by connection strings, identity-based settings, CORS origins and the
//! OpenID Connect provider: one base rule (an absolute `http`/`https` URL with a host and no
//! credentials, query or fragment) and the narrower forms built on it.

use url::Url;

/// An absolute `http`/`https` URL with a host, no credentials, no query and no fragment: what
/// `Endpoint`, `ClientEndpoint`, `ServerEndpoint` and `serviceUri` must be.
pub fn service_url(text: &str) -> Option<Url> {
    let url = Url::parse(text).ok()?;
    let acceptable = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|host| !host.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none();
    acceptable.then_some(url)
}

/// A browser origin, `scheme://host[:port]` and nothing more, in its serialised form.
pub fn origin(text: &str) -> Option<String> {
    let url = service_url(text).filter(|url| url.path() == "/" && !text.ends_with('/'))?;
    Some(url.origin().ascii_serialization())
}

/// A browser origin allowed by CORS: one origin exactly, or every subdomain of a domain
/// (`https://*.contoso.com`), scheme and port exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigin {
    /// `scheme://host[:port]`, serialised as browsers send it.
    Exact(String),
    /// `scheme://*.domain[:port]`: `prefix` is `scheme://`, `suffix` is `.domain[:port]`.
    Subdomains { prefix: String, suffix: String },
}

impl AllowedOrigin {
    /// An origin or a leading label wildcard; `None` for anything else, including any other
    /// `*` (`*`, `https://*`, `https://a.*.com`, `https://*contoso.com`, `https://*.*.a.com`,
    /// `https://*.com`, a port or scheme wildcard).
    pub fn parse(text: &str) -> Option<Self> {
        let Some((scheme, rest)) = text.split_once("://*.") else {
            return (!text.contains('*')).then(|| origin(text)).flatten().map(Self::Exact);
        };
        // Parsed with a stand-in label, so the domain is normalised (lower case, IDNA) and
        // checked by the same rule as an exact origin.
        let serialised = origin(&format!("{scheme}://x.{rest}"))?;
        let (prefix, host_and_port) = serialised.split_once("://x.")?;
        let domain = host_and_port.split(':').next().unwrap_or_default();
        // At least two labels: `*.com` would allow a whole top-level domain. (Without the
        // public suffix list, `*.co.uk` cannot be told from `*.contoso.com`.)
        let acceptable = !rest.contains('*') && domain.contains('.') && !domain.ends_with('.');
        acceptable.then(|| Self::Subdomains {
            prefix: format!("{prefix}://"),
            suffix: format!(".{host_and_port}"),
        })
    }

    /// Whether the `Origin` header a browser sent is this origin (or one of its subdomains):
    /// byte comparisons only, no allocation (this runs on every browser request).
    pub fn matches(&self, sent: &[u8]) -> bool {
        match self {
            Self::Exact(origin) => sent == origin.as_bytes(),
            Self::Subdomains { prefix, suffix } => sent
                .strip_prefix(prefix.as_bytes())
                .and_then(|rest| rest.strip_suffix(suffix.as_bytes()))
                .is_some_and(is_subdomain_labels),
        }
    }
}

impl std::fmt::Display for AllowedOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(origin) => f.write_str(origin),
            Self::Subdomains { prefix, suffix } => write!(f, "{prefix}*{suffix}"),
        }
    }
}

/// One or more dot-separated labels as a browser serialises a host (lower-case ASCII letters,
/// digits, `-` and `_`; IDNA already applied), none empty: so nothing of a path, a port, a
/// user or a second host can hide in what a wildcard stands for.
fn is_subdomain_labels(labels: &[u8]) -> bool {
    labels.split(|&b| b == b'.').all(|label| {
        !label.is_empty()
            && label
                .iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    })
}

/// Where signing keys may come from, whether the URL is a setting or found by discovery:
/// https, or http on a loopback host (development and tests).
pub fn provider_url(text: &str) -> Option<Url> {
    Url::parse(text).ok().filter(is_trusted_key_source)
}

/// https, or http on a loopback host, judged on the address as parsed (`127.1` and
/// `2130706433` are `127.0.0.1`), not on its text: the unspecified address `0.0.0.0` and
/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) are not loopback addresses.
pub fn is_trusted_key_source(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Domain(domain)) => domain == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_urls_are_absolute_http_without_credentials_query_or_fragment() {
        for good in [
            "https://a",
            "http://10.0.0.1:8080/sig/",
            "https://a.service.signalr.net",
        ] {
            assert!(service_url(good).is_some(), "{good}");
        }
        for bad in [
            "localhost",
            "ftp://a",
            "https://a?x=1",
            "https://a#f",
            "https://user:pw@a",
            "https://:pw@a",
            "https://user@a",
            "/relative",
            "https://",
        ] {
            assert!(service_url(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn origins_have_no_path() {
        assert_eq!(
            origin("https://App.example.com").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            origin("http://localhost:8080").as_deref(),
            Some("http://localhost:8080")
        );
        for bad in ["https://a/", "https://a/path", "*", "https://a?x", "https://u@a"] {
            assert_eq!(origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_leading_label_wildcard_allows_every_subdomain_and_nothing_else() {
        let rule = AllowedOrigin::parse("https://*.Contoso.com").unwrap();
        assert_eq!(rule.to_string(), "https://*.contoso.com");
        for allowed in [
            "https://app.contoso.com",
            "https://a.b.contoso.com",
            "https://xn--bcher-kva.contoso.com",
            "https://my-app_1.contoso.com",
        ] {
            assert!(rule.matches(allowed.as_bytes()), "{allowed}");
        }
        for refused in [
            "https://contoso.com",
            "https://.contoso.com",
            "https://evilcontoso.com",
            "https://app.evilcontoso.com",
            "https://contoso.com.evil.net",
            "https://app.contoso.com.evil.net",
            "http://app.contoso.com",
            "https://app.contoso.com:443",
            "https://app.contoso.com:8443",
            "https://app.contoso.com/",
            "https://a..contoso.com",
            "https://APP.contoso.com",
            "https://evil.net/.contoso.com",
            "https://evil.net?.contoso.com",
            "https://u@app.contoso.com",
            "https://evil.net:1.contoso.com",
            "https:///.contoso.com",
            "null",
            "",
        ] {
            assert!(!rule.matches(refused.as_bytes()), "{refused}");
        }
    }

    #[test]
    fn a_wildcard_keeps_its_scheme_and_port_exact() {
        let rule = AllowedOrigin::parse("http://*.localhost.test:8080").unwrap();
        assert_eq!(rule.to_string(), "http://*.localhost.test:8080");
        assert!(rule.matches(b"http://a.localhost.test:8080"));
        for refused in [
            "http://a.localhost.test",
            "http://a.localhost.test:80",
            "http://a.localhost.test:8081",
            "https://a.localhost.test:8080",
        ] {
            assert!(!rule.matches(refused.as_bytes()), "{refused}");
        }
        // The default port is the same origin without it, as browsers send it.
        let rule = AllowedOrigin::parse("https://*.contoso.com:443").unwrap();
        assert!(rule.matches(b"https://a.contoso.com"));
        assert!(!rule.matches(b"https://a.contoso.com:443"));
    }

    #[test]
    fn exact_origins_match_only_themselves() {
        let rule = AllowedOrigin::parse("https://App.example.com").unwrap();
        assert_eq!(rule, AllowedOrigin::Exact("https://app.example.com".to_owned()));
        assert_eq!(rule.to_string(), "https://app.example.com");
        assert!(rule.matches(b"https://app.example.com"));
        for refused in [
            "https://app.example.com:443",
            "https://x.app.example.com",
            "https://app.example.co",
        ] {
            assert!(!rule.matches(refused.as_bytes()), "{refused}");
        }
    }

    #[test]
    fn any_other_wildcard_is_refused() {
        for bad in [
            "*",
            "*.contoso.com",
            "https://*",
            "https://*.",
            "https://*.com",
            "https://*.contoso.com.",
            "https://*contoso.com",
            "https://a*.contoso.com",
            "https://a.*.contoso.com",
            "https://*.*.contoso.com",
            "https://**.contoso.com",
            "https://*.contoso.*",
            "https://*.contoso.com:*",
            "https://app.contoso.com:*",
            "https://*.contoso.com/",
            "https://*.contoso.com/path",
            "https://*.1.2.3",
            "*://app.contoso.com",
            "http*://app.contoso.com",
            "ftp://*.contoso.com",
            "https://u@*.contoso.com",
        ] {
            assert_eq!(AllowedOrigin::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn provider_urls_must_be_https_except_on_loopback() {
        let ok = |u: &str| provider_url(u).is_some();
        assert!(ok("https://login.microsoftonline.com/tenant/v2.0"));
        assert!(ok("http://127.0.0.1:8080/issuer"));
        assert!(ok("http://localhost:1"));
        assert!(ok("http://[::1]:1"));
        assert!(!ok("http://login.example.com"));
        assert!(!ok("http://10.0.0.1"));
        assert!(!ok("ftp://x"));
        // On the parsed address, not the text.
        assert!(ok("http://127.1:8080/keys"));
        assert!(ok("http://2130706433/keys"));
        assert!(ok("http://LOCALHOST:1"));
        for spoof in [
            "http://0.0.0.0:1/keys",
            "http://[::ffff:127.0.0.1]:1/keys",
            "http://[::ffff:7f00:1]:1/keys",
            "http://[::]:1/keys",
            "http://localhost.example.com/keys",
            "http://127.0.0.1.nip.io/keys",
            "http://localhost./keys",
        ] {
            assert!(!ok(spoof), "{spoof}");
        }
    }
}
