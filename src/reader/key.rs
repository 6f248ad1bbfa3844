//! borg 1.x keys and the object envelope: find the key (repokey in `config`, keyfile as borg
//! finds it), unlock it with the passphrase, then for every object check its MAC, decrypt,
//! decompress (bounded) and check its id. Facts and source references: `../shared/BORG-FORMAT.md`.

use std::path::{Path, PathBuf};

use aes::cipher::{KeyIvInit, StreamCipher};
use base64::Engine as _;
use blake2::Digest as _;
use hmac::Mac as _;

use super::msgpack::{self, Value};
use super::ReadError;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;
type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// The encryption modes borg 1.x makes, by the envelope's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    None,
    Authenticated,
    AuthenticatedBlake2,
    Keyfile,
    Repokey,
    KeyfileBlake2,
    RepokeyBlake2,
}

impl Mode {
    pub fn from_type_byte(b: u8) -> Option<Mode> {
        Some(match b {
            0x00 => Mode::Keyfile,
            0x02 => Mode::None,
            0x03 => Mode::Repokey,
            0x04 => Mode::KeyfileBlake2,
            0x05 => Mode::RepokeyBlake2,
            0x06 => Mode::AuthenticatedBlake2,
            0x07 => Mode::Authenticated,
            _ => return None,
        })
    }

    fn encrypted(self) -> bool {
        matches!(
            self,
            Mode::Keyfile | Mode::Repokey | Mode::KeyfileBlake2 | Mode::RepokeyBlake2
        )
    }

    fn blake2(self) -> bool {
        matches!(
            self,
            Mode::KeyfileBlake2 | Mode::RepokeyBlake2 | Mode::AuthenticatedBlake2
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::Authenticated => "authenticated",
            Mode::AuthenticatedBlake2 => "authenticated-blake2",
            Mode::Keyfile => "keyfile",
            Mode::Repokey => "repokey",
            Mode::KeyfileBlake2 => "keyfile-blake2",
            Mode::RepokeyBlake2 => "repokey-blake2",
        }
    }
}

/// An unlocked key.
#[derive(Clone)]
pub struct Key {
    pub mode: Mode,
    enc_key: Vec<u8>,
    enc_hmac_key: Vec<u8>,
    id_key: Vec<u8>,
    /// Manifests without a valid TAM are refused (borg's `key.tam_required`).
    pub tam_required: bool,
    /// What the key blob itself says about `tam_required`; when it says nothing, borg's
    /// security record decides (`tam_required` marker file).
    pub tam_required_in_key: Option<bool>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "Key({})", self.mode.name())
    }
}

