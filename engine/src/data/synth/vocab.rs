//! The words a synthetic corpus speaks: the keywords, a negative vocabulary drawn from a word
//! list (Debian's `wamerican` by default), and sentences of negative words for the long-form
//! negatives.
//!
//! Negative words are split by word, not only by speaker: validation and test speakers say
//! words that no training speaker says, so the false-accept rate measured on the test split is
//! a rate on words the model never heard. Homophones of a keyword ("know" for "no", "write"
//! for "right") and its plain inflections ("stops", "going") are never negatives: a listener
//! could not tell them from the keyword either.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{SynthError, seed_bytes};
use crate::data::Split;

/// Where `wamerican` installs its list.
pub const DEFAULT_WORDLIST: &str = "/usr/share/dict/american-english";

/// Short function words mixed into sentences so that they sound like running speech rather
/// than a list. Any that collide with a keyword are dropped like any other negative.
const FUNCTION_WORDS: [&str; 24] = [
    "the", "a", "and", "of", "to", "in", "is", "it", "that", "was", "for", "with", "as", "his",
    "they", "be", "at", "from", "have", "this", "by", "but", "we", "her",
];

/// A keyword: what the engines say and the folder its clips go in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyword {
    /// The text spoken, lower case, single spaces.
    pub text: String,
    /// Folder name: the words joined by `_` (`lights on` -> `lights_on`).
    pub folder: String,
}

impl Keyword {
    /// Parse a keyword as typed: letters, apostrophes and hyphens, words separated by spaces
    /// or underscores, at most four words.
    pub fn parse(raw: &str) -> Result<Keyword, SynthError> {
        let words: Vec<String> = raw
            .split(|c: char| c.is_whitespace() || c == '_')
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        let valid_word = |w: &String| {
            w.chars().any(|c| c.is_ascii_alphabetic())
                && w.chars()
                    .all(|c| c.is_ascii_alphabetic() || c == '\'' || c == '-')
        };
        if words.is_empty() || words.len() > 4 || !words.iter().all(valid_word) {
            return Err(SynthError::BadKeyword(raw.to_string()));
        }
        Ok(Keyword {
            text: words.join(" "),
            folder: words.join("_").replace('\'', ""),
        })
    }
}

/// The negative vocabulary, split by word.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vocabulary {
    pub train: Vec<String>,
    pub validation: Vec<String>,
    pub test: Vec<String>,
    /// Function words available to sentences (all splits share them: they are too few to
    /// split, and every conversation has them).
    pub function: Vec<String>,
    /// Candidates dropped as homophones or inflections of a keyword.
    pub excluded: Vec<String>,
}

impl Vocabulary {
    /// The negative words of one split.
    pub fn words(&self, split: Split) -> &[String] {
        match split {
            Split::Train => &self.train,
            Split::Validation => &self.validation,
            Split::Test => &self.test,
        }
    }

    /// Every negative word, all splits.
    pub fn len(&self) -> usize {
        self.train.len() + self.validation.len() + self.test.len()
    }

