//! Zeek's ASCII (TSV) log format: header lines, field splitting, unescaping, typed values.
//!
//! A header block is a run of meta lines (`#separator \x09`, `#set_separator`, `#empty_field`,
//! `#unset_field`, `#path`, `#fields`, `#types`, `#open`, `#close`); `#separator` starts a new
//! block and `#fields` sets the schema that the data lines after it follow, so concatenated
//! rotations each bring their own schema. The meta prefix is `#` unless a `<prefix>separator`
//! line at the top of the file names another (`LogAscii::meta_prefix`, e.g. `PREFIX<>`); any
//! other line beginning with `#` (`### BTest ...`) is a comment. A file without meta lines whose
//! first line is a tab-separated list of column names (the writer's header-less `tsv` mode) is
//! read with Zeek's default markers.
//!
//! Values are taken by column name through [`super::fields`]. A value equal to the unset marker
//! is unset and one equal to the empty marker is the empty string or set; both are compared
//! before unescaping, so `\x2d` is a literal `-`. Unescaping turns `\xHH` into the byte and
//! `\\` into one backslash and borrows from the line when there is nothing to unescape. Escaped
//! bytes that are not UTF-8, and C0 controls other than `\b \t \n \f \r`, are kept as `\xHH`
//! text, as Zeek's JSON writer renders them, so the TSV and JSON logs of one run give the same
//! strings; raw (unescaped) invalid UTF-8, which Zeek never writes, is replaced by U+FFFD and
//! reported. A `time` value masked by btest (`XXXXXXXXXX.XXXXXX`) is read as unknown, silently.

use std::borrow::Cow;
use std::net::IpAddr;

use memchr::memmem;

use super::fields::{self, BadValue, F, Mask, Match, N, Row, Ty};
use super::lexical;
use crate::model::Ts;

/// The time value btest writes in place of real timestamps.
pub(crate) const BTEST_TIME_MASK: &[u8] = b"XXXXXXXXXX.XXXXXX";

/// The markers of the current header block.
#[derive(Clone, Debug)]
pub(crate) struct Meta {
    pub prefix: Vec<u8>,
    pub sep: Vec<u8>,
    pub set_sep: Vec<u8>,
    pub empty: Vec<u8>,
    pub unset: Vec<u8>,
    pub path: Option<String>,
}

impl Default for Meta {
    fn default() -> Meta {
        Meta {
            prefix: b"#".to_vec(),
            sep: b"\t".to_vec(),
            set_sep: b",".to_vec(),
            empty: b"(empty)".to_vec(),
            unset: b"-".to_vec(),
            path: None,
        }
    }
}

/// The columns of the current header block: how many, and where each column read lives.
#[derive(Clone, Debug)]
pub(crate) struct Schema {
    pub ncols: usize,
    pub map: [Option<usize>; N],
}

impl Schema {
    /// How many leading fields hold every column of `mask` that the schema has: the fields a
    /// row must be split into for those columns to be read.
    pub(crate) fn fields_for(&self, mask: Mask) -> usize {
        self.map
            .iter()
            .enumerate()
            .filter(|&(f, _)| mask.has_index(f))
            .filter_map(|(_, c)| c.map(|c| c + 1))
            .max()
            .unwrap_or(0)
    }
}

/// What a meta line did.
#[derive(Debug, PartialEq)]
pub(crate) enum MetaEvent {
    /// A comment or a meta line that changes nothing captriage uses (`#open`, `#types`).
    Comment,
    /// `#separator`: a new header block begins.
    Separator,
    /// `#path` set the log kind of the block.
    Path,
    /// `#fields` set the schema; the strings name duplicated columns (the first one is used).
    Fields(Vec<String>),
    /// A meta line whose value could not be read.
    Bad(String),
}

/// Header state of one TSV file.
#[derive(Clone, Debug, Default)]
pub(crate) struct Header {
    pub meta: Meta,
    pub schema: Option<Schema>,
    /// Whether any meta line other than a comment has been seen.
    pub seen_meta: bool,
}

