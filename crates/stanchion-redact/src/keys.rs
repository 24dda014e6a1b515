//! Which key names say "the value next to me is secret".
//!
//! A key is split into lowercase words (`clientSecret`, `client-secret`, `CLIENT_SECRET` and
//! `client.secret` all become `client`, `secret`), then judged by its words:
//!
//! - secret if a word contains `password`, `passwd`, `secret`, `token`, `credential`,
//!   `privatekey`, `apikey`, `accesskey`, `secretkey`, `sessionid` or `cookie`, or is one of
//!   `pass`, `pwd`, `passphrase`, `auth`, `authorization`, `creds`, `sig`, `signature`,
//!   `session`, `jwt`, `bearer`, `otp`, `pin`, `dsn`, `code` (query parameters only);
//! - secret if the last word is `key` (`*_KEY`, `api_key`, `x-api-key`), unless the word
//!   before it names a key that is not secret (`public_key`, `cache_key`, `primary_key` ...);
//! - not secret, whatever came before, when the last word describes the secret instead of
//!   holding it: `max_tokens`, `token_count`, `token_type`, `password_file`, `key_id`,
//!   `secret_name`, `token_expires_at`, `auth_url` ...
//!
//! False positives of this list are fail-closed (a harmless value is redacted); false
//! negatives leak, so when in doubt a word is in the secret list.

/// Words that make a key secret wherever they appear inside a word.
const SECRET_SUBSTRINGS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "credential",
    "privatekey",
    "apikey",
    "accesskey",
    "secretkey",
    "sessionid",
    "cookie",
];

/// Words that make a key secret when they are a whole word.
const SECRET_WORDS: &[&str] = &[
    "pass",
    "pwd",
    "passphrase",
    "auth",
    "authorization",
    "creds",
    "sig",
    "signature",
    "session",
    "jwt",
    "bearer",
    "otp",
    "pin",
    "dsn",
];

/// Last words that describe a secret without holding it.
const DESCRIPTIVE_LAST_WORDS: &[&str] = &[
    "id",
    "ids",
    "count",
    "counts",
    "type",
    "types",
    "len",
    "length",
    "size",
    "limit",
    "limits",
    "url",
    "uri",
    "endpoint",
    "expires",
    "expiry",
    "expiration",
    "ttl",
    "at",
    "in",
    "name",
    "names",
    "path",
    "file",
    "hint",
    "tokens",
    "usage",
    "format",
    "version",
    "kind",
    "policy",
    "rotation",
    "required",
    "enabled",
    "present",
    "provided",
    "set",
    "valid",
    "status",
    "method",
    "methods",
    "scheme",
    "algorithm",
    "alg",
    "ref",
    "source",
    "env",
    "var",
    "header",
    "duration",
    "timeout",
    "error",
    "errors",
    "reset",
    "strength",
    "fingerprint",
    "prefix",
    "variable",
    "field",
    "mode",
    "region",
    "site",
    "host",
    "account",
    "user",
    "username",
    "client",
    "channel",
    "handle",
];

/// Words before a final `key` that make it an ordinary identifier.
const NON_SECRET_KEY_QUALIFIERS: &[&str] = &[
    "public",
    "pub",
    "cache",
    "sort",
    "partition",
    "primary",
    "foreign",
    "idempotency",
    "dedup",
    "dedupe",
    "routing",
    "object",
    "lookup",
    "map",
    "index",
    "group",
    "i18n",
    "translation",
    "host",
    "shard",
    "bucket",
    "cursor",
    "page",
    "hotkey",
    "hot",
    "sequence",
    "composite",
    "unique",
    "row",
    "s3",
    "label",
    "message",
    "metric",
    "query",
    "redis",
];

/// Whether a value stored under `key` must be redacted whole.
///
/// This is the name rule used for JSON members, tracing fields and `k=v` pairs in free text.
///
/// ```
/// use stanchion_redact::is_sensitive_key;
/// assert!(is_sensitive_key("password"));
/// assert!(is_sensitive_key("clientSecret"));
/// assert!(is_sensitive_key("OPENAI_API_KEY"));
/// assert!(is_sensitive_key("X-Api-Key"));
/// assert!(!is_sensitive_key("max_tokens"));
/// assert!(!is_sensitive_key("public_key"));
/// assert!(!is_sensitive_key("author"));
/// ```
pub fn is_sensitive_key(key: &str) -> bool {
    is_sensitive_key_with(key, false)
}

/// As [`is_sensitive_key`]; `query` also treats OAuth's `code` parameter as secret.
pub(crate) fn is_sensitive_key_with(key: &str, query: bool) -> bool {
    let words = split_words(key);
    let Some(last) = words.last() else {
        return false;
    };
    if words.len() > 1 && DESCRIPTIVE_LAST_WORDS.contains(&last.as_str()) {
        return false;
    }
    if last == "key" {
        let qualifier = words.len().checked_sub(2).map(|i| words[i].as_str());
        return !qualifier.is_some_and(|q| NON_SECRET_KEY_QUALIFIERS.contains(&q));
    }
    let joined = words.concat();
    words.iter().any(|word| {
        SECRET_WORDS.contains(&word.as_str())
            || (query && word == "code")
            || SECRET_SUBSTRINGS.iter().any(|s| word.contains(s)) && !word.ends_with("tokens")
    }) || (words.len() > 1 && SECRET_SUBSTRINGS.iter().any(|s| joined.contains(s)))
}

