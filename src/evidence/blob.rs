//! The encrypted blob format: a STREAM construction over AES-256-GCM.
//!
//! ```text
//! header:  "RAMPBLOB" (8) | version 1 (1) | nonce prefix (7, random)
//! chunks:  AES-256-GCM(chunk of CHUNK plaintext bytes) | tag (16), the last one shorter
//! nonce:   prefix (7) | chunk counter, big-endian (4) | 1 on the last chunk, else 0 (1)
//! aad:     "rampart/blob/" | blob id
//! ```
//!
//! Every blob has its own random key, kept in its (sealed) evidence record. The counter in
//! the nonce makes a reordered or swapped chunk fail; the last-chunk flag makes a blob cut
//! at a chunk boundary fail; the blob id in the aad makes a blob moved to another record
//! fail. A blob of `n` plaintext bytes has `max(1, ceil(n / CHUNK))` chunks, so its length
//! on disk alone tells which chunk must be the last.

use std::fs::File;
use std::io::{Read, Write};
use std::ops::Range;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::mpsc::SyncSender;
use std::thread::JoinHandle;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::digest;
use bytes::Bytes;

use crate::crypto::{KEY_LEN, random_bytes};

/// Plaintext bytes per chunk: large enough that the per-chunk cost (a tag, a nonce, a
/// write) vanishes beside the data, small enough that a transfer holds little in memory.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const MAGIC: &[u8; 8] = b"RAMPBLOB";
const VERSION: u8 = 1;
const PREFIX: usize = 7;
pub const HEADER: usize = MAGIC.len() + 1 + PREFIX;
const SEALED_CHUNK: usize = CHUNK + TAG;
/// Sealed bytes written between background flushes of an upload (see [`Flusher`]).
const FLUSH_EVERY: u64 = 32 * 1024 * 1024;
/// Chunks a download reads and opens per call (1 MiB of plaintext): one read, one
/// allocation and one hand-off to the sending task per run rather than per chunk.
pub const RUN_CHUNKS: u64 = 16;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    #[error("the blob file is missing")]
    Missing,
    #[error("the blob is damaged: {0}")]
    Damaged(String),
    #[error("i/o error on the blob file: {0}")]
    Io(#[from] std::io::Error),
    #[error("encryption failed")]
    Crypto,
}

/// A blob's own key; never logged.
#[derive(Clone)]
pub struct BlobKey([u8; KEY_LEN]);

impl std::fmt::Debug for BlobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlobKey(<redacted>)")
    }
}

