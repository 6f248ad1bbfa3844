//! The msgpack borg 1.x writes (`use_bin_type=False`: strings and bytes both arrive as raw
//! bytes, map keys too). A small decoder that never panics and bounds what it allocates: every
//! length is checked against the bytes actually present before anything is reserved, nothing
//! is reserved up front beyond a small cap (a decoded value is 32 bytes for every byte of a
//! nil), and one message decodes to at most `MAX_VALUES` values. Repository bytes and server
//! replies are hostile until authenticated, and these checks run before authentication.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    /// Every integer borg writes fits in i128 (u64 and i64).
    Int(i128),
    Float(f64),
    /// str and bin alike.
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Ext(i8, Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer ends inside a value (more input may complete it).
    Incomplete,
    Invalid(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Incomplete => write!(f, "truncated msgpack data"),
            DecodeError::Invalid(why) => write!(f, "invalid msgpack data: {why}"),
        }
    }
}

/// Nesting deeper than this is not something borg writes.
const MAX_DEPTH: usize = 64;

/// Values one message may decode to. The largest borg writes is a manifest at borg's limit of
/// 400,000 archives (about 2.4 million values); at 32 bytes a value this caps a hostile
/// message at about 100 MB however it is built.
pub const MAX_VALUES: usize = 3_000_000;

/// Elements reserved up front for a container; more grow as they actually decode.
const PREALLOCATE: usize = 1024;

impl Value {
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i),
            // Times above 63 bits are stored as little-endian signed bytes (item.pyx).
            Value::Bytes(b) if b.len() <= 16 && !b.is_empty() => {
                let mut buf = [if b[b.len() - 1] & 0x80 != 0 { 0xff } else { 0 }; 16];
                buf[..b.len()].copy_from_slice(b);
                Some(i128::from_le_bytes(buf))
            }
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value under a (bytes) key of a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_bytes() == Some(key.as_bytes()))
            .map(|(_, v)| v)
    }

    pub fn get_bytes(&self, key: &str) -> Option<&[u8]> {
        self.get(key)?.as_bytes()
    }

    pub fn get_int(&self, key: &str) -> Option<i128> {
        self.get(key)?.as_int()
    }
}

pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
    /// Values this message may still decode to.
    budget: usize,
    /// The longest the whole message may be: a length reaching past it is refused at once
    /// (not waited for as more input).
    max_len: usize,
}

fn too_long(max_len: usize) -> DecodeError {
    DecodeError::Invalid(format!("a value reaching past {max_len} bytes"))
}

