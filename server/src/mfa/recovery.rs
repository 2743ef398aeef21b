//! Recovery codes: ten single-use codes, shown once at enrolment, for a user who has lost
//! their authenticator. Each is 80 random bits, so a SHA-256 of it (`SecretHash`) is all
//! that is stored: a slow hash defends guessable secrets such as passwords, and nobody
//! walks a space of 2^80 against a stolen table, keyed or not.

use crate::clock::Random;
use crate::secret::SecretHash;

pub const COUNT: usize = 10;

/// Lower-case letters without i, l and o, and the digits but 0, so that no two look alike:
/// 32 symbols, 5 bits each.
const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz123456789";
const SYMBOLS: usize = 16;

/// Fresh codes, as the user is shown them: four groups of four, `abcd-efgh-jkmn-pqrs`.
pub fn generate(random: &dyn Random) -> Vec<String> {
    (0..COUNT)
        .map(|_| {
            let mut bytes = [0u8; SYMBOLS * 5 / 8];
            random.fill(&mut bytes);
            let bits = bytes
                .iter()
                .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
            let symbols: Vec<char> = (0..SYMBOLS)
                .map(|i| char::from(ALPHABET[((bits >> (5 * i)) & 31) as usize]))
                .collect();
            symbols
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// The hash a code is stored and looked up under; `None` for text that cannot be a code.
/// Case, spaces and dashes do not matter, as the user may type them either way.
pub fn hash(typed: &str) -> Option<SecretHash> {
    let plain: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let valid = plain.len() == SYMBOLS && plain.bytes().all(|b| ALPHABET.contains(&b));
    valid.then(|| SecretHash::of(&plain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsRandom;

    #[test]
    fn codes_are_distinct_and_read_back_however_typed() {
        let codes = generate(&OsRandom::default());
        assert_eq!(codes.len(), COUNT);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), COUNT);
        let code = &codes[0];
        assert_eq!(code.len(), 19);
        let typed = format!(" {} ", code.to_uppercase().replace('-', " "));
        assert_eq!(hash(&typed), hash(code));
        assert!(hash(code).is_some());
        assert_eq!(hash("123456"), None);
        assert_eq!(hash("0000-0000-0000-0000"), None);
    }
}
