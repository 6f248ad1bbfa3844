//! The repository passphrase: where a config gets it (`passphrase`), the wallet entry that
//! keeps it (`wallet`, the Secret Service through `keyring`), and the relay that hands a
//! passphrase typed once to one borgmatic run (`relay`).

pub mod passphrase;
pub mod relay;
pub mod wallet;
