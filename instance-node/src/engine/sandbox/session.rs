//! The sandbox's pairing on disk: the paired phone and push name, kept in the node's data
//! directory like the real engine's session store, so a restarted node comes back connected.
//! Written `0600` through a temporary file and a rename (a crash mid-write leaves the old file
//! or none, never half of one); removed on logout.

use std::io;
use std::path::Path;

use zapini_shared::jid::Jid;
use zapini_shared::phone::PhoneNumber;

/// The paired account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Session {
    pub phone: PhoneNumber,
    pub push_name: String,
}

impl Session {
    pub fn jid(&self) -> Jid {
        Jid::from_phone(&self.phone)
    }
}

/// The pairing a previous run left at `path`; a missing or unreadable file means unpaired.
pub(super) fn load(path: &Path) -> Option<Session> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the sandbox session file");
            return None;
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(session) => Some(session),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring an invalid sandbox session file");
            None
        }
    }
}

/// Writes the session to `path`, or removes the file for `None`. A failure is logged, not
/// fatal: the session then lives in memory only, as without a file.
pub(super) fn save(path: &Path, session: Option<&Session>) {
    let result = match session {
        Some(session) => write(path, session),
        None => match std::fs::remove_file(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        },
    };
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), error = %e, "cannot write the sandbox session file");
    }
}

fn write(path: &Path, session: &Session) -> io::Result<()> {
    let json = serde_json::to_vec(session).map_err(io::Error::other)?;
    let tmp = path.with_extension("tmp");
    zapini_shared::private_fs::write(&tmp, &json)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::mpsc;
    use zapini_shared::status::InstanceStatus;

    use super::super::{SandboxConfig, SandboxEngine};
    use super::*;
    use crate::engine::Engine;

    const ME: &str = "5511999990001";

    fn engine(
        file: &Path,
    ) -> (
        Arc<SandboxEngine>,
        mpsc::Receiver<crate::engine::types::EngineEvent>,
    ) {
        let (tx, rx) = mpsc::channel(256);
        let config = SandboxConfig {
            session_file: Some(file.to_owned()),
            receipt_schedule: None,
            ..SandboxConfig::default()
        };
        (SandboxEngine::new(config, tx), rx)
    }

    async fn status(engine: &SandboxEngine) -> InstanceStatus {
        engine.state().await.status
    }

    #[tokio::test]
    async fn a_restarted_engine_comes_back_paired_until_logout() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sandbox-session.json");
        let me = PhoneNumber::parse(ME).unwrap();

        let (first, _rx) = engine(&file);
        first.start().await.unwrap();
        assert_eq!(status(&first).await, InstanceStatus::QrReady);
        first.scan(&me, Some("Shop")).await.unwrap();
        assert_eq!(status(&first).await, InstanceStatus::Connected);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        drop(first);

        // A new process: the stored pairing connects at start, no QR.
        let (second, _rx) = engine(&file);
        second.start().await.unwrap();
        let state = second.state().await;
        assert_eq!(state.status, InstanceStatus::Connected);
        assert_eq!(state.reason.as_deref(), Some("restored"));
        let sent = second
            .send_text(
                &Jid::from_phone(&PhoneNumber::parse("5511988887777").unwrap()),
                "hi",
                &crate::engine::types::SendOptions::default(),
            )
            .await;
        assert!(sent.is_ok(), "{sent:?}");

        // Logout forgets it on disk too.
        second.logout().await.unwrap();
        assert!(!file.exists());
        drop(second);
        let (third, _rx) = engine(&file);
        third.start().await.unwrap();
        assert_eq!(status(&third).await, InstanceStatus::QrReady);
    }

    /// Not the session, but what a session sees first of a contact: as the real engine
    /// fetches a new contact's picture, the sandbox reports a made-up one, once per sender.
    #[tokio::test]
    async fn a_new_sender_gets_a_made_up_profile_picture_once() {
        use crate::engine::sandbox::InboundSpec;
        use crate::engine::types::EngineEvent;
        let dir = tempfile::tempdir().unwrap();
        let (engine, mut rx) = engine(&dir.path().join("s.json"));
        engine.start().await.unwrap();
        engine
            .scan(&PhoneNumber::parse(ME).unwrap(), None)
            .await
            .unwrap();
        while rx.try_recv().is_ok() {}
        let ana = PhoneNumber::parse("5511955554444").unwrap();
        for text in ["one", "two"] {
            engine
                .inject_message(InboundSpec::from_phone(&ana).text(text))
                .await
                .unwrap();
        }
        let mut events = Vec::new();
        while let Ok(e) = rx.try_recv() {
            events.push(e);
        }
        let pictures: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                EngineEvent::ContactUpdate {
                    jid,
                    profile_picture: Some(Some(url)),
                    ..
                } => Some((jid.clone(), url.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            pictures,
            [(
                Jid::from_phone(&ana),
                "https://sandbox.zapini.invalid/profile-pictures/5511955554444.jpg".to_owned()
            )]
        );
        assert!(
            matches!(events[0], EngineEvent::MessageReceived(_)),
            "{events:?}"
        );
    }

    #[test]
    fn a_damaged_file_means_unpaired() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sandbox-session.json");
        std::fs::write(&file, b"{not json").unwrap();
        assert_eq!(load(&file), None);
        assert_eq!(load(&dir.path().join("missing.json")), None);
    }
}
