//! Fuzzing the repository reader's parsers: msgpack (whole and streamed), the object envelope
//! and its decompressors. Damaged input is an error, never a panic or an unbounded allocation.

use kastell::reader::items::ItemDecoder;
use kastell::reader::listing::display_bytes;
use kastell::reader::msgpack::{decode, encode, StreamDecoder, Value};
use kastell::reader::{Item, Key};

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

/// Set in the child that runs the fuzzing under a memory limit.
const UNDER_LIMIT: &str = "KASTELL_FUZZ_UNDER_A_MEMORY_LIMIT";

/// A message made of headers that claim huge lengths (arrays, maps, bins, strs, exts, item
/// chunk lists) between runs of filler, cut anywhere: what a hostile server or a forged
/// repository sends before anything is authenticated.
fn hostile_message(parts: &[(u8, u32, u16)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (kind, length, filler) in parts {
        match kind % 8 {
            0 => out.push(0xdd),
            1 => out.push(0xdf),
            2 => out.push(0xc6),
            3 => out.push(0xdb),
            4 => out.push(0xc9),
            5 => {
                // An item whose chunk list claims `length` entries.
                out.extend_from_slice(&[0x83, 0xa4]);
                out.extend_from_slice(b"path");
                out.extend_from_slice(&[0xa1, b'p', 0xa4]);
                out.extend_from_slice(b"mode");
                out.extend_from_slice(&[0x01, 0xa6]);
                out.extend_from_slice(b"chunks");
                out.push(0xdd);
            }
            6 => {
                // A key blob map claiming `length` entries.
                out.push(0xdf);
            }
            _ => {}
        }
        if kind % 8 < 7 {
            out.extend_from_slice(&length.to_be_bytes());
        }
        let fill = if kind & 8 == 0 { 0xc0 } else { 0x91 };
        out.extend(std::iter::repeat_n(fill, usize::from(*filler)));
    }
    out
}

fn decode_every_way(message: &[u8], cut: usize) {
    let _ = decode(message);
    let _ = kastell::reader::msgpack::decode_prefix_within(message, 21 << 20);
    let cut = cut.min(message.len());
    let mut stream = StreamDecoder::default();
    stream.feed(&message[..cut]);
    while let Ok(Some(_)) = stream.next_value() {}
    stream.feed(&message[cut..]);
    while let Ok(Some(_)) = stream.next_value() {}
    let mut items = ItemDecoder::default();
    let mut item = Item::default();
    items.feed(&message[..cut]);
    while let Ok(true) = items.next_into(&mut item) {}
    items.feed(&message[cut..]);
    while let Ok(true) = items.next_into(&mut item) {}
    // The key blob is decoded before the passphrase is even tried.
    let _ = kastell::reader::key::unlock(message, b"", kastell::reader::Mode::Repokey);
}

#[test]
fn decoders_bound_every_length_under_a_memory_limit() {
    if std::env::var_os(UNDER_LIMIT).is_none() {
        // This test again, in a child with 1 GiB of address space: an allocation sized by a
        // claimed length instead of the bytes received would abort it.
        let me = std::env::current_exe().unwrap();
        // The test's name in the harness: its module path without the crate's name.
        let module = module_path!().split_once("::").map_or("", |(_, m)| m);
        let name = format!("{module}::decoders_bound_every_length_under_a_memory_limit");
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg("ulimit -v 1048576; exec \"$@\"")
            .arg("fuzz")
            .arg(me)
            .args(["--exact", &name, "--test-threads=1"])
            .env(UNDER_LIMIT, "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the decoders ran out of their memory limit: {:?}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("test result: ok. 1 passed"),
            "the child ran no test named {name}:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        return;
    }
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new(Config {
        cases: 3_000,
        failure_persistence: None,
        ..Config::default()
    });
    let parts = proptest::collection::vec((any::<u8>(), any::<u32>(), any::<u16>()), 1..12);
    runner
        .run(&(parts, any::<usize>()), |(parts, cut)| {
            let message = hostile_message(&parts);
            decode_every_way(&message, cut % (message.len() + 1));
            Ok(())
        })
        .unwrap();
    // The worst cases outright: 64 Mi nils behind one header, and 16 Mi behind as many
    // small arrays (each within bounds, together far beyond any real message).
    let mut nils = vec![0xdd];
    nils.extend_from_slice(&(64u32 << 20).to_be_bytes());
    nils.resize(nils.len() + (64 << 20), 0xc0);
    decode_every_way(&nils, nils.len() / 2);
    let mut nested = vec![0xdd];
    nested.extend_from_slice(&(8u32 << 20).to_be_bytes());
    for _ in 0..(8 << 20) {
        nested.extend_from_slice(&[0x91, 0xc0]);
    }
    decode_every_way(&nested, 7);
}
