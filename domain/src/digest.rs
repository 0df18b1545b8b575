//! Hashes that events carry in place of secrets and files: a document's SHA-256, a portal link token's
//! SHA-256, and a portal password's argon2id hash. Each is validated on the way in (commands) and on the
//! way out of the log (deserialisation), so a plaintext secret can never be stored by mistake.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("`{0}` is not a SHA-256 digest (64 hexadecimal characters)")]
    NotSha256(String),
    #[error(
        "the portal password must be given as an argon2id hash (a PHC string starting with `$argon2id$`), never in plain text"
    )]
    NotArgon2id,
}

fn sha256_hex(value: &str) -> Result<String, DigestError> {
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        // Do not echo what might be a secret token given by mistake; show its length only.
        Err(DigestError::NotSha256(if value.len() > 80 {
            format!("{} characters", value.len())
        } else {
            value.to_owned()
        }))
    }
}

/// A SHA-256 digest of a file's content, as lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Hex(String);

impl Sha256Hex {
    pub fn parse(value: &str) -> Result<Self, DigestError> {
        sha256_hex(value).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The SHA-256 (lowercase hex) of a portal link's random token. The token itself is only ever in the
/// link sent to the contact; Lodge stores and compares this hash.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenHash(String);

impl TokenHash {
    pub fn parse(value: &str) -> Result<Self, DigestError> {
        sha256_hex(value).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Short, so that debug output stays readable; a hash is not a secret, but there is no need to print it.
        write!(f, "TokenHash({}…)", &self.0[..8])
    }
}

/// An argon2id password hash in PHC string form, computed outside the domain.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn parse(value: &str) -> Result<Self, DigestError> {
        if value.starts_with("$argon2id$") && value.len() <= 512 && value.is_ascii() {
            Ok(Self(value.to_owned()))
        } else {
            Err(DigestError::NotArgon2id)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(…)")
    }
}

macro_rules! string_conversions {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = DigestError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

string_conversions!(Sha256Hex, TokenHash, PasswordHash);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_normalised_to_lowercase() {
        let upper = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        assert_eq!(Sha256Hex::parse(upper).unwrap().as_str(), upper.to_ascii_lowercase());
    }

    #[test]
    fn sha256_rejects_wrong_length_and_letters() {
        assert!(Sha256Hex::parse("abc").is_err());
        assert!(Sha256Hex::parse(&"g".repeat(64)).is_err());
    }

    #[test]
    fn password_hash_refuses_plain_text() {
        assert_eq!(PasswordHash::parse("hunter2"), Err(DigestError::NotArgon2id));
        assert!(PasswordHash::parse("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").is_ok());
    }

    #[test]
    fn deserialising_validates_too() {
        assert!(serde_json::from_str::<TokenHash>("\"not a hash\"").is_err());
        assert!(serde_json::from_str::<PasswordHash>("\"hunter2\"").is_err());
    }
}
