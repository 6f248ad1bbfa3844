//! Fuzzing the repository reader's parsers: msgpack (whole and streamed), the object envelope
//! and its decompressors. Damaged input is an error, never a panic or an unbounded allocation.

use kastell::repo::items::ItemDecoder;
use kastell::repo::listing::display_bytes;
use kastell::repo::msgpack::{decode, encode, StreamDecoder, Value};
use kastell::repo::{Item, Key};

fn b(s: &[u8]) -> Value {
    Value::Bytes(s.to_vec())
}

/// An item map as borg packs it (keys sorted, bytes as raw str).
fn packed_item(
    path: &[u8],
    mode: u32,
    mtime: i128,
    chunks: &[(u8, u32)],
    user: Option<&[u8]>,
) -> Vec<u8> {
    let mut entries = vec![
        (
            b(b"chunks"),
            Value::Array(
                chunks
                    .iter()
                    .map(|(id, size)| {
                        Value::Array(vec![
                            b(&[*id; 32]),
                            Value::Int(i128::from(*size)),
                            Value::Int(i128::from(*size) / 2),
                        ])
                    })
                    .collect(),
            ),
        ),
        (b(b"gid"), Value::Int(100)),
        (b(b"mode"), Value::Int(i128::from(mode))),
        (b(b"mtime"), Value::Int(mtime)),
        (b(b"path"), b(path)),
        (b(b"uid"), Value::Int(1000)),
        (b(b"user"), user.map_or(Value::Nil, b)),
        (b(b"xattrs"), Value::Map(vec![(b(b"user.k"), b(b"v"))])),
    ];
    entries.push((
        b(b"zz_unknown"),
        Value::Array(vec![Value::Float(1.0), Value::Map(vec![])]),
    ));
    let mut out = Vec::new();
    encode(&Value::Map(entries), &mut out);
    out
}
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn msgpack_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), cut in 0usize..256) {
        let _ = decode(&bytes);
        let mut stream = StreamDecoder::default();
        let cut = cut.min(bytes.len());
        stream.feed(&bytes[..cut]);
        while let Ok(Some(_)) = stream.next_value() {}
        stream.feed(&bytes[cut..]);
        while let Ok(Some(_)) = stream.next_value() {}
    }

    #[test]
    fn envelopes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), header in 0u8..8, comp in 0u8..6) {
        // An unencrypted envelope: type byte, compression header, then anything.
        let mut envelope = vec![0x02, comp, 0x00];
        envelope.extend_from_slice(&body);
        let _ = Key::plaintext().open(&envelope, None);
        let _ = Key::plaintext().open(&envelope, Some(body.len() * 3));
        let mut other = vec![header];
        other.extend_from_slice(&body);
        let _ = Key::plaintext().open(&other, None);
        let _ = display_bytes(&body);
    }

    #[test]
    fn the_item_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), cut in 0usize..512, flip in 0usize..512) {
        // Random bytes, and a valid item with one byte changed.
        let mut valid = packed_item(b"home/me/f", 0o100644, 1, &[(1, 10), (2, 20)], Some(b"me"));
        if !valid.is_empty() {
            let at = flip % valid.len();
            valid[at] ^= bytes.first().copied().unwrap_or(0x55) | 1;
        }
        for input in [&bytes, &valid] {
            let mut decoder = ItemDecoder::default();
            let mut item = Item::default();
            let cut = cut.min(input.len());
            decoder.feed(&input[..cut]);
            while let Ok(true) = decoder.next_into(&mut item) {}
            decoder.feed(&input[cut..]);
            while let Ok(true) = decoder.next_into(&mut item) {}
        }
    }

    #[test]
    fn items_cut_anywhere_decode_to_what_was_packed(
        paths in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..40), 1..6),
        mtime in any::<i64>(),
        chunks in proptest::collection::vec((any::<u8>(), any::<u32>()), 0..4),
        cut in 0usize..2000,
    ) {
        let mut stream = Vec::new();
        for (n, path) in paths.iter().enumerate() {
            let user: Option<&[u8]> = if n % 2 == 0 { Some(b"me") } else { None };
            stream.extend(packed_item(path, 0o100600 + n as u32, i128::from(mtime), &chunks, user));
        }
        let cut = cut.min(stream.len());
        let mut decoder = ItemDecoder::default();
        let mut item = Item::default();
        let mut seen = Vec::new();
        for piece in [&stream[..cut], &stream[cut..]] {
            decoder.feed(piece);
            while decoder.next_into(&mut item).unwrap() {
                seen.push(item.clone());
            }
        }
        prop_assert_eq!(decoder.leftover(), 0);
        prop_assert_eq!(seen.len(), paths.len());
        for (n, (item, path)) in seen.iter().zip(&paths).enumerate() {
            prop_assert_eq!(&item.path, path);
            prop_assert_eq!(item.mode, 0o100600 + n as u32);
            prop_assert_eq!(item.mtime, i128::from(mtime));
            prop_assert_eq!(item.chunks.len(), chunks.len());
            for ((id, size), (byte, expected)) in item.chunks.iter().zip(&chunks) {
                prop_assert_eq!(id, &[*byte; 32]);
                prop_assert_eq!(*size, u64::from(*expected));
            }
            prop_assert_eq!(item.user.is_some(), n % 2 == 0);
            prop_assert_eq!(item.xattrs.len(), 1);
        }
    }
}
