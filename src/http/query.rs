//! The query parameters a negotiate reads, with `form_urlencoded` over the raw query: `hub`
//! (once), `endpoint`, `userId` and `diagnostic` (the first of each); every other parameter
//! (`negotiateVersion`, `useStatefulReconnect`, …) is skipped without being copied.

use std::borrow::Cow;

use super::answer::ApiError;
use crate::hub::HubName;

/// `?hub=`, `?endpoint=`, `?userId=`, `?diagnostic=`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct NegotiateQuery {
    /// `hub`, when given once.
    hub: Option<String>,
    /// `hub` was given more than once.
    repeated_hub: bool,
    /// `endpoint`: the first one.
    pub endpoint: Option<String>,
    /// `userId`: the first one (development mode only).
    pub user_id: Option<String>,
    /// `diagnostic`: the first one.
    diagnostic: Option<String>,
}

impl NegotiateQuery {
    /// Whether the client asks to be a diagnostic client (`?diagnostic=true`); a value other
    /// than `true` or `false` is a bad request.
    pub fn diagnostic(&self) -> Result<bool, ApiError> {
        match self.diagnostic.as_deref() {
            None => Ok(false),
            Some(value) if value.eq_ignore_ascii_case("true") => Ok(true),
            Some(value) if value.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(ApiError::bad_request(
                "the diagnostic query parameter must be true or false",
            )),
        }
    }

    /// The hub of `?hub=`, else the default; given twice, or neither, is a bad request. Behind
    /// a host that joins a repeated parameter's values with commas (`joined`), a comma in the
    /// value is refused too: `?hub=a&hub=b` and `?hub=a,b` arrive alike, and which hub was
    /// meant cannot be told.
    pub fn hub<'a>(&mut self, default_hub: Option<&'a HubName>, joined: bool) -> Result<Cow<'a, HubName>, ApiError> {
        if self.repeated_hub {
            return Err(ApiError::bad_request("the hub query parameter is given more than once"));
        }
        match self.hub.take() {
            Some(hub) if joined && hub.contains(',') => Err(ApiError::bad_request(
                "a comma in ?hub= cannot be told from a repeated hub parameter under the Azure Functions host \
                 (it joins repeated values with commas): give the hub once, or in the path, /{prefix}/{hub}/negotiate",
            )),
            Some(hub) => Ok(Cow::Owned(HubName::from_string(hub)?)),
            None => default_hub.map(Cow::Borrowed).ok_or_else(|| {
                ApiError::bad_request("no hub given: use /{prefix}/{hub}/negotiate or ?hub=, or set SIGNALR_HUB")
            }),
        }
    }
}

impl NegotiateQuery {
    /// The parameters of a request's query string, percent-decoded (bad UTF-8 lossily, so any
    /// query string is read). Keys are compared borrowed; only the values read are copied.
    pub fn parse(query: Option<&str>) -> Self {
        let mut parsed = Self::default();
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "hub" if parsed.hub.is_some() || parsed.repeated_hub => {
                    parsed.hub = None;
                    parsed.repeated_hub = true;
                }
                "hub" => parsed.hub = Some(value.into_owned()),
                "endpoint" if parsed.endpoint.is_none() => parsed.endpoint = Some(value.into_owned()),
                "userId" if parsed.user_id.is_none() => parsed.user_id = Some(value.into_owned()),
                "diagnostic" if parsed.diagnostic.is_none() => parsed.diagnostic = Some(value.into_owned()),
                _ => {}
            }
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    fn parse(query: &str) -> NegotiateQuery {
        let uri: axum::http::Uri = format!("/api/negotiate?{query}").parse().unwrap();
        NegotiateQuery::parse(uri.query())
    }

    fn hub_from_query(query: Option<&str>, default_hub: Option<&str>) -> Result<String, ApiError> {
        hub_behind(query, default_hub, false)
    }

    fn hub_behind(query: Option<&str>, default_hub: Option<&str>, joined: bool) -> Result<String, ApiError> {
        let default_hub = default_hub.map(|hub| HubName::parse(hub).unwrap());
        parse(query.unwrap_or_default())
            .hub(default_hub.as_ref(), joined)
            .map(|hub| hub.as_str().to_owned())
    }

    #[test]
    fn a_comma_in_the_hub_is_refused_only_where_the_host_joins_repeated_values() {
        assert_eq!(
            hub_behind(Some("hub=a%2Cb"), None, false).unwrap(),
            "a,b",
            "a comma is a valid hub character"
        );
        for query in [
            "hub=a%2Cb",
            "hub=a,b",
            "hub=,",
            "hub=chat%2C",
            "negotiateVersion=1&hub=a%2Cb",
        ] {
            let error = hub_behind(Some(query), Some("news"), true).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{query}");
            assert!(
                error.message.contains("/{prefix}/{hub}/negotiate"),
                "{query}: {}",
                error.message
            );
        }
        assert_eq!(hub_behind(Some("hub=chat"), None, true).unwrap(), "chat");
        assert_eq!(
            hub_behind(Some("negotiateVersion=1"), Some("news"), true).unwrap(),
            "news",
            "the default hub is not a query value"
        );
    }

    #[test]
    fn query_hub_rules() {
        assert_eq!(
            hub_from_query(Some("hub=chat&negotiateVersion=1"), None).unwrap(),
            "chat"
        );
        assert_eq!(
            hub_from_query(Some("negotiateVersion=1"), Some("news")).unwrap(),
            "news"
        );
        assert_eq!(
            hub_from_query(Some("hub=a%20b"), None).unwrap_err().status,
            StatusCode::BAD_REQUEST,
            "a b is read, then refused as a hub name"
        );
        assert_eq!(
            hub_from_query(Some("hub=a&hub=b"), Some("x")).unwrap_err().message,
            "the hub query parameter is given more than once"
        );
        assert_eq!(
            hub_from_query(Some("hub=a&hub=b&hub=c"), Some("x"))
                .unwrap_err()
                .message,
            "the hub query parameter is given more than once"
        );
        assert_eq!(hub_from_query(None, None).unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(
            hub_from_query(Some("hub="), Some("x")).unwrap_err().message,
            "the hub name is empty"
        );
    }

    #[test]
    fn diagnostic_is_true_or_false() {
        assert_eq!(parse("hub=chat").diagnostic(), Ok(false));
        assert_eq!(parse("diagnostic=true").diagnostic(), Ok(true));
        assert_eq!(
            parse("diagnostic=TRUE&diagnostic=false").diagnostic(),
            Ok(true),
            "the first counts"
        );
        assert_eq!(parse("diagnostic=False").diagnostic(), Ok(false));
        for bad in ["diagnostic=yes", "diagnostic=", "diagnostic=1"] {
            let error = parse(bad).diagnostic().unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(error.message, "the diagnostic query parameter must be true or false");
        }
    }

    #[test]
    fn the_first_endpoint_and_user_count() {
        let query = parse("endpoint=east&endpoint=west&userId=ada&userId=bob&hub=chat&x&=y&%FF=%FE");
        assert_eq!(query.endpoint.as_deref(), Some("east"));
        assert_eq!(query.user_id.as_deref(), Some("ada"));
        assert_eq!(query.hub.as_deref(), Some("chat"));
        assert_eq!(
            parse("hub=a%26b").hub.as_deref(),
            Some("a&b"),
            "values are percent-decoded"
        );
    }
}