impl BlobKey {
    pub fn generate() -> Result<BlobKey, BlobError> {
        Ok(BlobKey(random_bytes().map_err(|_| BlobError::Crypto)?))
    }
    pub fn from_bytes(bytes: &[u8]) -> Option<BlobKey> {
        Some(BlobKey(bytes.try_into().ok()?))
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    fn aead(&self) -> Result<LessSafeKey, BlobError> {
        let key = UnboundKey::new(&AES_256_GCM, &self.0).map_err(|_| BlobError::Crypto)?;
        Ok(LessSafeKey::new(key))
    }
}

fn aad(blob_id: &uuid::Uuid) -> Vec<u8> {
    let mut aad = b"rampart/blob/".to_vec();
    aad.extend_from_slice(blob_id.as_bytes());
    aad
}

fn nonce(prefix: &[u8; PREFIX], counter: u32, last: bool) -> Nonce {
    let mut bytes = [0u8; 12];
    let (head, tail) = bytes.split_at_mut(PREFIX);
    head.copy_from_slice(prefix);
    let (count, flag) = tail.split_at_mut(4);
    count.copy_from_slice(&counter.to_be_bytes());
    flag.fill(u8::from(last));
    Nonce::assume_unique_for_key(bytes)
}

/// The plaintext size a blob file of `file_len` bytes holds, if that length is possible.
pub fn plaintext_len(file_len: u64) -> Option<u64> {
    let data = file_len.checked_sub(HEADER as u64)?;
    let sealed = SEALED_CHUNK as u64;
    let full = data / sealed;
    let rest = data % sealed;
    match (full, rest) {
        (0, r) if r < TAG as u64 => None,
        (f, 0) => Some(f * CHUNK as u64),
        (_, r) if r < TAG as u64 => None,
        (f, r) => Some(f * CHUNK as u64 + r - TAG as u64),
    }
}

/// Encrypts a stream into a file: feed it with [`BlobWriter::write`], end with
/// [`BlobWriter::finish`]. Also counts and hashes the plaintext.
pub struct BlobWriter {
    file: File,
    key: LessSafeKey,
    aad: Vec<u8>,
    prefix: [u8; PREFIX],
    counter: u32,
    pending: Vec<u8>,
    hash: digest::Context,
    size: u64,
    /// Sealed bytes written since the last flush was asked for.
    unflushed: u64,
    flusher: Option<Flusher>,
}

/// Writes a file's data back to disk on its own thread while more of it is being written.
///
/// Without it a large upload is first encrypted into the page cache, and only then does the
/// final fsync wait for the disk to take all of it: the disk sits idle while the CPU works,
/// then the CPU while the disk does. With it the final fsync waits for the last few
/// megabytes, and the appliance never holds gigabytes of unwritten evidence.
struct Flusher {
    requests: SyncSender<()>,
    thread: JoinHandle<std::io::Result<()>>,
}

impl Flusher {
    /// `None` when no thread can be had: the final fsync then does all the work, as before.
    fn start(file: &File) -> Option<Flusher> {
        let file = file.try_clone().ok()?;
        let (requests, asked) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("rampart-flush".into())
            .spawn(move || {
                while asked.recv().is_ok() {
                    file.sync_data()?;
                }
                Ok(())
            })
            .ok()?;
        Some(Flusher { requests, thread })
    }

    /// Asks for a flush, unless one is already waiting to start.
    fn nudge(&self) {
        // Full: a flush is waiting and will take this data too. Closed: the thread stopped
        // on an error, which `finish` reports.
        let _ = self.requests.try_send(());
    }

    /// Waits for the flush under way. A write-back error is reported to one fsync only,
    /// which may have been this thread's, so it is handed on from here.
    fn finish(self) -> std::io::Result<()> {
        drop(self.requests);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the flushing thread panicked")))
    }
}

/// What [`BlobWriter::finish`] found about the plaintext.
pub struct Written {
    pub size: u64,
    pub sha256: [u8; 32],
}

impl BlobWriter {
    pub fn create(path: &Path, key: &BlobKey, blob_id: &uuid::Uuid) -> Result<Self, BlobError> {
        let mut file = File::options()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        let prefix: [u8; PREFIX] = random_bytes().map_err(|_| BlobError::Crypto)?;
        let mut header = Vec::with_capacity(HEADER);
        header.extend_from_slice(MAGIC);
        header.push(VERSION);
        header.extend_from_slice(&prefix);
        file.write_all(&header)?;
        Ok(BlobWriter {
            file,
            key: key.aead()?,
            aad: aad(blob_id),
            prefix,
            counter: 0,
            pending: Vec::with_capacity(SEALED_CHUNK),
            hash: digest::Context::new(&digest::SHA256),
            size: 0,
            unflushed: 0,
            flusher: None,
        })
    }

    pub fn write(&mut self, mut data: &[u8]) -> Result<(), BlobError> {
        self.hash.update(data);
        self.size += data.len() as u64;
        while !data.is_empty() {
            // A full chunk is sealed only once more data arrives: until then it may be the
            // last one.
            if self.pending.len() == CHUNK {
                self.seal(false)?;
            }
            let take = (CHUNK - self.pending.len()).min(data.len());
            let (now, later) = data.split_at(take);
            self.pending.extend_from_slice(now);
            data = later;
        }
        Ok(())
    }

