//! The sharded summary: transactions CSV straight to calibration/holdout summaries, parsed and
//! accumulated in parallel, one open-addressing table of customers per shard.

use rayon::prelude::*;

use crate::parse::{
    parse_date, parse_decimal, positive, split_fields, trim_eol, ParseError, ParseOrSink,
    TransactionParser,
};
use crate::Day;

/// Transactions CSV → calibration/holdout summary, in parallel and in O(customers) memory.
///
/// Each block is processed in two parallel phases, with no locking:
///
/// 1. *Parse*: the block is cut at line ends into pieces, one task per piece; every line is
///    split, its date and amount parsed (a date equal to the previous line's reuses its day:
///    date-ordered files repeat dates) and its customer id hashed. The hash picks the id's
///    shard; the row (hash, where the id is, day, amount) goes to that shard's list, in file order.
/// 2. *Accumulate*: one task per shard walks its rows in file order, finds (or adds) the customer
///    in the shard's own open-addressing table and updates the customer's accumulator in place.
///    A table slot is one 64-byte cache line holding the id (inline up to 15 bytes) and the
///    accumulator, so a row costs one cache miss; the rows are known in advance, so the slots of
///    the next rows are loaded in batches, letting the misses overlap.
///
/// Feed the text in blocks that end at a line boundary; the first line of the first block must be
/// the header. Customer indices in the result are per shard in order of first appearance, then
/// concatenated (not in global order of first appearance); `finish` returns the ids by index.
/// Memory: one slot per customer (tables at most half full) plus the rows of one block.
#[derive(Debug)]
pub struct ShardedSummary {
    opts: crate::summary::SummaryOptions,
    header: TransactionParser,
    shards: Vec<Table>,
    pieces: Vec<Piece>,
    next_line: u64,
}

/// 64-bit hash of an id (folded 64×64→128-bit multiplications, as in wyhash).
#[inline]
fn hash_id(id: &[u8]) -> u64 {
    const K0: u64 = 0x9E37_79B9_7F4A_7C15;
    const K1: u64 = 0xBF58_476D_1CE4_E5B9;
    #[inline]
    fn fold_mul(a: u64, b: u64) -> u64 {
        let p = u128::from(a) * u128::from(b);
        (p as u64) ^ ((p >> 64) as u64)
    }
    let mut h = (id.len() as u64) ^ K0;
    let mut words = id.chunks_exact(8);
    for c in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = fold_mul(h ^ u64::from_le_bytes(w), K1);
    }
    let r = words.remainder();
    let mut w = [0u8; 8];
    w[..r.len()].copy_from_slice(r);
    fold_mul(h ^ u64::from_le_bytes(w), K0)
}

/// Shard of a hash: the high 32 bits scaled to `0..shards`.
#[inline]
fn shard_of_hash(h: u64, shards: usize) -> usize {
    (((h >> 32) * shards as u64) >> 32) as usize
}

/// Inline key length marker for ids longer than 15 bytes (stored in the table's arena).
const LONG_KEY: u8 = 0xFF;

/// One customer: tag (0 = empty), order of first appearance, id, accumulator. One cache line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Slot {
    tag: u32,
    seq: u32,
    /// `[len, bytes...]` for ids up to 15 bytes; `[LONG_KEY, _, _, _, len (u32), offset (u64)]`
    /// into the arena otherwise.
    key: [u8; 16],
    acc: crate::summary::Acc,
}

/// Open-addressing (linear probing) table of one shard's customers.
#[derive(Debug, Default)]
struct Table {
    slots: Vec<Slot>,
    len: usize,
    arena: Vec<u8>,
}

/// An id as a slot key: `[len, bytes..., 0...]` when shorter than 16 bytes (compared as a whole),
/// `[LONG_KEY, 0...]` otherwise (the table then stores its length and place in the arena).
#[inline]
fn inline_key(id: &[u8]) -> [u8; 16] {
    let mut key = [0u8; 16];
    if id.len() < 16 {
        key[0] = id.len() as u8;
        key[1..1 + id.len()].copy_from_slice(id);
    } else {
        key[0] = LONG_KEY;
    }
    key
}