impl Header {
    /// Whether `line` is a meta line (or comment) rather than data.
    #[inline]
    pub(crate) fn is_meta(&mut self, line: &[u8]) -> bool {
        if line.first() == Some(&b'#') {
            return true;
        }
        // The usual case, once a block has begun: only `#` starts a meta line.
        if self.meta.prefix.as_slice() == b"#" && (self.schema.is_some() || self.seen_meta) {
            return false;
        }
        self.is_custom_meta(line)
    }

    /// [`Header::is_meta`] for a line not starting with `#`, while a custom prefix is set or may
    /// still be declared.
    fn is_custom_meta(&mut self, line: &[u8]) -> bool {
        // The `#` prefix never matches here: `is_meta` answered for lines starting with it.
        if line.starts_with(&self.meta.prefix) {
            return true;
        }
        // A custom meta prefix declares itself with `<prefix>separator ` before any schema.
        if self.schema.is_none()
            && !self.seen_meta
            && line.first() != Some(&b'{')
            && let Some(pos) = memmem::find(line, b"separator ")
        {
            let prefix = line.get(..pos).unwrap_or_default();
            if (1..=16).contains(&prefix.len())
                && prefix
                    .iter()
                    .all(|b| b.is_ascii_graphic() && *b != b'{' && *b != b'"')
            {
                self.meta.prefix = prefix.to_vec();
                return true;
            }
        }
        false
    }

    /// Handles a line for which [`Header::is_meta`] was true.
    pub(crate) fn meta_line(&mut self, line: &[u8]) -> MetaEvent {
        let rest = if let Some(r) = line.strip_prefix(self.meta.prefix.as_slice()) {
            r
        } else if let Some(r) = line.strip_prefix(b"#") {
            r
        } else {
            return MetaEvent::Comment;
        };
        let key_len = rest
            .iter()
            .take_while(|b| b.is_ascii_lowercase() || **b == b'_')
            .count();
        let (key, value) = rest.split_at(key_len);
        if key == b"separator" {
            let Some(v) = value.strip_prefix(b" ") else {
                return MetaEvent::Comment;
            };
            let sep = unescape(v).into_owned();
            if sep.is_empty() {
                return MetaEvent::Bad("empty #separator".to_string());
            }
            self.meta = Meta {
                prefix: std::mem::take(&mut self.meta.prefix),
                sep,
                ..Meta::default()
            };
            self.schema = None;
            self.seen_meta = true;
            return MetaEvent::Separator;
        }
        let value = if let Some(v) = value.strip_prefix(self.meta.sep.as_slice()) {
            v
        } else if key.is_empty() || !value.is_empty() {
            // `### BTest ...`, `#open XXXX-...` as btest rewrites it, or any other comment.
            return MetaEvent::Comment;
        } else {
            value
        };
        match key {
            b"set_separator" => {
                self.meta.set_sep = unescape(value).into_owned();
                if self.meta.set_sep.is_empty() {
                    self.meta.set_sep = b",".to_vec();
                    return MetaEvent::Bad("empty #set_separator".to_string());
                }
            }
            b"empty_field" => self.meta.empty = unescape(value).into_owned(),
            b"unset_field" => self.meta.unset = unescape(value).into_owned(),
            b"path" => {
                self.seen_meta = true;
                self.meta.path = Some(String::from_utf8_lossy(&unescape(value)).into_owned());
                return MetaEvent::Path;
            }
            b"fields" => {
                self.seen_meta = true;
                let names: Vec<&[u8]> = split(value, &self.meta.sep).collect();
                let (schema, dups) = schema_of(&names);
                self.schema = Some(schema);
                return MetaEvent::Fields(dups);
            }
            _ => return MetaEvent::Comment,
        }
        self.seen_meta = true;
        MetaEvent::Comment
    }

    /// Takes `line` as the column-name line of a header-less `tsv` mode file when it looks like
    /// one: tab-separated identifiers, at least one of them a column captriage reads.
    pub(crate) fn names_line(&mut self, line: &[u8]) -> bool {
        if self.seen_meta || self.schema.is_some() || memchr::memchr(b'\t', line).is_none() {
            return false;
        }
        let names: Vec<&[u8]> = split(line, b"\t").collect();
        let ident = |n: &&[u8]| {
            n.first()
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
                && n.iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'*'))
        };
        if !names.iter().all(ident)
            || !names.iter().any(|n| {
                std::str::from_utf8(n)
                    .ok()
                    .and_then(fields::lookup)
                    .is_some()
            })
        {
            return false;
        }
        self.meta = Meta::default();
        self.schema = Some(schema_of(&names).0);
        self.seen_meta = true;
        true
    }
}