    fn seal(&mut self, last: bool) -> Result<(), BlobError> {
        let nonce = nonce(&self.prefix, self.counter, last);
        self.key
            .seal_in_place_append_tag(nonce, Aad::from(self.aad.as_slice()), &mut self.pending)
            .map_err(|_| BlobError::Crypto)?;
        self.file.write_all(&self.pending)?;
        self.unflushed += self.pending.len() as u64;
        self.pending.clear();
        if self.unflushed >= FLUSH_EVERY {
            self.unflushed = 0;
            // Started only once a file is this large: most evidence never needs it.
            if self.flusher.is_none() {
                self.flusher = Flusher::start(&self.file);
            }
            if let Some(flusher) = &self.flusher {
                flusher.nudge();
            }
        }
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| BlobError::Damaged("the blob has too many chunks".into()))?;
        Ok(())
    }

    /// Seals the last chunk and makes the file durable.
    pub fn finish(mut self) -> Result<Written, BlobError> {
        self.seal(true)?;
        if let Some(flusher) = self.flusher.take() {
            flusher.finish()?;
        }
        self.file.sync_all()?;
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(self.hash.finish().as_ref());
        Ok(Written {
            size: self.size,
            sha256,
        })
    }
}

/// Decrypts a blob chunk by chunk; a chunk is handed out only once it authenticates.
pub struct BlobReader {
    file: File,
    key: LessSafeKey,
    aad: Vec<u8>,
    prefix: [u8; PREFIX],
    counter: u32,
    chunks: u64,
    size: u64,
}

impl BlobReader {
    pub fn open(path: &Path, key: &BlobKey, blob_id: &uuid::Uuid) -> Result<Self, BlobError> {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::Missing);
            }
            Err(err) => return Err(err.into()),
        };
        let len = file.metadata()?.len();
        let size = plaintext_len(len)
            .ok_or_else(|| BlobError::Damaged(format!("a blob cannot be {len} bytes long")))?;
        let mut header = [0u8; HEADER];
        file.read_exact(&mut header)?;
        let (magic, rest) = header.split_at(MAGIC.len());
        let (version, prefix) = rest.split_at(1);
        if magic != MAGIC || version != [VERSION] {
            return Err(BlobError::Damaged(
                "the header is not a Rampart blob".into(),
            ));
        }
        let prefix: [u8; PREFIX] = prefix
            .try_into()
            .map_err(|_| BlobError::Damaged("short header".into()))?;
        Ok(BlobReader {
            file,
            key: key.aead()?,
            aad: aad(blob_id),
            prefix,
            counter: 0,
            chunks: size.div_ceil(CHUNK as u64).max(1),
            size,
        })
    }

    /// The plaintext size, from the file's length.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The next chunk of plaintext, or `None` after the last.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, BlobError> {
        Ok(self.read_run(1)?.map(|mut run| {
            // One chunk: its plaintext starts the buffer and its tag follows.
            run.buffer
                .truncate(run.plaintext.first().map_or(0, |range| range.end));
            run.buffer
        }))
    }

    /// The plaintext of the next [`RUN_CHUNKS`] chunks (fewer at the end), or `None`
    /// after the last. The chunks are read with one call into one buffer and opened in
    /// place; each piece is a slice of that buffer, so nothing is copied or zeroed.
    pub fn next_run(&mut self) -> Result<Option<Vec<Bytes>>, BlobError> {
        Ok(self.read_run(RUN_CHUNKS)?.map(|run| {
            let buffer = Bytes::from(run.buffer);
            run.plaintext
                .into_iter()
                .map(|range| buffer.slice(range))
                .collect()
        }))
    }

    /// Reads up to `most` sealed chunks and opens each in place.
    fn read_run(&mut self, most: u64) -> Result<Option<OpenedRun>, BlobError> {
        let first = u64::from(self.counter);
        if first >= self.chunks {
            return Ok(None);
        }
        let count = (self.chunks - first).min(most.max(1));
        let chunk = CHUNK as u64;
        let plaintext_len = self.size.min((first + count) * chunk) - first * chunk;
        let sealed_len = usize::try_from(plaintext_len + count * TAG as u64)
            .map_err(|_| BlobError::Damaged("a run of chunks is too large to read".into()))?;
        let mut buffer = Vec::with_capacity(sealed_len);
        // `read_to_end` fills the spare capacity directly: no zeroing before the read.
        (&mut self.file)
            .take(sealed_len as u64)
            .read_to_end(&mut buffer)?;
        if buffer.len() != sealed_len {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        let mut plaintext = Vec::with_capacity(usize::try_from(count).unwrap_or(1));
        let mut at = 0;
        for index in first..first + count {
            let last = index + 1 == self.chunks;
            let plain = if last {
                self.size - index * chunk
            } else {
                chunk
            };
            let end = at + usize::try_from(plain).unwrap_or(CHUNK) + TAG;
            let counter = u32::try_from(index)
                .map_err(|_| BlobError::Damaged("the blob has too many chunks".into()))?;
            let sealed = buffer
                .get_mut(at..end)
                .ok_or_else(|| BlobError::Damaged(format!("chunk {index} is short")))?;
            let opened = self
                .key
                .open_in_place(
                    nonce(&self.prefix, counter, last),
                    Aad::from(self.aad.as_slice()),
                    sealed,
                )
                .map_err(|_| BlobError::Damaged(format!("chunk {index} fails authentication")))?
                .len();
            plaintext.push(at..at + opened);
            at = end;
            self.counter = counter.saturating_add(1);
        }
        Ok(Some(OpenedRun { buffer, plaintext }))
    }
}

