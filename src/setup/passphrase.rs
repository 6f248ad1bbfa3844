//! A Diceware passphrase: seven words drawn from the EFF large word list (7,776 words, made
//! for dice: memorable, no two alike in their first three letters) with the operating
//! system's cryptographic random numbers. Seven words carry 7 × log2(7776) ≈ 90.5 bits.
//!
//! The list is the Electronic Frontier Foundation's, published under CC BY 3.0 US
//! (<https://www.eff.org/dice>); `eff_large_wordlist.txt` is its original text.

use crate::config::Secret;

const LIST: &str = include_str!("eff_large_wordlist.txt");
/// 6^5: one word per five dice.
pub const WORDS_IN_LIST: usize = 7776;
/// The guide's choice.
pub const DEFAULT_WORDS: usize = 7;

/// The words of the list, in dice order.
pub fn word_list() -> Vec<&'static str> {
    LIST.lines()
        .filter_map(|line| line.split('\t').nth(1))
        .map(str::trim)
        .collect()
}

/// The strength of `words` words drawn uniformly from the list, in bits.
pub fn entropy_bits(words: usize) -> f64 {
    words as f64 * (WORDS_IN_LIST as f64).log2()
}

#[derive(Debug, thiserror::Error)]
#[error("the system's random number generator failed: {0}")]
pub struct RandomError(String);

/// A uniform index below `bound` from the OS's CSPRNG (rejection sampling: no modulo bias).
fn uniform_below(bound: u32) -> Result<u32, RandomError> {
    let zone = u32::MAX - (u32::MAX % bound);
    loop {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
        let n = u32::from_le_bytes(bytes);
        if n < zone {
            return Ok(n % bound);
        }
    }
}

/// `words` words, separated by spaces.
pub fn generate(words: usize) -> Result<Secret, RandomError> {
    let list = word_list();
    let bound = u32::try_from(list.len()).unwrap_or(u32::MAX);
    let mut chosen = Vec::with_capacity(words);
    for _ in 0..words {
        let at = uniform_below(bound)? as usize;
        chosen.push(list.get(at).copied().unwrap_or("dice"));
    }
    Ok(Secret::new(chosen.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_the_eff_large_list() {
        let list = word_list();
        assert_eq!(list.len(), WORDS_IN_LIST);
        assert_eq!(list.first(), Some(&"abacus"));
        assert_eq!(list.last(), Some(&"zoom"));
        let unique: std::collections::HashSet<_> = list.iter().collect();
        assert_eq!(unique.len(), WORDS_IN_LIST);
    }

    #[test]
    fn seven_words_from_the_list_carry_about_ninety_bits() {
        let list = word_list();
        let made = generate(DEFAULT_WORDS).expect("random");
        let words: Vec<&str> = made.expose().split(' ').collect();
        assert_eq!(words.len(), 7);
        assert!(words.iter().all(|w| list.contains(w)), "{words:?}");
        assert!((entropy_bits(7) - 90.47).abs() < 0.01);
        // Two draws are (overwhelmingly) different.
        assert_ne!(made.expose(), generate(7).expect("random").expose());
    }
}