#[inline]
fn tag_of(h: u64) -> u32 {
    (h >> 32) as u32 | 1
}

impl Table {
    #[inline]
    fn key<'a>(slot: &'a Slot, arena: &'a [u8]) -> &'a [u8] {
        if slot.key[0] == LONG_KEY {
            let mut l = [0u8; 4];
            l.copy_from_slice(&slot.key[4..8]);
            let mut o = [0u8; 8];
            o.copy_from_slice(&slot.key[8..16]);
            let (len, off) = (
                u32::from_le_bytes(l) as usize,
                u64::from_le_bytes(o) as usize,
            );
            &arena[off..off + len]
        } else {
            &slot.key[1..1 + usize::from(slot.key[0])]
        }
    }

    /// Index of the slot of `id` (hash `h`, [`inline_key`] `key`), inserted if new.
    #[inline]
    fn find_or_insert(&mut self, h: u64, key: &[u8; 16], id: &[u8]) -> usize {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let tag = tag_of(h);
        let short = key[0] != LONG_KEY;
        let mut i = h as usize & mask;
        loop {
            let s = &self.slots[i];
            if s.tag == 0 {
                break;
            }
            if s.tag == tag
                && (if short {
                    s.key == *key
                } else {
                    s.key[0] == LONG_KEY && Self::key(s, &self.arena) == id
                })
            {
                return i;
            }
            i = (i + 1) & mask;
        }
        let mut key = *key;
        if !short {
            key[4..8].copy_from_slice(&(id.len() as u32).to_le_bytes());
            key[8..16].copy_from_slice(&(self.arena.len() as u64).to_le_bytes());
            self.arena.extend_from_slice(id);
        }
        self.slots[i] = Slot {
            tag,
            seq: self.len as u32,
            key,
            acc: Default::default(),
        };
        self.len += 1;
        i
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(1024);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); cap]);
        let mask = cap - 1;
        for s in old.into_iter().filter(|s| s.tag != 0) {
            let mut i = hash_id(Self::key(&s, &self.arena)) as usize & mask;
            while self.slots[i].tag != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }

    /// Load the home slots of upcoming rows so that their cache misses overlap.
    #[inline]
    fn touch(&self, rows: &[Row]) {
        let mask = self.slots.len().wrapping_sub(1);
        if self.slots.is_empty() {
            return;
        }
        let mut t = [0u32; TOUCH];
        for (t, r) in t.iter_mut().zip(rows) {
            *t = self.slots[r.hash as usize & mask].tag;
        }
        std::hint::black_box(&t);
    }
}

/// Rows loaded ahead of use in [`Table::touch`].
const TOUCH: usize = 16;

/// A parsed row waiting for its shard. The id is `block[id..id+len]`, or the piece's `extra`
/// buffer (unquoted ids) when `len` has [`IN_EXTRA`] set.
#[derive(Debug, Clone, Copy)]
struct Row {
    hash: u64,
    amount: i64,
    /// The id as a table key when it is short ([`inline_key`]).
    key: [u8; 16],
    /// Offset of the line in the block (for error line numbers).
    line: u32,
    id: u32,
    len: u32,
    day: Day,
}

const IN_EXTRA: u32 = 1 << 31;

/// Output of the parse phase for one piece of a block.
#[derive(Debug, Default)]
struct Piece {
    /// Rows by shard, in file order.
    rows: Vec<Vec<Row>>,
    /// Unescaped ids of quoted lines.
    extra: Vec<u8>,
    /// Line-end characters seen.
    newlines: u64,
    /// First bad line: (its offset in the block, message).
    error: Option<(usize, String)>,
}

/// Columns and scale: what the parse phase needs.
#[derive(Debug, Clone, Copy)]
struct Layout {
    cols: [usize; 3],
    width: usize,
    scale: u32,
    shards: usize,
}

