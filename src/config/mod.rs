//! borgmatic configuration files: where they live and what they say.

mod discover;
mod schema;

pub use discover::{default_config_paths, discover_configs};
pub use schema::{BorgmaticConfig, ConfigError, RepositoryConfig, RepositoryKind, Secret};
