//! Differential tests of the pattern engine and preview against real borg and borgmatic:
//! generated trees (dot files, spaces, unicode, brackets and `*?[]` in names, deep nesting,
//! empty folders, symlinks, CACHEDIR.TAG and marker files) and generated pattern lists over every
//! style and rule. Kastell's answer must equal `borg create --dry-run --list`'s line for line
//! (as a set: order is free), and for configs `borgmatic create --dry-run --list`'s.
//! Fixed seeds; a mismatch prints the case.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use kastell::patterns::{walk, CreatePlan, Entry, Matcher, PatternFile, WalkOptions};
use serde_json::{json, Value};

use crate::support;

/// xorshift64*: small, seeded, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const NAMES: &[&str] = &[
    "a",
    "b.txt",
    ".hidden",
    "with space",
    "ünïcödé",
    "日本語",
    "[br]",
    "star*name",
    "q?mark",
    "x[!]y",
    "dash-name",
    "file.o",
    "file.odt",
    "junk",
    "importantjunk",
    "cache",
    ".cache",
    "node_modules",
    "target",
    "Downloads",
    "a:b",
    "re.tmp",
    "back\\slash",
    "{brace}",
    "caret^",
    "trail.",
    "sh:x",
    "UPPER",
    "-lead",
    "+plus",
    "#hash",
    "pics",
    "2018",
    "good",
    "ÄÖ",
];

const CACHE_SIGNATURE: &str = "Signature: 8a477f597d28d172789f06886806bc55";

/// A random tree below `root`; returns every path made, relative to `root`.
fn make_tree(rng: &mut Rng, root: &Path) -> Vec<String> {
    let mut made = Vec::new();
    let mut dirs = vec![String::new()];
    let target = 120 + rng.below(180);
    while made.len() < target {
        let parent = rng.pick(&dirs).clone();
        let depth = parent.matches('/').count();
        let name = (*rng.pick(NAMES)).to_string();
        let rel = if parent.is_empty() {
            name.clone()
        } else {
            format!("{parent}/{name}")
        };
        let full = root.join(&rel);
        if full.symlink_metadata().is_ok() {
            continue;
        }
        match rng.below(100) {
            0..=34 if depth < 7 => {
                std::fs::create_dir(&full).unwrap();
                dirs.push(rel.clone());
            }
            35..=79 => std::fs::write(&full, "x".repeat(rng.below(300))).unwrap(),
            80..=84 => symlink(rng.pick(&["b.txt", "..", "/nonexistent", "a"]), &full).unwrap(),
            85..=89 => {
                // A folder with a cache tag, valid or not.
                std::fs::create_dir(&full).unwrap();
                let body = if rng.chance(70) {
                    format!("{CACHE_SIGNATURE}\n# a cache\n")
                } else {
                    "Signature: not really".to_string()
                };
                std::fs::write(full.join("CACHEDIR.TAG"), body).unwrap();
                std::fs::write(full.join("data"), "cached").unwrap();
                dirs.push(rel.clone());
                made.push(format!("{rel}/CACHEDIR.TAG"));
            }
            90..=94 => {
                std::fs::create_dir(&full).unwrap();
                match rng.below(3) {
                    0 => std::fs::write(full.join(".nobackup"), "").unwrap(),
                    1 => std::fs::create_dir(full.join(".nobackup")).unwrap(),
                    _ => symlink("/nonexistent", full.join(".nobackup")).unwrap(),
                }
                std::fs::write(full.join("secret"), "s").unwrap();
                dirs.push(rel.clone());
            }
            _ => std::fs::create_dir(&full).unwrap(), // stays empty unless picked later
        }
        made.push(rel);
    }
    made
}

fn glob_component(rng: &mut Rng, name: &str) -> String {
    match rng.below(9) {
        0 => "*".into(),
        1 => format!("{}*", name.chars().next().unwrap_or('a')),
        2 => format!("*{}", name.chars().last().unwrap_or('a')),
        3 => name
            .chars()
            .map(|c| if c.is_alphabetic() { '?' } else { c })
            .collect(),
        4 => format!("[a-m]{}", name.chars().skip(1).collect::<String>()),
        5 => format!("[!.]{}", name.chars().skip(1).collect::<String>()),
        6 => "**".into(),
        _ => name.into(),
    }
}

