//! The service's clock against this machine's, from the `Date` of the service's answers: a
//! skew that would make a token's `iat`/`nbf` or `exp` wrong by the service's clock is a
//! problem, with its size.

use super::Report;

/// The skew a service on .NET's JwtBearer allows for (its default `ClockSkew`): beyond it, a
/// token's `nbf` or `exp` is wrong by the service's clock.
const CLOCK_TOLERANCE_SECS: u64 = 300;

/// The clock line: the service's clock against this machine's, from the first answer with a
/// `Date` (service minus this machine, in seconds).
pub(super) fn clock(report: &mut Report, skew: Option<i64>, lifetime_secs: u64) {
    match skew {
        None => report.line("clock:", "not compared (no answer from the service had a Date header)"),
        Some(skew) => match judge_skew(skew, lifetime_secs) {
            Ok(text) => report.line("clock:", text),
            Err(text) => report.problem("clock:", text),
        },
    }
}

/// `Ok` with how close the clocks are, or `Err` with the problem and its size.
fn judge_skew(skew: i64, lifetime_secs: u64) -> Result<String, String> {
    let size = duration_words(skew.unsigned_abs());
    let lifetime = duration_words(lifetime_secs);
    const FIX: &str = "set this machine's clock (NTP)";
    if skew < 0 && skew.unsigned_abs() > CLOCK_TOLERANCE_SECS {
        Err(format!(
            "this machine's clock is {size} ahead of the service's: tokens are issued (iat, nbf) {size} in the \
            service's future, and may be refused as not yet valid; {FIX}"
        ))
    } else if skew > 0 && skew.unsigned_abs() >= lifetime_secs {
        Err(format!(
            "this machine's clock is {size} behind the service's: by the service's clock every token (lifetime \
            {lifetime}) has expired when it is made; {FIX}"
        ))
    } else if skew > 0 && skew.unsigned_abs() > CLOCK_TOLERANCE_SECS {
        Err(format!(
            "this machine's clock is {size} behind the service's: by the service's clock tokens expire {size} early \
            (lifetime {lifetime}); {FIX}"
        ))
    } else if skew == 0 {
        Ok("ok: the same as the service's, to the second".to_owned())
    } else {
        Ok(format!("ok: within {size} of the service's"))
    }
}

/// `42 s`, `7 min`, `2 h`, `3 h 5 min` (rounded to what the size needs).
fn duration_words(secs: u64) -> String {
    if secs < 120 {
        return format!("{secs} s");
    }
    let minutes = (secs + 30) / 60;
    if minutes < 120 {
        return format!("{minutes} min");
    }
    match (minutes / 60, minutes % 60) {
        (hours, 0) => format!("{hours} h"),
        (hours, minutes) => format!("{hours} h {minutes} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_in_words() {
        assert_eq!(duration_words(0), "0 s");
        assert_eq!(duration_words(119), "119 s");
        assert_eq!(duration_words(600), "10 min");
        assert_eq!(duration_words(7_199), "2 h");
        assert_eq!(duration_words(7_200 + 5 * 60), "2 h 5 min");
        assert_eq!(duration_words(86_400), "24 h");
    }

    #[test]
    fn a_skew_is_a_problem_when_it_would_make_nbf_or_exp_wrong() {
        assert_eq!(
            judge_skew(0, 3600).unwrap(),
            "ok: the same as the service's, to the second"
        );
        assert_eq!(judge_skew(-2, 3600).unwrap(), "ok: within 2 s of the service's");
        assert!(judge_skew(300, 3600).is_ok() && judge_skew(-300, 3600).is_ok());
        let ahead = judge_skew(-600, 3600).unwrap_err();
        assert!(
            ahead.starts_with("this machine's clock is 10 min ahead of the service's"),
            "{ahead}"
        );
        let early = judge_skew(600, 3600).unwrap_err();
        assert!(
            early.contains("10 min behind") && early.contains("expire 10 min early"),
            "{early}"
        );
        let expired = judge_skew(7_200, 3600).unwrap_err();
        assert!(
            expired.contains("2 h behind") && expired.contains("has expired when it is made"),
            "{expired}"
        );
        // A lifetime shorter than the tolerance: a skew of a lifetime is a problem already.
        assert!(judge_skew(120, 60).unwrap_err().contains("has expired"));
    }
}