/// What a typed read found instead of what it wanted.
fn wrong(what: &str) -> DecodeError {
    DecodeError::Invalid(format!("expected {what}"))
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            budget: MAX_VALUES,
            max_len: usize::MAX,
        }
    }

    fn peek(&self) -> Result<u8, DecodeError> {
        self.buf
            .get(self.pos)
            .copied()
            .ok_or(DecodeError::Incomplete)
    }

    /// A map header's entry count.
    pub(crate) fn map_len(&mut self) -> Result<usize, DecodeError> {
        let n = match self.byte()? {
            m @ 0x80..=0x8f => usize::from(m & 0x0f),
            0xde => self.length(2)?,
            0xdf => self.length(4)?,
            _ => return Err(wrong("a map")),
        };
        self.count(n, 2)
    }

    /// An array header's element count.
    pub(crate) fn array_len(&mut self) -> Result<usize, DecodeError> {
        self.array_len_of(1)
    }

    /// An array header's element count, for elements of at least `min_bytes` bytes each.
    pub(crate) fn array_len_of(&mut self, min_bytes: usize) -> Result<usize, DecodeError> {
        let n = match self.byte()? {
            m @ 0x90..=0x9f => usize::from(m & 0x0f),
            0xdc => self.length(2)?,
            0xdd => self.length(4)?,
            _ => return Err(wrong("an array")),
        };
        self.count(n, min_bytes)
    }

    /// A str or bin, borrowed; `None` for nil.
    pub(crate) fn bytes_or_nil(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        let n = match self.byte()? {
            m @ 0xa0..=0xbf => usize::from(m & 0x1f),
            0xc4 | 0xd9 => self.length(1)?,
            0xc5 | 0xda => self.length(2)?,
            0xc6 | 0xdb => self.length(4)?,
            0xc0 => return Ok(None),
            _ => return Err(wrong("bytes")),
        };
        self.take(n).map(Some)
    }

    pub(crate) fn raw_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        self.bytes_or_nil()?.ok_or_else(|| wrong("bytes"))
    }

    /// An integer, or a big one stored as little-endian signed bytes (item.pyx).
    pub(crate) fn int(&mut self) -> Result<i128, DecodeError> {
        let marker = self.peek()?;
        if matches!(marker, 0xa0..=0xbf | 0xc4 | 0xd9) {
            let b = self.raw_bytes()?;
            return Value::Bytes(b.to_vec())
                .as_int()
                .ok_or_else(|| wrong("an integer"));
        }
        self.pos += 1;
        Ok(match marker {
            0x00..=0x7f => i128::from(marker),
            0xcc => i128::from(self.uint(1)?),
            0xcd => i128::from(self.uint(2)?),
            0xce => i128::from(self.uint(4)?),
            0xcf => i128::from(self.uint(8)?),
            0xd0 => i128::from(self.uint(1)? as u8 as i8),
            0xd1 => i128::from(self.uint(2)? as u16 as i16),
            0xd2 => i128::from(self.uint(4)? as u32 as i32),
            0xd3 => i128::from(self.uint(8)? as i64),
            0xe0..=0xff => i128::from(marker as i8),
            _ => return Err(wrong("an integer")),
        })
    }

    /// A bool (borg writes `hardlink_master` as one); nil reads as false.
    pub(crate) fn boolean(&mut self) -> Result<bool, DecodeError> {
        match self.byte()? {
            0xc2 | 0xc0 => Ok(false),
            0xc3 => Ok(true),
            _ => Err(wrong("a bool")),
        }
    }

    /// Steps over one value of any kind without building it.
    pub(crate) fn skip(&mut self, depth: usize) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::Invalid("nested too deeply".into()));
        }
        let marker = self.byte()?;
        let (fixed, elements) = match marker {
            0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => (0, 0),
            0x80..=0x8f => (0, 2 * usize::from(marker & 0x0f)),
            0x90..=0x9f => (0, usize::from(marker & 0x0f)),
            0xa0..=0xbf => (usize::from(marker & 0x1f), 0),
            0xc1 => return Err(DecodeError::Invalid("reserved marker 0xc1".into())),
            0xc4 | 0xd9 => (self.length(1)?, 0),
            0xc5 | 0xda => (self.length(2)?, 0),
            0xc6 | 0xdb => (self.length(4)?, 0),
            0xc7 => (self.length(1)? + 1, 0),
            0xc8 => (self.length(2)? + 1, 0),
            0xc9 => (self.length(4)?.saturating_add(1), 0),
            0xca | 0xce | 0xd2 => (4, 0),
            0xcb | 0xcf | 0xd3 => (8, 0),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xd4 => (2, 0),
            0xd5 => (3, 0),
            0xd6 => (5, 0),
            0xd7 => (9, 0),
            0xd8 => (17, 0),
            0xdc => (0, self.length(2)?),
            0xdd => (0, self.length(4)?),
            0xde => (0, self.length(2)?.saturating_mul(2)),
            0xdf => (0, self.length(4)?.saturating_mul(2)),
        };
        self.take(fixed)?;
        let elements = self.count(elements, 1)?;
        for _ in 0..elements {
            self.skip(depth + 1)?;
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Incomplete)?;
        if end > self.max_len {
            return Err(too_long(self.max_len));
        }
        if end > self.buf.len() {
            return Err(DecodeError::Incomplete);
        }
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn uint(&mut self, n: usize) -> Result<u64, DecodeError> {
        let bytes = self.take(n)?;
        Ok(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn length(&mut self, n: usize) -> Result<usize, DecodeError> {
        usize::try_from(self.uint(n)?).map_err(|_| DecodeError::Invalid("length too large".into()))
    }

    fn bytes(&mut self, n: usize) -> Result<Value, DecodeError> {
        Ok(Value::Bytes(self.take(n)?.to_vec()))
    }

    /// A container's element count, refused when even one byte per element is not there.
    fn count(&self, n: usize, per_element: usize) -> Result<usize, DecodeError> {
        let needed = n.saturating_mul(per_element);
        if needed > self.max_len.saturating_sub(self.pos) {
            return Err(too_long(self.max_len));
        }
        if needed > self.buf.len() - self.pos {
            return Err(DecodeError::Incomplete);
        }
        Ok(n)
    }

    /// Takes `n` values from the message's budget: refused before anything is built.
    fn spend(&mut self, n: usize) -> Result<(), DecodeError> {
        self.budget = self.budget.checked_sub(n).ok_or_else(|| {
            DecodeError::Invalid(format!("more than {MAX_VALUES} values in one message"))
        })?;
        Ok(())
    }

    fn array(&mut self, n: usize, depth: usize) -> Result<Value, DecodeError> {
        // The budget first: a count no amount of further input could satisfy is refused now.
        self.spend(n)?;
        let n = self.count(n, 1)?;
        let mut items = Vec::with_capacity(n.min(PREALLOCATE));
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Value, DecodeError> {
        self.spend(n.saturating_mul(2))?;
        let n = self.count(n, 2)?;
        let mut items = Vec::with_capacity(n.min(PREALLOCATE));
        for _ in 0..n {
            let k = self.value(depth + 1)?;
            let v = self.value(depth + 1)?;
            items.push((k, v));
        }
        Ok(Value::Map(items))
    }

    fn ext(&mut self, n: usize) -> Result<Value, DecodeError> {
        let kind = self.byte()? as i8;
        Ok(Value::Ext(kind, self.take(n)?.to_vec()))
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::Invalid("nested too deeply".into()));
        }
        let marker = self.byte()?;
        Ok(match marker {
            0x00..=0x7f => Value::Int(i128::from(marker)),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), depth)?,
            0x90..=0x9f => self.array(usize::from(marker & 0x0f), depth)?,
            0xa0..=0xbf => self.bytes(usize::from(marker & 0x1f))?,
            0xc0 => Value::Nil,
            0xc1 => return Err(DecodeError::Invalid("reserved marker 0xc1".into())),
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 | 0xd9 => {
                let n = self.length(1)?;
                self.bytes(n)?
            }
            0xc5 | 0xda => {
                let n = self.length(2)?;
                self.bytes(n)?
            }
            0xc6 | 0xdb => {
                let n = self.length(4)?;
                self.bytes(n)?
            }
            0xc7 => {
                let n = self.length(1)?;
                self.ext(n)?
            }
            0xc8 => {
                let n = self.length(2)?;
                self.ext(n)?
            }
            0xc9 => {
                let n = self.length(4)?;
                self.ext(n)?
            }
            0xca => Value::Float(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => Value::Float(f64::from_bits(self.uint(8)?)),
            0xcc => Value::Int(i128::from(self.uint(1)?)),
            0xcd => Value::Int(i128::from(self.uint(2)?)),
            0xce => Value::Int(i128::from(self.uint(4)?)),
            0xcf => Value::Int(i128::from(self.uint(8)?)),
            0xd0 => Value::Int(i128::from(self.uint(1)? as u8 as i8)),
            0xd1 => Value::Int(i128::from(self.uint(2)? as u16 as i16)),
            0xd2 => Value::Int(i128::from(self.uint(4)? as u32 as i32)),
            0xd3 => Value::Int(i128::from(self.uint(8)? as i64)),
            0xd4 => self.ext(1)?,
            0xd5 => self.ext(2)?,
            0xd6 => self.ext(4)?,
            0xd7 => self.ext(8)?,
            0xd8 => self.ext(16)?,
            0xdc => {
                let n = self.length(2)?;
                self.array(n, depth)?
            }
            0xdd => {
                let n = self.length(4)?;
                self.array(n, depth)?
            }
            0xde => {
                let n = self.length(2)?;
                self.map(n, depth)?
            }
            0xdf => {
                let n = self.length(4)?;
                self.map(n, depth)?
            }
            0xe0..=0xff => Value::Int(i128::from(marker as i8)),
        })
    }
}

