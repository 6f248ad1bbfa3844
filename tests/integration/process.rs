//! The process layer against real borg: the passphrase over a pipe, and a clean cancel.

use crate::support::{self, Fixture};
use kastell::config::Secret;
use kastell::events::{Discard, Event};
use kastell::process::{
    BorgCommand, FailureKind, Invocation, LogLine, ProcessError, ToolInfo, Tools, Version,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Kastell's tools: the fixture's borg and borgmatic with their versions. (Not
/// `Tools::detect`, which reads `KASTELL_BORG` from the environment: setting that here would
/// change it for every test running beside this one.)
fn tools(fx: &Fixture) -> Tools {
    let info = |path: &std::path::Path| {
        let out = std::process::Command::new(path)
            .arg("--version")
            .output()
            .expect("--version");
        let text = String::from_utf8_lossy(&out.stdout);
        ToolInfo {
            path: path.to_path_buf(),
            version: Version::parse(&text).unwrap_or_else(|| panic!("a version in {text:?}")),
        }
    };
    Tools {
        borg: info(&fx.borg),
        borgmatic: info(&fx.borgmatic),
    }
}

/// A borg call in the fixture's HOME (where its keyfile lives).
fn in_fixture(fx: &Fixture, command: BorgCommand, tools: &Tools) -> Invocation {
    let mut invocation = command.invocation(tools);
    invocation
        .env
        .extend(fx.envs().into_iter().map(|(k, v)| (k.into(), v.into())));
    invocation
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passphrase_reaches_borg_through_a_pipe_and_a_wrong_one_is_typed() {
    let fx = Fixture::new(1);
    let tools = tools(&fx);
    let repo = fx.local_repo.to_string_lossy().to_string();

    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    let sink = move |e: Event| {
        if let Event::Line(l) = e {
            seen.lock().expect("lock").push(l);
        }
    };
    let ok = kastell::process::run(
        in_fixture(
            &fx,
            BorgCommand::new("list")
                .arg("--json")
                .arg(&repo)
                .passphrase(Secret::new(support::PASSPHRASE)),
            &tools,
        ),
        &sink,
        &CancellationToken::new(),
    )
    .await
    .expect("runs")
    .into_result()
    .expect("borg list with the passphrase from the pipe");
    let listing: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("json");
    assert_eq!(listing["archives"].as_array().map(Vec::len), Some(1));
    // The passphrase is in no line borg printed.
    assert!(lines
        .lock()
        .expect("lock")
        .iter()
        .all(|l: &LogLine| !l.text().contains(support::PASSPHRASE)));

    let wrong = kastell::process::run(
        in_fixture(
            &fx,
            BorgCommand::new("list")
                .arg(&repo)
                .passphrase(Secret::new("wrong")),
            &tools,
        ),
        &Discard,
        &CancellationToken::new(),
    )
    .await
    .expect("runs")
    .into_result()
    .expect_err("wrong passphrase fails");
    assert_eq!(wrong.failure_kind(), Some(FailureKind::PassphraseWrong));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_borg_with_sigint_and_it_releases_its_lock() {
    let fx = Fixture::new(0);
    let tools = tools(&fx);
    let repo = fx.local_repo.to_string_lossy().to_string();
    let cancel = CancellationToken::new();
    let lock = fx.local_repo.join("lock.exclusive");

    let canceller = cancel.clone();
    let lock_seen = lock.clone();
    let watcher = tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(90);
        while !lock_seen.exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The lock appears before borg starts `sleep`; a SIGINT in between, on a busy
        // machine, reached borg before its command ran and the run went on to the grace
        // period (seen once in CI). Cancel once the command is running.
        tokio::time::sleep(Duration::from_secs(1)).await;
        canceller.cancel();
        Instant::now()
    });

    let result = kastell::process::run(
        in_fixture(
            &fx,
            BorgCommand::new("with-lock")
                .arg(&repo)
                .arg("sleep")
                .arg("120")
                .passphrase(Secret::new(support::PASSPHRASE)),
            &tools,
        ),
        &Discard,
        &cancel,
    )
    .await;
    let stopped = Instant::now();
    // Measured from the cancel, not the start: borg may be slow to start on a busy machine.
    let cancelled_at = watcher.await.expect("watcher");
    assert!(matches!(result, Err(ProcessError::Cancelled)), "{result:?}");
    assert!(
        stopped.duration_since(cancelled_at) < kastell::process::CANCEL_GRACE,
        "SIGINT alone stopped it, before any escalation"
    );
    assert!(!lock.exists(), "borg removed its lock on the way out");
}
