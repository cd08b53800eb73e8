//! The on-disk side of the joins past their memory budget (see [`super::joins`]): entries
//! partitioned by a hash, written to one anonymous temporary file in chunks, and read back one
//! partition at a time; and Bloom filters that tell the conn phase which uids and 4-tuples
//! records may wait for, in a dozen bits per key.
//!
//! [`Chunked`] keeps one small buffer per partition; a full buffer goes to the end of the file as
//! one chunk, and only the place of each chunk stays in memory. Entries are postcard-encoded and
//! length-prefixed, as in `crate::input::spill`. A failure of the temporary file never stops the
//! run: the entries are counted as lost and [`Chunked::problem`] says so.

use serde::Serialize;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Partitions: the joins hold one partition's records and connection times in memory at a time.
pub(super) const PARTS: usize = 128;

/// Size at which a partition's buffer is written as a chunk.
const CHUNK: usize = 4 * 1024;

/// Largest encoded entry accepted when reading back (a larger length means a damaged file).
const MAX_ENTRY: usize = 1 << 20;

/// The partition of a key's hash.
pub(super) fn part(h: u64) -> usize {
    (h % PARTS as u64) as usize
}

/// Entries of [`PARTS`] partitions in one anonymous temporary file.
#[derive(Debug)]
pub(super) struct Chunked {
    dir: Option<PathBuf>,
    file: Option<File>,
    /// Where the next chunk goes.
    end: u64,
    /// Per partition, the entries not yet written and their number.
    pending: Vec<(Vec<u8>, u64)>,
    /// Per partition, the place, length and number of entries of each chunk written.
    chunks: Vec<Vec<(u64, u32, u64)>>,
    error: Option<String>,
    lost: u64,
    /// Reused encoding buffer.
    enc: Vec<u8>,
}

impl Chunked {
    /// A writer whose file is created in `dir` (the system's temporary directory if none) when
    /// `eager`, else on the first chunk.
    pub fn new(dir: Option<&Path>, eager: bool) -> Result<Chunked, String> {
        let mut c = Chunked {
            dir: dir.map(Path::to_path_buf),
            file: None,
            end: 0,
            pending: vec![(Vec::new(), 0); PARTS],
            chunks: vec![Vec::new(); PARTS],
            error: None,
            lost: 0,
            enc: Vec::new(),
        };
        if eager {
            c.file = Some(c.create()?);
        }
        Ok(c)
    }

    fn create(&self) -> Result<File, String> {
        match &self.dir {
            Some(d) => tempfile::tempfile_in(d),
            None => tempfile::tempfile(),
        }
        .map_err(|e| e.to_string())
    }

    /// Adds `entry` to partition `p`.
    pub fn put<T: Serialize + ?Sized>(&mut self, p: usize, entry: &T) {
        if self.error.is_some() {
            self.lost += 1;
            return;
        }
        let mut enc = std::mem::take(&mut self.enc);
        enc.clear();
        let encoded = postcard::to_extend(entry, enc);
        let Ok(enc) = encoded else {
            self.lost += 1;
            return;
        };
        let Some((buf, n)) = self.pending.get_mut(p) else {
            self.lost += 1;
            self.enc = enc;
            return;
        };
        let len = u32::try_from(enc.len()).unwrap_or(u32::MAX);
        buf.extend_from_slice(&len.to_le_bytes());
        buf.extend_from_slice(&enc);
        *n += 1;
        let full = buf.len() >= CHUNK;
        self.enc = enc;
        if full {
            self.flush(p);
        }
    }

