//! `Range: bytes=…` (RFC 9110 §14): one range is served as 206; several ranges, other
//! units, a malformed header or an `If-Range` (these responses carry no validator) get
//! the whole file, as the RFC allows; a range wholly past the end is 416.

use std::ops::Range;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ask {
    Whole,
    Part(Range<u64>),
    Unsatisfiable,
}

pub fn parse(header: Option<&str>, if_range: bool, size: u64) -> Ask {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ask::Whole;
    };
    if if_range || spec.contains(',') {
        return Ask::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ask::Whole;
    };
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.trim().is_empty(), num(first), num(last)) {
        // bytes=-N: the last N bytes.
        (true, _, Some(n)) => {
            if n == 0 || size == 0 {
                Ask::Unsatisfiable
            } else {
                Ask::Part(size.saturating_sub(n)..size)
            }
        }
        (false, Some(start), end) if last.trim().is_empty() || end.is_some() => {
            if end.is_some_and(|e| e < start) {
                return Ask::Whole;
            }
            if start >= size {
                return Ask::Unsatisfiable;
            }
            let end = end.map_or(size, |e| e.saturating_add(1).min(size));
            Ask::Part(start..end)
        }
        _ => Ask::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse(None, false, 10), Ask::Whole);
        assert_eq!(parse(Some("bytes=0-3"), false, 10), Ask::Part(0..4));
        assert_eq!(parse(Some("bytes=5-"), false, 10), Ask::Part(5..10));
        assert_eq!(parse(Some("bytes=-3"), false, 10), Ask::Part(7..10));
        assert_eq!(parse(Some("bytes=-30"), false, 10), Ask::Part(0..10));
        assert_eq!(parse(Some("bytes=8-100"), false, 10), Ask::Part(8..10));
        assert_eq!(parse(Some("bytes=10-"), false, 10), Ask::Unsatisfiable);
        assert_eq!(parse(Some("bytes=-0"), false, 10), Ask::Unsatisfiable);
        assert_eq!(parse(Some("bytes=0-1,4-5"), false, 10), Ask::Whole);
        assert_eq!(parse(Some("bytes=5-2"), false, 10), Ask::Whole);
        assert_eq!(parse(Some("items=0-1"), false, 10), Ask::Whole);
        assert_eq!(parse(Some("bytes=x-1"), false, 10), Ask::Whole);
        assert_eq!(parse(Some("bytes=0-1"), true, 10), Ask::Whole);
    }
}
