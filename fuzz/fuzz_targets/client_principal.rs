//! App Service's `X-MS-CLIENT-PRINCIPAL`: any header value is decoded without panicking, and
//! whatever decodes round-trips: re-encoded (padded or not), the same claims come back.
//!
//! The first input byte picks the mode: even, the rest is the header value as it arrives;
//! odd, the rest is the JSON, base64-encoded here first, so that libFuzzer explores the JSON
//! rather than the base64.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use signalr_negotiate::decode_client_principal;

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let header = if mode % 2 == 0 {
        match std::str::from_utf8(rest) {
            Ok(text) => text.to_owned(),
            Err(_) => return,
        }
    } else {
        STANDARD_NO_PAD.encode(rest)
    };
    let Some(claims) = decode_client_principal(&header) else {
        return;
    };
    let listed: Vec<Value> = claims
        .iter()
        .map(|(typ, val)| {
            assert!(val.is_string(), "claim values are strings: {val}");
            json!({"typ": typ, "val": val})
        })
        .collect();
    let json = json!({"auth_typ": "aad", "claims": listed}).to_string();
    for encoded in [STANDARD.encode(&json), STANDARD_NO_PAD.encode(&json)] {
        assert_eq!(decode_client_principal(&encoded).as_ref(), Some(&claims), "{json}");
    }
});
