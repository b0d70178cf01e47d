//! How a log line looks: JSON objects where a host collects logs (`timestamp`, `level`,
//! `message`, then the event's fields), text locally (`timestamp LEVEL message name=value …`,
//! as tracing-subscriber's default format looks). Both write straight into the line: no map of
//! values per event, no copy per field, a timestamp computed with integer arithmetic.
//!
//! A value cannot forge a line, a field or a terminal sequence, wherever it came from (a
//! discovery document, an upstream's error, a header): control characters and Unicode line
//! and direction marks are escaped in both formats, and in text a value is written bare only
//! when it is printable ASCII without a space, `=` or `"` (`status=200`, `hub=chat`) —
//! anything else is quoted as a string field is. The rule is the formatter's, so it holds for
//! every field, whatever its type. The message is written bare: it is our own words, and a
//! value from elsewhere goes in a field.
//!
//! Hand-written: tracing-subscriber's formats cost 6,211 (text) and 9,734 (JSON) instructions per
//! negotiate more (BENCHMARKS.md, "Crates or ours").

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// One JSON object per line (Lambda, the Functions host).
pub(super) struct JsonLines;

/// One line of text per event (the local server); the level coloured on a terminal.
pub(super) struct TextLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        writer.write_str("{\"timestamp\":\"")?;
        timestamp(&mut writer)?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(event.metadata().level().as_str())?;
        writer.write_char('"')?;
        Fields::record(&mut writer, event, true)?;
        writer.write_str("}\n")
    }
}

impl<S, N> FormatEvent<S, N> for TextLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        timestamp(&mut writer)?;
        let level = *event.metadata().level();
        if writer.has_ansi_escapes() {
            let colour = match level {
                Level::TRACE => "35",
                Level::DEBUG => "34",
                Level::INFO => "32",
                Level::WARN => "33",
                Level::ERROR => "31",
            };
            write!(writer, " \x1b[{colour}m{}\x1b[0m", padded(level))?;
        } else {
            writer.write_char(' ')?;
            writer.write_str(padded(level))?;
        }
        Fields::record(&mut writer, event, false)?;
        writer.write_char('\n')
    }
}

/// A level as tracing-subscriber's text shows it, right-aligned in five characters.
fn padded(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        Level::ERROR => "ERROR",
    }
}

/// `2026-11-27T15:20:48.724766Z`: UTC, microseconds, the digits put in place (no `write!`).
fn timestamp(writer: &mut Writer<'_>) -> fmt::Result {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    writer.write_str(rfc3339(now.as_secs(), now.subsec_micros()).as_str())
}

/// The UTC time `secs` after the epoch, with `micros`, in RFC 3339 (years up to 9999).
fn rfc3339(secs: u64, micros: u32) -> Digits<27> {
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let of_day = secs % 86_400;
    let mut text = Digits(*b"0000-00-00T00:00:00.000000Z");
    text.put(0..4, year as u64);
    text.put(5..7, u64::from(month));
    text.put(8..10, u64::from(day));
    text.put(11..13, of_day / 3600);
    text.put(14..16, of_day / 60 % 60);
    text.put(17..19, of_day % 60);
    text.put(20..26, u64::from(micros));
    text
}

/// ASCII text of a fixed length, digits written into it in place.
struct Digits<const N: usize>([u8; N]);