/// borg's keyed BLAKE2b-256: plain BLAKE2b-256 over `key ‖ data`.
fn blake2b_256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut h = blake2::Blake2b::<blake2::digest::consts::U32>::new();
    h.update(key);
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return [0; 32];
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time comparison.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Upper bound for one decompressed object (borg's chunks are at most 8 MiB; metadata less).
pub const MAX_OBJECT: usize = 128 << 20;

impl Key {
    /// The key of an unencrypted repository (`none`): ids are SHA-256.
    pub fn plaintext() -> Key {
        Key {
            mode: Mode::None,
            enc_key: Vec::new(),
            enc_hmac_key: Vec::new(),
            id_key: Vec::new(),
            tam_required: false,
            tam_required_in_key: Some(false),
        }
    }

    /// The id borg gives `data` (a chunk's plaintext after decompression).
    pub fn id_hash(&self, data: &[u8]) -> [u8; 32] {
        match self.mode {
            Mode::None => sha2::Sha256::digest(data).into(),
            m if m.blake2() => blake2b_256(&self.id_key, &[data]),
            _ => hmac_sha256(&self.id_key, &[data]),
        }
    }

    /// Opens an object envelope: MAC, decrypt, decompress. `expected_size` (from a chunk list)
    /// bounds lz4's output when known.
    pub fn open(
        &self,
        envelope: &[u8],
        expected_size: Option<usize>,
    ) -> Result<Vec<u8>, ReadError> {
        let Some((&type_byte, rest)) = envelope.split_first() else {
            return Err(ReadError::corrupt("an empty object"));
        };
        let mode = Mode::from_type_byte(type_byte)
            .ok_or_else(|| ReadError::Unsupported(format!("object type 0x{type_byte:02x}")))?;
        if mode != self.mode {
            return Err(ReadError::corrupt(format!(
                "an object of type {} in a {} repository",
                mode.name(),
                self.mode.name()
            )));
        }
        let compressed = if mode.encrypted() {
            if rest.len() < 40 {
                return Err(ReadError::corrupt(
                    "an encrypted object shorter than its header",
                ));
            }
            let (mac, body) = rest.split_at(32);
            let computed = if mode.blake2() {
                blake2b_256(&self.enc_hmac_key, &[body])
            } else {
                hmac_sha256(&self.enc_hmac_key, &[body])
            };
            if !same(mac, &computed) {
                return Err(ReadError::corrupt("an object whose MAC does not verify"));
            }
            let (iv_tail, ciphertext) = body.split_at(8);
            let mut iv = [0u8; 16];
            iv[8..].copy_from_slice(iv_tail);
            let mut plain = ciphertext.to_vec();
            let mut cipher = Aes256Ctr::new_from_slices(&self.enc_key, &iv)
                .map_err(|_| ReadError::corrupt("a key of the wrong length"))?;
            cipher.apply_keystream(&mut plain);
            plain
        } else {
            rest.to_vec()
        };
        decompress(&compressed, expected_size, 0)
    }

    /// Opens an object and checks that its content has the id it is stored under.
    pub fn open_checked(
        &self,
        id: &[u8; 32],
        envelope: &[u8],
        expected_size: Option<usize>,
    ) -> Result<Vec<u8>, ReadError> {
        let data = self.open(envelope, expected_size)?;
        if !same(&self.id_hash(&data), id) {
            return Err(ReadError::corrupt(
                "an object whose content does not match its id",
            ));
        }
        Ok(data)
    }

    /// borg's TAM key for a context ("manifest", "archive") and salt.
    pub fn tam_key(&self, salt: &[u8], context: &str) -> Option<[u8; 64]> {
        let mut ikm =
            Vec::with_capacity(self.id_key.len() + self.enc_key.len() + self.enc_hmac_key.len());
        ikm.extend_from_slice(&self.id_key);
        ikm.extend_from_slice(&self.enc_key);
        ikm.extend_from_slice(&self.enc_hmac_key);
        let hk = hkdf::Hkdf::<sha2::Sha512>::new(Some(salt), &ikm);
        let mut out = [0u8; 64];
        hk.expand(
            format!("borg-metadata-authentication-{context}").as_bytes(),
            &mut out,
        )
        .ok()?;
        Some(out)
    }
}

/// borg's compressors, by their two-byte header; obfuscation wraps another object.
fn decompress(data: &[u8], expected: Option<usize>, depth: u8) -> Result<Vec<u8>, ReadError> {
    if data.len() < 2 {
        return Err(ReadError::corrupt(
            "an object too short for its compression header",
        ));
    }
    let limit = expected.unwrap_or(MAX_OBJECT).min(MAX_OBJECT);
    let (header, body) = data.split_at(2);
    match header {
        [0x00, 0x00] => Ok(body.to_vec()),
        [0x01, 0x00] => lz4_block(body, expected),
        [0x02, 0x00] => {
            let reader = xz2::read::XzDecoder::new(body);
            read_bounded(reader, limit, "lzma")
        }
        [0x03, 0x00] => {
            let reader = zstd::stream::read::Decoder::new(body)
                .map_err(|e| ReadError::corrupt(format!("zstd: {e}")))?;
            read_bounded(reader, limit, "zstd")
        }
        [0x04, 0x00] if depth == 0 => {
            if body.len() < 4 {
                return Err(ReadError::corrupt(
                    "an obfuscated object without its length",
                ));
            }
            let len = u32::from_be_bytes([body[0], body[1], body[2], body[3]]) as usize;
            let inner = body
                .get(4..4 + len)
                .ok_or_else(|| ReadError::corrupt("an obfuscated object shorter than it says"))?;
            decompress(inner, expected, depth + 1)
        }
        // zlib has no borg header: its own CMF/FLG bytes (CM 8, check bits).
        [cmf, flg] if cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0 => {
            let reader = flate2::read::ZlibDecoder::new(data);
            read_bounded(reader, limit, "zlib")
        }
        _ => Err(ReadError::Unsupported(format!(
            "compression header {:02x} {:02x}",
            header[0], header[1]
        ))),
    }
}

fn read_bounded(
    reader: impl std::io::Read,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ReadError::corrupt(format!("{what}: {e}")))?;
    if out.len() > limit {
        return Err(ReadError::corrupt(format!(
            "{what} output larger than {limit} bytes"
        )));
    }
    Ok(out)
}

