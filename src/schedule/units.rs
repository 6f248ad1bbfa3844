//! The systemd user units of one config's schedule: their names, their text, and reading a
//! schedule back from the files (the files are the record: nothing else keeps it).

use super::Schedule;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Lines Kastell reads back from the service's `[Unit]` section. systemd ignores `X-` keys.
const CONFIG_KEY: &str = "X-KastellConfig=";
const AC_POWER_KEY: &str = "X-KastellAcPowerOnly=";
const METERED_KEY: &str = "X-KastellSkipMetered=";
const DRIVE_KEY: &str = "X-KastellDrive=";
const DRIVE_REPOSITORY_KEY: &str = "X-KastellDriveRepository=";
const CALENDAR_KEY: &str = "OnCalendar=";

/// Every unit Kastell writes starts with this (and only those are listed as Kastell's).
pub const PREFIX: &str = "kastell-backup-";

/// The unit name (without `.timer`/`.service`) of `config`'s schedule: the file's stem, so a
/// person reading `systemctl --user list-timers` knows which config it is, and a short hash
/// of the whole path, so two `user.yaml` in different folders do not share a unit.
pub fn unit_name(config: &Path) -> String {
    let stem: String = config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let digest = Sha256::digest(config.as_os_str().as_encoded_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{PREFIX}{stem}-{hash}")
}

/// What the service needs from the machine it runs on, resolved when the schedule is set:
/// systemd's PATH does not hold `~/.local/bin` or what a login shell adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnvironment {
    /// The `kastell` the service runs.
    pub program: PathBuf,
    pub borg: Option<PathBuf>,
    pub borgmatic: Option<PathBuf>,
}

impl RunEnvironment {
    /// The folders of borg and borgmatic first, then the usual ones.
    pub fn path_variable(&self) -> String {
        let mut dirs: Vec<String> = Vec::new();
        let tool_dirs = [&self.borg, &self.borgmatic];
        for dir in tool_dirs
            .into_iter()
            .flatten()
            .filter_map(|tool| tool.parent())
            .map(|d| d.display().to_string())
            .chain(
                ["/usr/local/bin", "/usr/bin", "/bin"]
                    .into_iter()
                    .map(String::from),
            )
        {
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        dirs.join(":")
    }
}

/// One argument of `ExecStart=`, quoted for systemd: in double quotes with `\` and `"`
/// escaped, `%` doubled (specifiers) and `$` doubled (variable expansion).
pub fn quote(text: &str) -> String {
    quote_as(text, true)
}

/// One `Environment=` assignment: the same, but systemd does not expand `$` there.
fn quote_assignment(text: &str) -> String {
    quote_as(text, false)
}

fn quote_as(text: &str, dollars: bool) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '%' => quoted.push_str("%%"),
            '$' if dollars => quoted.push_str("$$"),
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// The inverse of [`quote`] for the values Kastell writes (kept verbatim after `X-` keys).
fn unquote(text: &str) -> String {
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    let mut plain = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some('n')) => {
                plain.push('\n');
                chars.next();
            }
            ('\\', Some(&next)) => {
                plain.push(next);
                chars.next();
            }
            ('%', Some('%')) | ('$', Some('$')) => {
                plain.push(c);
                chars.next();
            }
            _ => plain.push(c),
        }
    }
    plain
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

/// The timer: the calendar, caught up after the machine was off, a few minutes of random
/// delay so that many machines do not reach one NAS at the same second.
pub fn timer_text(schedule: &Schedule, name: &str) -> String {
    format!(
        "# Written by Kastell: when {config} is backed up.\n\
         # Change it in Kastell or with `kastell schedule set`; `kastell schedule off` removes it.\n\
         [Unit]\n\
         Description=Kastell: scheduled backup of {stem}\n\
         \n\
         [Timer]\n\
         {CALENDAR_KEY}{calendar}\n\
         Persistent=true\n\
         RandomizedDelaySec=10min\n\
         Unit={name}.service\n\
         \n\
         [Install]\n\
         WantedBy=timers.target\n",
        config = schedule.config.display(),
        stem = stem_of(&schedule.config),
        calendar = schedule.calendar,
    )
}