/// The schema of a `#fields` list, and the names given more than once.
fn schema_of(names: &[&[u8]]) -> (Schema, Vec<String>) {
    let mut map = [None; N];
    let mut how = [Match::Alias; N];
    let mut dups = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (col, name) in names.iter().enumerate() {
        if !seen.insert(*name) {
            dups.push(String::from_utf8_lossy(name).into_owned());
            continue;
        }
        let Some((f, m)) = std::str::from_utf8(name).ok().and_then(fields::lookup) else {
            continue;
        };
        let (Some(slot), Some(prio)) = (map.get_mut(f as usize), how.get_mut(f as usize)) else {
            continue;
        };
        if slot.is_none() || (m == Match::Exact && *prio == Match::Alias) {
            *slot = Some(col);
            *prio = m;
        }
    }
    (
        Schema {
            ncols: names.len(),
            map,
        },
        dups,
    )
}

/// The first `b` in `s`. Fields and set elements are short, and for them a scan eight bytes at
/// a time costs less than starting a vector search.
fn find_byte(b: u8, s: &[u8]) -> Option<usize> {
    if s.len() > 64 {
        return memchr::memchr(b, s);
    }
    let pattern = u64::from_le_bytes([b; 8]);
    let mut words = s.chunks_exact(8);
    let mut base = 0;
    for word in &mut words {
        let Ok(bytes) = <[u8; 8]>::try_from(word) else {
            break;
        };
        let m = marks(u64::from_le_bytes(bytes), pattern);
        if m != 0 {
            return Some(base + (m.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&c| c == b)
        .map(|i| base + i)
}

/// Splits `s` on `sep` (one or more bytes); an empty `s` is one empty field.
pub(crate) fn split<'a>(s: &'a [u8], sep: &[u8]) -> impl Iterator<Item = &'a [u8]> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        let found = if let [b] = sep {
            find_byte(*b, r)
        } else {
            memmem::find(r, sep)
        };
        match found {
            Some(i) => {
                rest = r.get(i + sep.len()..);
                r.get(..i)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// The high bit of each byte of `word` that equals the byte repeated in `pattern`, exactly (no
/// false positives).
#[inline]
fn marks(word: u64, pattern: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = word ^ pattern;
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// How many bytes a [`marks`] word marks (a sum of its bytes, by one multiply).
#[inline]
fn marked(marks: u64) -> usize {
    ((marks >> 7).wrapping_mul(0x0101_0101_0101_0101) >> 56) as usize
}

/// Fills `out` with the byte ranges of the first `want` fields of `line` separated by the byte
/// `sep` (all of them if there are fewer) and returns how many fields there are, looking at
/// eight bytes at a time: fields are short, so one search per field costs more than the scan.
/// Past the fields wanted, separators are only counted.
fn split_on_byte(line: &[u8], sep: u8, want: usize, out: &mut Vec<(usize, usize)>) -> usize {
    let pattern = u64::from_le_bytes([sep; 8]);
    // The separators from `at` on, eight bytes at a time.
    let count_from = |at: usize| {
        let rest = line.get(at..).unwrap_or_default();
        let mut words = rest.chunks_exact(8);
        let mut n = 0;
        for word in &mut words {
            let Ok(bytes) = <[u8; 8]>::try_from(word) else {
                break;
            };
            n += marked(marks(u64::from_le_bytes(bytes), pattern));
        }
        n + words.remainder().iter().filter(|&&c| c == sep).count()
    };
    if want == 0 {
        return count_from(0) + 1;
    }
    let mut start = 0;
    let mut base = 0;
    let mut chunks = line.chunks_exact(8);
    for chunk in &mut chunks {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let mut zeros = marks(u64::from_le_bytes(bytes), pattern);
        while zeros != 0 {
            let i = base + (zeros.trailing_zeros() / 8) as usize;
            out.push((start, i));
            start = i + 1;
            zeros &= zeros - 1;
            if out.len() >= want {
                // The separators left in this word, then the rest.
                return out.len() + marked(zeros) + count_from(base + 8) + 1;
            }
        }
        base += 8;
    }
    for (j, &c) in chunks.remainder().iter().enumerate() {
        if c == sep {
            out.push((start, base + j));
            start = base + j + 1;
            if out.len() >= want {
                return out.len() + count_from(start) + 1;
            }
        }
    }
    out.push((start, line.len()));
    out.len()
}

/// Fills `out` with the byte ranges of the first `want` fields of `line` (all of them if there
/// are fewer) and returns how many fields `line` has.
pub(crate) fn split_ranges(
    line: &[u8],
    sep: &[u8],
    want: usize,
    out: &mut Vec<(usize, usize)>,
) -> usize {
    out.clear();
    if let [b] = sep {
        return split_on_byte(line, *b, want, out);
    }
    let base = line.as_ptr() as usize;
    let mut n = 0;
    for field in split(line, sep) {
        if n < want {
            let start = field.as_ptr() as usize - base;
            out.push((start, start + field.len()));
        }
        n += 1;
    }
    n
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Undoes Zeek's escaping: `\xHH` is the byte, `\\` a backslash; anything else stays.
pub(crate) fn unescape(s: &[u8]) -> Cow<'_, [u8]> {
    if find_byte(b'\\', s).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'\\' {
            match s.get(i + 1) {
                Some(b'\\') => {
                    out.push(b'\\');
                    i += 2;
                    continue;
                }
                Some(b'x') => {
                    if let (Some(h), Some(l)) = (
                        s.get(i + 2).copied().and_then(hex),
                        s.get(i + 3).copied().and_then(hex),
                    ) {
                        out.push(h << 4 | l);
                        i += 4;
                        continue;
                    }
                }
                _ => {}
            }
        }
        out.push(b);
        i += 1;
    }
    Cow::Owned(out)
}

/// Whether Zeek's JSON writer keeps byte `b` as a character: it writes the other C0 controls
/// (NUL, ESC, ...) as `\xNN` text and JSON-escapes only `\b \t \n \f \r`.
fn json_keeps(b: u8) -> bool {
    b >= 0x20 || matches!(b, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d)
}

/// Text of unescaped bytes, rendered as Zeek's JSON writer renders the same value: bytes that
/// are not UTF-8, and C0 controls other than `\b \t \n \f \r`, become `\xNN` text.
fn text_of_bytes(v: Vec<u8>) -> String {
    if v.iter().all(|&b| json_keeps(b))
        && let Ok(s) = std::str::from_utf8(&v)
    {
        return s.to_string();
    }
    let mut s = String::with_capacity(v.len() + 8);
    for chunk in v.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_ascii() && !json_keeps(c as u8) {
                s.push_str(&format!("\\x{:02x}", c as u8));
            } else {
                s.push(c);
            }
        }
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

/// What is already known of a line before it is parsed: its text, when a whole run of lines it
/// came in was valid UTF-8, and whether that run held no backslash. Checking a run of rows at
/// once costs less than checking each row on its own.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Known<'a> {
    pub text: Option<&'a str>,
    pub plain: bool,
}

/// One TSV data line, split into fields, seen through the schema.
pub(crate) struct TsvRow<'a, 's> {
    line: &'a [u8],
    /// `line` as text when it is valid UTF-8 (checked once, so fields need no check of their own).
    line_str: Option<&'a str>,
    /// Whether `line` holds no backslash, so that no field of it needs unescaping.
    plain: bool,
    cols: &'s [(usize, usize)],
    schema: &'s Schema,
    meta: &'s Meta,
    pub bad: Option<BadValue>,
    pub bad_utf8: bool,
}

/// Whether the field `raw` is the marker `m` (`-`, `(empty)`): most fields are one byte long or
/// differ in length, which this decides without a call to `memcmp`.
#[inline]
fn is_marker(raw: &[u8], m: &[u8]) -> bool {
    raw.len() == m.len()
        && match (raw, m) {
            ([a], [b]) => a == b,
            _ => raw == m,
        }
}

enum Val<'a> {
    Unset,
    Empty,
    Raw(&'a [u8]),
}

impl<'a, 's> TsvRow<'a, 's> {
    /// The row of `line`, whose leading fields `split_ranges` put in `cols` (the columns read
    /// are among them), with what is `known` of it.
    pub(crate) fn new(
        line: &'a [u8],
        cols: &'s [(usize, usize)],
        schema: &'s Schema,
        meta: &'s Meta,
        known: Known<'a>,
    ) -> Self {
        // Only the fields split are read: check the text up to the end of the last one.
        let head_end = cols.last().map_or(line.len(), |&(_, end)| end);
        let head = line.get(..head_end).unwrap_or(line);
        let line_str = match known.text {
            Some(t) => t.get(..head_end),
            None => simdutf8::basic::from_utf8(head).ok(),
        };
        TsvRow {
            line,
            line_str,
            plain: known.plain || memchr::memchr(b'\\', head).is_none(),
            cols,
            schema,
            meta,
            bad: None,
            bad_utf8: false,
        }
    }

    #[inline]
    fn val(&self, f: F) -> Val<'a> {
        let line: &'a [u8] = self.line;
        let raw = self
            .schema
            .map
            .get(f as usize)
            .copied()
            .flatten()
            .and_then(|c| self.cols.get(c))
            .and_then(|&(s, e)| line.get(s..e));
        match raw {
            None => Val::Unset,
            Some(r) if is_marker(r, &self.meta.unset) => Val::Unset,
            Some(r) if is_marker(r, &self.meta.empty) => Val::Empty,
            Some(r) => Val::Raw(r),
        }
    }

    /// `raw` (a piece of the line) as text, if it is valid UTF-8.
    #[inline]
    fn as_str(&self, raw: &'a [u8]) -> Option<&'a str> {
        let off = (raw.as_ptr() as usize).checked_sub(self.line.as_ptr() as usize);
        match (self.line_str, off) {
            (Some(l), Some(off)) => match l.get(off..off + raw.len()) {
                Some(s) => Some(s),
                None => std::str::from_utf8(raw).ok(),
            },
            _ => std::str::from_utf8(raw).ok(),
        }
    }

    /// `raw` as text, unescaped; bytes that are not UTF-8 are replaced (and flagged).
    #[inline]
    fn decode(&mut self, raw: &'a [u8]) -> Cow<'a, str> {
        // Nearly every field: valid text of a row without a backslash.
        if self.plain
            && let Some(s) = self.as_str(raw)
        {
            return Cow::Borrowed(s);
        }
        self.decode_escaped(raw)
    }

    #[inline(never)]
    fn decode_escaped(&mut self, raw: &'a [u8]) -> Cow<'a, str> {
        let s = match self.as_str(raw) {
            Some(s) => s,
            None => {
                self.bad_utf8 = true;
                return Cow::Owned(String::from_utf8_lossy(&unescape(raw)).into_owned());
            }
        };
        if self.plain {
            return Cow::Borrowed(s);
        }
        match unescape(raw) {
            Cow::Borrowed(_) => Cow::Borrowed(s),
            Cow::Owned(v) => Cow::Owned(text_of_bytes(v)),
        }
    }

    fn flag(&mut self, f: F, ty: Ty, raw: &[u8]) {
        if self.bad.is_none() {
            self.bad = Some(BadValue {
                column: f,
                ty,
                value: String::from_utf8_lossy(raw).into_owned(),
            });
        }
    }

    fn parse<T: std::str::FromStr>(&mut self, f: F, ty: Ty) -> Option<T> {
        let Val::Raw(raw) = self.val(f) else {
            return None;
        };
        let v = self.as_str(raw).and_then(|s| s.parse().ok());
        if v.is_none() {
            self.flag(f, ty, raw);
        }
        v
    }

    /// The elements of a set or vector column (none when unset or empty).
    fn elements(&self, f: F) -> impl Iterator<Item = &'a [u8]> + use<'a, 's> {
        let meta: &'s Meta = self.meta;
        let raw: &'a [u8] = match self.val(f) {
            Val::Raw(raw) => raw,
            _ => b"",
        };
        split(raw, &meta.set_sep).filter(move |_| !raw.is_empty())
    }
}

impl<'a, 's> Row<'a> for TsvRow<'a, 's> {
    fn text(&mut self, f: F) -> Option<Cow<'a, str>> {
        match self.val(f) {
            Val::Unset => None,
            Val::Empty => Some(Cow::Borrowed("")),
            Val::Raw(raw) => Some(self.decode(raw)),
        }
    }

    fn texts<C: Default + Extend<Cow<'a, str>>>(&mut self, f: F) -> C {
        let mut out = C::default();
        let Val::Raw(raw) = self.val(f) else {
            return out;
        };
        if raw.is_empty() {
            return out;
        }
        let meta: &'s Meta = self.meta;
        // Most sets (a conn row's services) hold one element: no splitting then.
        if let [sep] = meta.set_sep.as_slice()
            && find_byte(*sep, raw).is_none()
        {
            out.extend(std::iter::once(self.decode(raw)));
            return out;
        }
        for e in split(raw, &meta.set_sep) {
            out.extend(std::iter::once(self.decode(e)));
        }
        out
    }

    fn count(&mut self, f: F) -> Option<u64> {
        if let Val::Raw(raw) = self.val(f)
            && let Some(v) = lexical::plain_u64(raw)
        {
            return Some(v);
        }
        self.parse(f, Ty::Count)
    }

    fn real(&mut self, f: F) -> Option<f64> {
        if let Val::Raw(raw) = self.val(f)
            && let Some(v) = lexical::plain_f64(raw)
        {
            return Some(v);
        }
        self.parse::<f64>(f, Ty::Real).filter(|v| v.is_finite())
    }

    fn reals(&mut self, f: F) -> Vec<f64> {
        let mut out = Vec::new();
        for e in self.elements(f) {
            let v = lexical::plain_f64(e)
                .or_else(|| self.as_str(e).and_then(|s| s.parse::<f64>().ok()));
            match v {
                Some(v) => out.push(v),
                None => self.flag(f, Ty::Real, e),
            }
        }
        out
    }

    fn time(&mut self, f: F) -> Option<Ts> {
        match self.val(f) {
            Val::Raw(BTEST_TIME_MASK) => return None,
            Val::Raw(raw) => {
                if let Some(v) = lexical::plain_f64(raw) {
                    return Some(v);
                }
            }
            _ => {}
        }
        let v = self.parse::<f64>(f, Ty::Time)?;
        if v.is_finite() {
            Some(v)
        } else {
            self.flag(f, Ty::Time, b"non-finite");
            None
        }
    }

    fn boolean(&mut self, f: F) -> Option<bool> {
        match self.val(f) {
            Val::Raw(b"T") => Some(true),
            Val::Raw(b"F") => Some(false),
            Val::Raw(raw) => {
                self.flag(f, Ty::Bool, raw);
                None
            }
            _ => None,
        }
    }

    fn addr(&mut self, f: F) -> Option<IpAddr> {
        let Val::Raw(raw) = self.val(f) else {
            return None;
        };
        let v = self.as_str(raw).and_then(crate::names::parse_addr);
        if v.is_none() {
            self.flag(f, Ty::Addr, raw);
        }
        v
    }

    fn addrs(&mut self, f: F) -> Vec<IpAddr> {
        let mut out = Vec::new();
        for e in self.elements(f) {
            match self.as_str(e).and_then(crate::names::parse_addr) {
                Some(a) => out.push(a),
                None => self.flag(f, Ty::Addr, e),
            }
        }
        out
    }

    fn port(&mut self, f: F) -> Option<u16> {
        if let Val::Raw(raw) = self.val(f)
            && let Some(v) = lexical::plain_u64(raw).and_then(|v| u16::try_from(v).ok())
        {
            return Some(v);
        }
        self.parse(f, Ty::Port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `len` bytes drawn from `alphabet` by the xorshift state `rng`.
    fn random_bytes(rng: &mut u64, alphabet: &[u8], len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *rng ^= *rng << 13;
                *rng ^= *rng >> 7;
                *rng ^= *rng << 17;
                alphabet[(*rng % alphabet.len() as u64) as usize]
            })
            .collect()
    }

    #[test]
    fn a_byte_is_found_where_a_plain_scan_finds_it() {
        let mut rng: u64 = 0x0bad_cafe_f00d_d00d;
        // Bytes that differ from the one looked for in the high bit only, or by a carry.
        let alphabet = [b',', b',' ^ 0x80, b'-', b'+', 0xff, 0, b'a', 0x2c ^ 0x01];
        for len in 0..140 {
            for _ in 0..40 {
                let s = random_bytes(&mut rng, &alphabet, len);
                for b in [b',', 0xff, 0] {
                    assert_eq!(find_byte(b, &s), s.iter().position(|&c| c == b), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn byte_split_agrees_with_the_generic_split() {
        let mut rng: u64 = 0x1234_5678_9abc_def1;
        let alphabet = [b'\t', b'a', b'\t', 0x89, 0x09 ^ 0x80, b'x', 0xff, 0];
        for len in 0..80 {
            for _ in 0..50 {
                let line = random_bytes(&mut rng, &alphabet, len);
                let base = line.as_ptr() as usize;
                let slow: Vec<(usize, usize)> = split(&line, b"\t")
                    .map(|f| {
                        let s = f.as_ptr() as usize - base;
                        (s, s + f.len())
                    })
                    .collect();
                let mut fast = Vec::new();
                for want in [usize::MAX, 0, 1, 2, 5, 9, 17] {
                    let n = split_ranges(&line, b"\t", want, &mut fast);
                    assert_eq!(n, slow.len(), "{line:?}");
                    assert_eq!(fast, slow[..want.min(n)], "{line:?} want {want}");
                }
            }
        }
    }

    #[test]
    fn a_set_reads_the_same_whether_it_holds_one_element_or_several() {
        use crate::input::zeek::fields::Row;
        // The set column as written, under `#set_separator` `sep`, and the elements it reads as.
        let cases: [(&[u8], &[u8], &[&str]); 11] = [
            (b",", b"ssl", &["ssl"]),
            (b",", b"ssl,http", &["ssl", "http"]),
            (b",", b"ssl,", &["ssl", ""]),
            (b",", b",", &["", ""]),
            (b",", b"", &[]),
            (b",", b"-", &[]),
            (b",", b"(empty)", &[]),
            (b",", b"a\\b", &["a\\b"]),
            (b",", b"a\\x2cb", &["a,b"]),
            (b"||", b"ssl||http", &["ssl", "http"]),
            (b"||", b"ssl", &["ssl"]),
        ];
        for (sep, field, want) in cases {
            let mut h = Header::default();
            h.meta.set_sep = sep.to_vec();
            h.meta_line(b"#fields\tts\tservice");
            let Some(schema) = h.schema.as_ref() else {
                panic!("no schema");
            };
            let mut line = b"1.5\t".to_vec();
            line.extend_from_slice(field);
            let mut cols = Vec::new();
            assert_eq!(split_ranges(&line, b"\t", 2, &mut cols), 2);
            let mut row = TsvRow::new(&line, &cols, schema, &h.meta, Known::default());
            let got: Vec<Cow<'_, str>> = row.texts(F::Service);
            assert_eq!(got, want, "{field:?} under {sep:?}");
        }
    }

    #[test]
    fn unescape_forms() {
        // \xHH is a byte, \\ one backslash, a lone backslash or a bad \x stays as written.
        assert_eq!(&*unescape(b"plain"), b"plain");
        assert!(matches!(unescape(b"plain"), Cow::Borrowed(_)));
        assert_eq!(&*unescape(b"fa\\x7c\\x7cure"), b"fa||ure");
        assert_eq!(&*unescape(b"\\x23Kaputt"), b"#Kaputt");
        assert_eq!(&*unescape(b"O=VMware\\\\, Inc"), b"O=VMware\\, Inc");
        assert_eq!(&*unescape(b"a\\xZZ\\"), b"a\\xZZ\\");
        assert_eq!(&*unescape(b"\\x0"), b"\\x0");
    }

    #[test]
    fn split_multi_byte() {
        let mut out = Vec::new();
        assert_eq!(split_ranges(b"a||b||||c", b"||", 2, &mut out), 4);
        assert_eq!(out, [(0, 1), (3, 4)]);
        let v: Vec<&[u8]> = split(b"a||b||||c", b"||").collect();
        assert_eq!(v, vec![&b"a"[..], b"b", b"", b"c"]);
        let v: Vec<&[u8]> = split(b"", b"\t").collect();
        assert_eq!(v, vec![&b""[..]]);
        // #set_separator \xc2\xae
        let v: Vec<&[u8]> = split("x\u{ae}y".as_bytes(), "\u{ae}".as_bytes()).collect();
        assert_eq!(v, vec![&b"x"[..], b"y"]);
    }

    #[test]
    fn invalid_escaped_utf8_is_kept_as_hex_text() {
        assert_eq!(text_of_bytes(b"abc\n\xffdef".to_vec()), "abc\n\\xffdef");
        // NBSTAT queries (`*\x00\x00...` in TSV) read as the JSON log of the same run has them.
        assert_eq!(text_of_bytes(b"*\0\x1b".to_vec()), "*\\x00\\x1b");
        assert_eq!(
            text_of_bytes("caf\u{e9}\t".as_bytes().to_vec()),
            "caf\u{e9}\t"
        );
    }

    #[test]
    fn header_lines() {
        let mut h = Header::default();
        assert!(h.is_meta(b"### BTest baseline data"));
        assert_eq!(h.meta_line(b"### BTest baseline data"), MetaEvent::Comment);
        assert!(h.is_meta(b"#separator ||"));
        assert_eq!(h.meta_line(b"#separator ||"), MetaEvent::Separator);
        assert_eq!(h.meta.sep, b"||");
        assert_eq!(h.meta_line(b"#set_separator||,"), MetaEvent::Comment);
        assert_eq!(h.meta_line(b"#path||ssh"), MetaEvent::Path);
        assert_eq!(h.meta.path.as_deref(), Some("ssh"));
        assert_eq!(
            h.meta_line(b"#open XXXX-XX-XX-XX-XX-XX"),
            MetaEvent::Comment
        );
        assert_eq!(
            h.meta_line(b"#fields||ts||id.orig_h||ts"),
            MetaEvent::Fields(vec!["ts".to_string()])
        );
        let s = h.schema.as_ref().map(|s| (s.ncols, s.map[F::Ts as usize]));
        assert_eq!(s, Some((3, Some(0))));
    }

    #[test]
    fn custom_meta_prefix() {
        // LogAscii::meta_prefix = "PREFIX<>" (ascii-empty)
        let mut h = Header::default();
        assert!(h.is_meta(b"PREFIX<>separator |"));
        assert_eq!(h.meta_line(b"PREFIX<>separator |"), MetaEvent::Separator);
        assert!(h.is_meta(b"PREFIX<>unset_field|NOT-SET"));
        h.meta_line(b"PREFIX<>unset_field|NOT-SET");
        assert_eq!(h.meta.unset, b"NOT-SET");
        assert!(!h.is_meta(b"XXXXXXXXXX.XXXXXX|1.2.3.4"));
        // Once the schema is read, the custom prefix still marks meta lines.
        h.meta_line(b"PREFIX<>fields|ts|id.orig_h");
        assert!(h.schema.is_some());
        assert!(h.is_meta(b"PREFIX<>close|XXXX"));
        assert!(!h.is_meta(b"1.5|1.2.3.4"));
    }

    #[test]
    fn with_the_usual_prefix_only_hash_lines_are_meta() {
        let mut h = Header::default();
        // Before any meta line, a custom prefix may still declare itself.
        assert!(h.is_meta(b"//separator \\x09"));
        assert_eq!(h.meta.prefix, b"//");
        let mut h = Header::default();
        assert!(h.is_meta(b"#separator \\x09"));
        h.meta_line(b"#separator \\x09");
        // After the first meta line, a line naming `separator ` is data, not a new prefix.
        assert!(!h.is_meta(b"//separator \\x09"));
        assert_eq!(h.meta.prefix, b"#");
        h.meta_line(b"#fields\tts\tquery");
        assert!(h.is_meta(b"#close\tXXXX"));
        assert!(!h.is_meta(b"1.5\tseparator x"));
    }

    #[test]
    fn canonical_name_beats_alias() {
        let (s, _) = schema_of(&[b"src", b"id.orig_h"]);
        assert_eq!(s.map[F::OrigH as usize], Some(1));
        let (s, _) = schema_of(&[b"id.orig_h", b"id_orig_h"]);
        assert_eq!(s.map[F::OrigH as usize], Some(0));
    }
}
