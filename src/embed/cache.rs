//! Embeddings cached on disk as raw little-endian `f32`s: whatever is
//! built from fixed text once (the gate's bank, the eval judge's examples)
//! is not embedded again at every start.

use super::DIM;
use std::path::Path;

/// The `rows × DIM` vectors in `path`, or `None` when the file is absent
/// or of another size (a stale or damaged cache is rebuilt, not trusted).
pub fn read_vectors(path: &Path, rows: usize) -> Option<Vec<f32>> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() != rows * DIM * 4 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

/// Written under a temporary name, then renamed: a reader never sees half
/// a file, and two processes building at once both end with a whole one.
/// A failure is logged, not returned: without the cache the vectors are
/// only computed again next time.
pub fn write_vectors(path: &Path, vectors: &[f32]) {
    let bytes: Vec<u8> = vectors.iter().flat_map(|v| v.to_le_bytes()).collect();
    let part = path.with_extension(format!("part{}", std::process::id()));
    let written = std::fs::write(&part, bytes).and_then(|()| std::fs::rename(&part, path));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&part);
        tracing::info!(%error, path = %path.display(), "could not cache embeddings; they are computed again next time");
    }
}