fn regex_escape_text(s: &str) -> String {
    regex::escape(s)
}

/// A random rule line for a patterns file, built from a path that exists (so it matches).
fn make_rule(rng: &mut Rng, root_rel: &str, paths: &[String]) -> String {
    let path = rng.pick(paths).clone();
    let full = if root_rel.is_empty() {
        path.clone()
    } else {
        format!("{root_rel}/{path}")
    };
    let comps: Vec<&str> = full.split('/').collect();
    let cut = 1 + rng.below(comps.len());
    let kept = &comps[..cut];
    let kind = *rng.pick(&["+", "-", "!", "-", "!"]);
    let style = *rng.pick(&["", "fm:", "sh:", "re:", "pp:", "pf:"]);
    let body = match style {
        "re:" => {
            let last = kept.last().copied().unwrap_or("a");
            match rng.below(6) {
                0 => format!("^{}", regex_escape_text(&kept.join("/"))),
                1 => format!("{}$", regex_escape_text(last)),
                2 => format!("(?i){}", regex_escape_text(&last.to_uppercase())),
                3 => format!("/{}(/|$)", regex_escape_text(last)),
                4 => "\\.(txt|o)$".into(),
                _ => format!(
                    "^{}/(?!{})",
                    regex_escape_text(kept[0]),
                    regex_escape_text(last)
                ),
            }
        }
        "pp:" | "pf:" => kept.join("/"),
        _ => {
            let mut parts: Vec<String> = kept
                .iter()
                .map(|c| {
                    if rng.chance(30) {
                        glob_component(rng, c)
                    } else {
                        (*c).to_string()
                    }
                })
                .collect();
            if rng.chance(25) {
                let last = parts.pop().unwrap_or_default();
                parts = vec!["**".into(), last];
            }
            let mut s = parts.join("/");
            if rng.chance(15) {
                s.push('/');
            }
            s
        }
    };
    let lead = if rng.chance(40) { "/" } else { "" };
    let lead = if style == "re:" { "" } else { lead };
    // Sometimes a broken pattern: both sides must refuse it.
    if rng.chance(2) {
        return match rng.below(3) {
            0 => format!("{kind} re:({body}"),
            1 => format!("{kind} sh:[z-a]{body}"),
            _ => format!("{kind} zz:{body}"),
        };
    }
    format!("{kind} {style}{lead}{body}")
}

struct Case {
    roots: Vec<String>,
    patterns: String,
    flags: Vec<String>,
    cwd: Option<String>,
}

impl Case {
    fn json(&self) -> Value {
        json!({"roots": self.roots, "patterns": self.patterns, "flags": self.flags, "cwd": self.cwd})
    }

    fn describe(&self) -> String {
        format!(
            "roots {:?}, cwd {:?}, flags {:?}, patterns file:\n{}",
            self.roots, self.cwd, self.flags, self.patterns
        )
    }
}

