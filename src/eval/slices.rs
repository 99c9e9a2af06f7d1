//! EPITOME's seeker posts split by a hash of their `sp_id`
//! (`notes/crisis-classifier.md`): first hex digit of `sha256(sp_id)`
//! 0–3 tune and 4–7 holdout for the crisis gate, 8–f reserved for an
//! independent evaluation of it. Nothing the project fits, labels or tunes
//! ever reads the reserved half; the eval's model runs may read every post.
//!
//! The same digest, seeded, orders samples and assigns folds elsewhere in
//! the eval: [`sha256_prefix`] is the one place it is computed.

use sha2::{Digest, Sha256};

/// The first 8 bytes of SHA-256 over `parts`, big-endian, so comparing the
/// numbers compares the digests' leading bytes.
pub fn sha256_prefix(parts: &[&[u8]]) -> u64 {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    u64::from_be_bytes(digest[..8].try_into().expect("a digest has 32 bytes"))
}

/// First hex digit of `sha256(sp_id)`.
pub fn slice_digit(sp_id: &str) -> u32 {
    (sha256_prefix(&[sp_id.as_bytes()]) >> 60) as u32
}

/// Whether `sp_id` is in the reserved half (digits 8–f).
pub fn is_reserved(sp_id: &str) -> bool {
    slice_digit(sp_id) >= 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_follow_sha256() {
        // sha256("a") = ca978112…, sha256("b") = 3e23e816…
        assert_eq!(slice_digit("a"), 0xc);
        assert!(is_reserved("a"));
        assert_eq!(slice_digit("b"), 0x3);
        assert!(!is_reserved("b"));
    }
}
