//! A component's `allowed_outbound_hosts`: the destinations its outgoing
//! HTTP may reach, parsed from the manifest and matched per request.

use anyhow::{Result, bail};

/// The destinations one component may send HTTP requests to; none by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OutboundHosts {
    rules: Vec<HostRule>,
}

/// One entry of `allowed_outbound_hosts`: `scheme://host[:port]`, where the
/// scheme may be `*`, the host `*` or `*.domain`, and the port `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HostRule {
    scheme: Pattern,
    host: Pattern,
    port: PortRule,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    Any,
    Exact(String),
    /// `*.domain`: any name ending in `.domain`.
    Subdomain(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PortRule {
    Any,
    /// No port given: the scheme's own (80 or 443).
    SchemeDefault,
    Exact(u16),
}

impl OutboundHosts {
    /// Parses the manifest's list; an entry that is not `scheme://host[:port]`
    /// is an error naming it.
    pub(crate) fn parse(entries: &[String]) -> Result<Self> {
        let rules = entries
            .iter()
            .map(|entry| HostRule::parse(entry))
            .collect::<Result<_>>()?;
        Ok(Self { rules })
    }

    /// These destinations and `more`'s.
    pub(crate) fn extended(&self, more: OutboundHosts) -> Self {
        let mut rules = self.rules.clone();
        rules.extend(more.rules);
        Self { rules }
    }

    /// Whether a request to `scheme://host:port` may be sent.
    pub(crate) fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let port = port.or(match scheme {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        });
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        self.rules
            .iter()
            .any(|rule| rule.allows(scheme, &host, port))
    }
}

impl HostRule {
    fn parse(entry: &str) -> Result<Self> {
        let expected = || {
            anyhow::anyhow!(
                "allowed_outbound_hosts entry {entry:?} must look like \"https://api.example.com\", \"http://127.0.0.1:8080\" or \"https://*.example.com:*\""
            )
        };
        let (scheme, rest) = entry.split_once("://").ok_or_else(expected)?;
        let scheme = match scheme {
            "*" => Pattern::Any,
            "http" | "https" => Pattern::Exact(scheme.to_owned()),
            _ => {
                bail!("allowed_outbound_hosts entry {entry:?}: the scheme must be http, https or *")
            }
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
            return Err(expected());
        }
        let (host, port) = split_port(rest).ok_or_else(expected)?;
        let host = match host {
            "*" => Pattern::Any,
            _ if host.starts_with("*.") && host.len() > 2 => {
                Pattern::Subdomain(host[1..].to_ascii_lowercase())
            }
            _ if host.contains('*') || host.is_empty() => return Err(expected()),
            _ => Pattern::Exact(host.to_ascii_lowercase()),
        };
        Ok(Self { scheme, host, port })
    }

    /// Whether the rule covers `scheme://host:port`; `host` is lowercase.
    fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let scheme_ok = match &self.scheme {
            Pattern::Exact(s) => s == scheme,
            _ => scheme == "http" || scheme == "https",
        };
        let host_ok = match &self.host {
            Pattern::Any => true,
            Pattern::Exact(h) => h == host,
            Pattern::Subdomain(suffix) => host.ends_with(suffix.as_str()),
        };
        let port_ok = match self.port {
            PortRule::Any => true,
            PortRule::Exact(p) => port == Some(p),
            PortRule::SchemeDefault => {
                matches!((scheme, port), ("http", Some(80)) | ("https", Some(443)))
            }
        };
        scheme_ok && host_ok && port_ok
    }
}

/// `host[:port]`, with IPv6 hosts in brackets.
fn split_port(authority: &str) -> Option<(&str, PortRule)> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        None => PortRule::SchemeDefault,
        Some("*") => PortRule::Any,
        Some(p) => PortRule::Exact(p.parse().ok().filter(|p| *p != 0)?),
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> OutboundHosts {
        OutboundHosts::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        let none = OutboundHosts::default();
        assert!(!none.allows("https", "example.com", None));
        assert!(!none.allows("http", "127.0.0.1", Some(80)));
    }

    #[test]
    fn exact_entries_match_scheme_host_and_port() {
        let allowed = hosts(&["https://api.example.com", "http://127.0.0.1:8080"]);
        assert!(allowed.allows("https", "api.example.com", None));
        assert!(allowed.allows("https", "API.Example.com", Some(443)));
        assert!(!allowed.allows("http", "api.example.com", None));
        assert!(!allowed.allows("https", "api.example.com", Some(8443)));
        assert!(!allowed.allows("https", "evil.api.example.com", None));
        assert!(allowed.allows("http", "127.0.0.1", Some(8080)));
        assert!(!allowed.allows("http", "127.0.0.1", Some(8081)));
        assert!(!allowed.allows("http", "127.0.0.1", None));
    }

    #[test]
    fn wildcards_cover_subdomains_ports_and_schemes() {
        let allowed = hosts(&["https://*.example.com", "*://localhost:*"]);
        assert!(allowed.allows("https", "a.example.com", None));
        assert!(allowed.allows("https", "a.b.example.com", None));
        assert!(!allowed.allows("https", "example.com", None));
        assert!(!allowed.allows("https", "badexample.com", None));
        assert!(allowed.allows("http", "localhost", Some(1234)));
        assert!(allowed.allows("https", "localhost", None));
        assert!(hosts(&["http://[::1]:9000"]).allows("http", "[::1]", Some(9000)));
    }

    #[test]
    fn malformed_entries_are_refused_by_name() {
        for bad in [
            "example.com",
            "ftp://example.com",
            "https://",
            "https://example.com/path",
            "https://user@example.com",
            "https://ex*ample.com",
            "https://example.com:http",
            "https://example.com:0",
        ] {
            let err = OutboundHosts::parse(&[bad.to_owned()]).unwrap_err();
            assert!(err.to_string().contains(bad), "{bad}: {err}");
        }
    }
}