impl<const N: usize> Digits<N> {
    /// Writes `value`'s last `range.len()` decimal digits into `range`, zero-padded.
    fn put(&mut self, range: std::ops::Range<usize>, mut value: u64) {
        for byte in self.0[range].iter_mut().rev() {
            *byte = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII is ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// A whole number in decimal, without `fmt`'s machinery.
fn decimal(value: u64) -> Digits<20> {
    let mut digits = Digits([b'0'; 20]);
    digits.put(0..20, value);
    digits
}

/// The proleptic Gregorian date of a day number since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Writes an event's fields: `,"name":value` in JSON, ` name=value` in text (the message first,
/// without its name).
struct Fields<'a, 'w> {
    writer: &'a mut Writer<'w>,
    json: bool,
    result: fmt::Result,
}

impl<'a, 'w> Fields<'a, 'w> {
    fn record(writer: &'a mut Writer<'w>, event: &Event<'_>, json: bool) -> fmt::Result {
        let mut fields = Self {
            writer,
            json,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result
    }

    /// A field whose value is written as it is (a number, a boolean).
    fn plain(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        self.write(field, |w, _| w.write_fmt(value));
    }

    /// A field whose value is text: quoted and escaped in JSON; in text, the message escaped,
    /// another value bare when it can stand bare, else quoted and escaped as a string field is.
    fn text(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        let style = if self.json {
            Style::Json
        } else if field.name() == "message" {
            Style::Message
        } else {
            // Formatted twice: a buffer would cost more than the first pass, which stops at the
            // first piece that cannot stand bare.
            if fmt::write(&mut BareTest, value).is_ok() {
                return self.write(field, |w, _| w.write_fmt(value));
            }
            Style::Quoted
        };
        self.write(field, |w, _| {
            if style == Style::Message {
                return Escaped { writer: w, style }.write_fmt(value);
            }
            w.write_char('"')?;
            Escaped { writer: w, style }.write_fmt(value)?;
            w.write_char('"')
        });
    }

    fn write(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'w>, bool) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        let writer = &mut *self.writer;
        self.result = if self.json {
            writer
                .write_str(",\"")
                .and_then(|()| writer.write_str(name))
                .and_then(|()| writer.write_str("\":"))
        } else if name == "message" {
            writer.write_char(' ')
        } else {
            writer
                .write_char(' ')
                .and_then(|()| writer.write_str(name))
                .and_then(|()| writer.write_char('='))
        }
        .and_then(|()| value(self.writer, self.json));
    }
}

impl Visit for Fields<'_, '_> {
    /// A string field: in text, quoted as Rust's `Debug` shows a string (as tracing-subscriber
    /// does), which escapes control characters too.
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.json || field.name() == "message" {
            self.text(field, format_args!("{value}"));
        } else {
            self.plain(field, format_args!("{value:?}"));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let digits = decimal(value);
        let text = digits.as_str();
        let first = text.bytes().position(|byte| byte != b'0').unwrap_or(text.len() - 1);
        self.write(field, |w, _| w.write_str(&text[first..]));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.plain(field, format_args!("{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.plain(field, format_args!("{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.plain(field, format_args!("{value}"));
        } else {
            self.text(field, format_args!("{value}"));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, format_args!("{value}"));
    }

    /// The message and `%display`/`?debug` fields.
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, format_args!("{value:?}"));
    }
}

/// Whether text can stand bare in a text line: printable ASCII without a space, `=` or `"`.
fn bare(text: &str) -> bool {
    text.bytes()
        .all(|byte| byte.is_ascii_graphic() && byte != b'=' && byte != b'"')
}

/// Succeeds only on text that can stand [`bare`]; stops at the first piece that cannot.
struct BareTest;

impl fmt::Write for BareTest {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if bare(text) { Ok(()) } else { Err(fmt::Error) }
    }
}

/// How [`Escaped`] escapes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// Inside a JSON string: JSON's escapes.
    Json,
    /// A text line's message, bare: control characters and hidden marks as `\u001b`.
    Message,
    /// Inside quotes in a text line: as Rust's `Debug` shows a string (`\"`, `\\`, `\n`,
    /// `\u{1b}`), which is how tracing-subscriber writes a string field.
    Quoted,
}

/// Characters beyond ASCII that would end a line for some readers (NEL, the Unicode line and
/// paragraph separators) or reorder what a terminal shows (C1 controls such as the 8-bit CSI,
/// direction marks, embeddings, overrides and isolates).
fn hidden(c: char) -> bool {
    matches!(
        c,
        '\u{80}'..='\u{9f}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// Text escaped in a [`Style`], while it is formatted.
struct Escaped<'a, 'w> {
    writer: &'a mut Writer<'w>,
    style: Style,
}

impl Escaped<'_, '_> {
    /// As `Debug` for `str` escapes (`char::escape_debug`, but for `'`, which `str` leaves).
    fn write_quoted(&mut self, text: &str) -> fmt::Result {
        let mut clean = 0;
        for (index, c) in text.char_indices() {
            let escaped = c.escape_debug();
            if c == '\'' || escaped.len() == 1 {
                continue;
            }
            self.writer.write_str(&text[clean..index])?;
            write!(self.writer, "{escaped}")?;
            clean = index + c.len_utf8();
        }
        self.writer.write_str(&text[clean..])
    }
}

impl fmt::Write for Escaped<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if self.style == Style::Quoted {
            return self.write_quoted(text);
        }
        let json = self.style == Style::Json;
        let bytes = text.as_bytes();
        let (mut clean, mut index) = (0, 0);
        while let Some(&byte) = bytes.get(index) {
            let (escape, code, len) = match byte {
                b'"' if json => ("\\\"", 0, 1),
                b'\\' if json => ("\\\\", 0, 1),
                b'\n' => ("\\n", 0, 1),
                b'\r' => ("\\r", 0, 1),
                b'\t' => ("\\t", 0, 1),
                0..=0x1f | 0x7f => ("", u32::from(byte), 1),
                // The lead bytes of every character `hidden` names.
                0xc2 | 0xe2 => match text[index..].chars().next() {
                    Some(c) if hidden(c) => ("", u32::from(c), c.len_utf8()),
                    _ => {
                        index += 1;
                        continue;
                    }
                },
                _ => {
                    index += 1;
                    continue;
                }
            };
            self.writer.write_str(&text[clean..index])?;
            if escape.is_empty() {
                write!(self.writer, "\\u{code:04x}")?;
            } else {
                self.writer.write_str(escape)?;
            }
            index += len;
            clean = index;
        }
        self.writer.write_str(&text[clean..])
    }
}

#[cfg(test)]
mod tests {
    use super::super::captured::Captured;

    use std::time::Duration;

    use serde_json::Value;

    use super::*;

    /// What `log` writes with an event format (`None`: tracing-subscriber's own text format).
    fn written<E>(format: Option<E>, log: impl FnOnce()) -> String
    where
        E: FormatEvent<tracing_subscriber::Registry, tracing_subscriber::fmt::format::DefaultFields>
            + Send
            + Sync
            + 'static,
    {
        let captured = Captured::default();
        let builder = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_target(false)
            .with_ansi(false);
        match format {
            Some(format) => tracing::subscriber::with_default(builder.event_format(format).finish(), log),
            None => tracing::subscriber::with_default(builder.finish(), log),
        }
        captured.text()
    }

    fn negotiate_line() {
        let hub = String::from("chat");
        tracing::info!(
            request_id = Some("abc-1"),
            hub = %hub,
            endpoint = "",
            status = 200u16,
            latency_us = 27u64,
            "negotiate"
        );
    }

    #[test]
    fn a_json_line_is_one_object_with_every_field() {
        let text = written(Some(JsonLines), || {
            negotiate_line();
            tracing::warn!(ok = true, ratio = 0.5, "second");
        });
        let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(lines.len(), 2, "{text}");
        let line = &lines[0];
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "negotiate");
        assert_eq!(line["request_id"], "abc-1");
        assert_eq!(line["hub"], "chat");
        assert_eq!(line["endpoint"], "");
        assert_eq!(line["status"], 200);
        assert_eq!(line["latency_us"], 27);
        assert_eq!(
            (lines[1]["ok"].clone(), lines[1]["ratio"].clone()),
            (true.into(), 0.5.into())
        );
        assert!(text.starts_with(r#"{"timestamp":""#), "{text}");
        assert!(
            text.contains(r#"","level":"INFO","message":"negotiate","request_id":"abc-1","#),
            "{text}"
        );
    }

    #[test]
    fn a_text_line_looks_as_tracing_subscribers_own() {
        let ours = written(Some(TextLines), negotiate_line);
        let theirs = written(None::<TextLines>, negotiate_line);
        // The same but for the timestamp (27 characters).
        assert_eq!(ours[27..], theirs[27..], "\nours:   {ours}theirs: {theirs}");
        assert_eq!(
            &ours[27..],
            "  INFO negotiate request_id=\"abc-1\" hub=chat endpoint=\"\" status=200 latency_us=27\n"
        );
    }

    #[test]
    fn values_cannot_forge_lines_or_terminal_sequences() {
        let reason = "a \"quoted\"\\path\nnext\u{1b}[31m";
        let json = written(
            Some(JsonLines),
            || tracing::warn!(request_id = None::<&str>, reason = %reason, "it said \"no\""),
        );
        let line: Value = serde_json::from_str(json.trim_end()).unwrap();
        assert_eq!(line["reason"], reason);
        assert_eq!(line["message"], "it said \"no\"");
        assert!(line.get("request_id").is_none(), "an absent option is left out");
        let text = written(
            Some(TextLines),
            || tracing::warn!(reason = %reason, quoted = reason, "x"),
        );
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains('\u{1b}'), "{text:?}");
        // A Display value that cannot stand bare is quoted exactly as a string field is.
        assert!(
            text.contains(r#"reason="a \"quoted\"\\path\nnext\u{1b}[31m" quoted="a \"quoted\"\\path\nnext\u{1b}[31m""#),
            "{text}"
        );
    }

    /// Values no code of ours chose: each call site that logs one has one of these shapes.
    const HOSTILE: &[&str] = &[
        "a b=c",
        "x\" level=ERROR y",
        "one\ntwo",
        "one\rtwo",
        "\u{1b}[31mred\u{1b}[0m \u{9b}2J",
        "one\u{2028}two\u{2029}three\u{85}four",
        "\u{202e}desrever",
        "tab\there \\ back",
        "=",
        "\"",
        "it's ünïcödé",
        "https://keys.example.com/k?a=b",
        "a longer value, with a field in it: level=ERROR\nand a second line of text after it",
        "https://keys.example.com/a/longer/path/that/stands/bare/in/a/text/line/as/it/is",
    ];

    /// A call site's message, its event, and the fields it must read back as.
    type CallSite = (&'static str, Box<dyn Fn()>, Vec<(&'static str, String)>);

    /// The event of each call site that logs a value from elsewhere, with `hostile` as that
    /// value, and the fields it must read back as.
    fn call_sites(hostile: &str) -> Vec<CallSite> {
        let value = hostile.to_owned();
        let error = std::io::Error::other(hostile.to_owned());
        let owned = |pairs: &[(&'static str, &str)]| pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        vec![
            (
                // caller::oidc: the reason a key fetch failed names the discovered jwks_uri.
                "fetching the OIDC signing keys failed",
                Box::new({
                    let value = value.clone();
                    move || tracing::warn!(reason = %value, issuer = %value, "fetching the OIDC signing keys failed")
                }),
                owned(&[("reason", hostile), ("issuer", hostile)]),
            ),
            (
                // http::negotiate: the host's request id, a trace header's id, an upstream's reason.
                "negotiate refused",
                Box::new({
                    let value = value.clone();
                    move || {
                        tracing::info!(
                            request_id = Some(value.as_str()),
                            trace_id = Some(value.as_str()),
                            status = 502u16,
                            latency_us = 7u64,
                            reason = %value,
                            "negotiate refused"
                        );
                    }
                }),
                owned(&[
                    ("request_id", hostile),
                    ("trace_id", hostile),
                    ("status", "502"),
                    ("latency_us", "7"),
                    ("reason", hostile),
                ]),
            ),
            (
                // hosts::lambda: the Runtime API's request id.
                "event refused",
                Box::new({
                    let value = value.clone();
                    move || tracing::info!(request_id = %value, status = 400, reason = "fixed", "event refused")
                }),
                owned(&[("request_id", hostile), ("status", "400"), ("reason", "fixed")]),
            ),
            (
                // hosts::server, hosts::lambda, service::rest_api, tokens::entra_access_key:
                // errors, whose text may hold an upstream's or the system's words.
                "the Lambda runtime stopped",
                Box::new(move || tracing::error!(%error, "the Lambda runtime stopped")),
                owned(&[("error", hostile)]),
            ),
            (
                // service::rest_api: an identity endpoint's body; entra_access_key: the key id
                // and server from an upstream; aws::refresh: an AWS error; the start warnings.
                "Microsoft Entra token request failed",
                Box::new({
                    let value = value.clone();
                    move || {
                        tracing::warn!(
                            credential = "ManagedIdentityCredential",
                            detail = %value,
                            key_id = %value,
                            "Microsoft Entra token request failed"
                        );
                    }
                }),
                owned(&[
                    ("credential", "ManagedIdentityCredential"),
                    ("detail", hostile),
                    ("key_id", hostile),
                ]),
            ),
            (
                // endpoints::health, http::cors, aws::refresh: strings.
                "SignalR endpoint is offline",
                Box::new(move || {
                    tracing::warn!(
                        endpoint = value.as_str(),
                        reason = value.as_str(),
                        "SignalR endpoint is offline"
                    )
                }),
                owned(&[("endpoint", hostile), ("reason", hostile)]),
            ),
        ]
    }

    /// A text line's fields after `message`: each ` name=value`, a quoted value unescaped as
    /// Rust's `Debug` escapes; panics on anything else.
    fn text_fields(line: &str, message: &str) -> Vec<(String, String)> {
        let rest = line[27..]
            .strip_prefix(" ")
            .and_then(|rest| rest.get(5..))
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|rest| rest.strip_prefix(message))
            .unwrap_or_else(|| panic!("not a line of {message:?}: {line:?}"));
        let mut chars = rest.chars().peekable();
        let mut fields = Vec::new();
        while chars.next().is_some() {
            let name: String = chars.by_ref().take_while(|&c| c != '=').collect();
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{line:?}"
            );
            let mut value = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next().unwrap_or_else(|| panic!("unterminated: {line:?}")) {
                        '"' => break,
                        '\\' => match chars.next().unwrap() {
                            'n' => value.push('\n'),
                            'r' => value.push('\r'),
                            't' => value.push('\t'),
                            '0' => value.push('\0'),
                            'u' => {
                                let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                                value.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                            }
                            other => value.push(other),
                        },
                        c => value.push(c),
                    }
                }
                assert!(matches!(chars.peek(), None | Some(' ')), "{line:?}");
            } else {
                while let Some(&c) = chars.peek().filter(|&&c| c != ' ') {
                    assert!(c.is_ascii_graphic() && c != '"' && c != '=', "bare {c:?} in {line:?}");
                    value.push(c);
                    chars.next();
                }
            }
            fields.push((name, value));
        }
        fields
    }

