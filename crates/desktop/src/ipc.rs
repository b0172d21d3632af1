//! What passes between the window and the background agent: a few requests
//! over a Unix socket in the approver's home (a private directory), one JSON
//! line each way. The agent answers only processes of the home's owner.

use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt as _, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// A request to the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// Are you there?
    Ping,
    /// Show the window, on `item` when given (from a link the window got).
    Open { item: Option<String> },
    /// `settings.json` changed: read it again.
    SettingsChanged,
    /// The device was enrolled or removed: open or close the session.
    DeviceChanged,
    /// Start a fresh local demo control plane, enrol with it, and answer
    /// when the device is enrolled.
    StartDemo,
    /// Stop: the person chose Quit, or closed the window of an app that is
    /// not to run in the background.
    Quit,
    /// Held by the window for its lifetime: the agent answers at once, and
    /// once more (`QUITTING`) when it stops, so the window closes with it.
    /// The line ending without that answer means the agent died.
    Attach,
}

/// The agent's last line to an attached window.
pub const QUITTING: &str = "quitting";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Reply {
    pub fn done() -> Reply {
        Reply {
            ok: true,
            error: None,
        }
    }

    pub fn failed(why: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            error: Some(why.into()),
        }
    }
}

/// Where the agent of the approver in `home` listens.
pub fn socket_path(home: &Path) -> PathBuf {
    home.join("agent.sock")
}

/// The lock one agent per home holds while it runs.
pub fn lock_path(home: &Path) -> PathBuf {
    home.join("agent.lock")
}

/// Requests are short; an agent that does not answer in this time is hung.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);
/// A request line longer than this is not one of ours.
pub const MAX_LINE: usize = 4096;

/// Connects to the agent of `home` and sends `request`; its replies are
/// then read from the stream with `read_reply`.
pub async fn request(home: &Path, request: &Request) -> io::Result<BufReader<UnixStream>> {
    let mut stream = UnixStream::connect(socket_path(home)).await?;
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    stream.write_all(&line).await?;
    Ok(BufReader::new(stream))
}

/// The agent's next reply line (an error at the end of the stream).
pub async fn read_reply(stream: &mut BufReader<UnixStream>) -> io::Result<Reply> {
    let mut answer = String::new();
    stream.read_line(&mut answer).await?;
    serde_json::from_str(&answer).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Sends `request` to the agent of `home` and waits for its reply.
pub async fn send(home: &Path, request: &Request) -> io::Result<Reply> {
    let exchange = async { read_reply(&mut self::request(home, request).await?).await };
    tokio::time::timeout(ANSWER_WITHIN, exchange)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the agent did not answer"))?
}

/// Whether an agent answers for `home`.
pub async fn agent_runs(home: &Path) -> bool {
    matches!(send(home, &Request::Ping).await, Ok(reply) if reply.ok)
}

/// Reads one request line from a peer, at most `MAX_LINE` bytes.
pub async fn read_request(stream: &mut BufReader<UnixStream>) -> io::Result<Request> {
    let mut line = Vec::new();
    let mut limited = (&mut *stream).take(MAX_LINE as u64);
    limited.read_until(b'\n', &mut line).await?;
    serde_json::from_slice(&line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Writes a reply line.
pub async fn write_reply(stream: &mut BufReader<UnixStream>, reply: &Reply) -> io::Result<()> {
    let mut line = serde_json::to_vec(reply)?;
    line.push(b'\n');
    stream.get_mut().write_all(&line).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_back() {
        for request in [
            Request::Ping,
            Request::Open {
                item: Some("ab".repeat(32)),
            },
            Request::Open { item: None },
            Request::SettingsChanged,
            Request::DeviceChanged,
            Request::StartDemo,
            Request::Quit,
            Request::Attach,
        ] {
            let text = serde_json::to_string(&request).unwrap();
            assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), request);
        }
        assert_eq!(
            serde_json::to_string(&Request::Open { item: None }).unwrap(),
            r#"{"request":"open","item":null}"#
        );
    }
}
