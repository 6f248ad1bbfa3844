//! borgmatic configuration files: where they live and what they say.

mod discover;
mod edit;
mod save;
mod schema;
mod settings;

pub use discover::{default_config_paths, discover_configs, discovered_repositories};
pub use edit::{ConfigDocument, EditError, Editability, Scalar};
pub use save::{backup_path, save, write_config, SaveError, SaveOutcome};
pub use schema::{BorgmaticConfig, ConfigError, RepositoryConfig, RepositoryKind, Secret};
pub use settings::{apply_scalar, check_frequency, check_scalar, Settings, RETENTION_KEYS};