    /// Nothing a terminal or a line reader would act on is written as it is.
    fn assert_inert(written: &str) {
        assert!(written.ends_with('\n') && written.lines().count() == 1, "{written:?}");
        let acted_on = |c: char| (c.is_control() && c != '\n') || hidden(c);
        assert!(!written.chars().any(acted_on), "{written:?}");
    }

    #[test]
    fn hostile_values_read_back_as_exactly_the_fields_written() {
        for hostile in HOSTILE {
            for (message, log, expected) in call_sites(hostile) {
                let expected: Vec<(String, String)> = expected.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                let text = written(Some(TextLines), &log);
                assert_inert(&text);
                assert_eq!(text_fields(text.trim_end(), message), expected, "{text:?}");

                let json = written(Some(JsonLines), &log);
                assert_inert(&json);
                let line: serde_json::Map<String, Value> = serde_json::from_str(&json).unwrap();
                let got: Vec<(String, String)> = line
                    .into_iter()
                    .filter(|(name, _)| !matches!(name.as_str(), "timestamp" | "level" | "message"))
                    .map(|(name, value)| match value {
                        Value::String(text) => (name, text),
                        other => (name, other.to_string()),
                    })
                    .collect();
                let mut sorted = expected.clone();
                sorted.sort();
                assert_eq!(got, sorted, "{json:?}");
            }
        }
    }

