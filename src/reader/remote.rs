//! A repository behind `borg serve`, reached as borg reaches it: `ssh [-p PORT] [USER@]HOST
//! borg serve` (ssh from borgmatic's `ssh_command` or `BORG_RSH`, borg from `remote_path` or
//! `BORG_REMOTE_PATH`), so a forced `command="borg serve --restrict-to-path ..."` key works
//! unchanged. The RPC is borg 1.1+'s dict protocol (remote.py): msgpack maps `{i: msgid,
//! m: method, a: {args}}` answered by `{i: msgid, r: result}` or `{i, exception_class, ...}`.
//! Only `negotiate`, `open` (shared lock, read-only use), `load_key` and `get` are sent; many
//! `get`s are in flight at once.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::msgpack::{self, DecodeError, Value};
use super::store::ObjectStore;
use super::ReadError;

/// How to reach a repository over ssh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshLocation {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// As borg sends it to `open` (`/abs`, `/~/rel`, `/./rel`).
    pub path: String,
}

impl SshLocation {
    /// `ssh://[user@]host[:port]/path`; other forms are left to borg.
    pub fn parse(url: &str) -> Option<SshLocation> {
        let rest = url.strip_prefix("ssh://")?;
        let slash = rest.find('/')?;
        let (authority, path) = rest.split_at(slash);
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, tail) = v6.split_once(']')?;
            (
                host.to_string(),
                tail.strip_prefix(':').and_then(|p| p.parse().ok()),
            )
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.parse().ok()?)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() {
            return None;
        }
        Some(SshLocation {
            user,
            host,
            port,
            path: path.to_string(),
        })
    }
}

/// The command line that starts `borg serve` on the other side.
pub fn serve_command(
    location: &SshLocation,
    ssh_command: Option<&str>,
    remote_path: Option<&str>,
) -> Result<Vec<String>, ReadError> {
    let rsh = ssh_command
        .map(str::to_string)
        .or_else(|| std::env::var("BORG_RSH").ok())
        .unwrap_or_else(|| "ssh".into());
    let mut args = shlex::split(&rsh)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            ReadError::Unsupported(format!("an ssh command Kastell cannot split: {rsh}"))
        })?;
    if let Some(port) = location.port {
        args.push("-p".into());
        args.push(port.to_string());
    }
    args.push(match &location.user {
        Some(user) => format!("{user}@{}", location.host),
        None => location.host.clone(),
    });
    let remote = remote_path
        .map(str::to_string)
        .or_else(|| std::env::var("BORG_REMOTE_PATH").ok())
        .unwrap_or_else(|| "borg".into());
    args.push(remote);
    args.push("serve".into());
    Ok(args)
}

fn bytes(s: &str) -> Value {
    Value::Bytes(s.as_bytes().to_vec())
}

struct Connection {
    child: Child,
    /// Taken on drop: closing it ends the session.
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    /// Received bytes not yet decoded.
    pending: Vec<u8>,
    next_msgid: i128,
}

/// The last lines `ssh`/`borg serve` wrote to stderr, for messages.
#[derive(Clone, Default)]
struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    fn collect(&self, stderr: impl Read + Send + 'static) {
        let lines = self.0.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                // borg serve logs JSON records; keep their message.
                let text = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| {
                        v.get("message")
                            .and_then(|m| m.as_str())
                            .map(str::to_string)
                    })
                    .unwrap_or(line);
                if let Ok(mut l) = lines.lock() {
                    if l.len() == 20 {
                        l.pop_front();
                    }
                    l.push_back(text);
                }
            }
        });
    }

    fn text(&self) -> String {
        self.0
            .lock()
            .map(|l| l.iter().cloned().collect::<Vec<_>>().join("; "))
            .unwrap_or_default()
    }
}

pub struct RemoteStore {
    connection: Mutex<Connection>,
    repository_id: Vec<u8>,
    peer: Peer,
}