/// `digits[.digits]` with at most `scale` decimals and at most 18 digits, fast; `None` for
/// anything else (signs, blanks, errors), which [`parse_decimal`] then handles.
#[inline]
fn parse_amount_fast(s: &[u8], scale: u32) -> Option<i64> {
    if s.is_empty() || s.len() > 18 || scale > 9 {
        return None;
    }
    let mut v: i64 = 0;
    let mut frac: Option<u32> = None;
    for &c in s {
        match c {
            b'0'..=b'9' => {
                v = v * 10 + i64::from(c - b'0');
                if let Some(f) = frac.as_mut() {
                    *f += 1;
                }
            }
            b'.' if frac.is_none() => frac = Some(0),
            _ => return None,
        }
    }
    let f = frac.unwrap_or(0);
    if f > scale || s.len() == usize::from(frac.is_some()) || s.len() + (scale - f) as usize > 18 {
        return None;
    }
    Some(v * 10i64.pow(scale - f))
}

impl Layout {
    /// Parse the lines of `block[range]` into `out`.
    fn parse_piece(&self, block: &[u8], range: std::ops::Range<usize>, out: &mut Piece) {
        for r in &mut out.rows {
            r.clear();
        }
        out.rows.resize_with(self.shards, Vec::new);
        out.extra.clear();
        out.newlines = 0;
        out.error = None;
        let [c, d, a] = self.cols;
        // Previous unquoted line's date field and its day.
        let mut last_date: Option<&[u8]> = None;
        let mut last_day: Day = 0;
        let mut pos = range.start;
        let end = range.end;
        while pos < end {
            // One pass over the line: commas (fields c, d, a), quotes and the line end.
            let line_start = pos;
            let mut f = [(0usize, 0usize); 3];
            let mut field = 0usize;
            let mut fstart = pos;
            let mut quoted = false;
            let mut i = pos;
            while i < end {
                match block[i] {
                    b',' => {
                        if field == c {
                            f[0] = (fstart, i);
                        }
                        if field == d {
                            f[1] = (fstart, i);
                        }
                        if field == a {
                            f[2] = (fstart, i);
                        }
                        field += 1;
                        fstart = i + 1;
                    }
                    b'\n' => break,
                    b'"' => quoted = true,
                    _ => {}
                }
                i += 1;
            }
            let line_end = i;
            if i < end {
                out.newlines += 1;
            }
            pos = i + 1;
            let line = trim_eol(&block[line_start..line_end]);
            if line.trim_ascii().is_empty() {
                continue;
            }
            let fail = |out: &mut Piece, message: String| {
                out.error = Some((line_start, message));
            };
            let mut scratch = Vec::new();
            let mut fields: Vec<&[u8]> = Vec::new();
            let (id, date, amount, id_ref) = if quoted {
                if let Err(message) = split_fields(line, &mut scratch, &mut fields) {
                    return fail(out, message);
                }
                if fields.len() != self.width {
                    return fail(
                        out,
                        format!("{} fields, the header has {}", fields.len(), self.width),
                    );
                }
                let id = fields[c].trim_ascii();
                let at = out.extra.len();
                out.extra.extend_from_slice(id);
                (
                    id,
                    fields[d],
                    fields[a],
                    (at as u32, id.len() as u32 | IN_EXTRA),
                )
            } else {
                if field == c {
                    f[0] = (fstart, line_start + line.len());
                }
                if field == d {
                    f[1] = (fstart, line_start + line.len());
                }
                if field == a {
                    f[2] = (fstart, line_start + line.len());
                }
                if field + 1 != self.width {
                    return fail(
                        out,
                        format!("{} fields, the header has {}", field + 1, self.width),
                    );
                }
                let raw = &block[f[0].0..f[0].1];
                let id = raw.trim_ascii();
                let lead = raw.len() - raw.trim_ascii_start().len();
                (
                    id,
                    &block[f[1].0..f[1].1],
                    &block[f[2].0..f[2].1],
                    ((f[0].0 + lead) as u32, id.len() as u32),
                )
            };
            if id.is_empty() {
                return fail(out, "empty customer_id".into());
            }
            let day = if !quoted && last_date == Some(date) {
                last_day
            } else {
                match parse_date(date) {
                    Ok(day) => {
                        if !quoted {
                            last_date = Some(&block[f[1].0..f[1].1]);
                        }
                        last_day = day;
                        day
                    }
                    Err(message) => return fail(out, message),
                }
            };
            let amount = match parse_amount_fast(amount, self.scale) {
                Some(v) => Ok(v),
                None => parse_decimal(amount, self.scale),
            };
            let amount = match amount.and_then(positive) {
                Ok(v) => v,
                Err(message) => return fail(out, message),
            };
            let hash = hash_id(id);
            out.rows[shard_of_hash(hash, self.shards)].push(Row {
                hash,
                amount,
                key: inline_key(id),
                line: line_start as u32,
                id: id_ref.0,
                len: id_ref.1,
                day,
            });
        }
    }
}

