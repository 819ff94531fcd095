//! Reads a certificate's `notAfter` from its DER encoding.
//!
//! Just enough DER to walk `Certificate → TBSCertificate → Validity`; any
//! surprise yields `None` (the expiry is then reported as unknown). No
//! dependency, no panics on hostile input.

use std::time::{Duration, SystemTime};

/// The `notAfter` time of an X.509 certificate in DER, if it parses.
pub fn not_after(der: &[u8]) -> Option<SystemTime> {
    let (tag, cert, _) = tlv(der)?;
    expect(tag, 0x30)?;
    let (tag, tbs, _) = tlv(cert)?;
    expect(tag, 0x30)?;
    let mut rest = tbs;
    // Optional [0] EXPLICIT version.
    if rest.first() == Some(&0xA0) {
        rest = tlv(rest)?.2;
    }
    for expected in [0x02, 0x30, 0x30] {
        // serialNumber, signature, issuer
        let (tag, _, next) = tlv(rest)?;
        expect(tag, expected)?;
        rest = next;
    }
    let (tag, validity, _) = tlv(rest)?;
    expect(tag, 0x30)?;
    let (_, _, after_not_before) = tlv(validity)?;
    let (tag, time, _) = tlv(after_not_before)?;
    parse_time(tag, time)
}

fn expect(tag: u8, expected: u8) -> Option<()> {
    (tag == expected).then_some(())
}

/// Splits one tag-length-value off `input`: (tag, content, rest).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, input) = input.split_first()?;
    let (&first, mut input) = input.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || input.len() < n {
            return None;
        }
        let (bytes, rest) = input.split_at(n);
        input = rest;
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    if input.len() < len {
        return None;
    }
    let (content, rest) = input.split_at(len);
    Some((tag, content, rest))
}

/// UTCTime (0x17, `YYMMDDHHMMSSZ`) or GeneralizedTime (0x18,
/// `YYYYMMDDHHMMSSZ`).
fn parse_time(tag: u8, text: &[u8]) -> Option<SystemTime> {
    let text = std::str::from_utf8(text).ok()?;
    let digits = text.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |s: &str| s.parse::<i64>().ok();
    let (year, rest) = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy = num(&digits[..2])?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        (0x18, 14) => (num(&digits[..4])?, &digits[4..]),
        _ => return None,
    };
    let (month, day) = (num(&rest[0..2])?, num(&rest[2..4])?);
    let (h, m, s) = (num(&rest[4..6])?, num(&rest[6..8])?, num(&rest[8..10])?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s;
    let secs = u64::try_from(secs).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Option<SystemTime> {
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn times_parse() {
        assert_eq!(parse_time(0x17, b"700101000000Z"), at(0));
        assert_eq!(parse_time(0x17, b"010101000000Z"), at(978_307_200));
        assert_eq!(parse_time(0x18, b"20380119031408Z"), at(2_147_483_648));
        assert_eq!(parse_time(0x17, b"011301000000Z"), None);
        assert_eq!(parse_time(0x17, b"0101010000Z"), None);
        assert_eq!(parse_time(0x18, b"2038011903140Z"), None);
        assert_eq!(parse_time(0x05, b"700101000000Z"), None);
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(&[0x30, 0x82, 0xff]), None);
        assert_eq!(not_after(&[0x30, 0x03, 0x30, 0x01, 0x00]), None);
        assert_eq!(tlv(&[0x30, 0x85, 1, 2, 3, 4, 5]), None);
    }
}