fn make_case(rng: &mut Rng, tree: &Path, paths: &[String]) -> Case {
    let tree_str = tree.to_str().unwrap().to_string();
    let parent = tree.parent().unwrap().to_str().unwrap().to_string();
    let tree_name = tree.file_name().unwrap().to_str().unwrap().to_string();
    let (roots, cwd, root_rel) = match rng.below(10) {
        0 => (
            vec![tree_name.clone()],
            Some(parent.clone()),
            tree_name.clone(),
        ),
        1 => {
            let sub = rng.pick(paths).clone();
            (
                vec![tree_str.clone(), format!("{tree_str}/{sub}")],
                None,
                tree_str[1..].to_string(),
            )
        }
        2 => (
            vec![format!("{tree_str}/")],
            None,
            tree_str[1..].to_string(),
        ),
        _ => (vec![tree_str.clone()], None, tree_str[1..].to_string()),
    };
    let mut lines = Vec::new();
    if rng.chance(15) {
        lines.push(format!("P {}", rng.pick(&["fm", "sh", "re", "pp"])));
    }
    for _ in 0..1 + rng.below(6) {
        lines.push(make_rule(rng, &root_rel, paths));
    }
    let mut flags = Vec::new();
    if rng.chance(50) {
        flags.push("--exclude-caches".to_string());
    }
    if rng.chance(40) {
        flags.extend(["--exclude-if-present".to_string(), ".nobackup".to_string()]);
    }
    if rng.chance(20) {
        flags.push("--keep-exclude-tags".to_string());
    }
    if rng.chance(20) {
        flags.push("--one-file-system".to_string());
    }
    Case {
        roots,
        patterns: lines.join("\n") + "\n",
        flags,
        cwd,
    }
}

/// Kastell's lines for a case, or its error.
fn kastell_lines(case: &Case) -> Result<BTreeSet<(String, String)>, String> {
    let file = PatternFile::parse(&case.patterns).map_err(|e| e.to_string())?;
    let mut roots = file.roots.clone();
    roots.extend(case.roots.iter().cloned());
    let flag = |f: &str| case.flags.iter().any(|x| x == f);
    let plan = CreatePlan {
        pattern_lines: case.patterns.lines().map(str::to_string).collect(),
        roots,
        origins: vec![kastell::patterns::Origin::Patterns(0); file.rules.len()],
        rules: file.rules,
        exclude_caches: flag("--exclude-caches"),
        exclude_if_present: if flag("--exclude-if-present") {
            vec![".nobackup".into()]
        } else {
            vec![]
        },
        keep_exclude_tags: flag("--keep-exclude-tags"),
        exclude_nodump: false,
        one_file_system: flag("--one-file-system"),
        working_directory: case.cwd.as_ref().map(PathBuf::from),
        skipped_folders: vec![],
    };
    let matcher = Matcher::new(plan.rules.clone());
    let lines = Mutex::new(BTreeSet::new());
    let sink = |batch: Vec<Entry>| {
        let mut lines = lines.lock().unwrap();
        for e in batch {
            if let Some(status) = e.status {
                lines.insert((status.to_string(), e.path));
            }
        }
    };
    walk(
        &plan,
        &matcher,
        WalkOptions::default(),
        &AtomicBool::new(false),
        &sink,
    );
    Ok(lines.into_inner().unwrap())
}

/// Runs every case through borg's own create code, in two Python processes (two cores).
fn borg_results(python: &Path, cases: &[Case]) -> Vec<Value> {
    let half = cases.len() / 2;
    let (first, second) = cases.split_at(half);
    std::thread::scope(|s| {
        let a = s.spawn(|| borg_results_in_one_process(python, first));
        let mut results = borg_results_in_one_process(python, second);
        let mut all = a.join().unwrap();
        all.append(&mut results);
        all
    })
}

fn borg_results_in_one_process(python: &Path, cases: &[Case]) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/borg_dry_run.py");
    let mut child = Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("borg's python");
    let mut stdin = child.stdin.take().unwrap();
    let input: String = cases.iter().map(|c| c.json().to_string() + "\n").collect();
    let writer = std::thread::spawn(move || {
        stdin.write_all(input.as_bytes()).unwrap();
    });
    let results: Vec<Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    writer.join().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(results.len(), cases.len());
    results
}

fn borg_lines(result: &Value) -> Result<BTreeSet<(String, String)>, String> {
    if let Some(e) = result["error"].as_str() {
        return Err(e.to_string());
    }
    Ok(result["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l[0].as_str().unwrap().to_string(),
                l[1].as_str().unwrap().to_string(),
            )
        })
        .collect())
}

