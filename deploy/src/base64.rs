//! Standard base64 (RFC 4648, `+/` alphabet) for `known_hosts` key fields, OpenSSH private
//! key bodies and `SHA256:` fingerprints, on the `base64` crate with the two call shapes the
//! deploy code needs.

use base64::Engine as _;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Decodes with or without `=` padding (known_hosts pads, fingerprints do not).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encode `bytes`; `pad` adds `=` to a multiple of four (OpenSSH fingerprints omit it).
pub fn encode(bytes: &[u8], pad: bool) -> String {
    if pad {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    } else {
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
    }
}

/// Decode standard base64, padded or not; `None` on any character outside the alphabet or an
/// impossible length.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    LENIENT.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, enc) in cases {
            assert_eq!(encode(plain.as_bytes(), true), enc);
            assert_eq!(encode(plain.as_bytes(), false), enc.trim_end_matches('='));
            assert_eq!(decode(enc).unwrap(), plain.as_bytes());
            assert_eq!(decode(enc.trim_end_matches('=')).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn round_trip_all_byte_values() {
        let bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for n in 0..bytes.len() {
            assert_eq!(decode(&encode(&bytes[..n], true)).unwrap(), &bytes[..n]);
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode("ab$d").is_none());
        assert!(decode("abcde").is_none());
    }
}