/// Lowercase words of a key: split at `_`, `-`, `.`, spaces and lower-to-upper case changes.
fn split_words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether a word of `key` names one of `providers` (`twitter`, `NEWRELIC_INSERT_KEY`,
/// `mailgunApiKey`), and its last word does not describe the value instead of holding it
/// (`twitter_url`, `datadog_site_name`).
pub(crate) fn names_provider(key: &str, providers: &[&str]) -> bool {
    let words = split_words(key);
    let Some(last) = words.last() else {
        return false;
    };
    if DESCRIPTIVE_LAST_WORDS.contains(&last.as_str()) {
        return false;
    }
    words.iter().any(|word| {
        providers
            .iter()
            .any(|p| word == p || (p.len() >= 5 && word.starts_with(p)))
    })
}

/// Whether `key` is a header whose value has its own rule (`authorization`, `cookie`,
/// `set-cookie`): in free text the header rules keep the scheme and cookie names visible, so
/// the generic key-value rule leaves these keys to them.
pub(crate) fn is_header_owned_key(key: &str) -> bool {
    split_words(key)
        .last()
        .is_some_and(|last| last == "authorization" || last == "cookie")
}

/// Whether a value under a secret key holds nothing worth hiding (`null`, `true`, `false`,
/// empty, or already redacted), so it is left as is.
pub(crate) fn is_placeholder_value(value: &str) -> bool {
    let trimmed = value.trim();
    trimmed.is_empty()
        || crate::marker::is_already_redacted(trimmed)
        || ["null", "true", "false", "none", "nil", "undefined"]
            .iter()
            .any(|p| trimmed.eq_ignore_ascii_case(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_on_case_and_separators() {
        assert_eq!(split_words("clientSecret"), ["client", "secret"]);
        assert_eq!(split_words("X-Api-Key"), ["x", "api", "key"]);
        assert_eq!(
            split_words("AWS_SECRET_ACCESS_KEY"),
            ["aws", "secret", "access", "key"]
        );
        assert_eq!(split_words("fields.password"), ["fields", "password"]);
    }

    #[test]
    fn secret_keys() {
        for key in [
            "password",
            "passwd",
            "PASSWORD",
            "db_password",
            "DATABASE_PASSWORD",
            "secret",
            "client_secret",
            "clientSecret",
            "token",
            "access_token",
            "refresh_token",
            "accessToken",
            "id_token",
            "_authToken",
            "api_key",
            "apikey",
            "apiKey",
            "APIKEY",
            "X-Api-Key",
            "PRIVATE-TOKEN",
            "private_key",
            "privateKey",
            "STRIPE_KEY",
            "auth",
            "Authorization",
            "credentials",
            "creds",
            "mysql_pwd",
            "session",
            "sessionid",
            "cookie",
            "signature",
            "X-Amz-Signature",
            "pass",
            "private_key_pem",
        ] {
            assert!(is_sensitive_key(key), "{key} should be secret");
        }
    }

    #[test]
    fn ordinary_keys() {
        for key in [
            "max_tokens",
            "prompt_tokens",
            "token_count",
            "token_type",
            "tokenType",
            "token_expires_at",
            "password_file",
            "PASSWORD_FILE",
            "key_id",
            "public_key",
            "cache_key",
            "idempotency_key",
            "author",
            "authority",
            "keyboard",
            "monkey",
            "passenger",
            "message",
            "user",
            "secret_name",
            "auth_url",
            "password_reset",
            "level",
            "target",
        ] {
            assert!(!is_sensitive_key(key), "{key} should not be secret");
        }
    }

    #[test]
    fn provider_names_are_matched_by_word() {
        let providers = ["twitter", "lob", "contribsys", "newrelic"];
        for key in [
            "twitter",
            "TWITTER_API_SECRET",
            "lob",
            "BUNDLE_ENTERPRISE__CONTRIBSYS__COM",
            "newrelicInsertKey",
        ] {
            assert!(names_provider(key, &providers), "{key}");
        }
        for key in [
            "global",
            "blob",
            "twitter_url",
            "twitter_handle",
            "newrelic_region",
        ] {
            assert!(!names_provider(key, &providers), "{key}");
        }
    }

    #[test]
    fn code_is_secret_in_queries_only() {
        assert!(is_sensitive_key_with("code", true));
        assert!(!is_sensitive_key("code"));
    }

    #[test]
    fn placeholders() {
        for value in ["", "null", "TRUE", "[REDACTED:x]", "****"] {
            assert!(is_placeholder_value(value), "{value}");
        }
        assert!(!is_placeholder_value("hunter2"));
    }
}