    fn flush(&mut self, p: usize) {
        let Some((buf, n)) = self.pending.get_mut(p) else {
            return;
        };
        if buf.is_empty() {
            return;
        }
        let count = std::mem::take(n);
        let data = std::mem::take(buf);
        if self.error.is_some() {
            self.lost += count;
            return;
        }
        let written = self.write_chunk(&data);
        match written {
            Ok(at) => {
                let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
                if let Some(c) = self.chunks.get_mut(p) {
                    c.push((at, len, count));
                }
                // Keep the buffer's allocation for the next chunk.
                if let Some((b, _)) = self.pending.get_mut(p) {
                    *b = data;
                    b.clear();
                }
            }
            Err(e) => {
                self.error = Some(e);
                self.lost += count;
            }
        }
    }

    fn write_chunk(&mut self, data: &[u8]) -> Result<u64, String> {
        if self.file.is_none() {
            self.file = Some(self.create()?);
        }
        let Some(f) = self.file.as_mut() else {
            return Err("no temporary file".into());
        };
        let at = self.end;
        f.seek(SeekFrom::Start(at)).map_err(|e| e.to_string())?;
        f.write_all(data).map_err(|e| e.to_string())?;
        self.end = at + data.len() as u64;
        Ok(at)
    }

    /// Writes every pending entry and frees the buffers (more entries may still come).
    pub fn close(&mut self) {
        for p in 0..PARTS {
            self.flush(p);
        }
        for (b, _) in &mut self.pending {
            *b = Vec::new();
        }
        self.enc = Vec::new();
    }

    /// Hands each entry of partition `p` (as written; [`Chunked::close`] first) to `f`, which
    /// says whether it could decode it. A chunk that cannot be read back and an entry that
    /// cannot be decoded count as lost.
    pub fn read(&mut self, p: usize, mut f: impl FnMut(&[u8]) -> bool) {
        let chunks = self
            .chunks
            .get_mut(p)
            .map(std::mem::take)
            .unwrap_or_default();
        let mut data = Vec::new();
        for (at, len, count) in chunks {
            if let Err(e) = self.read_chunk(at, len, &mut data) {
                self.error.get_or_insert(e);
                self.lost += count;
                continue;
            }
            let mut rest = data.as_slice();
            let mut seen = 0;
            while let Some((head, tail)) = rest.split_first_chunk::<4>() {
                let n = u32::from_le_bytes(*head) as usize;
                let Some((entry, tail)) = tail.split_at_checked(n).filter(|_| n <= MAX_ENTRY)
                else {
                    break;
                };
                if f(entry) {
                    seen += 1;
                }
                rest = tail;
            }
            if seen < count {
                self.error
                    .get_or_insert_with(|| "damaged temporary file".into());
                self.lost += count - seen;
            }
        }
    }

    fn read_chunk(&mut self, at: u64, len: u32, data: &mut Vec<u8>) -> Result<(), String> {
        let Some(f) = self.file.as_mut() else {
            return Err("no temporary file".into());
        };
        data.resize(len as usize, 0);
        f.seek(SeekFrom::Start(at)).map_err(|e| e.to_string())?;
        f.read_exact(data).map_err(|e| e.to_string())
    }

    /// What went wrong with the temporary file, and how many entries were lost with it.
    pub fn problem(&self) -> Option<(&str, u64)> {
        self.error.as_deref().map(|e| (e, self.lost))
    }
}

/// Bits per key of a [`Filters`] (about 0.5 % false positives).
const BITS_PER_KEY: usize = 12;

/// A Bloom filter of 512-bit blocks: seven bits of one block per key (one cache line per
/// lookup).
#[derive(Debug)]
struct Filter {
    blocks: Vec<[u64; 8]>,
    keys: usize,
    cap: usize,
}

impl Filter {
    fn new(cap: usize) -> Filter {
        let n = cap.saturating_mul(BITS_PER_KEY).div_ceil(512).max(1);
        Filter {
            blocks: vec![[0; 8]; n],
            keys: 0,
            cap,
        }
    }

    fn mask(&self, h: u64) -> (usize, [u64; 8]) {
        let block = (((h >> 32) * self.blocks.len() as u64) >> 32) as usize;
        let mut x = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut mask = [0u64; 8];
        for _ in 0..7 {
            let bit = (x >> 55) as usize;
            if let Some(w) = mask.get_mut(bit / 64) {
                *w |= 1 << (bit % 64);
            }
            x <<= 9;
        }
        (block, mask)
    }

