//! What a model server says about its own load in response headers.

use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::time::{Duration, SystemTime};

/// `Retry-After` as seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        // try_: a huge value ("1e30") must not panic; the deadline refuses it.
        return Duration::try_from_secs_f64(seconds).ok().map(at_most_a_day);
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(at_most_a_day(
        when.duration_since(SystemTime::now()).unwrap_or_default(),
    ))
}

/// Longer waits than any deadline, capped so adding them to a time cannot
/// overflow.
fn at_most_a_day(wait: Duration) -> Duration {
    wait.min(Duration::from_secs(86_400))
}

/// How long to hold new requests when the server says its request budget
/// is spent (`x-ratelimit-remaining-requests: 0`, as OpenAI, Groq and
/// others send), until `x-ratelimit-reset-requests` ("1s", "6m0s", "20ms")
/// or, without it, one second.
pub fn exhausted_for(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    let remaining: u64 = text("x-ratelimit-remaining-requests")?.parse().ok()?;
    if remaining > 0 {
        return None;
    }
    let reset = text("x-ratelimit-reset-requests").and_then(go_duration);
    Some(at_most_a_day(reset.unwrap_or(Duration::from_secs(1))))
}

/// Go-style durations ("1h2m3.5s", "20ms") or plain seconds ("1.5").
fn go_duration(text: &str) -> Option<Duration> {
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&n| n > 0)?;
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "2")])),
            Some(Duration::from_secs(2))
        );
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let wait = retry_after(&headers(&[("retry-after", &later)])).unwrap();
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30));
        for bad in ["soon", "1e30", "-3"] {
            assert_eq!(
                retry_after(&headers(&[("retry-after", bad)])),
                None,
                "{bad}"
            );
        }
        let huge = retry_after(&headers(&[("retry-after", "10000000000000000000")]));
        assert_eq!(huge, Some(Duration::from_secs(86_400)));
    }

    #[test]
    fn a_spent_request_budget_holds_until_its_reset() {
        let spent = |reset: &str| {
            exhausted_for(&headers(&[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", reset),
            ]))
        };
        assert_eq!(spent("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(spent("1h2m3.5s"), Some(Duration::from_secs_f64(3723.5)));
        assert_eq!(spent("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(spent("2"), Some(Duration::from_secs(2)));
        assert_eq!(spent("later"), Some(Duration::from_secs(1)));
        let left = headers(&[("x-ratelimit-remaining-requests", "12")]);
        assert_eq!(exhausted_for(&left), None);
        assert_eq!(exhausted_for(&HeaderMap::new()), None);
    }
}
