//! The platform's trace id of a request, for its log line, so that a negotiate can be found in
//! the platform's tracing: the W3C `traceparent` the Azure Functions host sends (its trace id is
//! Application Insights' operation id), or the X-Ray trace id Lambda gives each invocation
//! (`Lambda-Runtime-Trace-Id`, which the Lambda host puts in `x-amzn-trace-id` as lambda_http
//! does). Only a value of the documented form is taken, and only its trace id, as a slice of
//! the header: no other byte a client sent reaches a log line, and nothing is copied.

use axum::http::{HeaderMap, HeaderName};

/// Which header carries the platform's trace on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceHeader {
    /// W3C Trace Context's `traceparent`: the Functions host, and a local server (behind a
    /// proxy or a platform that speaks W3C Trace Context).
    TraceParent,
    /// AWS X-Ray's `x-amzn-trace-id`: Lambda.
    XRay,
}

static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

impl TraceHeader {
    /// The trace id the request carries, when its header has the documented form.
    pub fn trace_id(self, headers: &HeaderMap) -> Option<&str> {
        match self {
            Self::TraceParent => headers
                .get(&TRACEPARENT)
                .and_then(|value| w3c_trace_id(value.as_bytes())),
            Self::XRay => headers
                .get(&X_AMZN_TRACE_ID)
                .and_then(|value| xray_trace_id(value.as_bytes())),
        }
    }
}

/// The trace id of a `traceparent` (`00-{trace id: 32}-{parent id: 16}-{flags: 2}`, lower-case
/// hex, ids not all zeros, version `ff` invalid; a later version may add `-…` after the flags),
/// as W3C Trace Context level 1 reads it.
fn w3c_trace_id(value: &[u8]) -> Option<&str> {
    const LENGTH: usize = 55;
    let fields = value.get(..LENGTH)?;
    let (version, trace_id, parent_id, flags) = (&fields[0..2], &fields[3..35], &fields[36..52], &fields[53..55]);
    let dashes = fields[2] == b'-' && fields[35] == b'-' && fields[52] == b'-';
    let hex = |field: &[u8]| field.iter().all(|&b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let nonzero = |field: &[u8]| field.iter().any(|&b| b != b'0');
    let rest_allowed = match version {
        b"00" => value.len() == LENGTH,
        b"ff" => false,
        _ => value.len() == LENGTH || value[LENGTH] == b'-',
    };
    let valid = dashes
        && rest_allowed
        && [version, trace_id, parent_id, flags].into_iter().all(hex)
        && nonzero(trace_id)
        && nonzero(parent_id);
    valid.then(|| std::str::from_utf8(trace_id).ok()).flatten()
}

/// The `Root` of an X-Ray trace header (`Root=1-{time: 8 hex}-{id: 24 hex};Parent=…;Sampled=…`),
/// the id the X-Ray console finds a trace by.
fn xray_trace_id(value: &[u8]) -> Option<&str> {
    let root = value
        .split(|&b| b == b';')
        .find_map(|field| field.trim_ascii().strip_prefix(b"Root="))?;
    let valid = root.len() == 35
        && root.starts_with(b"1-")
        && root[10] == b'-'
        && root[2..10].iter().chain(&root[11..]).all(u8::is_ascii_hexdigit);
    valid.then(|| std::str::from_utf8(root).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

    fn traceparent(value: &str) -> Option<&str> {
        w3c_trace_id(value.as_bytes())
    }

    #[test]
    fn a_traceparent_gives_its_trace_id_when_it_has_the_w3c_form() {
        assert_eq!(traceparent(&format!("00-{TRACE}-b7ad6b7169203331-01")), Some(TRACE));
        assert_eq!(traceparent(&format!("00-{TRACE}-b7ad6b7169203331-00")), Some(TRACE));
        // A later version may add fields.
        assert_eq!(
            traceparent(&format!("01-{TRACE}-b7ad6b7169203331-01-what-comes")),
            Some(TRACE)
        );
        for refused in [
            String::new(),
            "garbage".to_owned(),
            format!("00-{TRACE}-b7ad6b7169203331-01-extra"),
            format!("00-{TRACE}-b7ad6b7169203331-1"),
            format!("ff-{TRACE}-b7ad6b7169203331-01"),
            format!("00-{}-b7ad6b7169203331-01", TRACE.to_uppercase()),
            format!("00-{}-b7ad6b7169203331-01", "0".repeat(32)),
            format!("00-{TRACE}-0000000000000000-01"),
            format!("00_{TRACE}-b7ad6b7169203331-01"),
            format!("00-{TRACE}-b7ad6b7169203331-0g"),
            format!("01-{TRACE}-b7ad6b7169203331-01x"),
            format!("00-{}\"}}-b7ad6b7169203331-01", &TRACE[..30]),
        ] {
            assert_eq!(traceparent(&refused), None, "{refused}");
        }
    }

    #[test]
    fn an_xray_header_gives_its_root() {
        let root = "1-5759e988-bd862e3fe1be46a994272793";
        fn xray(value: &str) -> Option<&str> {
            xray_trace_id(value.as_bytes())
        }
        assert_eq!(
            xray(&format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1")),
            Some(root)
        );
        assert_eq!(xray(&format!("Root={root}")), Some(root));
        assert_eq!(
            xray(&format!("Self=1-67891234-12456789abcdef012345678;Root={root}")),
            Some(root)
        );
        assert_eq!(
            xray(&format!("Parent=53995c3f42cd8ad8; Root={root};Sampled=1")),
            Some(root)
        );
        for refused in [
            "",
            "Root=",
            "Root=1-5759e988-bd862e3fe1be46a99427279",
            "Root=1-5759e988-bd862e3fe1be46a9942727933",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e988_bd862e3fe1be46a994272793",
            "Root=1-5759e98z-bd862e3fe1be46a994272793",
            "Parent=53995c3f42cd8ad8;Sampled=1",
            "root=1-5759e988-bd862e3fe1be46a994272793",
        ] {
            assert_eq!(xray(refused), None, "{refused}");
        }
    }

    #[test]
    fn each_host_reads_its_own_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            HeaderValue::from_str(&format!("00-{TRACE}-b7ad6b7169203331-01")).unwrap(),
        );
        assert_eq!(TraceHeader::TraceParent.trace_id(&headers), Some(TRACE));
        assert_eq!(TraceHeader::XRay.trace_id(&headers), None);
        headers.insert(
            "x-amzn-trace-id",
            HeaderValue::from_static("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
        );
        assert_eq!(
            TraceHeader::XRay.trace_id(&headers),
            Some("1-5759e988-bd862e3fe1be46a994272793")
        );
        // Bytes that are not text never reach a line.
        headers.insert("traceparent", HeaderValue::from_bytes(b"00-\xff\xfe").unwrap());
        assert_eq!(TraceHeader::TraceParent.trace_id(&headers), None);
    }
}
