//! Retention against real borg: Kastell's prune preview (`upkeep::retention`, borg's rules
//! computed from the archive list) equals `borg prune --dry-run --list` on generated histories
//! and rule sets, `kastell prune --dry-run --json` reads the config's rules and archive filter
//! as borgmatic passes them, and after `kastell prune` exactly the kept archives remain.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use crate::support::home::Home;
use crate::support::{python_of, stderr, tool, PASSPHRASE};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use kastell::upkeep::retention::{decide, Archive, Period, Rules};

/// A small deterministic generator: every run makes the same histories.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// A time zone with summer time, so the rules' local periods are exercised where they bend.
const ZONE: &str = "Europe/Berlin";

fn zone() -> TimeZone {
    TimeZone::get(ZONE).expect("the tz database (tzdata)")
}

/// Runs borg commands through borg's own code in one Python process (`borg_batch.py`).
fn borg_batch(home: &Home, cases: &[Vec<String>]) -> Vec<(i64, String)> {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/borg_batch.py");
    let mut child = Command::new(python_of(&tool("borg")))
        .arg(&script)
        .env_clear()
        .envs(home.login_env())
        .env("BORG_PASSPHRASE", PASSPHRASE)
        .env("TZ", ZONE)
        .current_dir(home.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("borg's python");
    let mut stdin = child.stdin.take().expect("stdin");
    let input: String = cases
        .iter()
        .map(|argv| serde_json::json!({ "argv": argv }).to_string() + "\n")
        .collect();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let results: Vec<(i64, String)> = BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(&line.expect("a line")).expect("json");
            (
                v["rc"].as_i64().unwrap_or(-1),
                v["output"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    writer.join().expect("writer").expect("cases written");
    assert!(child.wait().expect("wait").success());
    assert_eq!(results.len(), cases.len());
    results
}

/// `borg prune --list` lines as (archive, "daily #1" | "checkpoint" | "prune").
fn borg_verdicts(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .filter_map(|line| {
            let name_after = |rest: &str| rest.split_whitespace().next().map(str::to_string);
            if let Some(rest) = line.strip_prefix("Would prune:") {
                return Some((name_after(rest)?, "prune".to_string()));
            }
            if let Some(rest) = line.strip_prefix("Keeping checkpoint archive:") {
                return Some((name_after(rest)?, "checkpoint".to_string()));
            }
            let rest = line.strip_prefix("Keeping archive (rule: ")?;
            let (rule, rest) = rest.split_once("):")?;
            Some((name_after(rest)?, rule.to_string()))
        })
        .collect()
}

fn kastell_verdicts(decided: &[kastell::upkeep::retention::Decision]) -> Vec<(String, String)> {
    decided
        .iter()
        .map(|d| (d.archive.name.clone(), d.verdict.list_word()))
        .collect()
}

/// borg's flags for `rules`.
fn flags(rules: &Rules) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(hours) = rules.within_hours {
        out.extend(["--keep-within".to_string(), format!("{hours}H")]);
    }
    for period in Period::ALL {
        if let Some(n) = rules.count(period) {
            let flag = match period {
                Period::Quarterly13Weekly => "--keep-13weekly".to_string(),
                Period::Quarterly3Monthly => "--keep-3monthly".to_string(),
                other => format!("--{}", other.option().replace('_', "-")),
            };
            out.extend([flag, n.to_string()]);
        }
    }
    out
}

/// The histories: archives `h{K}-{NNN}` (some checkpoints) at times from minutes to years
/// back, each history as dense or sparse as a kind of use; never within 10 minutes of a whole
/// hour back from now, so `keep_within` cannot tip over while the test runs.
fn histories(now: Timestamp, random: &mut Lcg) -> Vec<Vec<Archive>> {
    (0..8)
        .map(|k| {
            let (count, span_hours) = match k % 4 {
                0 => (30, 24 * 14),      // several a day for two weeks
                1 => (26, 24 * 120),     // daily-ish for four months
                2 => (24, 24 * 365 * 3), // now and then over three years
                _ => (28, 24 * 45),
            };
            let mut hours: Vec<u64> = (0..count).map(|_| random.below(span_hours)).collect();
            hours.sort_unstable();
            hours.dedup();
            let last = hours.len();
            hours
                .iter()
                .rev()
                .enumerate()
                .map(|(i, back)| {
                    let seconds = back * 3600 + 600 + random.below(2400);
                    let time = now - SignedDuration::from_secs(seconds as i64);
                    let mut name = format!("h{k}-{i:03}");
                    if (k % 3 == 0 && i + 1 == last) || (k % 3 == 1 && i + 3 == last) {
                        name.push_str(if k % 3 == 0 {
                            ".checkpoint"
                        } else {
                            ".checkpoint.1"
                        });
                    }
                    Archive { name, time }
                })
                .collect()
        })
        .collect()
}

fn random_rules(random: &mut Lcg) -> Rules {
    let mut rules = Rules::default();
    if random.below(4) == 0 {
        rules.within_hours = Some(1 + random.below(24 * 20) as i64);
    }
    for period in Period::ALL {
        let chance = match period {
            Period::Secondly | Period::Minutely => 10,
            _ => 3,
        };
        if random.below(chance) == 0 {
            rules.set(period, Some(random.below(9) as u32));
        }
    }
    // borg takes one kind of quarter at a time.
    if rules.count(Period::Quarterly13Weekly).is_some() {
        rules.set(Period::Quarterly3Monthly, None);
    }
    if !rules.any() {
        rules.set(Period::Daily, Some(1 + random.below(6) as u32));
    }
    rules
}

#[test]
fn the_prune_preview_equals_borgs_dry_run_on_generated_histories_and_prune_keeps_exactly_that() {
    let home = Home::new("upkeep");
    home.create_repository();
    let repo = home.repo().display().to_string();
    let source = home.home().join("Documents").display().to_string();
    let now = Timestamp::now();
    let mut random = Lcg(20261202);
    let histories = histories(now, &mut random);

    // Every archive, made by borg with its time given (oldest first, as they would be made).
    let mut all: Vec<&Archive> = histories.iter().flatten().collect();
    all.sort_by_key(|a| a.time);
    let creates: Vec<Vec<String>> = all
        .iter()
        .map(|a| {
            vec![
                "create".to_string(),
                "--timestamp".to_string(),
                a.time.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
                format!("{repo}::{}", a.name),
                source.clone(),
            ]
        })
        .collect();
    for (rc, output) in borg_batch(&home, &creates) {
        assert_eq!(rc, 0, "borg create: {output}");
    }

    // Rule sets per history: Kastell's preview against borg's dry run.
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for (k, history) in histories.iter().enumerate() {
        for _ in 0..25 {
            let rules = random_rules(&mut random);
            let mut argv = vec![
                "prune".to_string(),
                "--dry-run".to_string(),
                "--list".to_string(),
                "--glob-archives".to_string(),
                format!("h{k}-*"),
            ];
            argv.extend(flags(&rules));
            argv.push(repo.clone());
            cases.push(argv);
            expected.push((k, rules.clone(), decide(history, &rules, now, &zone())));
        }
    }
    let answers = borg_batch(&home, &cases);
    let mut compared = 0;
    for ((k, rules, decided), (rc, output)) in expected.iter().zip(&answers) {
        assert_eq!(*rc, 0, "borg prune: {output}");
        assert_eq!(
            kastell_verdicts(decided),
            borg_verdicts(output),
            "history h{k}, rules {:?}",
            flags(rules)
        );
        compared += 1;
    }
    assert_eq!(compared, 200);

    // Through the config, as borgmatic passes it: its retention and its archive filter.
    let config = home.config();
    let mut yaml = std::fs::read_to_string(&config).expect("config");
    yaml.push_str("match_archives: 'sh:h1-*'\nkeep_weekly: 3\nkeep_monthly: 2\n");
    std::fs::write(&config, yaml).expect("config");
    let config_text = config.display().to_string();
    let preview = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec![
            "prune",
            "--config",
            &config_text,
            "--repository",
            "local",
            "--dry-run",
            "--json",
        ];
        args.extend_from_slice(extra);
        // The zone borg's dry run had: periods are local (a week may start earlier in Berlin).
        let out = home
            .kastell()
            .env("TZ", ZONE)
            .args(&args)
            .output()
            .expect("kastell prune");
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let as_verdicts = |rows: &[serde_json::Value]| -> Vec<(String, String)> {
        rows.iter()
            .map(|r| {
                let said = match (r["keep"].as_bool(), r["rule"].as_str()) {
                    (Some(false), _) => "prune".to_string(),
                    (_, Some("checkpoint")) => "checkpoint".to_string(),
                    (_, Some(rule)) => format!("{rule} #{}", r["rule_index"]),
                    _ => "?".to_string(),
                };
                (r["archive"].as_str().unwrap_or_default().to_string(), said)
            })
            .collect()
    };
    let borg_for = |rules: &[&str]| {
        let mut argv: Vec<String> = ["prune", "--dry-run", "--list", "--glob-archives", "h1-*"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        argv.extend(rules.iter().map(|s| s.to_string()));
        argv.push(repo.clone());
        let answer = borg_batch(&home, &[argv]);
        borg_verdicts(&answer[0].1)
    };
    let from_config = preview(&[]);
    assert_eq!(
        as_verdicts(&from_config),
        borg_for(&[
            "--keep-daily",
            "7",
            "--keep-weekly",
            "3",
            "--keep-monthly",
            "2"
        ])
    );
    let first = &from_config[0];
    assert!(
        first["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{first}"
    );
    let what_if = preview(&["--keep-daily", "2"]);
    assert_eq!(
        as_verdicts(&what_if),
        borg_for(&[
            "--keep-daily",
            "2",
            "--keep-weekly",
            "3",
            "--keep-monthly",
            "2"
        ])
    );

    // Prune now (through borgmatic): exactly the kept archives of h1 remain, the others stay.
    let others_before = home
        .archives()
        .iter()
        .filter(|a| !a.starts_with("h1-"))
        .count();
    let out = home
        .kastell()
        .args(["prune", "--config", &config_text, "--repository", "local"])
        .output()
        .expect("kastell prune");
    assert!(out.status.success(), "{}", stderr(&out));
    let mut kept: Vec<String> = from_config
        .iter()
        .filter(|r| r["keep"].as_bool() == Some(true))
        .map(|r| r["archive"].as_str().unwrap_or_default().to_string())
        .collect();
    kept.sort();
    let after = home.archives();
    let mut remaining: Vec<String> = after
        .iter()
        .filter(|a| a.starts_with("h1-"))
        .cloned()
        .collect();
    remaining.sort();
    assert_eq!(remaining, kept);
    assert_eq!(after.len() - remaining.len(), others_before);
}

#[test]
fn archives_are_renamed_deleted_measured_and_checked_and_a_running_backup_blocks_deletes() {
    let home = Home::new("housekeeping");
    home.create_repository();
    let repo = home.repo().display().to_string();
    // Data every archive shares (stored once) and data only one archive has, of a size
    // that tells the archives apart (random bytes: compression cannot hide it).
    let data = home.home().join("data");
    let mut random = Lcg(7);
    let mut noise = |len: usize| -> Vec<u8> { (0..len).map(|_| random.below(256) as u8).collect() };
    std::fs::create_dir_all(data.join("shared")).expect("data folder");
    std::fs::write(data.join("shared/common.bin"), noise(2_000_000)).expect("shared data");
    let names = ["home-a", "home-b", "home-c", "home-d"];
    let own_sizes = [50_000, 100_000, 150_000, 400_000];
    for (name, size) in names.iter().zip(own_sizes) {
        std::fs::write(data.join(format!("{name}.bin")), noise(size)).expect("own data");
    }
    let creates: Vec<Vec<String>> = names
        .iter()
        .map(|name| {
            vec![
                "create".to_string(),
                format!("{repo}::{name}"),
                data.join("shared").display().to_string(),
                data.join(format!("{name}.bin")).display().to_string(),
            ]
        })
        .collect();
    for (rc, output) in borg_batch(&home, &creates) {
        assert_eq!(rc, 0, "borg create: {output}");
    }
    let config = home.config().display().to_string();
    let kastell = |args: &[&str]| home.kastell().args(args).output().expect("kastell");

    let unasked = kastell(&[
        "archive",
        "delete",
        "--config",
        &config,
        "--repository",
        "local",
        "home-b",
    ]);
    assert!(!unasked.status.success());
    assert!(stderr(&unasked).contains("--yes"), "{}", stderr(&unasked));
    let sorted = || {
        let mut names = home.archives();
        names.sort();
        names
    };
    assert_eq!(sorted(), vec!["home-a", "home-b", "home-c", "home-d"]);

    // Sizes: the repository's totals, and each archive's, measured once by borg.
    let stats_json = || {
        let out = kastell(&["stats", "--config", &config, "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let parsed: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("stats --json is JSON");
        parsed[0].clone()
    };
    let first = stats_json();
    assert_eq!(first["repository"], "local");
    assert_eq!(first["archives"], 4);
    assert_eq!(first["measured"], 4);
    let original = first["original_size"].as_u64().expect("original_size");
    let stored = first["deduplicated_size"]
        .as_u64()
        .expect("deduplicated_size");
    assert!(first["compressed_size"].as_u64().is_some());
    assert!(original > 0 && stored > 0 && stored < original, "{first}");
    let unique = first["unique_size"].as_object().expect("unique_size");
    assert_eq!(unique.len(), 4);
    for (name, size) in names.iter().zip(own_sizes) {
        // Only its own file (and a little metadata) is unique to an archive.
        let bytes = unique[*name].as_u64().expect("bytes");
        assert!(
            bytes >= size as u64 && bytes < size as u64 + 100_000,
            "{first}"
        );
    }
    assert!(original > 8_000_000 && stored < 3_500_000, "{first}");
    let again = stats_json();
    assert_eq!(
        again["measured"], 0,
        "measured archives come from the cache"
    );
    assert_eq!(again["unique_size"], first["unique_size"]);

    // Rename: one archive, to a name that is free and valid.
    let rename = |old: &str, new: &str| {
        kastell(&[
            "archive",
            "rename",
            "--config",
            &config,
            "--repository",
            "local",
            old,
            new,
        ])
    };
    let taken = rename("home-d", "home-a");
    assert!(!taken.status.success());
    assert!(stderr(&taken).contains("already"), "{}", stderr(&taken));
    let slash = rename("home-d", "a/b");
    assert!(stderr(&slash).contains("“/”"), "{}", stderr(&slash));
    let missing = rename("home-x", "home-y");
    assert!(
        stderr(&missing).contains("no archive “home-x”"),
        "{}",
        stderr(&missing)
    );
    let renamed = rename("home-d", "home-renamed");
    assert!(renamed.status.success(), "{}", stderr(&renamed));
    assert_eq!(sorted(), vec!["home-a", "home-b", "home-c", "home-renamed"]);
    let after_rename = stats_json();
    assert!(
        after_rename["unique_size"]["home-renamed"].is_u64(),
        "{after_rename}"
    );
    assert!(after_rename["unique_size"]["home-d"].is_null());

    // While a backup of the config runs (its run lock held), nothing is deleted.
    let locks = home.home().join(".local/state/kastell/locks");
    std::fs::create_dir_all(&locks).expect("locks folder");
    let lock = locks.join(format!(
        "{}.lock",
        home.config().display().to_string().replace('/', "%")
    ));
    let mut holder = Command::new("python3")
        .arg("-c")
        .arg(
            "import fcntl, os, sys, time\n\
             f = open(sys.argv[1], 'a+')\n\
             fcntl.flock(f, fcntl.LOCK_EX)\n\
             f.truncate(0); f.write(f'{os.getpid()}\\nbackup\\n'); f.flush()\n\
             print('held', flush=True)\n\
             time.sleep(120)",
        )
        .arg(&lock)
        .stdout(Stdio::piped())
        .spawn()
        .expect("a lock holder");
    let mut said = String::new();
    BufReader::new(holder.stdout.take().expect("stdout"))
        .read_line(&mut said)
        .expect("held");
    let refused = kastell(&[
        "archive",
        "delete",
        "--config",
        &config,
        "--repository",
        "local",
        "--yes",
        "home-b",
    ]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("a backup of this config is running"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(home.archives().len(), 4);

    let deleted = kastell(&[
        "archive",
        "delete",
        "--config",
        &config,
        "--repository",
        "local",
        "--yes",
        "home-b",
        "home-c",
    ]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    assert_eq!(sorted(), vec!["home-a", "home-renamed"]);

    // Compact frees the deleted archives' space and says how much.
    let compacted = kastell(&["compact", "--config", &config, "--repository", "local"]);
    let said = String::from_utf8_lossy(&compacted.stdout).to_string();
    assert!(compacted.status.success(), "{said}{}", stderr(&compacted));
    assert!(said.contains("Freed ") && said.contains(" → "), "{said}");
    let after_compact = stats_json();
    assert_eq!(after_compact["archives"], 2);
    assert!(after_compact["deduplicated_size"].as_u64() <= Some(stored));

    // A healthy repository checks clean; a damaged segment is found and said.
    // With its progress as a fraction (borg's percent records), ending at 1.
    let healthy = kastell(&[
        "check",
        "--config",
        &config,
        "--repository",
        "local",
        "--json",
    ]);
    assert!(healthy.status.success(), "{}", stderr(&healthy));
    let fractions: Vec<f64> = String::from_utf8_lossy(&healthy.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "progress")
        .filter_map(|e| e["fraction"].as_f64())
        .collect();
    assert!(
        fractions.iter().any(|f| *f > 0.0 && *f < 1.0) && fractions.last() == Some(&1.0),
        "{fractions:?}"
    );
    let last_check = || {
        let out = kastell(&["status", "--json"]);
        let parsed: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("status --json is JSON");
        parsed
            .as_array()
            .expect("an array")
            .iter()
            .find(|s| s["repository"] == "local")
            .map(|s| s["last_check"].clone())
            .expect("the repository's status")
    };
    assert_eq!(last_check()["outcome"], "success", "{}", last_check());
    let segments = home.repo().join("data/0");
    let biggest = std::fs::read_dir(&segments)
        .expect("segments")
        .flatten()
        .max_by_key(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .expect("a segment")
        .path();
    let mut bytes = std::fs::read(&biggest).expect("segment");
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 64] {
        *b ^= 0xff;
    }
    std::fs::write(&biggest, bytes).expect("damage");
    let damaged = kastell(&["check", "--config", &config, "--repository", "local"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&damaged.stdout),
        stderr(&damaged)
    );
    assert_eq!(damaged.status.code(), Some(1), "{text}");
    assert!(text.contains("borg found damage"), "{text}");
    assert_ne!(last_check()["outcome"], "success", "{}", last_check());

    // Repair only when confirmed; afterwards the repository checks clean.
    let check_with = |extra: &[&str]| {
        let mut args = vec!["check", "--config", &config, "--repository", "local"];
        args.extend_from_slice(extra);
        kastell(&args)
    };
    let unconfirmed = check_with(&["--repair"]);
    assert!(!unconfirmed.status.success());
    assert!(
        stderr(&unconfirmed).contains("--yes"),
        "{}",
        stderr(&unconfirmed)
    );
    let repaired = check_with(&["--repair", "--yes"]);
    assert!(
        repaired.status.success(),
        "{}{}",
        String::from_utf8_lossy(&repaired.stdout),
        stderr(&repaired)
    );
    let after_repair = check_with(&[]);
    assert!(after_repair.status.success(), "{}", stderr(&after_repair));
    assert_eq!(last_check()["outcome"], "success");
}
