//! Fuzzing the repository reader's parsers: msgpack (whole and streamed), the object envelope
//! and its decompressors. Damaged input is an error, never a panic or an unbounded allocation.

use kastell::repo::listing::display_bytes;
use kastell::repo::msgpack::{decode, StreamDecoder};
use kastell::repo::Key;
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
}
