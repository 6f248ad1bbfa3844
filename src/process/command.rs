//! Argument builders. Secrets never go into arguments: the passphrase travels over a pipe
//! (`BORG_PASSPHRASE_FD`), or borgmatic gets it from its own config.

use super::tools::Tools;
use crate::config::Secret;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// A fully built process call, ready for [`super::run`].
#[derive(Debug, Clone)]
pub struct Invocation {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    /// Handed to borg through `BORG_PASSPHRASE_FD`.
    pub passphrase: Option<Secret>,
    /// Written to the process's standard input, then closed (for borg's prompts, e.g. a new
    /// passphrase); otherwise stdin is /dev/null.
    pub stdin_secret: Option<Secret>,
    /// A short name for events and logs, e.g. `borgmatic repo-list`.
    pub label: String,
    /// Also report stdout's `--log-json` records as events as they arrive (borgmatic writes its
    /// own log records there); stdout is still collected whole.
    pub stream_stdout: bool,
    /// The working folder (`borg extract` writes into it); the caller's when None.
    pub cwd: Option<PathBuf>,
}

/// `borgmatic --config FILE --log-json ACTION [--repository LABEL] [ARGS...]`.
#[derive(Debug, Clone)]
pub struct BorgmaticCommand {
    config: PathBuf,
    global_args: Vec<OsString>,
    action: String,
    repository: Option<String>,
    action_args: Vec<OsString>,
    stream_stdout: bool,
    env: Vec<(OsString, OsString)>,
    stdin_secret: Option<Secret>,
    passcommand: Option<String>,
}

impl BorgmaticCommand {
    pub fn new(config: &Path, action: &str) -> Self {
        BorgmaticCommand {
            config: config.to_path_buf(),
            global_args: Vec::new(),
            action: action.to_string(),
            repository: None,
            action_args: Vec::new(),
            stream_stdout: false,
            env: Vec::new(),
            stdin_secret: None,
            passcommand: None,
        }
    }

    /// Overrides the config's passphrase source for this run (e.g. the one-run relay).
    pub fn passcommand(mut self, command: String) -> Self {
        self.passcommand = Some(command);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// Answers borg's prompts through standard input (never argv or the environment).
    pub fn stdin_secret(mut self, answers: Secret) -> Self {
        self.stdin_secret = Some(answers);
        self
    }

    /// Limit the action to one repository (by label, or by path when it has none).
    pub fn repository(mut self, label_or_path: &str) -> Self {
        self.repository = Some(label_or_path.to_string());
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.action_args.push(arg.as_ref().to_os_string());
        self
    }

    /// An argument for borgmatic itself, before the action (e.g. `--verbosity 1`).
    pub fn global_arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.global_args.push(arg.as_ref().to_os_string());
        self
    }

    /// Report borgmatic's own log records (written to stdout) as they arrive.
    pub fn stream_stdout(mut self) -> Self {
        self.stream_stdout = true;
        self
    }

    pub fn invocation(self, tools: &Tools) -> Invocation {
        let mut args: Vec<OsString> = vec![
            "--config".into(),
            self.config.into_os_string(),
            "--log-json".into(),
        ];
        args.extend(self.global_args);
        if let Some(command) = self.passcommand {
            // borgmatic 2 takes any option as a flag; 1.8/1.9 only through --override.
            if tools.borgmatic.version >= super::Version(2, 0, 0) {
                args.push("--encryption-passcommand".into());
                args.push(command.into());
            } else {
                args.push("--override".into());
                args.push(
                    format!(
                        "encryption_passcommand={}",
                        serde_json::Value::String(command)
                    )
                    .into(),
                );
            }
        }
        args.push(self.action.clone().into());
        if let Some(repo) = self.repository {
            args.push("--repository".into());
            args.push(repo.into());
        }
        args.extend(self.action_args);
        let mut env = path_with_borg(tools);
        env.extend(self.env);
        Invocation {
            program: tools.borgmatic.path.clone(),
            args,
            env,
            passphrase: None,
            stdin_secret: self.stdin_secret,
            label: format!("borgmatic {}", self.action),
            stream_stdout: self.stream_stdout,
            cwd: None,
        }
    }
}

/// `borg --log-json ACTION ARGS...`, for what borgmatic has no action for.
#[derive(Debug, Clone)]
pub struct BorgCommand {
    action: String,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    passphrase: Option<Secret>,
}

impl BorgCommand {
    pub fn new(action: &str) -> Self {
        BorgCommand {
            action: action.to_string(),
            args: Vec::new(),
            env: Vec::new(),
            passphrase: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    pub fn passphrase(mut self, passphrase: Secret) -> Self {
        self.passphrase = Some(passphrase);
        self
    }

    pub fn invocation(self, tools: &Tools) -> Invocation {
        let mut args: Vec<OsString> = vec!["--log-json".into(), self.action.clone().into()];
        args.extend(self.args);
        let mut env = path_with_borg(tools);
        env.extend(self.env);
        Invocation {
            program: tools.borg.path.clone(),
            args,
            env,
            passphrase: self.passphrase,
            stdin_secret: None,
            label: format!("borg {}", self.action),
            stream_stdout: false,
            cwd: None,
        }
    }
}

/// borgmatic runs `borg` from PATH (unless the config sets `local_path`); make sure that is
/// the borg Kastell checked, even when a desktop session's PATH lacks its folder.
fn path_with_borg(tools: &Tools) -> Vec<(OsString, OsString)> {
    let Some(dir) = tools.borg.path.parent() else {
        return Vec::new();
    };
    let mut paths = vec![dir.to_path_buf()];
    if let Some(existing) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    match std::env::join_paths(paths) {
        Ok(joined) => vec![("PATH".into(), joined)],
        Err(_) => Vec::new(),
    }
}