fn compare(
    case: &Case,
    kastell: Result<BTreeSet<(String, String)>, String>,
    borg: Result<BTreeSet<(String, String)>, String>,
    what: &str,
) {
    match (&kastell, &borg) {
        (Ok(k), Ok(b)) if k == b => {}
        (Err(_), Err(_)) => {}
        (Ok(k), Ok(b)) => panic!(
            "{what} differs for {}\nonly Kastell: {:?}\nonly borg: {:?}",
            case.describe(),
            k.difference(b).collect::<Vec<_>>(),
            b.difference(k).collect::<Vec<_>>()
        ),
        _ => panic!(
            "{what}: one side refused the case: Kastell {:?}, borg {:?}\n{}",
            kastell.as_ref().map(|s| s.len()),
            borg.as_ref().map(|s| s.len()),
            case.describe()
        ),
    }
}

fn generated_cases(seed: u64, trees: usize, per_tree: usize, base: &Path) -> Vec<Case> {
    let mut rng = Rng(seed);
    let mut cases = Vec::new();
    for t in 0..trees {
        let tree = base.join(format!("tree{t}"));
        std::fs::create_dir_all(&tree).unwrap();
        let paths = make_tree(&mut rng, &tree);
        for _ in 0..per_tree {
            cases.push(make_case(&mut rng, &tree, &paths));
        }
    }
    cases
}

fn run_differential(borg: &Path, seed: u64, trees: usize, per_tree: usize) -> usize {
    let base = tempfile::tempdir().unwrap();
    let cases = generated_cases(seed, trees, per_tree, base.path());
    let results = borg_results(&crate::support::python_of(borg), &cases);
    let mut refused = 0;
    for (case, result) in cases.iter().zip(&results) {
        let theirs = borg_lines(result);
        refused += usize::from(theirs.is_err());
        compare(
            case,
            kastell_lines(case),
            theirs,
            "borg create --dry-run --list",
        );
    }
    assert!(
        refused < cases.len() / 10,
        "too many refused cases: {refused}"
    );
    cases.len()
}

#[test]
fn thousands_of_generated_cases_agree_with_borg_1_4() {
    let n = run_differential(&support::tool("borg"), 0x4b61_7374_656c_6c01, 10, 250);
    assert_eq!(n, 2500);
}

#[test]
fn generated_cases_agree_with_debian_borg_1_2() {
    let borg = Path::new("/usr/bin/borg");
    if !borg.exists() {
        eprintln!("apt's borg 1.2 is not installed; skipped");
        return;
    }
    run_differential(borg, 0x4b61_7374_656c_6c02, 4, 200);
}

#[test]
fn a_sample_agrees_with_the_borg_process() {
    let borg = support::tool("borg");
    let base = tempfile::tempdir().unwrap();
    let cases = generated_cases(0x4b61_7374_656c_6c03, 2, 12, base.path());
    let patterns = base.path().join("patterns.lst");
    for case in &cases {
        std::fs::write(&patterns, &case.patterns).unwrap();
        let out = Command::new(&borg)
            .args(["create", "--dry-run", "--list", "--patterns-from"])
            .arg(&patterns)
            .args(&case.flags)
            .arg(base.path().join("no-repo").to_str().unwrap().to_string() + "::a")
            .args(&case.roots)
            .current_dir(case.cwd.as_deref().unwrap_or("/"))
            .env("BORG_CACHE_DIR", base.path().join("cache"))
            .output()
            .unwrap();
        let theirs = if out.status.code() == Some(2) {
            Err(String::from_utf8_lossy(&out.stderr).to_string())
        } else {
            Ok(String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter_map(|l| {
                    let (status, path) = l.split_at_checked(2)?;
                    let status = status.trim();
                    (["-", "x", "E"].contains(&status))
                        .then(|| (status.to_string(), path.to_string()))
                })
                .collect())
        };
        compare(case, kastell_lines(case), theirs, "the borg process");
    }
}