/// Chunks opened in place: where in the buffer each one's plaintext lies (its tag stays
/// behind it, so nothing moves).
struct OpenedRun {
    buffer: Vec<u8>,
    plaintext: Vec<Range<usize>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_blob(dir: &Path, data: &[u8]) -> (std::path::PathBuf, BlobKey, uuid::Uuid, Written) {
        let key = BlobKey::generate().unwrap();
        let id = uuid::Uuid::new_v4();
        let path = dir.join(format!("{id}.blob"));
        let mut writer = BlobWriter::create(&path, &key, &id).unwrap();
        for piece in data.chunks(10_000) {
            writer.write(piece).unwrap();
        }
        let written = writer.finish().unwrap();
        (path, key, id, written)
    }

    fn read_all(path: &Path, key: &BlobKey, id: &uuid::Uuid) -> Result<Vec<u8>, BlobError> {
        let mut reader = BlobReader::open(path, key, id)?;
        let mut out = Vec::new();
        while let Some(chunk) = reader.next_chunk()? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// As a download reads: the first chunk alone, then runs.
    fn read_by_runs(path: &Path, key: &BlobKey, id: &uuid::Uuid) -> Result<Vec<u8>, BlobError> {
        let mut reader = BlobReader::open(path, key, id)?;
        let mut out = reader.next_chunk()?.unwrap_or_default();
        while let Some(run) = reader.next_run()? {
            assert!(!run.is_empty() && run.len() <= RUN_CHUNKS as usize);
            for piece in run {
                out.extend_from_slice(&piece);
            }
        }
        Ok(out)
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn round_trips_every_size_around_chunk_edges() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7] {
            let data = sample(len);
            let (path, key, id, written) = write_blob(dir.path(), &data);
            assert_eq!(written.size, len as u64);
            assert_eq!(written.sha256, crate::crypto::sha256(&data));
            assert_eq!(read_all(&path, &key, &id).unwrap(), data, "length {len}");
            let on_disk = std::fs::metadata(&path).unwrap().len();
            assert_eq!(plaintext_len(on_disk), Some(len as u64));
        }
    }

