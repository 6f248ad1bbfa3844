//! The msgpack borg 1.x writes (`use_bin_type=False`: strings and bytes both arrive as raw
//! bytes, map keys too). A small decoder that never panics and bounds what it allocates: every
//! length is checked against the bytes actually present before anything is reserved.

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

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Incomplete)?;
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
        if n.saturating_mul(per_element) > self.buf.len() - self.pos {
            return Err(DecodeError::Incomplete);
        }
        Ok(n)
    }

    fn array(&mut self, n: usize, depth: usize) -> Result<Value, DecodeError> {
        let n = self.count(n, 1)?;
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Value, DecodeError> {
        let n = self.count(n, 2)?;
        let mut items = Vec::with_capacity(n);
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
    let mut reader = Reader { buf, pos: 0 };
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::Incomplete)
        );
        assert_eq!(
            decode(&[0xdb, 0xff, 0xff, 0xff, 0xff, 0]),
            Err(DecodeError::Incomplete)
        );
        assert!(decode(&[0xc1]).is_err());
    }

    #[test]
    fn big_times_stored_as_bytes_are_read_as_signed_little_endian() {
        let v = Value::Bytes(vec![0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00]);
        assert_eq!(v.as_int(), Some(1i128 << 63));
    }
}