    #[test]
    fn our_own_values_stay_bare() {
        let text = written(Some(TextLines), || {
            let (hub, addr) = ("chat", std::net::SocketAddr::from(([127, 0, 0, 1], 7071)));
            let spacing = Some(Duration::from_millis(1500));
            tracing::info!(hub = %hub, %addr, ?spacing, empty = %"", "ours");
        });
        assert_eq!(
            &text[27..],
            "  INFO ours hub=chat addr=127.0.0.1:7071 spacing=Some(1.5s) empty=\n"
        );
    }

    #[test]
    fn digits_are_put_in_place() {
        assert_eq!(rfc3339(0, 0).as_str(), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(1_795_793_448, 724_766).as_str(), "2026-11-27T15:30:48.724766Z");
        assert_eq!(rfc3339(951_868_799, 999_999).as_str(), "2000-02-29T23:59:59.999999Z");
        assert_eq!(decimal(u64::MAX).as_str(), "18446744073709551615");
        assert_eq!(decimal(407).as_str(), "00000000000000000407");
        let zero = || tracing::info!(count = 0u64, more = 10u64, "zero");
        let json = written(Some(JsonLines), zero);
        assert!(json.contains(r#""count":0,"more":10"#), "{json}");
        let text = written(Some(TextLines), zero);
        assert!(text.contains("count=0 more=10"), "{text}");
    }

    #[test]
    fn timestamps_are_utc_rfc3339_with_microseconds() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_784), (2026, 11, 27));
        assert_eq!(civil_from_days(10_956), (1999, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let ours = written(Some(TextLines), negotiate_line);
        let theirs = written(None::<TextLines>, negotiate_line);
        // Taken a moment apart: the same to the second (unless a second turned in between).
        assert_eq!(ours.len(), theirs.len());
        assert_eq!(ours.as_bytes()[26], b'Z');
        assert_eq!(ours[..10], theirs[..10], "{ours}{theirs}");
    }
}
