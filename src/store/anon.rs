//! Keyed anonymization of user IDs.
//!
//! Rows store `user_key = HMAC-SHA256(secret, "coe-bot/user/v1:" + id)` and
//! never the Discord ID itself. A plain hash would not do: Discord IDs are
//! public and enumerable, so anyone holding the database could hash every
//! candidate ID and re-identify people. With a secret key that dictionary
//! attack needs the key as well, and `/coe-privacy forget` can still find a
//! user's rows by recomputing the key from the caller's ID.

use std::fmt;

use hmac::digest::generic_array::GenericArray;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Domain separation: keys for other kinds of IDs (or a future v2 scheme)
/// can never collide with user keys even under the same secret.
const USER_DOMAIN: &[u8] = b"coe-bot/user/v1:";

/// SHA-256 block size; HMAC keys are normalized to exactly this length.
const BLOCK: usize = 64;

/// Derives stable, non-reversible keys for user IDs.
///
/// Holds only the keyed HMAC state, not a copy of the secret, and its
/// `Debug` output reveals neither.
#[derive(Clone)]
pub struct UserKeyer {
    mac: HmacSha256,
}

impl UserKeyer {
    /// Builds a keyer from the operator's secret (`COE_HASH_KEY`).
    ///
    /// Any length is accepted, as HMAC allows; rejecting weak or empty
    /// secrets is the configuration layer's job.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            mac: HmacSha256::new(&block_key(secret)),
        }
    }

    /// The key for a numeric (Discord) user ID: 64 lowercase hex chars.
    ///
    /// Equal to `key_str` of the ID's decimal form, so an ID that arrives as
    /// text (CLI argument, export) maps to the same key.
    pub fn key(&self, user_id: u64) -> String {
        self.key_str(&user_id.to_string())
    }

    /// The key for a non-numeric ID, such as the terminal's local user.
    pub fn key_str(&self, id: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(USER_DOMAIN);
        mac.update(id.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl fmt::Debug for UserKeyer {
    // Hand-written so that logging a config or pipeline struct can never
    // print key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserKeyer").finish_non_exhaustive()
    }
}

/// Normalizes a secret into an HMAC block key exactly as RFC 2104 does
/// (hash it if longer than a block, then zero-pad). Doing it here lets us
/// use the infallible fixed-size constructor instead of `new_from_slice`,
/// whose `Result` would otherwise need an `expect`.
fn block_key(secret: &[u8]) -> GenericArray<u8, hmac::digest::consts::U64> {
    let mut block = [0u8; BLOCK];
    if secret.len() > BLOCK {
        let digest = Sha256::digest(secret);
        block[..digest.len()].copy_from_slice(&digest);
    } else {
        block[..secret.len()].copy_from_slice(secret);
    }
    GenericArray::from(block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::RngSeed;

    const SECRET: &[u8] = b"correct horse battery staple";

    /// Reference computation through the library's own key handling.
    fn reference(secret: &[u8], id: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(secret).unwrap();
        mac.update(USER_DOMAIN);
        mac.update(id.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn same_input_same_key() {
        let a = UserKeyer::new(SECRET);
        let b = UserKeyer::new(SECRET);
        assert_eq!(a.key(80_351_110_224_678_912), b.key(80_351_110_224_678_912));
        assert_eq!(a.key_str("local"), a.key_str("local"));
    }

    #[test]
    fn different_secret_different_key() {
        let a = UserKeyer::new(SECRET);
        let b = UserKeyer::new(b"another secret");
        assert_ne!(a.key(42), b.key(42));
        assert_ne!(a.key_str("local"), b.key_str("local"));
    }

    #[test]
    fn different_id_different_key() {
        let k = UserKeyer::new(SECRET);
        assert_ne!(k.key(1), k.key(2));
        assert_ne!(k.key_str("local"), k.key_str("local2"));
    }

    #[test]
    fn key_is_64_hex_chars_and_hides_the_id() {
        let k = UserKeyer::new(SECRET);
        let id = 80_351_110_224_678_912u64;
        let key = k.key(id);
        assert_eq!(key.len(), 64);
        assert!(key.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
        assert!(!key.contains(&id.to_string()));
    }

    #[test]
    fn numeric_and_text_forms_agree() {
        let k = UserKeyer::new(SECRET);
        assert_eq!(k.key(1234), k.key_str("1234"));
    }

    #[test]
    fn matches_standard_hmac_for_all_key_lengths() {
        for len in [0, 1, 31, 32, 63, 64, 65, 100, 1000] {
            let secret: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let k = UserKeyer::new(&secret);
            assert_eq!(
                k.key_str("someone"),
                reference(&secret, "someone"),
                "len {len}"
            );
        }
    }

    #[test]
    fn rfc4231_case_2_vector() {
        // Guards the block-key normalization against a known HMAC-SHA256
        // answer, independent of the hmac crate's own constructor.
        let mut mac = HmacSha256::new(&block_key(b"Jefe"));
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let k = UserKeyer::new(SECRET);
        let shown = format!("{k:?} {k:#?}");
        assert!(shown.contains("UserKeyer"));
        assert!(!shown.contains("correct horse"));
        assert!(!shown.contains(&hex::encode(SECRET)));
    }

    #[test]
    fn empty_and_huge_inputs_do_not_panic() {
        let k = UserKeyer::new(b"");
        assert_eq!(k.key_str("").len(), 64);
        let huge = "\u{202e}é👨‍👩‍👧".repeat(100_000);
        assert_eq!(UserKeyer::new(huge.as_bytes()).key_str(&huge).len(), 64);
    }

    proptest! {
        // Fixed cases in CI; PROPTEST_RNG_SEED=<u64> explores others.
        #![proptest_config(ProptestConfig {
            rng_seed: RngSeed::Fixed(0x5eed_0006),
            ..ProptestConfig::default()
        })]

        #[test]
        fn prop_deterministic_hex(secret in proptest::collection::vec(any::<u8>(), 0..200), id in any::<String>()) {
            let k = UserKeyer::new(&secret);
            let key = k.key_str(&id);
            prop_assert_eq!(&key, &k.key_str(&id));
            prop_assert_eq!(&key, &reference(&secret, &id));
            prop_assert_eq!(key.len(), 64);
            prop_assert!(key.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        }

        #[test]
        fn prop_distinct_ids_distinct_keys(a in any::<u64>(), b in any::<u64>()) {
            prop_assume!(a != b);
            let k = UserKeyer::new(SECRET);
            prop_assert_ne!(k.key(a), k.key(b));
            prop_assert_eq!(k.key(a), k.key_str(&a.to_string()));
        }
    }
}