/// Decodes one value at the start of `buf`; returns it and the bytes it took.
pub fn decode_prefix(buf: &[u8]) -> Result<(Value, usize), DecodeError> {
    decode_prefix_within(buf, usize::MAX)
}

/// `decode_prefix` for a value that may be at most `max_len` bytes long: a length field that
/// reaches past it is invalid now, however much input is still to come (a peer's reply).
pub fn decode_prefix_within(buf: &[u8], max_len: usize) -> Result<(Value, usize), DecodeError> {
    let mut reader = Reader::new(buf);
    reader.max_len = max_len;
    let value = reader.value(0)?;
    Ok((value, reader.pos))
}

/// Decodes exactly one value filling `buf`.
pub fn decode(buf: &[u8]) -> Result<Value, DecodeError> {
    let (value, used) = decode_prefix(buf)?;
    if used != buf.len() {
        return Err(DecodeError::Invalid(format!(
            "{} bytes after the value",
            buf.len() - used
        )));
    }
    Ok(value)
}

/// Values packed back to back and cut at arbitrary points (borg's item stream): feed the
/// pieces in order, take the values out as they complete.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    pending: Vec<u8>,
    start: usize,
}

impl StreamDecoder {
    pub fn feed(&mut self, piece: &[u8]) {
        if self.start > 0 {
            self.pending.drain(..self.start);
            self.start = 0;
        }
        self.pending.extend_from_slice(piece);
    }

