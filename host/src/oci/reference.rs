//! References to components in OCI registries:
//! `oci://REGISTRY/REPOSITORY[:TAG][@sha256:HEX]`.

use std::fmt;

use super::OciError;

/// A component in a registry, by tag, by digest, or both (the digest wins).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Reference {
    /// `host[:port]`.
    pub(crate) registry: String,
    pub(crate) repository: String,
    pub(crate) tag: Option<String>,
    /// `sha256:` and 64 hex digits: the manifest's digest.
    pub(crate) digest: Option<String>,
}

/// The scheme of a registry reference in a manifest's `source`.
pub(crate) const SCHEME: &str = "oci://";

impl Reference {
    /// Parses `oci://REGISTRY/REPOSITORY[:TAG][@sha256:HEX]` (the scheme may
    /// be left out). A reference needs a tag or a digest.
    pub(crate) fn parse(text: &str) -> Result<Self, OciError> {
        let invalid = |why: &str| OciError::InvalidReference {
            reference: text.to_owned(),
            why: why.to_owned(),
        };
        let rest = text.strip_prefix(SCHEME).unwrap_or(text);
        let (rest, digest) = match rest.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (rest, None),
        };
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| invalid("it names no repository (REGISTRY/REPOSITORY:TAG)"))?;
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => (repository, Some(tag)),
            _ => (path, None),
        };
        if !valid_registry(registry) {
            return Err(invalid(
                "the registry must be a host name or address, with an optional port",
            ));
        }
        if !valid_repository(repository) {
            return Err(invalid(
                "the repository must be lowercase letters, digits and . _ - between slashes",
            ));
        }
        if let Some(tag) = tag
            && !valid_tag(tag)
        {
            return Err(invalid(
                "a tag is up to 128 letters, digits, . _ -, not starting with . or -",
            ));
        }
        if let Some(digest) = digest
            && !valid_digest(digest)
        {
            return Err(invalid("a digest is sha256: and 64 lowercase hex digits"));
        }
        if tag.is_none() && digest.is_none() {
            return Err(invalid("it needs a tag (:TAG) or a digest (@sha256:...)"));
        }
        Ok(Self {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        })
    }

    /// The tag or digest the registry is asked for (the digest when pinned).
    pub(crate) fn target(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .expect("a parsed reference has a tag or a digest")
    }

    /// The registry's base URL: plain HTTP for loopback registries and the
    /// hosts in `SUMMER_REGISTRY_INSECURE` (comma-separated), HTTPS for
    /// every other.
    pub(crate) fn base_url(&self) -> String {
        let host = self
            .registry
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(self.registry.as_str(), |(host, _)| host);
        let loopback = host == "localhost" || host.starts_with("127.") || host == "[::1]";
        let insecure = std::env::var("SUMMER_REGISTRY_INSECURE").is_ok_and(|list| {
            list.split(',')
                .any(|entry| entry.trim() == self.registry || entry.trim() == host)
        });
        let scheme = if loopback || insecure {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}", self.registry)
    }

    /// The same reference pinned to `digest`.
    pub(crate) fn pinned(&self, digest: &str) -> Self {
        Self {
            digest: Some(digest.to_owned()),
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn valid_registry(registry: &str) -> bool {
    !registry.is_empty()
        && registry
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

fn valid_repository(repository: &str) -> bool {
    let separator = |c: char| matches!(c, '.' | '_' | '-');
    !repository.is_empty()
        && repository.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || separator(c))
                && !part.starts_with(separator)
                && !part.ends_with(separator)
        })
}

fn valid_tag(tag: &str) -> bool {
    (1..=128).contains(&tag.len())
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// `sha256:` and 64 lowercase hex digits.
pub(crate) fn valid_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";

    #[test]
    fn tags_digests_and_both_parse_and_print_back() {
        for text in [
            "oci://127.0.0.1:5000/trip/users:1.2.0".to_owned(),
            format!("oci://ghcr.io/summer-trip/users@{DIGEST}"),
            format!("oci://registry.example.com/a/b/c:v1@{DIGEST}"),
        ] {
            let reference = Reference::parse(&text).unwrap();
            assert_eq!(reference.to_string(), text);
        }
        let pinned = Reference::parse(&format!("localhost:5000/users:latest@{DIGEST}")).unwrap();
        assert_eq!(pinned.registry, "localhost:5000");
        assert_eq!(pinned.repository, "users");
        assert_eq!(pinned.tag.as_deref(), Some("latest"));
        assert_eq!(pinned.target(), DIGEST);
    }

    #[test]
    fn malformed_references_say_what_is_wrong() {
        for (text, why) in [
            ("oci://users:1", "names no repository"),
            ("oci://127.0.0.1:5000/Users:1", "lowercase"),
            ("oci://127.0.0.1:5000/users", "needs a tag"),
            ("oci://127.0.0.1:5000/users:-x", "a tag is"),
            ("oci://127.0.0.1:5000/users@sha256:abc", "a digest is"),
            ("oci://bad host/users:1", "registry must be"),
            ("oci://127.0.0.1:5000//users:1", "repository must be"),
        ] {
            let error = Reference::parse(text).unwrap_err().to_string();
            assert!(
                error.contains(why) && error.contains(text),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn loopback_registries_speak_plain_http() {
        let url = |text: &str| Reference::parse(text).unwrap().base_url();
        assert_eq!(url("127.0.0.1:5000/a:1"), "http://127.0.0.1:5000");
        assert_eq!(url("localhost/a:1"), "http://localhost");
        assert_eq!(url("ghcr.io/a:1"), "https://ghcr.io");
    }
}