    /// Whether there is no negative word at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Words of a list that can be negatives: lower-case ASCII letters only (no proper nouns, no
/// possessives), 2 to 10 letters. Sorted and unique, so the choice does not depend on the
/// list's order.
pub fn read_wordlist(path: &Path) -> Result<Vec<String>, SynthError> {
    let text = std::fs::read_to_string(path).map_err(|e| SynthError::Wordlist {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let words: BTreeSet<String> = text
        .lines()
        .map(str::trim)
        .filter(|w| (2..=10).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_lowercase()))
        .map(str::to_string)
        .collect();
    Ok(words.into_iter().collect())
}

/// Choose `count` negatives from `candidates` (seeded), drop keyword homophones and
/// inflections, and split them by word: `validation`/`test` fractions of the words go to
/// those splits. `phonemes` gives each word's pronunciation (stress marks ignored).
pub fn build_vocabulary(
    candidates: &[String],
    keywords: &[Keyword],
    count: usize,
    fractions: (f64, f64),
    seed: u64,
    phonemes: &super::Pronouncer,
) -> Result<Vocabulary, SynthError> {
    let keyword_words: HashSet<&str> = keywords.iter().flat_map(|k| k.text.split(' ')).collect();
    let keyword_sounds: HashSet<String> = phonemes(
        &keywords
            .iter()
            .flat_map(|k| k.text.split(' ').map(str::to_string))
            .collect::<Vec<_>>(),
    )?
    .into_iter()
    .map(|p| strip_stress(&p))
    .collect();

    let mut pool: Vec<String> = candidates
        .iter()
        .filter(|w| !keyword_words.contains(w.as_str()))
        .cloned()
        .collect();
    pool.shuffle(&mut ChaCha8Rng::from_seed(seed_bytes(seed, &["negatives"])));
    // Over-draw so that the excluded words can be replaced without a second phoneme pass.
    let mut drawn: Vec<String> = pool.into_iter().take(count + count / 4 + 16).collect();
    drawn.extend(FUNCTION_WORDS.iter().map(|w| w.to_string()));
    let sounds = phonemes(&drawn)?;

    let mut vocab = Vocabulary::default();
    let mut kept = 0usize;
    for (word, sound) in drawn.iter().zip(&sounds) {
        let function = FUNCTION_WORDS.contains(&word.as_str());
        if sounds_like_a_keyword(word, &strip_stress(sound), &keyword_words, &keyword_sounds) {
            vocab.excluded.push(word.clone());
            continue;
        }
        if function {
            vocab.function.push(word.clone());
            continue;
        }
        if kept == count {
            continue;
        }
        kept += 1;
        // A seeded hash: adding words never moves others.
        match super::fraction_split(seed, "word-split", word, fractions) {
            Split::Train => vocab.train.push(word.clone()),
            Split::Validation => vocab.validation.push(word.clone()),
            Split::Test => vocab.test.push(word.clone()),
        }
    }
    if kept < count {
        return Err(SynthError::TooFewWords {
            wanted: count,
            found: kept,
        });
    }
    for list in [&mut vocab.train, &mut vocab.validation, &mut vocab.test] {
        list.sort();
    }
    vocab.excluded.sort();
    Ok(vocab)
}

/// Homophone (same phonemes) or the keyword plus a plain inflection.
fn sounds_like_a_keyword(
    word: &str,
    sound: &str,
    keyword_words: &HashSet<&str>,
    keyword_sounds: &HashSet<String>,
) -> bool {
    if keyword_sounds.contains(sound) {
        return true;
    }
    const SUFFIXES: [&str; 7] = ["s", "es", "ed", "d", "ing", "er", "ers"];
    keyword_words.iter().any(|k| {
        SUFFIXES.iter().any(|s| {
            word.strip_suffix(s)
                .is_some_and(|stem| stem == *k || stem.strip_suffix(&k[k.len() - 1..]) == Some(k))
        })
    })
}

/// espeak's stress and syllable marks do not change which word it is.
fn strip_stress(phonemes: &str) -> String {
    phonemes
        .chars()
        .filter(|c| !matches!(c, '\'' | ',' | '%' | '=' | '_' | ' '))
        .collect()
}

/// A sentence of `6..=12` words from a split's negatives with function words between them,
/// as continuous non-keyword speech.
pub fn sentence(vocab: &Vocabulary, split: Split, rng: &mut ChaCha8Rng) -> String {
    let content = vocab.words(split);
    let n = rng.random_range(6..=12usize);
    let mut words = Vec::with_capacity(n);
    for i in 0..n {
        let use_function = !vocab.function.is_empty() && i % 2 == 1 && rng.random_bool(0.6);
        let list = if use_function || content.is_empty() {
            &vocab.function
        } else {
            content
        };
        if let Some(w) = list.get(rng.random_range(0..list.len().max(1))) {
            words.push(w.as_str());
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pronouncer for tests: homophone classes by hand, the word itself otherwise.
    fn fake_phonemes(words: &[String]) -> Result<Vec<String>, SynthError> {
        Ok(words
            .iter()
            .map(|w| match w.as_str() {
                "no" | "know" => "n'oU".to_string(),
                "right" | "write" | "rite" => "r'aIt".to_string(),
                other => format!("'{other}"),
            })
            .collect())
    }

    fn kw(words: &[&str]) -> Vec<Keyword> {
        words.iter().map(|w| Keyword::parse(w).unwrap()).collect()
    }

    #[test]
    fn keywords_parse_phrases_and_refuse_symbols() {
        let k = Keyword::parse("  Lights  On ").unwrap();
        assert_eq!(
            (k.text.as_str(), k.folder.as_str()),
            ("lights on", "lights_on")
        );
        assert_eq!(Keyword::parse("don't").unwrap().folder, "dont");
        assert_eq!(Keyword::parse("turn_off").unwrap().text, "turn off");
        for bad in ["", "a/b", "one two three four five", "42", "é"] {
            assert!(Keyword::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn homophones_and_inflections_are_never_negatives() {
        let candidates: Vec<String> = [
            "know",
            "write",
            "rite",
            "stops",
            "going",
            "stopped",
            "apple",
            "often",
            "table",
            "yesterday",
            "goes",
            "rights",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let keywords = kw(&["no", "right", "stop", "go", "yes"]);
        let v = build_vocabulary(&candidates, &keywords, 4, (0.0, 0.0), 1, &fake_phonemes).unwrap();
        let all: Vec<&String> = v.train.iter().collect();
        assert_eq!(all.len(), 4);
        for w in [
            "know", "write", "rite", "stops", "going", "stopped", "goes", "rights",
        ] {
            assert!(
                v.excluded.iter().any(|e| e == w),
                "{w} excluded: {:?}",
                v.excluded
            );
        }
        for w in ["apple", "often", "table", "yesterday"] {
            assert!(
                v.train.iter().any(|t| t == w),
                "{w} kept as a hard negative"
            );
        }
    }

    #[test]
    fn negatives_split_by_word_and_the_choice_is_seeded() {
        let candidates: Vec<String> = (0..3000).map(|i| format!("w{i:04}")).collect();
        let keywords = kw(&["yes"]);
        let build = |seed| {
            build_vocabulary(
                &candidates,
                &keywords,
                1000,
                (0.1, 0.1),
                seed,
                &fake_phonemes,
            )
            .unwrap()
        };
        let v = build(7);
        assert_eq!(v.len(), 1000);
        assert_eq!(v, build(7));
        assert_ne!(v.train, build(8).train);
        let train: HashSet<&String> = v.train.iter().collect();
        assert!(
            v.test
                .iter()
                .chain(&v.validation)
                .all(|w| !train.contains(w))
        );
        for (list, lo, hi) in [(&v.validation, 60, 140), (&v.test, 60, 140)] {
            assert!((lo..hi).contains(&list.len()), "{}", list.len());
        }
        let err = build_vocabulary(
            &candidates[..10],
            &keywords,
            1000,
            (0.1, 0.1),
            1,
            &fake_phonemes,
        )
        .unwrap_err();
        assert!(
            matches!(err, SynthError::TooFewWords { wanted: 1000, .. }),
            "{err}"
        );
    }

    #[test]
    fn sentences_use_only_their_split_and_function_words() {
        let candidates: Vec<String> = (0..400).map(|i| format!("w{i:03}")).collect();
        let v = build_vocabulary(
            &candidates,
            &kw(&["on"]),
            200,
            (0.2, 0.2),
            3,
            &fake_phonemes,
        )
        .unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..50 {
            let s = sentence(&v, Split::Test, &mut rng);
            let words: Vec<&str> = s.split(' ').collect();
            assert!((6..=12).contains(&words.len()), "{s}");
            for w in words {
                assert!(
                    v.test.iter().any(|t| t == w) || v.function.iter().any(|f| f == w),
                    "{w} in {s}"
                );
            }
        }
    }

    #[test]
    fn the_wordlist_keeps_plain_lower_case_words() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("words");
        std::fs::write(
            &path,
            "Apple\napple\napple's\nzebra\nx\nextraordinarily\ncafé\nzebra\n",
        )
        .unwrap();
        assert_eq!(read_wordlist(&path).unwrap(), vec!["apple", "zebra"]);
        let err = read_wordlist(&tmp.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("wamerican"), "{err}");
    }
}
