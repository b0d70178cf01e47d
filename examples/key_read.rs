//! Signs tokens with a fixed access key or with a [`RotatingKey`] (the cell a connection string
//! kept in AWS Secrets Manager or SSM is re-read into), so that callgrind can count what reading
//! the replaceable key adds to a token. The rotating key is off the default negotiate path, so
//! `bench/profile.sh` cannot see it; `bench/profile.sh key` runs this instead.
//!
//! `key_read fixed|rotating N`: signs N tokens, each with fresh claims, as a negotiate does.

use std::hint::black_box;
use std::process::ExitCode;

use signalr_negotiate::{AccessKey, AccessTokenClaims, Caller, RotatingKey, TokenPolicy, sign};

/// As `bench/common.sh`'s connection string has it (44 characters, as the portal shows them).
const KEY: &str = "Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OWFiY2RlZmdoaWo=";
const AUDIENCE: &str = "https://contoso-chat.service.signalr.net/client/?hub=chat";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (rotating, count) = match (args.first().map(String::as_str), args.get(1).map(|n| n.parse::<u64>())) {
        (Some("fixed"), Some(Ok(count))) => (false, count),
        (Some("rotating"), Some(Ok(count))) => (true, count),
        _ => {
            eprintln!("usage: key_read fixed|rotating N");
            return ExitCode::from(2);
        }
    };
    let fixed = AccessKey::new(KEY);
    let cell = RotatingKey::new(AccessKey::new(KEY));
    let policy = TokenPolicy::default();
    let caller = Caller::default();
    for _ in 0..count {
        let claims = AccessTokenClaims::new(black_box(AUDIENCE), &caller, &policy, 1_700_000_000);
        let token = if rotating {
            cell.with(|key| sign(key, &claims))
        } else {
            sign(&fixed, &claims)
        };
        if black_box(token).is_err() {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