    #[test]
    fn a_blob_flushed_in_the_background_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let len = 2 * FLUSH_EVERY as usize + CHUNK + 5;
        let data = sample(len);
        let key = BlobKey::generate().unwrap();
        let id = uuid::Uuid::new_v4();
        let path = dir.path().join("flushed.blob");
        let mut writer = BlobWriter::create(&path, &key, &id).unwrap();
        for piece in data.chunks(1 << 20) {
            writer.write(piece).unwrap();
        }
        assert!(
            writer.flusher.is_some(),
            "a flusher starts past FLUSH_EVERY"
        );
        let written = writer.finish().unwrap();
        assert_eq!(written.size, len as u64);
        assert_eq!(written.sha256, crate::crypto::sha256(&data));
        assert!(read_all(&path, &key, &id).unwrap() == data);
    }

    #[test]
    fn runs_read_the_same_plaintext_across_run_edges() {
        let dir = tempfile::tempdir().unwrap();
        let run = RUN_CHUNKS as usize * CHUNK;
        for len in [
            0,
            1,
            CHUNK,
            run,
            run + CHUNK - 1,
            run + CHUNK,
            run + CHUNK + 1,
            2 * run + 7,
        ] {
            let data = sample(len);
            let (path, key, id, _) = write_blob(dir.path(), &data);
            assert_eq!(
                read_by_runs(&path, &key, &id).unwrap(),
                data,
                "length {len}"
            );
        }
    }

    #[test]
    fn a_damaged_chunk_deep_in_a_run_fails_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let data = sample(2 * RUN_CHUNKS as usize * CHUNK + 100);
        let (path, key, id, _) = write_blob(dir.path(), &data);
        let good = std::fs::read(&path).unwrap();
        for chunk in [1, RUN_CHUNKS as usize + 3, 2 * RUN_CHUNKS as usize] {
            let mut flipped = good.clone();
            flipped[HEADER + chunk * SEALED_CHUNK + 9] ^= 1;
            std::fs::write(&path, &flipped).unwrap();
            match read_by_runs(&path, &key, &id) {
                Err(BlobError::Damaged(message)) => {
                    assert!(message.contains(&format!("chunk {chunk} ")), "{message}");
                }
                other => panic!("chunk {chunk}: {:?}", other.map(|v| v.len())),
            }
        }
        // Cut short by a whole chunk: the run ends where the length says, so it must fail
        // on the flag of what is now its last chunk.
        std::fs::write(&path, &good[..good.len() - 100 - TAG]).unwrap();
        assert!(matches!(
            read_by_runs(&path, &key, &id),
            Err(BlobError::Damaged(_))
        ));
    }

    #[test]
    fn flipped_truncated_reordered_or_moved_blobs_fail() {
        let dir = tempfile::tempdir().unwrap();
        let data = sample(3 * CHUNK + 100);
        let (path, key, id, _) = write_blob(dir.path(), &data);
        let good = std::fs::read(&path).unwrap();

        let mut flipped = good.clone();
        flipped[HEADER + SEALED_CHUNK + 5] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert!(matches!(
            read_all(&path, &key, &id),
            Err(BlobError::Damaged(_))
        ));

        // Cut at a chunk boundary: the new last chunk was not sealed as the last.
        std::fs::write(&path, &good[..HEADER + 3 * SEALED_CHUNK]).unwrap();
        assert!(matches!(
            read_all(&path, &key, &id),
            Err(BlobError::Damaged(_))
        ));

        let mut swapped = good.clone();
        let (a, b) = (HEADER, HEADER + SEALED_CHUNK);
        let first = good[a..b].to_vec();
        swapped[a..b].copy_from_slice(&good[b..b + SEALED_CHUNK]);
        swapped[b..b + SEALED_CHUNK].copy_from_slice(&first);
        std::fs::write(&path, &swapped).unwrap();
        assert!(matches!(
            read_all(&path, &key, &id),
            Err(BlobError::Damaged(_))
        ));

        std::fs::write(&path, &good).unwrap();
        assert!(read_all(&path, &key, &uuid::Uuid::new_v4()).is_err());
        let other = BlobKey::generate().unwrap();
        assert!(read_all(&path, &other, &id).is_err());
        assert_eq!(read_all(&path, &key, &id).unwrap(), data);

        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            read_all(&path, &key, &id),
            Err(BlobError::Missing)
        ));
    }

    #[test]
    fn impossible_lengths_are_refused() {
        assert_eq!(plaintext_len(0), None);
        assert_eq!(plaintext_len(HEADER as u64), None);
        assert_eq!(plaintext_len((HEADER + TAG) as u64), Some(0));
        assert_eq!(plaintext_len((HEADER + SEALED_CHUNK + 3) as u64), None);
    }
}