/// A generated borgmatic config over a generated home: the exclude lines a user would write.
fn make_config(rng: &mut Rng, home: &Path, paths: &[String], repo: &Path) -> String {
    let mut sources = vec![];
    match rng.below(5) {
        0 => sources.push("~/".to_string()),
        1 => sources.push(home.display().to_string()),
        2 => sources.push("~/*".to_string()),
        3 => {
            sources.push("~/".to_string());
            sources.push(format!("~/{}", rng.pick(paths)));
        }
        _ => sources.push(format!("{}/[a-m]*", home.display())),
    }
    let home_rel = home.to_str().unwrap().trim_start_matches('/').to_string();
    let mut excludes = Vec::new();
    for _ in 0..rng.below(6) {
        let line = make_rule(rng, &home_rel, paths);
        // exclude_patterns entries have no rule symbol; some are written with `~/`.
        let body = line.split_once(' ').map(|x| x.1).unwrap_or("x").to_string();
        let body = if rng.chance(20) {
            format!("~/{}", rng.pick(paths))
        } else {
            body
        };
        excludes.push(body);
    }
    let mut patterns = Vec::new();
    if rng.chance(40) {
        for _ in 0..1 + rng.below(3) {
            patterns.push(make_rule(rng, &home_rel, paths));
        }
    }
    let quote = |s: &str| serde_json::to_string(s).unwrap();
    let list = |items: &[String]| {
        items
            .iter()
            .map(|i| format!("    - {}\n", quote(i)))
            .collect::<String>()
    };
    let mut yaml = format!("source_directories:\n{}", list(&sources));
    if !excludes.is_empty() {
        yaml += &format!("exclude_patterns:\n{}", list(&excludes));
    }
    if !patterns.is_empty() {
        yaml += &format!("patterns:\n{}", list(&patterns));
    }
    if rng.chance(50) {
        yaml += "exclude_caches: true\n";
    }
    if rng.chance(50) {
        yaml += "exclude_if_present:\n    - .nobackup\n";
    }
    if rng.chance(20) {
        yaml += "keep_exclude_tags: true\n";
    }
    if rng.chance(30) {
        yaml += "one_file_system: true\n";
    }
    yaml += &format!(
        "repositories:\n    - path: {}\n      label: local\nencryption_passphrase: x\n",
        repo.display()
    );
    yaml
}

fn plus_lines(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("- "))
        .map(str::to_string)
        .collect()
}

#[test]
fn generated_configs_agree_with_borgmatic_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home/me");
    std::fs::create_dir_all(&home).unwrap();
    let runtime = dir.path().join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let mut rng = Rng(0x4b61_7374_656c_6c04);
    let paths = make_tree(&mut rng, &home);
    // The repository inside the home, as a first-run local repository may be: borg skips it.
    let repo = home.join("backup-repo");
    let envs = [
        ("HOME", home.to_str().unwrap().to_string()),
        ("XDG_RUNTIME_DIR", runtime.to_str().unwrap().to_string()),
        (
            "XDG_CACHE_HOME",
            home.join(".cache").to_str().unwrap().to_string(),
        ),
        (
            "XDG_CONFIG_HOME",
            home.join(".config").to_str().unwrap().to_string(),
        ),
        (
            "XDG_STATE_HOME",
            dir.path().join("state").to_str().unwrap().to_string(),
        ),
        ("BORG_BASE_DIR", String::new()),
    ];
    let init = Command::new(support::tool("borg"))
        .args(["init", "-e", "none"])
        .arg(&repo)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let config = dir.path().join("config.yaml");
    let mut compared = 0;
    for n in 0..16 {
        let yaml = make_config(&mut rng, &home, &paths, &repo);
        std::fs::write(&config, &yaml).unwrap();
        let theirs = Command::new(support::tool("borgmatic"))
            .args(["create", "--dry-run", "--list", "-c"])
            .arg(&config)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        let ours = Command::new(support::kastell_bin())
            .args(["excludes", "preview", "--config"])
            .arg(&config)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        let their_text = String::from_utf8_lossy(&theirs.stdout).to_string()
            + &String::from_utf8_lossy(&theirs.stderr);
        let our_text = String::from_utf8_lossy(&ours.stdout).to_string();
        if !theirs.status.success() {
            assert!(
                !ours.status.success() && ours.stdout.is_empty(),
                "config {n}: borgmatic refused it but Kastell did not\n{yaml}\nborgmatic: {their_text}"
            );
            continue;
        }
        assert!(
            ours.status.success(),
            "config {n}: Kastell refused it\n{yaml}\n{}",
            String::from_utf8_lossy(&ours.stderr)
        );
        let (a, b) = (plus_lines(&our_text), plus_lines(&their_text));
        assert!(
            a == b,
            "config {n} differs\n{yaml}\nonly Kastell: {:?}\nonly borgmatic: {:?}",
            a.difference(&b).collect::<Vec<_>>(),
            b.difference(&a).collect::<Vec<_>>()
        );
        // Kastell also names what it leaves out; none of it may be in borgmatic's list.
        for line in our_text.lines().filter_map(|l| l.strip_prefix("x ")) {
            assert!(
                !b.contains(line),
                "config {n}: {line} excluded by Kastell, listed by borgmatic"
            );
        }
        compared += 1;
    }
    assert!(compared >= 10, "only {compared} configs compared");
}