/// lz4 raw blocks carry no size: use the chunk list's, else grow up to the cap.
fn lz4_block(body: &[u8], expected: Option<usize>) -> Result<Vec<u8>, ReadError> {
    if let Some(size) = expected {
        return lz4_flex::block::decompress(body, size.min(MAX_OBJECT))
            .map_err(|e| ReadError::corrupt(format!("lz4: {e}")));
    }
    let mut size = (body.len() * 4).clamp(4096, MAX_OBJECT);
    loop {
        let mut out = vec![0u8; size];
        match lz4_flex::block::decompress_into(body, &mut out) {
            Ok(n) => {
                out.truncate(n);
                return Ok(out);
            }
            Err(_) if size < MAX_OBJECT => size = (size * 4).min(MAX_OBJECT),
            Err(e) => return Err(ReadError::corrupt(format!("lz4: {e}"))),
        }
    }
}

/// Where borg looks for the keyfile of repository `repo_id`: `BORG_KEY_FILE`, else the file
/// in `keys_dir` whose first line names the repository.
pub fn find_keyfile(repo_id: &[u8], keys_dir: &Path) -> Option<PathBuf> {
    if let Ok(file) = std::env::var("BORG_KEY_FILE") {
        return Some(PathBuf::from(file));
    }
    let wanted = format!("BORG_KEY {}", hex(repo_id));
    std::fs::read_dir(keys_dir).ok()?.flatten().find_map(|e| {
        let text = std::fs::read_to_string(e.path()).ok()?;
        (text.lines().next()?.trim() == wanted).then(|| e.path())
    })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The base64 key blob of a keyfile (after its `BORG_KEY` line).
pub fn keyfile_blob(text: &str) -> Option<Vec<u8>> {
    let body: String = text.lines().skip(1).map(str::trim).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// The repokey blob from `config`'s `key =` (base64 over continuation lines).
pub fn repokey_blob(value: &str) -> Option<Vec<u8>> {
    let body: String = value.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// Unlocks a key blob with `passphrase`; `None` for a wrong passphrase.
pub fn unlock(blob: &[u8], passphrase: &[u8], mode: Mode) -> Result<Option<Key>, ReadError> {
    let outer = msgpack::decode(blob).map_err(|e| ReadError::corrupt(format!("the key: {e}")))?;
    if outer.get_bytes("algorithm") != Some(b"sha256") {
        return Err(ReadError::Unsupported(
            "a key that is not PBKDF2-SHA256 (borg 2?)".into(),
        ));
    }
    let (Some(salt), Some(iterations), Some(hash), Some(data)) = (
        outer.get_bytes("salt"),
        outer.get_int("iterations"),
        outer.get_bytes("hash"),
        outer.get_bytes("data"),
    ) else {
        return Err(ReadError::corrupt(
            "a key without salt, iterations, hash or data",
        ));
    };
    let iterations = u32::try_from(iterations)
        .ok()
        .filter(|i| *i > 0 && *i <= 10_000_000)
        .ok_or_else(|| ReadError::corrupt("a key with an implausible iteration count"))?;
    let mut kek = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(passphrase, salt, iterations, &mut kek);
    let mut plain = data.to_vec();
    let mut cipher = Aes256Ctr::new_from_slices(&kek, &[0u8; 16])
        .map_err(|_| ReadError::corrupt("the key-encryption key"))?;
    cipher.apply_keystream(&mut plain);
    if !same(&hmac_sha256(&kek, &[&plain]), hash) {
        return Ok(None);
    }
    let inner = msgpack::decode(&plain).map_err(|e| ReadError::corrupt(format!("the key: {e}")))?;
    let field = |name: &str| -> Result<Vec<u8>, ReadError> {
        inner
            .get_bytes(name)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| ReadError::corrupt(format!("a key without {name}")))
    };
    Ok(Some(Key {
        mode,
        enc_key: field("enc_key")?,
        enc_hmac_key: field("enc_hmac_key")?,
        id_key: field("id_key")?,
        tam_required: false,
        tam_required_in_key: match inner.get("tam_required") {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        },
    }))
}