/// The service: `kastell backup` of the config with the conditions it checks itself (so a
/// skipped run is recorded with its reason, which systemd's `ConditionACPower=` would not do),
/// at low CPU and I/O priority, with the borg and borgmatic resolved when it was set.
pub fn service_text(schedule: &Schedule, environment: &RunEnvironment) -> String {
    let config = schedule.config.display().to_string();
    let mut exec = vec![
        quote(&environment.program.display().to_string()),
        "backup".to_string(),
        "--config".to_string(),
        quote(&config),
        "--trigger".to_string(),
        "schedule".to_string(),
    ];
    if schedule.ac_power_only {
        exec.push("--ac-power-only".into());
    }
    if schedule.skip_metered {
        exec.push("--skip-metered".into());
    }
    let mut drive_keys = String::new();
    if let Some(drive) = &schedule.drive {
        // The daily run leaves the drive's repository out while it is not plugged in.
        exec.push("--drive".into());
        exec.push(quote(&format!("{}={}", drive.repository, drive.uuid)));
        drive_keys = format!(
            "{DRIVE_KEY}{}\n{DRIVE_REPOSITORY_KEY}{}\n",
            drive.uuid,
            quote(&drive.repository)
        );
    }
    format!(
        "# Written by Kastell: the scheduled backup of {config}.\n\
         # Change it in Kastell or with `kastell schedule set`; `kastell schedule off` removes it.\n\
         [Unit]\n\
         Description=Kastell: backup of {stem}\n\
         {CONFIG_KEY}{quoted_config}\n\
         {AC_POWER_KEY}{ac}\n\
         {METERED_KEY}{metered}\n\
         {drive_keys}\
         \n\
         {service}",
        stem = stem_of(&schedule.config),
        quoted_config = quote(&config),
        ac = yes_no(schedule.ac_power_only),
        metered = yes_no(schedule.skip_metered),
        service = service_section(&exec, environment),
    )
}

/// The service the drive's device unit wants: `kastell backup` of the drive's repository,
/// started when the drive is plugged in (no power or network condition: the person just
/// plugged it in), after the device is there.
pub fn drive_service_text(
    schedule: &Schedule,
    drive: &super::DriveTrigger,
    environment: &RunEnvironment,
) -> String {
    let config = schedule.config.display().to_string();
    let device = super::drive::device_unit(&drive.uuid);
    let exec = vec![
        quote(&environment.program.display().to_string()),
        "backup".to_string(),
        "--config".to_string(),
        quote(&config),
        "--repository".to_string(),
        quote(&drive.repository),
        "--trigger".to_string(),
        "drive".to_string(),
        "--drive".to_string(),
        quote(&format!("{}={}", drive.repository, drive.uuid)),
    ];
    format!(
        "# Written by Kastell: backs up “{repository}” of {config} when its drive is plugged in.\n\
         # Change it in Kastell or with `kastell schedule set`; `kastell schedule off` removes it.\n\
         [Unit]\n\
         Description=Kastell: backup of {stem} to the drive of {repository}\n\
         After={device}\n\
         \n\
         {service}\
         \n\
         [Install]\n\
         WantedBy={device}\n",
        repository = drive.repository,
        stem = stem_of(&schedule.config),
        service = service_section(&exec, environment),
    )
}

/// `[Service]`: run `exec` once, with the tools resolved when the schedule was set, at low
/// CPU and I/O priority.
fn service_section(exec: &[String], environment: &RunEnvironment) -> String {
    let mut variables = vec![quote_assignment(&format!(
        "PATH={}",
        environment.path_variable()
    ))];
    if let Some(borg) = &environment.borg {
        variables.push(quote_assignment(&format!(
            "KASTELL_BORG={}",
            borg.display()
        )));
    }
    if let Some(borgmatic) = &environment.borgmatic {
        variables.push(quote_assignment(&format!(
            "KASTELL_BORGMATIC={}",
            borgmatic.display()
        )));
    }
    format!(
        "[Service]\n\
         Type=oneshot\n\
         ExecStart={exec}\n\
         Environment={variables}\n\
         Nice=19\n\
         IOSchedulingClass=idle\n\
         # borg gets SIGINT first and writes its checkpoint (as Kastell's Cancel does).\n\
         KillSignal=SIGINT\n\
         TimeoutStopSec=2min\n",
        exec = exec.join(" "),
        variables = variables.join(" "),
    )
}

