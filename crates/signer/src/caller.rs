//! Who is asking: the uid and pid of the connection that sent a call, as the
//! bus reports them (never an argument), and the program as it names itself.

use crate::service::SignerError;
use zbus::message::Header;
use zbus::names::BusName;

#[derive(Debug, Clone)]
pub struct Caller {
    pub uid: u32,
    pub pid: u32,
    /// `argv[0]` as the program wrote it (any program can choose its own:
    /// shown to the person as a hint, never trusted).
    pub program: String,
}

pub async fn of(connection: &zbus::Connection, header: &Header<'_>) -> Result<Caller, SignerError> {
    let sender = header
        .sender()
        .ok_or_else(|| SignerError::Invalid("a call without a sender".into()))?
        .to_owned();
    let bus = zbus::fdo::DBusProxy::new(connection).await?;
    let name = BusName::Unique(sender.as_ref());
    let uid = bus.get_connection_unix_user(name.clone()).await?;
    let pid = bus.get_connection_unix_process_id(name).await?;
    Ok(Caller {
        uid,
        pid,
        program: program_of(pid),
    })
}

fn program_of(pid: u32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    match String::from_utf8_lossy(argv0).trim() {
        "" => "an unnamed program".to_owned(),
        name => heso_approver::display::visible(name),
    }
}
