//! Character-pair frequency scores of names (Mark Baggett's `freq.py`, as `domain_stats` uses it).
//!
//! A [`FreqTable`] holds how often each character followed each other character in English prose;
//! [`FreqTable::score`] turns a string into two scores (average pair probability and total word
//! probability, both in percent, rounded to 4 decimals as Python's `round` does). Lower means more
//! random-looking. The table shipped with `freq.py` (`data/freq/freqtable2018.freq`, MIT, see
//! `data/freq/LICENSE`) is embedded and parsed once ([`FreqTable::embedded`]). The algorithm follows
//! `../shared/corpus/freq/VECTORS.md`. Deciding what to score (the registrable domain) and when to
//! alert is left to `crate::enrich::domain`.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::Context;

const EMBEDDED: &str = include_str!("../../data/freq/freqtable2018.freq");

/// A character-pair frequency table.
#[derive(Clone, Debug, Default)]
pub struct FreqTable {
    ignore_case: bool,
    ignorechars: Vec<char>,
    /// `counts[a][b]`: how often `b` followed `a`, case as stored.
    counts: HashMap<char, HashMap<char, u64>>,
    /// `rows[a]`: the sum of `counts[a][*]`.
    rows: HashMap<char, u64>,
}

/// The table file's shape: `[ignore_case, ignorechars, [[c1, [[c2, count], ...]], ...]]`.
type RawTable = (bool, String, Vec<(String, Vec<(String, u64)>)>);

impl FreqTable {
    /// The table shipped with `freq.py` (`freqtable2018.freq`), parsed on first use.
    pub fn embedded() -> &'static FreqTable {
        static TABLE: OnceLock<FreqTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            // The embedded table is fixed at build time and covered by tests; an empty table
            // (every score 0) is the only possible fallback.
            FreqTable::parse_str(EMBEDDED).unwrap_or_default()
        })
    }

    /// Reads a table file (JSON, read as Latin-1 like `freq.py` does).
    pub fn load(path: &Path) -> anyhow::Result<FreqTable> {
        let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
        FreqTable::parse_reader(file).with_context(|| format!("{}", path.display()))
    }

    /// Reads a table from any reader (bytes taken as Latin-1).
    pub fn parse_reader(mut r: impl Read) -> anyhow::Result<FreqTable> {
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes)?;
        let text: String = bytes.iter().map(|&b| char::from(b)).collect();
        FreqTable::parse_str(&text)
    }

    fn parse_str(text: &str) -> anyhow::Result<FreqTable> {
        let (ignore_case, ignorechars, rows): RawTable =
            serde_json::from_str(text).context("not a frequency table")?;
        let mut table = FreqTable {
            ignore_case,
            ignorechars: ignorechars.chars().collect(),
            ..FreqTable::default()
        };
        for (first, followers) in rows {
            let a = single_char(&first)?;
            let row = table.counts.entry(a).or_default();
            for (second, count) in followers {
                let b = single_char(&second)?;
                *row.entry(b).or_default() += count;
            }
        }
        for (a, row) in &table.counts {
            table.rows.insert(*a, row.values().sum());
        }
        Ok(table)
    }

    /// Scores `s`: (average pair probability, total word probability), each in percent and rounded
    /// to 4 decimals. Strings with no usable pair score (0.0, 0.0).
    pub fn score(&self, s: &str) -> (f64, f64) {
        let mut prob_sum = 0.0f64;
        let mut pairs = 0u64;
        let mut pair_total = 0u64;
        let mut row_total = 0u64;
        let mut chars = s.chars();
        let Some(mut a) = chars.next() else {
            return (0.0, 0.0);
        };
        for b in chars {
            let (x, y) = (a, b);
            a = b;
            if self.ignorechars.contains(&x) && self.ignorechars.contains(&y) {
                continue;
            }
            pairs += 1;
            let f = self.pair(x, y);
            let r = self.row(x);
            let i: u64 = self.ignorechars.iter().map(|&c| self.pair(x, c)).sum();
            let denom = r.saturating_sub(i);
            if r != 0 && denom != 0 {
                prob_sum += f as f64 / denom as f64;
            }
            pair_total = pair_total.saturating_add(f);
            row_total = row_total.saturating_add(r);
        }
        let score1 = if pairs == 0 {
            0.0
        } else {
            100.0 * (prob_sum / pairs as f64)
        };
        let score2 = if pair_total == 0 || row_total == 0 {
            0.0
        } else {
            100.0 * pair_total as f64 / row_total as f64
        };
        (round4(score1), round4(score2))
    }

    /// The case variants of `c` looked up together.
    fn variants(&self, c: char) -> [Option<char>; 2] {
        if self.ignore_case && c.is_ascii_alphabetic() {
            [Some(c.to_ascii_lowercase()), Some(c.to_ascii_uppercase())]
        } else {
            [Some(c), None]
        }
    }

    /// `F(a, b)`: the case-folded pair count.
    fn pair(&self, a: char, b: char) -> u64 {
        let mut sum = 0u64;
        for x in self.variants(a).into_iter().flatten() {
            let Some(row) = self.counts.get(&x) else {
                continue;
            };
            for y in self.variants(b).into_iter().flatten() {
                sum = sum.saturating_add(row.get(&y).copied().unwrap_or(0));
            }
        }
        sum
    }

    /// `R(a)`: everything that follows `a`, case folded.
    fn row(&self, a: char) -> u64 {
        self.variants(a)
            .into_iter()
            .flatten()
            .map(|x| self.rows.get(&x).copied().unwrap_or(0))
            .sum()
    }
}

