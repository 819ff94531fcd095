//! The agent's identity on disk: `<state-dir>/agent.json` holds the id it
//! generated once and the credential the collector issued.
//!
//! Loaded once at start (created with a fresh id when missing) and rewritten
//! atomically (temporary file + rename, mode 0600) when a new credential
//! arrives. Only the link actor writes it after start-up.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::AgentId;

/// File name of the identity inside the state directory.
pub const FILE_NAME: &str = "agent.json";

/// Who this agent is to the collector.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// UUID v4 generated on first start.
    pub agent_id: AgentId,
    /// Credential issued by the collector; empty before enrollment.
    #[serde(default)]
    pub credential: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let credential = if self.credential.is_empty() {
            ""
        } else {
            "<redacted>"
        };
        f.debug_struct("Identity")
            .field("agent_id", &self.agent_id)
            .field("credential", &credential)
            .finish()
    }
}

/// Failures reading or writing the identity file.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The state directory or file cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The IO failure.
        source: std::io::Error,
    },
    /// The file exists but does not hold a valid identity.
    #[error("{}: corrupt identity file: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Where the identity lives; loads and saves it.
#[derive(Debug, Clone)]
pub struct IdentityStore {
    path: PathBuf,
}

impl IdentityStore {
    /// A store for `<dir>/agent.json`.
    pub fn new(dir: &Path) -> IdentityStore {
        IdentityStore {
            path: dir.join(FILE_NAME),
        }
    }

    /// The identity file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the identity, creating the directory and a new identity when
    /// the file does not exist yet.
    pub fn load_or_create(&self) -> Result<Identity, IdentityError> {
        match fs::read(&self.path) {
            Ok(bytes) => self.parse(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let identity = Identity {
                    agent_id: uuid::Uuid::new_v4().to_string().into(),
                    credential: String::new(),
                };
                self.save(&identity)?;
                Ok(identity)
            }
            Err(source) => Err(IdentityError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn parse(&self, bytes: &[u8]) -> Result<Identity, IdentityError> {
        let corrupt = |reason: String| IdentityError::Corrupt {
            path: self.path.clone(),
            reason,
        };
        let identity: Identity =
            serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        uuid::Uuid::parse_str(identity.agent_id.as_str())
            .map_err(|e| corrupt(format!("agent_id {:?}: {e}", identity.agent_id)))?;
        Ok(identity)
    }

    /// Writes the identity atomically with mode 0600.
    pub fn save(&self, identity: &Identity) -> Result<(), IdentityError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| IdentityError::Io { path, source }
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = self.path.with_extension("json.tmp");
        let mut json = serde_json::to_vec_pretty(identity).map_err(|e| IdentityError::Io {
            path: self.path.clone(),
            source: e.into(),
        })?;
        json.push(b'\n');
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        file.write_all(&json).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        drop(file);
        fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_then_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let store = IdentityStore::new(&dir.path().join("nested/state"));
        let first = store.load_or_create().unwrap();
        assert!(uuid::Uuid::parse_str(first.agent_id.as_str()).is_ok());
        assert!(first.credential.is_empty());
        let mode = fs::metadata(store.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let again = store.load_or_create().unwrap();
        assert_eq!(again, first);

        let with_cred = Identity {
            credential: "c-123".into(),
            ..first.clone()
        };
        store.save(&with_cred).unwrap();
        assert_eq!(store.load_or_create().unwrap(), with_cred);
        assert!(!store.path().with_extension("json.tmp").exists());
    }

    #[test]
    fn corrupt_files_are_named() {
        fn check(content: &str) {
            let dir = tempfile::tempdir().unwrap();
            let store = IdentityStore::new(dir.path());
            fs::write(store.path(), content).unwrap();
            let err = store.load_or_create().unwrap_err().to_string();
            assert!(err.contains("agent.json"), "{err}");
            assert!(err.contains("corrupt"), "{err}");
        }
        check("");
        check("{not json");
        check(r#"{"credential": "x"}"#);
        check(r#"{"agent_id": "not-a-uuid", "credential": ""}"#);
    }

    #[test]
    fn missing_credential_field_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let store = IdentityStore::new(dir.path());
        let id = uuid::Uuid::new_v4().to_string();
        fs::write(store.path(), format!(r#"{{"agent_id": "{id}"}}"#)).unwrap();
        let identity = store.load_or_create().unwrap();
        assert_eq!(identity.agent_id, id.as_str());
        assert_eq!(identity.credential, "");
    }
}
