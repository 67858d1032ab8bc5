//! Route patterns (`/users/{id}`, `/files/...`) and the table that maps a
//! request path to the component that serves it.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    /// `...`: the rest of the path, zero or more segments; only last.
    Rest,
}

impl Segment {
    /// Literal segments outrank parameters, which outrank `...`.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 0,
            Segment::Param(_) => 1,
            Segment::Rest => 2,
        }
    }
}

/// A route pattern from the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutePattern {
    raw: Arc<str>,
    segments: Vec<Segment>,
}

/// Why a route pattern was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid route {route:?}: {reason}")]
pub struct RouteError {
    route: String,
    reason: &'static str,
}

impl FromStr for RoutePattern {
    type Err = RouteError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let fail = |reason| RouteError {
            route: raw.to_owned(),
            reason,
        };
        let rest = raw
            .strip_prefix('/')
            .ok_or_else(|| fail("must start with '/'"))?;
        if rest.is_empty() {
            return Ok(Self {
                raw: raw.into(),
                segments: Vec::new(),
            });
        }
        let parts: Vec<&str> = rest.split('/').collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            segments.push(parse_segment(part, i + 1 == parts.len()).map_err(fail)?);
        }
        Ok(Self {
            raw: raw.into(),
            segments,
        })
    }
}

fn parse_segment(part: &str, last: bool) -> Result<Segment, &'static str> {
    if part.is_empty() {
        return Err("empty segment (double or trailing '/')");
    }
    if part == "..." {
        return if last {
            Ok(Segment::Rest)
        } else {
            Err("'...' may only be the last segment")
        };
    }
    if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        return if valid {
            Ok(Segment::Param(name.to_owned()))
        } else {
            Err("parameter names are letters, digits and '_'")
        };
    }
    if part.contains(['{', '}']) {
        return Err("a parameter must be a whole segment");
    }
    Ok(Segment::Literal(part.to_owned()))
}

impl RoutePattern {
    /// The pattern as the manifest wrote it.
    pub(crate) fn as_shared(&self) -> &Arc<str> {
        &self.raw
    }

    /// The pattern with parameter names erased: two routes with the same
    /// canonical form would match the same paths.
    pub fn canonical(&self) -> String {
        let parts: Vec<&str> = self
            .segments
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => l.as_str(),
                Segment::Param(_) => "{}",
                Segment::Rest => "...",
            })
            .collect();
        format!("/{}", parts.join("/"))
    }

    /// Whether `path` (without query) matches this pattern.
    pub fn matches(&self, path: &str) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        for (i, segment) in self.segments.iter().enumerate() {
            let part = parts.get(i);
            let fits = match segment {
                Segment::Rest => return true,
                Segment::Literal(lit) => part == Some(&lit.as_str()),
                Segment::Param(_) => part.is_some_and(|p| !p.is_empty()),
            };
            if !fits {
                return false;
            }
        }
        parts.len() == self.segments.len()
    }

    fn specificity(&self, other: &Self) -> Ordering {
        let ranks = |p: &Self| p.segments.iter().map(Segment::rank).collect::<Vec<_>>();
        ranks(self)
            .cmp(&ranks(other))
            .then(other.segments.len().cmp(&self.segments.len()))
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Maps request paths to component names, most specific pattern first.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    entries: Vec<(RoutePattern, String)>,
}

impl RouteTable {
    pub(crate) fn new(routes: impl IntoIterator<Item = (RoutePattern, String)>) -> Self {
        let mut entries: Vec<_> = routes.into_iter().collect();
        entries.sort_by(|a, b| a.0.specificity(&b.0));
        Self { entries }
    }

    /// The route matching `path`, if any, and the component it leads to.
    pub(crate) fn resolve(&self, path: &str) -> Option<(&RoutePattern, &str)> {
        self.entries
            .iter()
            .find(|(pattern, _)| pattern.matches(path))
            .map(|(pattern, component)| (pattern, component.as_str()))
    }

    /// Every route with its component, in matching order.
    pub fn iter(&self) -> impl Iterator<Item = (&RoutePattern, &str)> {
        self.entries.iter().map(|(p, c)| (p, c.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(s: &str) -> RoutePattern {
        s.parse().unwrap()
    }

    fn table(routes: &[(&str, &str)]) -> RouteTable {
        RouteTable::new(routes.iter().map(|(p, c)| (pattern(p), c.to_string())))
    }

    #[test]
    fn literal_and_param_segments_match_whole_segments() {
        let p = pattern("/users/{id}");
        assert!(p.matches("/users/42"));
        assert!(!p.matches("/users"));
        assert!(!p.matches("/users/"));
        assert!(!p.matches("/users/42/friends"));
        assert!(!p.matches("/usersx/42"));
        assert!(!p.matches("users/42"));
    }

    #[test]
    fn rest_matches_zero_or_more_segments() {
        let p = pattern("/files/...");
        assert!(p.matches("/files"));
        assert!(p.matches("/files/a"));
        assert!(p.matches("/files/a/b/c"));
        assert!(!p.matches("/filesystem"));
        assert!(pattern("/...").matches("/anything/at/all"));
    }

    #[test]
    fn root_matches_only_root() {
        let p = pattern("/");
        assert!(p.matches("/"));
        assert!(!p.matches("/x"));
    }

    #[test]
    fn most_specific_route_wins_regardless_of_order() {
        let t = table(&[
            ("/...", "fallback"),
            ("/users/{id}", "users"),
            ("/users/{id}/friends", "friends"),
            ("/users/me", "me"),
        ]);
        assert_eq!(t.resolve("/users/me").map(|(_, c)| c), Some("me"));
        assert_eq!(t.resolve("/users/7").map(|(_, c)| c), Some("users"));
        assert_eq!(
            t.resolve("/users/7/friends").map(|(_, c)| c),
            Some("friends")
        );
        assert_eq!(t.resolve("/groups").map(|(_, c)| c), Some("fallback"));
    }

    #[test]
    fn unknown_path_resolves_to_nothing() {
        let t = table(&[("/users", "users")]);
        assert_eq!(t.resolve("/nope").map(|(_, c)| c), None);
        assert_eq!(t.resolve("/users/1").map(|(_, c)| c), None);
    }

    #[test]
    fn bad_patterns_are_refused_with_a_reason() {
        for bad in ["users", "/a//b", "/a/", "/.../x", "/{}", "/{a-b}", "/x{id}"] {
            let err = bad.parse::<RoutePattern>().unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn canonical_form_erases_parameter_names() {
        assert_eq!(
            pattern("/users/{id}").canonical(),
            pattern("/users/{uid}").canonical()
        );
        assert_ne!(
            pattern("/users/{id}").canonical(),
            pattern("/users/me").canonical()
        );
    }
}