fn single_char(s: &str) -> anyhow::Result<char> {
    let mut it = s.chars();
    match (it.next(), it.next()) {
        (Some(c), None) => Ok(c),
        _ => anyhow::bail!("table key {s:?} is not one character"),
    }
}

/// Python's `round(x, 4)`: the exact binary value rounded to 4 decimals, ties to even.
fn round4(x: f64) -> f64 {
    format!("{x:.4}").parse().unwrap_or(x)
}

/// Whether `scores` fall below both thresholds (`domain_stats`' LOW-FREQ-SCORES).
pub fn is_low(scores: (f64, f64), thresholds: (f64, f64)) -> bool {
    scores.0 < thresholds.0 && scores.1 < thresholds.1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every vector of `../shared/corpus/freq/VECTORS.md` (`freq.py` with this table).
    pub(crate) const VECTORS: &[(&str, f64, f64)] = &[
        ("betterme-magazine.com", 9.3769, 6.832),
        ("google.com", 6.6009, 5.0887),
        ("Google.COM", 6.6009, 5.0887),
        ("www.google.com", 4.6231, 4.3346),
        ("microsoft.com", 6.2764, 5.9115),
        ("kaspersky.com", 6.838, 7.7354),
        ("facebook.com", 6.5809, 4.4762),
        ("example.co.uk", 5.2854, 3.6278),
        ("thisisaverylongdomainnamewithwords.com", 11.2742, 10.4233),
        ("xjwqpzkvbr.net", 1.5968, 3.4029),
        ("qwxzv.ru", 0.3546, 1.1066),
        ("kq3v9z0x7w.com", 2.0149, 5.8688),
        ("a1b2c3d4e5.info", 3.6674, 4.9661),
        ("asdfjkl.top", 2.6458, 4.5683),
        ("api.snoopza.com", 3.863, 3.1953),
        ("x.duckdns.org", 2.5654, 3.599),
        ("duckdns.org", 2.8952, 3.6779),
        ("cdn-77.example.net", 4.0377, 3.264),
        ("xn--80ak6aa92e.com", 2.7273, 2.1606),
        ("0123456789.biz", 3.4892, 0.9692),
        ("a.b", 0.0812, 0.1366),
        ("ab", 1.8516, 1.8498),
        ("a", 0.0, 0.0),
        ("", 0.0, 0.0),
    ];

    #[test]
    fn every_vector_matches_exactly() {
        let t = FreqTable::embedded();
        for &(input, s1, s2) in VECTORS {
            assert_eq!(t.score(input), (s1, s2), "{input:?}");
        }
    }

    #[test]
    fn alert_classes_match_vectors() {
        let t = FreqTable::embedded();
        assert!(is_low(t.score("xjwqpzkvbr.net"), (5.0, 4.0)));
        assert!(!is_low(t.score("www.google.com"), (5.0, 4.0)));
        assert!(!is_low(t.score("google.com"), (5.0, 4.0)));
    }

    #[test]
    fn loads_from_reader_and_rejects_garbage() {
        let t = FreqTable::parse_reader(EMBEDDED.as_bytes()).unwrap();
        assert_eq!(t.score("google.com"), (6.6009, 5.0887));
        assert!(FreqTable::parse_reader(&b"[true, \"\", [[\"ab\", []]]]"[..]).is_err());
        assert!(FreqTable::parse_reader(&b"{not json"[..]).is_err());
        // Non-ASCII input and a table without rows never panic.
        assert_eq!(t.score("\u{444}\u{444}\u{0}"), (0.0, 0.0));
        let empty = FreqTable::parse_reader(&b"[true, \"-\", []]"[..]).unwrap();
        assert_eq!(empty.score("abc-"), (0.0, 0.0));
    }

    #[test]
    fn python_rounding() {
        assert_eq!(round4(6.83199999), 6.832);
        assert_eq!(round4(0.03125), 0.0312);
        assert_eq!(round4(0.0), 0.0);
    }
}
