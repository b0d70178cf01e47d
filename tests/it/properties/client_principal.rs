//! App Service's client principal (`X-MS-CLIENT-PRINCIPAL`): the decoder never panics, and
//! claims round-trip through base64, padded or not.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};
use signalr_negotiate::decode_client_principal;

use super::config;

fn claims() -> impl Strategy<Value = Vec<(String, String)>> {
    let text = prop_oneof![
        2 => "[a-z_/:.]{1,20}",
        1 => any::<String>(),
        1 => Just(String::new()),
    ];
    prop::collection::vec((text.clone(), text), 0..8)
}

/// Random JSON near the principal's shape.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        let name = prop_oneof![
            select(vec!["claims", "typ", "val", "auth_typ", "name_typ"]).prop_map(str::to_owned),
            "[a-z]{1,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((name, inner), 0..6).prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn the_principal_decoder_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = decode_client_principal(&text);
    }

    #[test]
    fn the_principal_decoder_never_panics_on_base64_of_arbitrary_bytes_or_json(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        value in json_value(),
        padded in any::<bool>(),
    ) {
        let engine = if padded { &STANDARD } else { &STANDARD_NO_PAD };
        let _ = decode_client_principal(&engine.encode(&bytes));
        let _ = decode_client_principal(&engine.encode(value.to_string()));
        let _ = decode_client_principal(&engine.encode(json!({ "claims": value }).to_string()));
    }

    #[test]
    fn claims_round_trip_through_base64_padded_or_not(
        claims in claims(),
        auth_type in "[a-z]{0,8}",
        space in select(vec!["", " ", "\n", " \t"]),
    ) {
        let listed: Vec<Value> = claims.iter().map(|(typ, val)| json!({"typ": typ, "val": val})).collect();
        let json = json!({
            "auth_typ": auth_type,
            "claims": listed,
            "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
            "role_typ": "roles",
        })
        .to_string();
        let expected: Vec<(String, Value)> =
            claims.iter().map(|(typ, val)| (typ.clone(), Value::String(val.clone()))).collect();
        for encoded in [STANDARD.encode(&json), STANDARD_NO_PAD.encode(&json)] {
            let decoded = decode_client_principal(&format!("{space}{encoded}{space}"));
            prop_assert_eq!(decoded.as_ref(), Some(&expected), "{}", encoded);
        }
    }
}
