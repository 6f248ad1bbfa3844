//! The manifest (archives by name), archive metadata and the item stream, each authenticated
//! before use (TAMs, ids).

use hmac::Mac as _;

use super::key::Key;
use super::msgpack::{self, Value};
use super::{ReadError, Reader};

/// One archive as the manifest lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveRef {
    pub name: String,
    pub id: [u8; 32],
    /// borg's ISO time (`2026-11-24T02:50:47.123456`).
    pub time: String,
}

/// An entry of an archive, as borg stores it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Item {
    /// Relative, as bytes (need not be UTF-8).
    pub path: Vec<u8>,
    pub mode: u32,
    pub uid: i64,
    pub gid: i64,
    pub user: Option<Vec<u8>>,
    pub group: Option<Vec<u8>>,
    /// Nanoseconds since the epoch.
    pub mtime: i128,
    /// Only stored when borg was asked to (`--atime`); restores use `mtime` otherwise.
    pub atime: Option<i128>,
    /// Symlink target, or a hard link's master path.
    pub source: Option<Vec<u8>>,
    pub hardlink_master: bool,
    /// (id, size) per chunk.
    pub chunks: Vec<([u8; 32], u64)>,
    pub size: Option<u64>,
    pub healthy: bool,
    pub bsdflags: i64,
    /// A checkpoint part file: borg hides these.
    pub part: bool,
    /// Extended attributes, name and value.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// A device's number (`st_rdev`).
    pub rdev: u64,
    /// POSIX ACLs in borg's text form (`user:name:rwx:uid` lines).
    pub acl_access: Option<Vec<u8>>,
    pub acl_default: Option<Vec<u8>>,
}

impl Item {
    /// The size borg shows: `size` when stored, else the sum of the chunks.
    pub fn file_size(&self) -> u64 {
        self.size
            .unwrap_or_else(|| self.chunks.iter().map(|(_, s)| s).sum())
    }
}

fn id32(bytes: &[u8]) -> Option<[u8; 32]> {
    bytes.try_into().ok()
}

/// Checks the TAM of a manifest or archive object (`context`), as borg does: HMAC-SHA512 over
/// the packed object with the 64 hmac bytes zeroed. `Ok(true)` when a TAM verified, `Ok(false)`
/// when there is none (or one of an unknown suite) and none is required.
fn verify_tam(
    key: &Key,
    raw: &[u8],
    value: &Value,
    context: &str,
    required: bool,
) -> Result<bool, ReadError> {
    let Some(tam) = value.get("tam") else {
        return if required {
            Err(ReadError::corrupt(format!(
                "the {context} has no authentication tag (TAM), and this repository requires one"
            )))
        } else {
            Ok(false)
        };
    };
    if tam.get_bytes("type") != Some(b"HKDF_HMAC_SHA512") {
        return if required {
            Err(ReadError::Unsupported(format!("a {context} TAM suite")))
        } else {
            Ok(false)
        };
    }
    let (Some(hmac), Some(salt)) = (tam.get_bytes("hmac"), tam.get_bytes("salt")) else {
        return Err(ReadError::corrupt(format!(
            "the {context} TAM is malformed"
        )));
    };
    let Some(offset) = raw.windows(hmac.len().max(1)).position(|w| w == hmac) else {
        return Err(ReadError::corrupt(format!(
            "the {context} TAM is malformed"
        )));
    };
    let mut zeroed = raw.to_vec();
    zeroed[offset..offset + hmac.len()].fill(0);
    let tam_key = key
        .tam_key(salt, context)
        .ok_or_else(|| ReadError::corrupt("TAM key derivation"))?;
    let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(&tam_key)
        .map_err(|_| ReadError::corrupt("TAM key"))?;
    mac.update(&zeroed);
    mac.verify_slice(hmac).map_err(|_| {
        ReadError::corrupt(format!(
            "the {context}'s authentication tag (TAM) does not verify"
        ))
    })?;
    Ok(true)
}