#[test]
fn the_seed_config_agrees_with_borgmatic_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home/me");
    for d in [
        ".cache/mozilla",
        "src/app/node_modules/x",
        "src/app/target/debug",
        "src/app/src",
        "Downloads",
        "Music",
        "Videos",
        ".local/share/Trash/files",
        ".local/share/baloo",
        ".local/share/akonadi",
        ".local/share/kwalletd",
        ".local/share/other",
        "Documents/cache",
        "Documents/vm",
        "Projects/py/__pycache__",
        "Projects/py/.tox",
        "Tagged",
        "CacheTagged",
        ".gradle",
        ".m2/repository",
    ] {
        std::fs::create_dir_all(home.join(d)).unwrap();
        std::fs::write(home.join(d).join("file"), "content").unwrap();
    }
    for f in [
        "Documents/vm/disk.qcow2",
        "Documents/vm/disk.vmdk",
        "Documents/report.odt",
        ".local/share/recently-used.xbel",
        "Tagged/.nobackup",
        ".bashrc",
    ] {
        std::fs::write(home.join(f), "x").unwrap();
    }
    std::fs::write(home.join("CacheTagged/CACHEDIR.TAG"), CACHE_SIGNATURE).unwrap();
    let runtime = dir.path().join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-user.yaml");
    let text = std::fs::read_to_string(&seed).unwrap();
    let repo = dir.path().join("repo");
    let start = text.find("repositories:").unwrap();
    let end = text[start..]
        .find("\n\n")
        .map(|e| start + e)
        .unwrap_or(text.len());
    let yaml = format!(
        "{}repositories:\n    - path: {}\n      label: local\n{}",
        &text[..start],
        repo.display(),
        &text[end..]
    );
    let config = dir.path().join("user.yaml");
    std::fs::write(&config, &yaml).unwrap();
    let envs = [
        ("HOME", home.to_str().unwrap().to_string()),
        ("XDG_RUNTIME_DIR", runtime.to_str().unwrap().to_string()),
    ];
    let init = Command::new(support::tool("borg"))
        .args(["init", "-e", "none"])
        .arg(&repo)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    assert!(init.status.success());
    let theirs = Command::new(support::tool("borgmatic"))
        .args(["create", "--dry-run", "--list", "-c"])
        .arg(&config)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("BORG_PASSPHRASE")
        .output()
        .unwrap();
    let their_text = String::from_utf8_lossy(&theirs.stdout).to_string()
        + &String::from_utf8_lossy(&theirs.stderr);
    assert!(theirs.status.success(), "{their_text}");
    let ours = Command::new(support::kastell_bin())
        .args(["excludes", "preview", "--config"])
        .arg(&config)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let our_text = String::from_utf8_lossy(&ours.stdout).to_string();
    assert_eq!(plus_lines(&our_text), plus_lines(&their_text));
    let home_s = home.display().to_string();
    for excluded in [
        "/.cache",
        "/Downloads",
        "/src/app/node_modules",
        "/src/app/target",
        "/Documents/cache",
        "/Documents/vm/disk.qcow2",
        "/Tagged",
        "/CacheTagged",
        "/.local/share/baloo",
        "/.local/share/recently-used.xbel",
    ] {
        assert!(
            our_text.contains(&format!("x {home_s}{excluded}\n")),
            "{excluded} is not marked excluded:\n{our_text}"
        );
    }
    assert!(our_text.contains(&format!("- {home_s}/Documents/report.odt\n")));
    let summary = Command::new(support::kastell_bin())
        .args(["excludes", "preview", "--summary", "--config"])
        .arg(&config)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&summary.stdout);
    assert!(table.contains("! fm:**/node_modules"), "{table}");
    assert!(table.contains("exclude_if_present (.nobackup)"), "{table}");
    assert!(table.contains("Largest left out:"), "{table}");
}

