//! Reading an upload in a child process. Checking a catalog against its schema builds a
//! JSON tree of up to some twenty times the file; glibc keeps such a peak's pages after they
//! are freed, and giving them back would take `malloc_trim` (unsafe code, which Rampart
//! forbids). A child `rampart read-catalog` does the reading instead: its memory goes back
//! to the system when it exits, and only the catalog's summary and deflated body come back.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use super::{Catalog, CatalogError, OscalSchema, Problem};

/// The hidden verb the daemon runs itself with.
pub const VERB: &str = "read-catalog";

/// Where the daemon's own binary is, once it has said to read uploads in child processes.
static CHILD_BINARY: OnceLock<PathBuf> = OnceLock::new();
/// One child at a time: each may take a few hundred MB while it reads.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Reads every later upload in a child process running `binary` (the daemon's own).
pub fn read_in_child_processes(binary: PathBuf) {
    let _ = CHILD_BINARY.set(binary);
}

/// A catalog read from an upload: what its summary needs, and its body deflated.
#[derive(Debug, Serialize, Deserialize)]
pub struct Prepared {
    pub id: String,
    pub title: String,
    pub version: String,
    pub families: usize,
    pub requirements: usize,
    pub withdrawn: usize,
    pub objectives: usize,
    /// Base64 in the child's answer.
    #[serde(with = "base64_bytes")]
    pub deflated: Vec<u8>,
}

impl Prepared {
    pub fn of(catalog: &Catalog, deflated: Vec<u8>) -> Prepared {
        let counts = catalog.counts();
        Prepared {
            id: catalog.id.clone(),
            title: catalog.title.clone(),
            version: catalog.version.clone(),
            families: counts.families,
            requirements: counts.requirements,
            withdrawn: counts.withdrawn,
            objectives: counts.objectives,
            deflated,
        }
    }
}

/// What the child answers on its standard output.
#[derive(Debug, Serialize, Deserialize)]
enum Answer {
    Read(Prepared),
    TooLarge {
        size: usize,
        max: usize,
    },
    NotJson {
        line: usize,
        column: usize,
        message: String,
    },
    Invalid {
        problems: Vec<Problem>,
        total: usize,
    },
    Refused(String),
}

/// Reads `bytes` with `read`, in a child process when the daemon asked for one, else here.
pub fn read(
    bytes: Vec<u8>,
    read_here: impl FnOnce(Vec<u8>) -> Result<Prepared, CatalogError>,
) -> Result<Prepared, CatalogError> {
    let Some(binary) = CHILD_BINARY.get() else {
        return read_here(bytes);
    };
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let child = Command::new(binary)
        .arg(VERB)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(child) => answer_of(child, &bytes),
        // The binary was replaced since start (an upgrade waiting for a restart): read
        // here rather than refuse.
        Err(err) => {
            tracing::warn!(error = %err, "no catalog reader process; reading in the daemon");
            read_here(bytes)
        }
    }
}

fn answer_of(mut child: std::process::Child, bytes: &[u8]) -> Result<Prepared, CatalogError> {
    let failed = |what: &str, err: std::io::Error| CatalogError::Reader(format!("{what}: {err}"));
    // The child reads all of its input before it writes a byte, so writing then reading
    // cannot block both ends.
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(bytes)
            .map_err(|err| failed("cannot hand the catalog to its reader", err))?;
    }
    let mut output = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_end(&mut output)
            .map_err(|err| failed("cannot read the catalog reader's answer", err))?;
    }
    let status = child
        .wait()
        .map_err(|err| failed("the catalog reader did not finish", err))?;
    let answer: Answer = serde_json::from_slice(&output).map_err(|_| {
        CatalogError::Reader(format!(
            "the catalog reader ended with {status} and no answer"
        ))
    })?;
    let kind = OscalSchema::Catalog.name();
    match answer {
        Answer::Read(prepared) => Ok(prepared),
        Answer::TooLarge { size, max } => Err(CatalogError::TooLarge { kind, size, max }),
        Answer::NotJson {
            line,
            column,
            message,
        } => Err(CatalogError::NotJson {
            line,
            column,
            message,
        }),
        Answer::Invalid { problems, total } => Err(CatalogError::Invalid {
            kind,
            problems,
            total,
        }),
        Answer::Refused(message) => Err(CatalogError::Refused(message)),
    }
}

/// The child's side: reads the upload from standard input with `read_here`, answers on
/// standard output. Exits 0 whatever the catalog holds; the answer says.
pub fn serve_child(
    read_here: impl FnOnce(Vec<u8>) -> Result<Prepared, CatalogError>,
) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    let limit = u64::try_from(super::MAX_IMPORT_BYTES).unwrap_or(u64::MAX) + 1;
    std::io::stdin().take(limit).read_to_end(&mut bytes)?;
    let answer = match read_here(bytes) {
        Ok(prepared) => Answer::Read(prepared),
        Err(CatalogError::TooLarge { size, max, .. }) => Answer::TooLarge { size, max },
        Err(CatalogError::NotJson {
            line,
            column,
            message,
        }) => Answer::NotJson {
            line,
            column,
            message,
        },
        Err(CatalogError::Invalid {
            problems, total, ..
        }) => Answer::Invalid { problems, total },
        Err(other) => Answer::Refused(other.to_string()),
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &answer)?;
    out.flush()
}

mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_travel_through_json() {
        let prepared = Prepared {
            id: "imported-x".into(),
            title: "T".into(),
            version: "1".into(),
            families: 1,
            requirements: 2,
            withdrawn: 0,
            objectives: 3,
            deflated: vec![0, 1, 2, 255],
        };
        let text = serde_json::to_string(&Answer::Read(prepared)).unwrap();
        match serde_json::from_str::<Answer>(&text).unwrap() {
            Answer::Read(back) => assert_eq!(back.deflated, vec![0, 1, 2, 255]),
            other => panic!("{other:?}"),
        }
    }
}
