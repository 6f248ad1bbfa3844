//! borgmatic configuration files: where they live and what they say.

mod discover;
mod edit;
mod save;
mod schema;

pub use discover::{default_config_paths, discover_configs};
pub use edit::{ConfigDocument, EditError, Editability, Scalar};
pub use save::{backup_path, save, write_config, SaveError, SaveOutcome};
pub use schema::{BorgmaticConfig, ConfigError, RepositoryConfig, RepositoryKind, Secret};