/// Runs a command as `nobody` (these tests run as root, which reads everything).
fn as_nobody(program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(program);
    cmd
}

#[test]
fn unreadable_folders_are_reported_as_borg_reports_them() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("kastell-unreadable-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("open/inner")).unwrap();
    std::fs::create_dir_all(tree.join("locked/secret")).unwrap();
    std::fs::create_dir_all(tree.join("excluded-locked")).unwrap();
    std::fs::write(tree.join("open/inner/a"), "a").unwrap();
    std::fs::write(tree.join("unreadable-file"), "x").unwrap();
    std::fs::set_permissions(
        tree.join("unreadable-file"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    std::fs::set_permissions(tree.join("locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(
        tree.join("excluded-locked"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o777)).unwrap();
    let patterns = work.join("patterns.lst");
    std::fs::write(
        &patterns,
        format!("R {}\n! sh:**/excluded-locked\n", tree.display()),
    )
    .unwrap();
    let config = work.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "source_directories:\n    - {}\nexclude_patterns:\n    - 'sh:**/excluded-locked'\n",
            tree.display()
        ),
    )
    .unwrap();
    // /root is private: nobody runs Debian's borg and a copy of Kastell.
    let borg = Path::new("/usr/bin/borg");
    if !borg.exists() {
        eprintln!("apt's borg is not installed; skipped");
        return;
    }
    let kastell = work.join("kastell");
    std::fs::copy(support::kastell_bin(), &kastell).unwrap();
    let theirs = as_nobody(borg)
        .args(["create", "--dry-run", "--list", "--patterns-from"])
        .arg(&patterns)
        .arg(format!("{}::a", work.join("no-repo").display()))
        .env("BORG_CACHE_DIR", work.join("cache"))
        .env("HOME", &work)
        .output()
        .unwrap();
    let ours = as_nobody(&kastell)
        .args(["excludes", "preview", "--config"])
        .arg(&config)
        .env("HOME", &work)
        .env("XDG_CACHE_HOME", work.join("cache"))
        .output()
        .unwrap();
    let lines = |text: &[u8]| -> BTreeSet<String> {
        String::from_utf8_lossy(text)
            .lines()
            .filter(|l| l.starts_with("- ") || l.starts_with("x ") || l.starts_with("E "))
            .map(str::to_string)
            .collect()
    };
    let (borg_lines, our_lines) = (lines(&theirs.stderr), lines(&ours.stdout));
    assert!(
        borg_lines.contains(&format!("E {}/locked", tree.display())),
        "borg: {}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    assert_eq!(our_lines, borg_lines);
    // Both warn and exit 1, as borg does for warnings.
    assert_eq!(theirs.status.code(), Some(1));
    assert_eq!(ours.status.code(), Some(1));
    let warning = String::from_utf8_lossy(&ours.stderr);
    assert!(
        warning.contains(&format!(
            "{}/locked: dir_open: [Errno 13] Permission denied: 'locked'",
            tree.display()
        )),
        "{warning}"
    );
}