/// Who is on the other end, for messages.
struct Peer {
    host: String,
    stderr: StderrTail,
}

/// One RPC answer.
enum Answer {
    Result(Value),
    Error { class: String, message: String },
}

impl Connection {
    fn send(&mut self, method: &str, args: Vec<(&str, Value)>) -> std::io::Result<i128> {
        self.next_msgid += 1;
        let request = Value::Map(vec![
            (bytes("i"), Value::Int(self.next_msgid)),
            (bytes("m"), bytes(method)),
            (
                bytes("a"),
                Value::Map(args.into_iter().map(|(k, v)| (bytes(k), v)).collect()),
            ),
        ]);
        let mut packed = Vec::with_capacity(64);
        msgpack::encode(&request, &mut packed);
        self.pipe()?.write_all(&packed)?;
        Ok(self.next_msgid)
    }

    fn pipe(&mut self) -> std::io::Result<&mut ChildStdin> {
        self.stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the connection is closed"))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.pipe()?.flush()
    }

    /// The next answer, in the order the server sends them. An answer is never allowed to be
    /// larger than the largest object borg stores (plus its envelope), and a partial one is
    /// decoded again only when the pipe has been drained or the buffer has doubled, so a peer
    /// that trickles a huge value costs neither unbounded memory nor quadratic time.
    fn receive(&mut self) -> Result<(i128, Answer), String> {
        let mut tried_at = 0usize;
        let mut drained = true;
        loop {
            let worth_trying = !self.pending.is_empty()
                && (drained || self.pending.len() >= tried_at.saturating_mul(2));
            if worth_trying {
                tried_at = self.pending.len();
                match msgpack::decode_prefix_within(&self.pending, MAX_ANSWER) {
                    Ok((value, used)) => {
                        self.pending.drain(..used);
                        return answer_of(value);
                    }
                    Err(DecodeError::Incomplete) => {}
                    Err(e) => return Err(format!("a garbled answer: {e}")),
                }
            }
            let mut buffer = [0u8; READ_SIZE];
            let n = self
                .stdout
                .read(&mut buffer)
                .map_err(|e| format!("reading from the connection: {e}"))?;
            if n == 0 {
                return Err("the connection closed".into());
            }
            drained = n < READ_SIZE;
            if self.pending.len() + n > MAX_ANSWER {
                return Err(format!(
                    "an answer larger than any borg object ({MAX_ANSWER} bytes)"
                ));
            }
            self.pending.extend_from_slice(&buffer[..n]);
        }
    }
}

/// Bytes read from the pipe at a time.
const READ_SIZE: usize = 1 << 16;

/// The largest answer accepted: borg's largest object (`MAX_OBJECT_SIZE`, 20 MiB) plus the
/// answer's envelope, with room to spare.
pub const MAX_ANSWER: usize = 21 << 20;