    fn contains(&self, h: u64) -> bool {
        let (b, mask) = self.mask(h);
        self.blocks
            .get(b)
            .is_some_and(|blk| blk.iter().zip(mask).all(|(w, m)| w & m == m))
    }

    fn insert(&mut self, h: u64) {
        let (b, mask) = self.mask(h);
        if let Some(blk) = self.blocks.get_mut(b) {
            for (w, m) in blk.iter_mut().zip(mask) {
                *w |= m;
            }
            self.keys += 1;
        }
    }
}

/// Bloom filters of key hashes that grow as keys come: a full filter is followed by one twice
/// its size.
#[derive(Debug, Default)]
pub(super) struct Filters(Vec<Filter>, bool);

impl Filters {
    /// Empty filters; `all` makes them let every key through.
    pub fn new(all: bool) -> Filters {
        Filters(Vec::new(), all)
    }

    /// Whether `h` may have been inserted (never false for an inserted hash).
    pub fn contains(&self, h: u64) -> bool {
        self.1 || self.0.iter().any(|f| f.contains(h))
    }

    /// Inserts `h`; the first filter holds `first` keys.
    pub fn insert(&mut self, h: u64, first: usize) {
        if self.0.iter().any(|f| f.contains(h)) {
            return;
        }
        if self.0.last().is_none_or(|f| f.keys >= f.cap) {
            let cap = self
                .0
                .last()
                .map_or(first.max(1 << 12), |f| f.cap.saturating_mul(2));
            self.0.push(Filter::new(cap));
        }
        if let Some(f) = self.0.last_mut() {
            f.insert(h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_back_per_partition_in_order() {
        let mut c = Chunked::new(None, false).unwrap();
        for i in 0..20_000u64 {
            c.put(part(i), &(i, "x"));
        }
        c.close();
        let mut got = Vec::new();
        c.read(5, |e| {
            got.push(postcard::from_bytes::<(u64, &str)>(e).unwrap().0);
            true
        });
        let want: Vec<u64> = (0..20_000).filter(|i| part(*i) == 5).collect();
        assert_eq!(got, want);
        assert!(c.problem().is_none());
    }

    #[test]
    fn an_unwritable_file_loses_entries_with_a_message_and_no_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Chunked::new(Some(&dir.path().join("missing")), false).unwrap();
        for i in 0..3000u64 {
            c.put(0, &i);
        }
        c.close();
        let mut n = 0;
        c.read(0, |_| {
            n += 1;
            true
        });
        assert_eq!(n, 0);
        let (error, lost) = c.problem().unwrap();
        assert_eq!(lost, 3000);
        assert!(!error.is_empty());
        assert!(Chunked::new(Some(&dir.path().join("missing")), true).is_err());
    }

    #[test]
    fn entries_that_do_not_decode_are_counted_as_lost() {
        let mut c = Chunked::new(None, true).unwrap();
        for i in 0..10u64 {
            c.put(1, &i);
        }
        c.close();
        c.read(1, |e| postcard::from_bytes::<(u64, u64)>(e).is_ok());
        assert_eq!(c.problem(), Some(("damaged temporary file", 10)));
    }

    #[test]
    fn filters_have_no_false_negatives_and_few_false_positives() {
        let mut f = Filters::default();
        let h = |i: u64| i.wrapping_mul(0xd6e8_feb8_6659_fd93).rotate_left(17) ^ 0x1234_5678;
        for i in 0..100_000 {
            f.insert(h(i), 1000);
        }
        assert!((0..100_000).all(|i| f.contains(h(i))));
        let fp = (100_000..200_000).filter(|&i| f.contains(h(i))).count();
        assert!(fp < 5_000, "{fp} false positives");
    }
}