    /// The next complete value, `Ok(None)` when more input is needed.
    pub fn next_value(&mut self) -> Result<Option<Value>, DecodeError> {
        if self.start >= self.pending.len() {
            return Ok(None);
        }
        match decode_prefix(&self.pending[self.start..]) {
            Ok((value, used)) => {
                self.start += used;
                Ok(Some(value))
            }
            Err(DecodeError::Incomplete) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Bytes left that make no complete value (non-zero at the end means a cut stream).
    pub fn leftover(&self) -> usize {
        self.pending.len() - self.start
    }
}

/// Packs `value` as borg 1.x does (`use_bin_type=False`: bytes as raw str).
pub fn encode(value: &Value, out: &mut Vec<u8>) {
    fn header(out: &mut Vec<u8>, n: usize, fix: u8, fix_max: usize, m16: u8, m32: u8) {
        if n <= fix_max {
            out.push(fix | n as u8);
        } else if n <= 0xffff {
            out.push(m16);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            out.push(m32);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
    match value {
        Value::Nil => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Int(i) => {
            if (0..=0x7f).contains(i) {
                out.push(*i as u8);
            } else if (-32..0).contains(i) {
                out.push(*i as i8 as u8);
            } else if *i >= 0 {
                out.push(0xcf);
                out.extend_from_slice(&(*i as u64).to_be_bytes());
            } else {
                out.push(0xd3);
                out.extend_from_slice(&(*i as i64).to_be_bytes());
            }
        }
        Value::Float(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::Bytes(b) => {
            if b.len() <= 31 {
                out.push(0xa0 | b.len() as u8);
            } else if b.len() <= 0xff {
                out.push(0xd9);
                out.push(b.len() as u8);
            } else {
                header(out, b.len(), 0, 0, 0xda, 0xdb);
            }
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            header(out, items.len(), 0x90, 15, 0xdc, 0xdd);
            for item in items {
                encode(item, out);
            }
        }
        Value::Map(entries) => {
            header(out, entries.len(), 0x80, 15, 0xde, 0xdf);
            for (k, v) in entries {
                encode(k, out);
                encode(v, out);
            }
        }
        Value::Ext(kind, data) => {
            out.push(0xc7);
            out.push(data.len().min(0xff) as u8);
            out.push(*kind as u8);
            out.extend_from_slice(&data[..data.len().min(0xff)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_values_decode_to_themselves() {
        let value = Value::Map(vec![
            (Value::Bytes(b"i".to_vec()), Value::Int(70_000)),
            (
                Value::Bytes(b"a".to_vec()),
                Value::Array(vec![
                    Value::Nil,
                    Value::Bool(true),
                    Value::Float(1.5),
                    Value::Int(-5),
                    Value::Int(-70_000),
                    Value::Bytes(vec![7; 300]),
                ]),
            ),
        ]);
        let mut packed = Vec::new();
        encode(&value, &mut packed);
        assert_eq!(decode(&packed).unwrap(), value);
    }

    #[test]
    fn decodes_borgs_kinds_of_values() {
        // {b"path": b"a", b"mode": 33188, b"mtime": -1, b"chunks": [[b"id", 5, 6]]}
        let buf = [
            0x84, 0xa4, b'p', b'a', b't', b'h', 0xa1, b'a', 0xa4, b'm', b'o', b'd', b'e', 0xcd,
            0x81, 0xa4, 0xa5, b'm', b't', b'i', b'm', b'e', 0xff, 0xa6, b'c', b'h', b'u', b'n',
            b'k', b's', 0x91, 0x93, 0xa2, b'i', b'd', 0x05, 0x06,
        ];
        let v = decode(&buf).unwrap();
        assert_eq!(v.get_bytes("path"), Some(&b"a"[..]));
        assert_eq!(v.get_int("mode"), Some(33188));
        assert_eq!(v.get_int("mtime"), Some(-1));
        assert_eq!(v.get("chunks").unwrap().as_array().unwrap().len(), 1);
    }

    #[test]
    fn a_stream_cut_anywhere_decodes_the_same() {
        let one = [0x82, 0xa1, b'a', 0x01, 0xa1, b'b', 0xc4, 0x03, 1, 2, 3];
        let mut all = Vec::new();
        for _ in 0..5 {
            all.extend_from_slice(&one);
        }
        for cut in 1..all.len() {
            let mut d = StreamDecoder::default();
            let mut got = 0;
            for piece in [&all[..cut], &all[cut..]] {
                d.feed(piece);
                while let Some(v) = d.next_value().unwrap() {
                    assert_eq!(v.get_int("a"), Some(1));
                    got += 1;
                }
            }
            assert_eq!(got, 5);
            assert_eq!(d.leftover(), 0);
        }
    }

    #[test]
    fn huge_lengths_in_short_input_are_refused_without_allocating() {
        // Four billion elements: more than one message may hold, whatever follows.
        assert!(matches!(
            decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::Invalid(_))
        ));
        // Fewer than the budget, but not there: more input may come.
        assert_eq!(
            decode(&[0xdd, 0x00, 0x01, 0x00, 0x00]),
            Err(DecodeError::Incomplete)
        );
        assert_eq!(
            decode(&[0xdb, 0xff, 0xff, 0xff, 0xff, 0]),
            Err(DecodeError::Incomplete)
        );
        assert!(decode(&[0xc1]).is_err());
    }

    #[test]
    fn a_message_of_millions_of_nils_is_refused_before_it_is_built() {
        // 64 million nils would be 2 GiB of values: the array header alone is refused.
        let mut message = vec![0xdd];
        message.extend_from_slice(&(64u32 << 20).to_be_bytes());
        message.resize(message.len() + (64 << 20), 0xc0);
        assert!(matches!(decode(&message), Err(DecodeError::Invalid(_))));
        // Many small arrays that together exceed the budget are refused as well.
        let mut nested = vec![0xdd];
        nested.extend_from_slice(&1_100_000u32.to_be_bytes());
        for _ in 0..1_100_000 {
            nested.extend_from_slice(&[0x92, 0xc0, 0xc0]);
        }
        assert!(matches!(decode(&nested), Err(DecodeError::Invalid(_))));
        // Within the budget the same shape decodes.
        let mut fine = vec![0xdc, 0x03, 0xe8];
        for _ in 0..1000 {
            fine.extend_from_slice(&[0x92, 0xc0, 0xc0]);
        }
        assert_eq!(
            decode(&fine).map(|v| v.as_array().map(<[Value]>::len)),
            Ok(Some(1000))
        );
    }

    #[test]
    fn a_length_longer_than_the_message_may_be_is_refused_before_its_bytes_arrive() {
        // A bin32 claiming 4 GiB: with a 1 MiB limit it is invalid at once, not incomplete.
        let header = [0xc6, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            decode_prefix_within(&header, 1 << 20),
            Err(DecodeError::Invalid(_))
        ));
        assert_eq!(decode_prefix(&header), Err(DecodeError::Incomplete));
        assert!(matches!(
            decode_prefix_within(&[0xdd, 0x00, 0x20, 0x00, 0x00], 1 << 20),
            Err(DecodeError::Invalid(_))
        ));
    }

    #[test]
    fn big_times_stored_as_bytes_are_read_as_signed_little_endian() {
        let v = Value::Bytes(vec![0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00]);
        assert_eq!(v.as_int(), Some(1i128 << 63));
    }
}
