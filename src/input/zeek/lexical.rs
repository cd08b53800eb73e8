//! Fast paths for the values nearly every log row carries: plain decimal counts and ports, and
//! times and intervals written as `digits.digits`. Each function answers exactly what the
//! standard library's `str::parse` answers for the same text, or `None` when the text is not in
//! the simple form it handles, and the caller then falls back to `str::parse`. So the fast paths
//! change speed only, never a value or a diagnostic (the unit tests compare them with the
//! standard library on every form, and `fuzz_targets/zeek_tsv.rs` runs the whole reader).

/// `raw` as an unsigned number when it is 1 to 19 ASCII digits (always below `u64::MAX`).
pub(crate) fn plain_u64(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() || raw.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in raw {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u64::from(d);
    }
    Some(v)
}

/// The value of eight ASCII digits, the first the most significant, or `None` when a byte is
/// not a digit: all eight at once in one word (D. Lemire, "Fast numerical parsing", SWAR).
#[inline]
fn eight_digits(word: [u8; 8]) -> Option<u64> {
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    let v = u64::from_le_bytes(word);
    // Each byte is 0x30..=0x39 exactly when its high nibble is 3 and adding 6 keeps it 3 (a
    // byte of 0xFA or more carries into the next, but its own high nibble is already wrong).
    if (v & HIGH) | ((v.wrapping_add(0x0606_0606_0606_0606) & HIGH) >> 4) != 0x3333_3333_3333_3333 {
        return None;
    }
    let v = ((v & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(2561)) >> 8;
    let v = ((v & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601)) >> 16;
    Some(((v & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001)) >> 32)
}

/// Powers of ten that are exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Every integer up to this one (2^53) is exact as an `f64`.
const MAX_EXACT: u64 = 1 << 53;

/// [`plain_f64`] of a time as Zeek writes it, ten digits, a dot and six digits, read eight
/// digits at a time: the general loop's test of each byte was most of a row's time parsing.
#[inline]
fn zeek_time(raw: &[u8]) -> Option<f64> {
    let &[a, b, c, d, e, f, g, h, i, j, b'.', k, l, m, n, o, p] = raw else {
        return None;
    };
    let high = eight_digits([a, b, c, d, e, f, g, h])?;
    let low = eight_digits([i, j, k, l, m, n, o, p])?;
    // Both below 10^8: the sixteen digits as one integer fit.
    let mantissa = high * 100_000_000 + low;
    (mantissa <= MAX_EXACT).then(|| mantissa as f64 / 1e6)
}

/// `raw` as an `f64` when it is `digits` or `digits.digits` whose digits, read as one integer,
/// are at most 2^53 (Zeek writes times as `1704067200.123456` and intervals as `0.012000`).
///
/// Both that integer and the power of ten are then exact doubles, and one IEEE division rounds
/// their quotient correctly: the correctly rounded value of the decimal, which is what
/// `str::parse::<f64>` returns (Clinger's fast path).
pub(crate) fn plain_f64(raw: &[u8]) -> Option<f64> {
    if let Some(v) = zeek_time(raw) {
        return Some(v);
    }
    // Twenty digits may wrap the integer; they are refused below.
    if raw.is_empty() || raw.len() > 20 {
        return None;
    }
    // A time's ten integer digits make a chain of multiply-adds the processor cannot overlap:
    // the first eight are read at once when they are all digits.
    let (mut mantissa, skip) = match raw.first_chunk::<8>().and_then(|w| eight_digits(*w)) {
        Some(v) => (v, 8),
        None => (0, 0),
    };
    let mut dot: Option<usize> = None;
    for (i, &b) in raw.iter().enumerate().skip(skip) {
        let d = b.wrapping_sub(b'0');
        if d <= 9 {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
        } else if b == b'.' && dot.is_none() {
            dot = Some(i);
        } else {
            return None;
        }
    }
    let digits = raw.len() - usize::from(dot.is_some());
    if digits == 0 || digits > 19 || mantissa > MAX_EXACT {
        return None;
    }
    let scale = dot.map_or(0, |i| raw.len() - 1 - i);
    let p = POW10.get(scale)?;
    Some(mantissa as f64 / p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std_f64(s: &str) -> Option<f64> {
        s.parse::<f64>().ok()
    }

    #[test]
    fn counts_agree_with_the_standard_library() {
        for s in [
            "0",
            "7",
            "0042",
            "18446744073709551615",
            "9999999999999999999",
            "+5",
            "-1",
            "",
            "1 ",
            "١",
            "12a",
        ] {
            if let Some(v) = plain_u64(s.as_bytes()) {
                assert_eq!(Some(v), s.parse::<u64>().ok(), "{s:?}");
            }
        }
        assert_eq!(
            plain_u64(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(plain_u64(b"+5"), None);
        assert_eq!(plain_u64(b"18446744073709551615"), None);
        // Every length, and a byte next to the digits (`/` and `:` border them, 0xb0 and 0x39
        // + 0x80 share their low bits) at every place of an eight-byte word.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for len in 1..=19usize {
            for _ in 0..200 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let s = format!("{:019}", x % 10_000_000_000_000_000_000);
                let s = s.get(19 - len..).unwrap_or_default();
                assert_eq!(plain_u64(s.as_bytes()), s.parse::<u64>().ok(), "{s:?}");
                for bad in [b'/', b':', b' ', 0xb0, 0xb9, 0x00, b'a'] {
                    let mut b = s.as_bytes().to_vec();
                    if let Some(c) = b.get_mut((x % len as u64) as usize) {
                        *c = bad;
                    }
                    assert_eq!(plain_u64(&b), None, "{b:?}");
                    let mut t = b.clone();
                    t.insert(len / 2, b'.');
                    assert_eq!(plain_f64(&t), None, "{t:?}");
                }
            }
        }
    }

    #[test]
    fn eight_digits_at_once_agree_with_one_at_a_time() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let s = format!("{:08}", x % 100_000_000);
            let mut w = [0u8; 8];
            w.copy_from_slice(s.as_bytes());
            assert_eq!(eight_digits(w), s.parse::<u64>().ok(), "{s}");
            // One byte anything else: refused.
            let at = (x >> 40) as usize % 8;
            let b = (x >> 48) as u8;
            w[at] = b;
            let want = w
                .iter()
                .all(u8::is_ascii_digit)
                .then(|| std::str::from_utf8(&w).ok()?.parse::<u64>().ok())
                .flatten();
            assert_eq!(eight_digits(w), want, "{w:?}");
        }
        for b in 0..=255u8 {
            let mut w = *b"12345678";
            w[3] = b;
            assert_eq!(eight_digits(w).is_some(), b.is_ascii_digit(), "{b}");
        }
    }

    #[test]
    fn reals_agree_with_the_standard_library() {
        let mut cases: Vec<String> = [
            "1704067200.000000",
            "1704067200.123456",
            "1320279566.452687",
            "0000000000.000000",
            "9007199254.740992",
            "9007199254.740993",
            "9999999999.999999",
            "17040672a0.000000",
            "1704067200.00000a",
            "1704067200,000000",
            "1704067200.0000000",
            "170406720.0000000",
            "0.012000",
            "12.372147",
            "0",
            "0.1",
            "0.3",
            "5.",
            ".5",
            ".",
            "9007199254740992",
            "9007199254740993",
            "12345678901234567890",
            "99999999999999999999",
            "900719925474099.3",
            "0.0000000000000000000001",
            "0.00000000000000000000001",
            "1e5",
            "inf",
            "NaN",
            "-1.5",
            "+1.5",
            "1.2.3",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every time of a day at microsecond steps would be slow; a spread of them is enough.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = 1_000_000_000 + x % 1_000_000_000;
            let micros = (x >> 32) % 1_000_000;
            cases.push(format!("{secs}.{micros:06}"));
            cases.push(format!("{}.{:06}", x % 100_000, micros));
            cases.push(format!(
                "0.{:0width$}",
                x % 10_000_000,
                width = (x % 9 + 1) as usize
            ));
        }
        for s in &cases {
            match plain_f64(s.as_bytes()) {
                Some(v) => assert_eq!(Some(v.to_bits()), std_f64(s).map(f64::to_bits), "{s:?}"),
                None => assert!(
                    !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                        || s.matches('.').count() > 1
                        || s == "."
                        || s.is_empty()
                        || s.replace('.', "").len() > 15,
                    "{s:?} should take the fast path"
                ),
            }
        }
    }
}