fn stem_of(config: &Path) -> String {
    config
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| config.display().to_string())
}

fn value_of<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix(key))
        .map(str::trim)
}

/// The schedule a timer and its service describe, when both are Kastell's.
pub fn parse(timer: &str, service: &str) -> Option<Schedule> {
    let config = PathBuf::from(unquote(value_of(service, CONFIG_KEY)?));
    let calendar = value_of(timer, CALENDAR_KEY)?.to_string();
    Some(Schedule {
        config,
        calendar,
        ac_power_only: value_of(service, AC_POWER_KEY) == Some("yes"),
        skip_metered: value_of(service, METERED_KEY) == Some("yes"),
        drive: value_of(service, DRIVE_KEY).and_then(|uuid| {
            Some(super::DriveTrigger {
                uuid: uuid.to_string(),
                repository: unquote(value_of(service, DRIVE_REPOSITORY_KEY)?),
            })
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(config: &str) -> Schedule {
        Schedule {
            config: PathBuf::from(config),
            calendar: "*-*-* 12:30:00".into(),
            ac_power_only: true,
            skip_metered: false,
            drive: None,
        }
    }

    fn environment() -> RunEnvironment {
        RunEnvironment {
            program: PathBuf::from("/opt/kastell/bin/kastell"),
            borg: Some(PathBuf::from("/home/me/.local/bin/borg")),
            borgmatic: Some(PathBuf::from("/home/me/.local/bin/borgmatic")),
        }
    }

    #[test]
    fn unit_names_tell_the_config_and_differ_for_the_same_file_name_elsewhere() {
        let a = unit_name(Path::new("/home/me/.config/borgmatic/user.yaml"));
        let b = unit_name(Path::new("/home/me/other/user.yaml"));
        assert!(a.starts_with("kastell-backup-user-"), "{a}");
        assert_ne!(a, b);
        assert_eq!(
            a,
            unit_name(Path::new("/home/me/.config/borgmatic/user.yaml"))
        );
        let odd = unit_name(Path::new("/tmp/my config (2).yaml"));
        assert!(odd
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    }

    #[test]
    fn a_schedule_reads_back_from_its_units_even_with_awkward_paths() {
        for config in [
            "/home/me/.config/borgmatic/user.yaml",
            "/home/me/Backups 100%/\"quoted\" $HOME\\x.yaml",
        ] {
            let written = schedule(config);
            let name = unit_name(&written.config);
            let timer = timer_text(&written, &name);
            let service = service_text(&written, &environment());
            assert_eq!(parse(&timer, &service), Some(written), "{service}");
        }
    }

    #[test]
    fn the_service_runs_kastell_backup_with_the_tools_it_resolved() {
        let service = service_text(&schedule("/home/me/user.yaml"), &environment());
        assert!(service.contains(
            "ExecStart=\"/opt/kastell/bin/kastell\" backup --config \"/home/me/user.yaml\" \
             --trigger schedule --ac-power-only\n"
        ));
        assert!(service.contains(
            "Environment=\"PATH=/home/me/.local/bin:/usr/local/bin:/usr/bin:/bin\" \
             \"KASTELL_BORG=/home/me/.local/bin/borg\""
        ));
        assert!(!service.contains("--skip-metered"));
    }

    #[test]
    fn quoting_doubles_specifiers_and_dollars() {
        assert_eq!(quote("a b%c$d\"e\\"), "\"a b%%c$$d\\\"e\\\\\"");
        assert_eq!(unquote(&quote("a b%c$d\"e\\")), "a b%c$d\"e\\");
    }
}
