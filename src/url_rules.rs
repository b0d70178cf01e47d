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