/// What the manifest says, once authenticated.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Oldest first.
    pub archives: Vec<ArchiveRef>,
    /// When the manifest was written (borg's ISO text; the security record compares it).
    pub timestamp: String,
    /// A TAM was present and verified.
    pub tam_verified: bool,
    /// The manifest's `config.tam_required`.
    pub tam_required: bool,
}

/// Feature flags borg 1.4 knows for reading; anything else mandatory means "not for us".
const KNOWN_READ_FEATURES: &[&str] = &[];

/// The manifest (the envelope stored under the all-zero id): every archive, oldest first.
/// A manifest without a valid TAM is refused when `key.tam_required` (borg 1.4's
/// `unpack_and_verify_manifest`); an unencrypted repository's TAM proves nothing and is not
/// checked.
pub fn parse_manifest(key: &Key, envelope: &[u8]) -> Result<Manifest, ReadError> {
    let raw = key.open(envelope, None)?;
    let manifest =
        msgpack::decode(&raw).map_err(|e| ReadError::corrupt(format!("the manifest: {e}")))?;
    if manifest.get_int("version") != Some(1) {
        return Err(ReadError::Unsupported("manifest version".into()));
    }
    let tam_verified = key.mode != super::key::Mode::None
        && verify_tam(key, &raw, &manifest, "manifest", key.tam_required)?;
    if let Some(flags) = manifest
        .get("config")
        .and_then(|c| c.get("feature_flags"))
        .and_then(|f| f.get("read"))
        .and_then(|r| r.get("mandatory"))
        .and_then(Value::as_array)
    {
        for flag in flags {
            let name = String::from_utf8_lossy(flag.as_bytes().unwrap_or_default()).to_string();
            if !KNOWN_READ_FEATURES.contains(&name.as_str()) {
                return Err(ReadError::Unsupported(format!("mandatory feature {name}")));
            }
        }
    }
    let mut archives = Vec::new();
    if let Some(map) = manifest.get("archives").and_then(Value::as_map) {
        for (name, info) in map {
            let (Some(name), Some(id), Some(time)) = (
                name.as_bytes(),
                info.get_bytes("id").and_then(id32),
                info.get_bytes("time"),
            ) else {
                return Err(ReadError::corrupt(
                    "a manifest entry without name, id or time",
                ));
            };
            archives.push(ArchiveRef {
                name: String::from_utf8_lossy(name).into_owned(),
                id,
                time: String::from_utf8_lossy(time).into_owned(),
            });
        }
    }
    archives.sort_by(|a, b| a.time.cmp(&b.time));
    let timestamp = manifest
        .get_bytes("timestamp")
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .ok_or_else(|| ReadError::corrupt("a manifest without a timestamp"))?;
    let tam_required = matches!(
        manifest.get("config").and_then(|c| c.get("tam_required")),
        Some(Value::Bool(true))
    );
    Ok(Manifest {
        archives,
        timestamp,
        tam_verified,
        tam_required,
    })
}

/// An archive's metadata object: the ids of its item-stream chunks.
pub fn load_archive(reader: &Reader, archive: &ArchiveRef) -> Result<Vec<[u8; 32]>, ReadError> {
    let raw = reader.object(&archive.id, None)?;
    let key = &reader.key;
    let meta = msgpack::decode(&raw)
        .map_err(|e| ReadError::corrupt(format!("archive {}: {e}", archive.name)))?;
    if key.mode != super::key::Mode::None {
        // Archives made before borg 1.2.5 may lack a TAM; one that is present must verify.
        verify_tam(key, &raw, &meta, "archive", false)?;
        // (borg loads archives with force_tam_not_required; `borg check` names those without.)
    }
    let items = meta.get("items").and_then(Value::as_array).ok_or_else(|| {
        ReadError::corrupt(format!("archive {} lists no item chunks", archive.name))
    })?;
    items
        .iter()
        .map(|v| {
            v.as_bytes()
                .and_then(id32)
                .ok_or_else(|| ReadError::corrupt("an item chunk id"))
        })
        .collect()
}