impl ShardedSummary {
    /// A summary over `shards` threads' worth of shards, amounts with `scale` decimals.
    pub fn new(
        opts: crate::summary::SummaryOptions,
        scale: u32,
        shards: usize,
    ) -> Result<Self, crate::AnalyticsError> {
        opts.validate()?;
        Ok(Self {
            opts,
            header: TransactionParser::new(scale),
            shards: (0..shards.max(1)).map(|_| Table::default()).collect(),
            pieces: Vec::new(),
            next_line: 1,
        })
    }

    /// Feed complete lines.
    pub fn feed(&mut self, block: &[u8]) -> Result<(), ParseOrSink<crate::AnalyticsError>> {
        // Row offsets are u32: feed huge blocks in halves cut at a line end.
        const MAX_BLOCK: usize = 1 << 31;
        if block.len() > MAX_BLOCK {
            let cut = block[..MAX_BLOCK / 2]
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(MAX_BLOCK / 2, |p| p + 1);
            self.feed(&block[..cut])?;
            return self.feed(&block[cut..]);
        }
        let mut rest = 0;
        // Header (and blank lines before it), sequentially.
        while self.header.cols.is_none() && rest < block.len() {
            let end = block[rest..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(block.len(), |p| rest + p + 1);
            self.header
                .parse_line(self.next_line, &block[rest..end])
                .map_err(ParseOrSink::Parse)?;
            self.next_line += 1;
            rest = end;
        }
        let Some(cols) = self.header.cols else {
            return Ok(());
        };
        if rest >= block.len() {
            return Ok(());
        }
        let layout = Layout {
            cols,
            width: self.header.width,
            scale: self.header.scale,
            shards: self.shards.len(),
        };
        // Phase 1: parse pieces cut at line ends.
        let body = &block[rest..];
        let want = (rayon::current_num_threads() * 4).clamp(1, (body.len() >> 16).max(1));
        let mut bounds = vec![rest];
        for k in 1..want {
            let target = rest + body.len() * k / want;
            let prev = bounds.last().copied().unwrap_or(rest);
            let cut = block[target.max(prev)..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(block.len(), |p| target.max(prev) + p + 1);
            if cut < block.len() && cut > prev {
                bounds.push(cut);
            }
        }
        bounds.push(block.len());
        let n = bounds.len() - 1;
        self.pieces
            .resize_with(n.max(self.pieces.len()), Piece::default);
        self.pieces[..n]
            .par_iter_mut()
            .enumerate()
            .for_each(|(k, piece)| layout.parse_piece(block, bounds[k]..bounds[k + 1], piece));
        let pieces = &self.pieces[..n];
        let first = self.next_line;
        let line_of = |offset: usize| {
            first + block[rest..offset].iter().filter(|&&c| c == b'\n').count() as u64
        };
        // Rows after the first bad line are not accumulated (the error is reported either way).
        let parse_error = pieces
            .iter()
            .find_map(|p| p.error.as_ref().map(|(at, m)| (*at, m.clone())));
        let limit = parse_error.as_ref().map_or(usize::MAX, |e| e.0);
        // Phase 2: each shard accumulates its rows, in file order.
        let opts = self.opts;
        let sink_errors: Vec<Option<(usize, u32)>> = self
            .shards
            .par_iter_mut()
            .enumerate()
            .map(|(s, table)| {
                for piece in pieces {
                    let rows = &piece.rows[s];
                    for (b, batch) in rows.chunks(TOUCH).enumerate() {
                        if let Some(next) = rows.get((b + 1) * TOUCH..) {
                            table.touch(next);
                        }
                        for row in batch {
                            if row.line as usize >= limit {
                                return None;
                            }
                            let (at, len) = (row.id as usize, (row.len & !IN_EXTRA) as usize);
                            let id = if row.len & IN_EXTRA != 0 {
                                &piece.extra[at..at + len]
                            } else {
                                &block[at..at + len]
                            };
                            let i = table.find_or_insert(row.hash, &row.key, id);
                            let slot = &mut table.slots[i];
                            if opts.accumulate(&mut slot.acc, row.day, row.amount).is_err() {
                                return Some((row.line as usize, slot.seq));
                            }
                        }
                    }
                }
                None
            })
            .collect();
        let sink_error = sink_errors.into_iter().flatten().min_by_key(|e| e.0);
        match (parse_error, sink_error) {
            (Some((at, message)), s) if s.is_none_or(|s| at < s.0) => {
                return Err(ParseOrSink::Parse(ParseError {
                    line: line_of(at),
                    message,
                }))
            }
            (_, Some((_, customer))) => {
                return Err(ParseOrSink::Sink(crate::AnalyticsError::OutOfOrder {
                    customer,
                }))
            }
            _ => {}
        }
        let newlines: u64 = pieces.iter().map(|p| p.newlines).sum();
        self.next_line += newlines + u64::from(block.last() != Some(&b'\n'));
        Ok(())
    }

    /// The summaries and the customer ids by index.
    pub fn finish(self) -> (Vec<crate::summary::CalibrationHoldout>, Vec<String>) {
        let opts = self.opts;
        let parts: Vec<(Vec<crate::summary::CalibrationHoldout>, Vec<String>)> = self
            .shards
            .into_par_iter()
            .map(|table| {
                let mut order = vec![0u32; table.len];
                for (i, s) in table.slots.iter().enumerate() {
                    if s.tag != 0 {
                        order[s.seq as usize] = i as u32;
                    }
                }
                let mut rows = Vec::with_capacity(table.len);
                let mut ids = Vec::with_capacity(table.len);
                for (seq, &i) in order.iter().enumerate() {
                    let s = &table.slots[i as usize];
                    rows.extend(opts.finish_one(seq as u32, &s.acc));
                    ids.push(String::from_utf8_lossy(Table::key(s, &table.arena)).into_owned());
                }
                (rows, ids)
            })
            .collect();
        let mut rows = Vec::with_capacity(parts.iter().map(|p| p.0.len()).sum());
        let mut ids = Vec::with_capacity(parts.iter().map(|p| p.1.len()).sum());
        for (r, i) in parts {
            let offset = ids.len() as u32;
            rows.extend(r.into_iter().map(|mut r| {
                r.calibration.customer += offset;
                r
            }));
            ids.extend(i);
        }
        (rows, ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{format_day, parse_transactions};

    #[test]
    fn fast_amounts_agree_with_the_exact_parser() {
        for a in [
            &b"0"[..],
            b"7",
            b"12.5",
            b"12.34",
            b".99",
            b"5.",
            b"0001.10",
            b"999999999999999.99",
            b"9999999999999999.99",
            b"1.234",
            b"1.230",
            b".",
            b"",
            b"-3.20",
            b"+4",
            b" 7.10 ",
            b"1e3",
            b"1..2",
        ] {
            if let Some(v) = parse_amount_fast(a, 2) {
                assert_eq!(Ok(v), parse_decimal(a, 2), "{}", String::from_utf8_lossy(a));
            }
        }
        assert_eq!(parse_amount_fast(b"12.5", 2), Some(1250));
        assert_eq!(parse_amount_fast(b"1.234", 2), None);
        assert_eq!(parse_amount_fast(b"-1", 2), None);
    }

    /// A large file (many parse pieces per block, table growth), long and short ids, quoted ids,
    /// CRLF and blank lines, signed and padded amounts, timestamps: the sharded summary equals
    /// the sequential parse + sort + summary, whatever the shard count and block cuts.
    #[test]
    fn sharded_summary_on_a_large_mixed_file() {
        use crate::summary::{summarize, SummaryOptions, TimeUnit};
        let mut csv = String::from("customer_id,note,date,amount\r\n");
        let mut x: u64 = 3;
        for i in 0..40_000u32 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let c = (x >> 33) % 5_000;
            let id = match c % 5 {
                0 => format!("customer-with-a-long-identifier-{c:06}"),
                1 => format!("\"q,{c}\""),
                2 => format!("exactly15bytes{}", c % 10),
                _ => format!("c{c}"),
            };
            let day = format_day(19_000 + (i / 100) as i32);
            let date = if i % 7 == 0 {
                format!("{day}T10:00:00Z")
            } else {
                day
            };
            let amount = match i % 4 {
                0 => format!("{}.{:02}", c % 300 + 1, i % 100),
                1 => format!("{}.5", c % 10),
                2 => format!(" {} ", c % 50 + 1),
                _ => format!("+{}.25", c % 20),
            };
            let eol = if i % 3 == 0 { "\r\n" } else { "\n" };
            csv.push_str(&format!("{id},n{i},{date},{amount}{eol}"));
            if i % 997 == 0 {
                csv.push('\n');
            }
        }
        let opts = SummaryOptions {
            time_unit: TimeUnit::Week,
            merge: crate::summary::Merge::SameDay,
            calibration_end: 19_250,
            observation_end: 19_350,
        };
        let mut p = TransactionParser::new(2);
        let mut txs = vec![];
        parse_transactions::<()>(csv.as_bytes(), &mut p, |t| {
            txs.push(t);
            Ok(())
        })
        .unwrap();
        let ids = p.customers.into_ids();
        let key = |ids: &[String], r: &crate::summary::CalibrationHoldout| {
            let c = r.calibration;
            (
                ids[c.customer as usize].clone(),
                c.frequency,
                c.recency.to_bits(),
                c.t.to_bits(),
                c.monetary_value.to_bits(),
                r.holdout_frequency,
                r.holdout_monetary_value.to_bits(),
            )
        };
        let mut want: Vec<_> = summarize(&txs, opts)
            .unwrap()
            .iter()
            .map(|r| key(&ids, r))
            .collect();
        want.sort();
        let bytes = csv.as_bytes();
        for (shards, cuts) in [(1, 1), (2, 3), (5, 7)] {
            let mut sharded = ShardedSummary::new(opts, 2, shards).unwrap();
            let mut rest = bytes;
            for k in 0..cuts {
                let cut = if k + 1 == cuts {
                    rest.len()
                } else {
                    rest[..rest.len() / 2]
                        .iter()
                        .rposition(|&c| c == b'\n')
                        .map_or(0, |p| p + 1)
                };
                sharded.feed(&rest[..cut]).unwrap();
                rest = &rest[cut..];
            }
            let (rows, ids2) = sharded.finish();
            assert_eq!(ids2.len(), ids.len());
            let mut got: Vec<_> = rows.iter().map(|r| key(&ids2, r)).collect();
            got.sort();
            assert_eq!(got, want, "{shards} shards");
        }
    }

    #[test]
    fn sharded_errors_name_the_earliest_bad_line() {
        use crate::summary::{SummaryOptions, TimeUnit};
        let opts = SummaryOptions::new(19_500, TimeUnit::Day);
        let mut csv = String::from("customer_id,date,amount\n");
        for i in 0..20_000 {
            csv.push_str(&format!(
                "c{},{},1.00\n",
                i % 300,
                format_day(19_000 + i / 100)
            ));
        }
        let good = csv;
        // A bad amount on line 15 002 (header = line 1), far into a later parse piece.
        let mut lines: Vec<&str> = good.lines().collect();
        lines[15_001] = "c1,2024-01-01,12.345";
        let bad = lines.join("\n");
        let mut s = ShardedSummary::new(opts, 2, 2).unwrap();
        match s.feed(bad.as_bytes()) {
            Err(ParseOrSink::Parse(e)) => {
                assert_eq!(e.line, 15_002, "{e}");
                assert!(e.message.contains("decimal places"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        // Line numbers continue across blocks.
        let mut s = ShardedSummary::new(opts, 2, 2).unwrap();
        let (head, tail) = bad.split_at(bad.find("c0,").unwrap());
        s.feed(head.as_bytes()).unwrap();
        match s.feed(tail.as_bytes()) {
            Err(ParseOrSink::Parse(e)) => assert_eq!(e.line, 15_002, "{e}"),
            other => panic!("{other:?}"),
        }
        // A customer going back in time before the bad line: that is reported.
        let mut lines: Vec<&str> = good.lines().collect();
        lines[15_001] = "c1,2024-01-01,12.345";
        lines[9_000] = "c77,1970-01-02,1.00";
        let both = lines.join("\n");
        let mut s = ShardedSummary::new(opts, 2, 3).unwrap();
        assert!(matches!(
            s.feed(both.as_bytes()),
            Err(ParseOrSink::Sink(crate::AnalyticsError::OutOfOrder { .. }))
        ));
    }

    #[test]
    fn a_field_too_many_and_a_non_positive_amount_are_errors_with_their_line() {
        use crate::summary::{SummaryOptions, TimeUnit};
        let cases = [
            // A decimal comma: four fields, not 12.
            ("c1,2025-01-01,12,50", "4 fields, the header has 3"),
            ("c1,2025-01-01,0", "above zero"),
            ("c1,2025-01-01,-3.50", "above zero"),
            ("\"c,1\",2025-01-01,12,50", "4 fields, the header has 3"),
        ];
        for (row, message) in cases {
            let csv = format!("customer_id,date,amount\nc0,2025-01-01,5\n{row}\n");
            let mut p = TransactionParser::new(2);
            match parse_transactions::<()>(csv.as_bytes(), &mut p, |_| Ok(())) {
                Err(ParseOrSink::Parse(e)) => {
                    assert_eq!(e.line, 3, "{row}: {e}");
                    assert!(e.message.contains(message), "{row}: {e}");
                }
                other => panic!("{row}: {other:?}"),
            }
            let mut s =
                ShardedSummary::new(SummaryOptions::new(20_500, TimeUnit::Day), 2, 2).unwrap();
            match s.feed(csv.as_bytes()) {
                Err(ParseOrSink::Parse(e)) => {
                    assert_eq!(e.line, 3, "{row}: {e}");
                    assert!(e.message.contains(message), "{row}: {e}");
                }
                other => panic!("{row}: {other:?}"),
            }
        }
    }
    #[test]
    fn sharded_summary_equals_the_sequential_one() {
        use crate::summary::{summarize, SummaryOptions, TimeUnit};
        let mut csv = String::from("customer_id,date,amount\n");
        let mut x: u64 = 7;
        for i in 0..3000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let c = (x >> 40) % 300;
            let id = if c % 7 == 1 {
                format!("\"q,{c}\"")
            } else {
                format!("c{c}")
            };
            csv.push_str(&format!(
                "{id},{},{}.{:02}\n",
                format_day(19_000 + i / 10),
                c,
                i % 100
            ));
            if i % 500 == 0 {
                csv.push('\n');
            }
        }
        let opts = SummaryOptions::new(19_250, TimeUnit::Week);
        let mut p = TransactionParser::new(2);
        let mut txs = vec![];
        parse_transactions::<()>(csv.as_bytes(), &mut p, |t| {
            txs.push(t);
            Ok(())
        })
        .unwrap();
        let ids = p.customers.into_ids();
        let mut want: Vec<_> = summarize(&txs, opts)
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    ids[r.calibration.customer as usize].clone(),
                    r.calibration.frequency,
                    r.calibration.monetary_value,
                )
            })
            .collect();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        let mut sharded = ShardedSummary::new(opts, 2, 3).unwrap();
        let (head, tail) = csv.as_bytes().split_at(csv.find("\nc").unwrap() + 1);
        sharded.feed(head).unwrap();
        sharded.feed(tail).unwrap();
        let (rows, ids2) = sharded.finish();
        let mut got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    ids2[r.calibration.customer as usize].clone(),
                    r.calibration.frequency,
                    r.calibration.monetary_value,
                )
            })
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, want);

        let mut bad = ShardedSummary::new(opts, 2, 2).unwrap();
        let e = bad.feed(b"customer_id,date,amount\na,2024-01-01,1\nb,2024-01-01,1\n\"c,2024-01-01,x\nd,2024-13-01,1\n").unwrap_err();
        assert!(
            matches!(e, ParseOrSink::Parse(ParseError { line: 4, .. })),
            "{e:?}"
        );
    }
}