/// An RPC answer map: `{i, r}` or `{i, exception_class, exception_short, ...}`.
fn answer_of(value: Value) -> Result<(i128, Answer), String> {
    let msgid = value.get_int("i").ok_or("an answer without msgid")?;
    if let Some(class) = value.get_bytes("exception_class") {
        let class = String::from_utf8_lossy(class).into_owned();
        let message = value
            .get("exception_short")
            .and_then(Value::as_array)
            .map(|lines| {
                lines
                    .iter()
                    .filter_map(Value::as_bytes)
                    .map(|b| String::from_utf8_lossy(b).trim().to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        return Ok((msgid, Answer::Error { class, message }));
    }
    // Moved out, not copied: a `get` answer carries up to 20 MiB.
    let result = match value {
        Value::Map(entries) => entries
            .into_iter()
            .find(|(k, _)| k.as_bytes() == Some(b"r"))
            .map_or(Value::Nil, |(_, v)| v),
        _ => Value::Nil,
    };
    Ok((msgid, Answer::Result(result)))
}

impl RemoteStore {
    /// Starts `borg serve` through ssh, negotiates, and opens the repository with borg's
    /// shared lock (held by the server until this store is dropped).
    pub fn connect(command: &[String], location: &SshLocation) -> Result<RemoteStore, ReadError> {
        let (program, args) = command
            .split_first()
            .ok_or_else(|| ReadError::Unsupported("an empty ssh command".into()))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ReadError::Remote(format!("cannot run {program}: {e}")))?;
        let peer = Peer {
            host: location.host.clone(),
            stderr: StderrTail::default(),
        };
        if let Some(err) = child.stderr.take() {
            peer.stderr.collect(err);
        }
        let (stdin, Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(ReadError::Remote("no pipes to ssh".into()));
        };
        let mut connection = Connection {
            child,
            stdin,
            stdout,
            pending: Vec::new(),
            next_msgid: 0,
        };
        let version = Value::Array(vec![Value::Int(1), Value::Int(4), Value::Int(0)]);
        peer.call(
            &mut connection,
            "negotiate",
            vec![(
                "client_data",
                Value::Map(vec![(bytes("client_version"), version)]),
            )],
        )?;
        let id = peer.call(
            &mut connection,
            "open",
            vec![
                ("path", bytes(&location.path)),
                ("create", Value::Bool(false)),
                ("lock_wait", Value::Float(LOCK_WAIT.as_secs_f64())),
                ("lock", Value::Bool(true)),
                ("exclusive", Value::Bool(false)),
                ("append_only", Value::Bool(false)),
                ("make_parent_dirs", Value::Bool(false)),
            ],
        )?;
        let repository_id = id
            .as_bytes()
            .filter(|id| id.len() == 32)
            .ok_or_else(|| ReadError::Remote("open answered without a repository id".into()))?
            .to_vec();
        Ok(RemoteStore {
            connection: Mutex::new(connection),
            repository_id,
            peer,
        })
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Peer {
    fn call(
        &self,
        connection: &mut Connection,
        method: &str,
        args: Vec<(&str, Value)>,
    ) -> Result<Value, ReadError> {
        let sent = connection
            .send(method, args)
            .and_then(|id| connection.flush().map(|()| id))
            .map_err(|e| self.lost(&e.to_string()))?;
        let (msgid, answer) = connection.receive().map_err(|e| self.lost(&e))?;
        if msgid != sent {
            return Err(self.lost("answers out of order"));
        }
        self.answer(answer, None)
    }

    fn answer(&self, answer: Answer, id: Option<&[u8; 32]>) -> Result<Value, ReadError> {
        match answer {
            Answer::Result(value) => Ok(value),
            Answer::Error { class, message } => Err(match class.as_str() {
                "ObjectNotFound" => {
                    ReadError::MissingObject(id.map(|i| super::key::hex(i)).unwrap_or_default())
                }
                "LockTimeout" | "LockFailed" => {
                    ReadError::Locked(format!("another borg process on {}", self.host))
                }
                "IntegrityError" => ReadError::corrupt(format!("on {}: {message}", self.host)),
                "DoesNotExist" | "InvalidRepository" => ReadError::Remote(format!(
                    "there is no borg repository at this path on {} ({message})",
                    self.host
                )),
                "PathNotAllowed" => ReadError::Remote(format!(
                    "{} does not allow this path (borg serve --restrict-to-path): {message}",
                    self.host
                )),
                _ => ReadError::Remote(format!("borg serve on {}: {class}: {message}", self.host)),
            }),
        }
    }

    /// The connection broke: say so with what ssh or borg serve said last.
    fn lost(&self, what: &str) -> ReadError {
        // Give the stderr reader a moment to catch ssh's last words.
        std::thread::sleep(Duration::from_millis(100));
        let said = self.stderr.text();
        ReadError::Remote(if said.is_empty() {
            format!("the connection to {} failed: {what}", self.host)
        } else {
            format!("the connection to {} failed: {said}", self.host)
        })
    }
}

/// How long `open` waits on the server for a writer's lock.
const LOCK_WAIT: Duration = Duration::from_secs(3);

impl ObjectStore for RemoteStore {
    fn repository_id(&self) -> &[u8] {
        &self.repository_id
    }

    fn repokey(&self) -> Result<Option<String>, ReadError> {
        let mut connection = self.locked();
        let key = self.peer.call(&mut connection, "load_key", Vec::new())?;
        Ok(key
            .as_bytes()
            .filter(|k| !k.is_empty())
            .map(|k| String::from_utf8_lossy(k).into_owned()))
    }

    fn get(&self, id: &[u8; 32]) -> Result<Vec<u8>, ReadError> {
        self.get_many(std::slice::from_ref(id))
            .pop()
            .unwrap_or_else(|| Err(ReadError::MissingObject(super::key::hex(id))))
    }

    /// Every request is written before the first answer is read: the server works through
    /// them back to back instead of waiting a round trip for each.
    fn get_many(&self, ids: &[[u8; 32]]) -> Vec<Result<Vec<u8>, ReadError>> {
        let mut connection = self.locked();
        let mut first = None;
        for id in ids {
            match connection.send("get", vec![("id", Value::Bytes(id.to_vec()))]) {
                Ok(msgid) => {
                    first.get_or_insert(msgid);
                }
                Err(e) => return vec![Err(self.peer.lost(&e.to_string()))],
            }
        }
        if let Err(e) = connection.flush() {
            return vec![Err(self.peer.lost(&e.to_string()))];
        }
        let Some(first) = first else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(ids.len());
        for (n, id) in ids.iter().enumerate() {
            match connection.receive() {
                Ok((msgid, answer)) if msgid == first + n as i128 => {
                    out.push(self.peer.answer(answer, Some(id)).and_then(|v| match v {
                        Value::Bytes(data) => Ok(data),
                        _ => Err(ReadError::Remote("get answered without data".into())),
                    }));
                }
                Ok(_) => {
                    out.push(Err(self.peer.lost("answers out of order")));
                    break;
                }
                Err(e) => {
                    out.push(Err(self.peer.lost(&e)));
                    break;
                }
            }
        }
        out
    }

    /// The server loaded its index under the lock it holds; nothing to reload here.
    fn reload(&self) -> Result<(), ReadError> {
        Ok(())
    }
}

impl Drop for RemoteStore {
    fn drop(&mut self) {
        let connection = self
            .connection
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Closing stdin makes borg serve close the repository (releasing its lock) and exit.
        drop(connection.stdin.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = connection.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = connection.child.kill();
        let _ = connection.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_urls_are_split_as_borg_splits_them() {
        assert_eq!(
            SshLocation::parse("ssh://me@nas.local:2222/./backups/home"),
            Some(SshLocation {
                user: Some("me".into()),
                host: "nas.local".into(),
                port: Some(2222),
                path: "/./backups/home".into(),
            })
        );
        assert_eq!(
            SshLocation::parse("ssh://[::1]/~/repo").map(|l| (l.host, l.port, l.path)),
            Some(("::1".into(), None, "/~/repo".into()))
        );
        assert_eq!(SshLocation::parse("me@nas:repo"), None);
    }

    #[test]
    fn the_serve_command_uses_the_configured_ssh_and_borg() {
        let location = SshLocation::parse("ssh://me@nas:2222/srv/repo").unwrap();
        let command = serve_command(
            &location,
            Some("ssh -i '/home/me/.ssh/my key' -o BatchMode=yes"),
            Some("/usr/local/bin/borg"),
        )
        .unwrap();
        assert_eq!(
            command,
            [
                "ssh",
                "-i",
                "/home/me/.ssh/my key",
                "-o",
                "BatchMode=yes",
                "-p",
                "2222",
                "me@nas",
                "/usr/local/bin/borg",
                "serve"
            ]
        );
    }
}
