//! The seed's `user.yaml` (the guide this product is built from) loads unchanged.

use kastell::config::{BorgmaticConfig, RepositoryKind};
use std::path::Path;

#[test]
fn seed_user_yaml_loads_with_both_nas_repositories_and_keeps_unknown_keys() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-user.yaml");
    let cfg = BorgmaticConfig::load(&path).expect("seed config loads");
    let labels: Vec<_> = cfg.repositories.iter().map(|r| r.display_name()).collect();
    assert_eq!(labels, ["local-nas", "remote-nas"]);
    assert!(matches!(
        cfg.repositories[0].kind(),
        RepositoryKind::Ssh { ref host, .. } if host == "nas.yourdomain.net"
    ));
    assert_eq!(cfg.source_directories, ["~/"]);
    assert_eq!(cfg.exclude_patterns.len(), 23);
    assert_eq!(cfg.compression.as_deref(), Some("zstd"));
    assert!(cfg.encryption_passphrase.is_some());
    for key in [
        "exclude_caches",
        "exclude_if_present",
        "keep_within",
        "keep_yearly",
        "checks",
        "on_error",
    ] {
        assert!(cfg.other.contains_key(key), "{key} kept");
    }
}
