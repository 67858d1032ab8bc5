//! Component configuration: the variables a manifest entry declares, their
//! values from the environment, `.env`, a secrets file or directory, or the
//! declared default (in that order), and `wasi:config/store` over them.

mod host;
mod sources;

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

pub(crate) use host::{VariablesView, add_to_linker};
pub(crate) use sources::{Sources, env_name};

/// The `wasi:config` versions Summer serves (the same interface under the
/// version strings wasmtime and Spin use).
pub(crate) const VERSIONS: [&str; 2] = ["0.2.0-rc.1", "0.2.0-draft-2024-09-27"];

/// The WIT interface the variables are read through.
pub(crate) const INTERFACE: &str = "wasi:config/store";

/// One variable as the manifest declares it:
/// `api_url = { default = "…" }`, `api_key = { required = true, secret = true }`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Declaration {
    #[serde(default)]
    pub(crate) default: Option<String>,
    #[serde(default)]
    pub(crate) required: bool,
    #[serde(default)]
    pub(crate) secret: bool,
}

/// A component's declared variables, by name, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Declared(BTreeMap<String, Declaration>);

impl Declared {
    /// Checks every name and declaration, naming the first that is wrong.
    pub(crate) fn new(declarations: BTreeMap<String, Declaration>) -> Result<Self, String> {
        for (name, declaration) in &declarations {
            check_name(name)?;
            if declaration.required && declaration.default.is_some() {
                return Err(format!(
                    "variable {name:?} is required and has a default: give it one or the other"
                ));
            }
        }
        Ok(Self(declarations))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &Declaration)> {
        self.0.iter()
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Declaration> {
        self.0.get(name)
    }
}

/// A variable name: lowercase letters, digits and underscores, starting
/// with a letter (the names Spin accepts).
fn check_name(name: &str) -> Result<(), String> {
    let valid = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "variable name {name:?} must be lowercase letters, digits and '_', starting with a letter"
        ))
    }
}

/// Where a variable's value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Environment,
    DotEnv,
    Secrets,
    Default,
    /// Optional, with no default and no value anywhere.
    Unset,
}

impl Origin {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Origin::Environment => "environment",
            Origin::DotEnv => ".env",
            Origin::Secrets => "secrets",
            Origin::Default => "default",
            Origin::Unset => "unset",
        }
    }
}

/// A value that never shows itself: not in `Debug`, not in `Display`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Hidden(String);

impl Hidden {
    pub(crate) fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hidden(..)")
    }
}

/// One resolved variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Resolution {
    pub(crate) value: Option<Hidden>,
    pub(crate) origin: Origin,
    pub(crate) secret: bool,
}

/// Every declared variable of one component, with its value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Resolved(BTreeMap<String, Resolution>);

impl Resolved {
    /// The value of `name`, when it is declared and has one.
    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.0.get(name)?.value.as_ref().map(Hidden::reveal)
    }

    /// Every variable that has a value, with it.
    pub(crate) fn values(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .filter_map(|(name, r)| Some((name.as_str(), r.value.as_ref()?.reveal())))
    }

    /// Every declared variable and where its value came from (no values).
    pub(crate) fn origins(&self) -> impl Iterator<Item = (&str, Origin, bool)> {
        self.0
            .iter()
            .map(|(name, r)| (name.as_str(), r.origin, r.secret))
    }
}

/// Why a component's variables could not be resolved. Never holds a value.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VariableError {
    #[error(
        "component {component}: variable {variable} is required and has no value: set \
         {env} in the environment or .env, or give it in the secrets (SUMMER_SECRETS)"
    )]
    Missing {
        component: String,
        variable: String,
        env: String,
    },
    #[error("reading {what} {path}: {reason}")]
    Source {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error(
        "component {component}: allowed_outbound_hosts entry {entry:?} uses variable \
         {variable:?}, which {reason}"
    )]
    Template {
        component: String,
        entry: String,
        variable: String,
        reason: &'static str,
    },
}

/// Resolves every variable `declared` for `component` from `sources`, in
/// their order, then the default.
pub(crate) fn resolve(
    component: &str,
    declared: &Declared,
    sources: &Sources,
) -> Result<Resolved, VariableError> {
    let mut resolved = BTreeMap::new();
    for (name, declaration) in declared.iter() {
        let (value, origin) = match sources.lookup(component, name) {
            Some((value, origin)) => (Some(value), origin),
            None => match &declaration.default {
                Some(default) => (Some(default.clone()), Origin::Default),
                None if declaration.required => {
                    return Err(VariableError::Missing {
                        component: component.to_owned(),
                        variable: name.clone(),
                        env: env_name(component, name),
                    });
                }
                None => (None, Origin::Unset),
            },
        };
        let resolution = Resolution {
            value: value.map(Hidden),
            origin,
            secret: declaration.secret,
        };
        resolved.insert(name.clone(), resolution);
    }
    Ok(Resolved(resolved))
}

/// Each `{{ name }}` in `template` (an `allowed_outbound_hosts` entry), in
/// order: the byte range it covers, and the name inside, trimmed.
fn placeholders(template: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = template[from..].find("{{").map(|i| from + i) {
        let Some(close) = template[open + 2..].find("}}").map(|i| open + 2 + i) else {
            break;
        };
        found.push((open..close + 2, template[open + 2..close].trim()));
        from = close + 2;
    }
    found
}

/// The variables `{{ name }}` in `template`, in order.
pub(crate) fn template_variables(template: &str) -> Vec<&str> {
    placeholders(template)
        .into_iter()
        .map(|(_, name)| name)
        .collect()
}

/// Checks that every variable an outbound template uses is declared, not
/// secret (the entry shows in errors and logs), and not left unset.
pub(crate) fn check_template(
    component: &str,
    template: &str,
    declared: &Declared,
) -> Result<(), VariableError> {
    for variable in template_variables(template) {
        let reason = match declared.get(variable) {
            None => "the component does not declare",
            Some(declaration) if declaration.secret => {
                "is secret (an outbound host shows in errors and logs)"
            }
            Some(declaration) if !declaration.required && declaration.default.is_none() => {
                "may have no value (make it required or give it a default)"
            }
            Some(_) => continue,
        };
        return Err(VariableError::Template {
            component: component.to_owned(),
            entry: template.to_owned(),
            variable: variable.to_owned(),
            reason,
        });
    }
    Ok(())
}

/// `template` with each `{{ name }}` replaced by the variable's value.
pub(crate) fn expand(template: &str, resolved: &Resolved) -> String {
    let mut expanded = String::with_capacity(template.len());
    let mut copied = 0;
    for (span, name) in placeholders(template) {
        expanded.push_str(&template[copied..span.start]);
        expanded.push_str(resolved.value(name).unwrap_or_default());
        copied = span.end;
    }
    expanded.push_str(&template[copied..]);
    expanded
}

#[cfg(test)]
mod conformance;

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(toml: &str) -> Declared {
        let raw: BTreeMap<String, Declaration> = toml::from_str(toml).unwrap();
        Declared::new(raw).unwrap()
    }

    fn sources(environment: &[(&str, &str)]) -> Sources {
        let environment = environment
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Sources::open(&environment, None, None).unwrap()
    }

    #[test]
    fn names_are_checked_and_required_excludes_a_default() {
        for bad in ["Api", "1x", "a-b", ""] {
            let raw = BTreeMap::from([(bad.to_string(), Declaration::default())]);
            assert!(Declared::new(raw).is_err(), "{bad}");
        }
        let both = BTreeMap::from([(
            "a".to_string(),
            Declaration {
                default: Some("x".into()),
                required: true,
                secret: false,
            },
        )]);
        assert!(Declared::new(both).unwrap_err().contains("required"));
    }

    #[test]
    fn the_environment_wins_over_the_default_and_required_ones_must_be_set() {
        let declared = declared(
            "api_url = { default = \"https://a\" }\napi_key = { required = true, secret = true }",
        );
        let set = sources(&[("SUMMER_VAR_MY_APP_API_KEY", "k1")]);
        let resolved = resolve("my-app", &declared, &set).unwrap();
        assert_eq!(resolved.value("api_url"), Some("https://a"));
        assert_eq!(resolved.value("api_key"), Some("k1"));
        assert_eq!(resolved.value("undeclared"), None);

        let missing = resolve("my-app", &declared, &sources(&[])).unwrap_err();
        let message = missing.to_string();
        assert!(message.contains("api_key") && message.contains("SUMMER_VAR_MY_APP_API_KEY"));
    }

    #[test]
    fn a_resolved_value_never_shows_in_debug_output() {
        let declared = declared("token = { required = true, secret = true }");
        let resolved = resolve(
            "a",
            &declared,
            &sources(&[("SUMMER_VAR_A_TOKEN", "s3cr3t")]),
        );
        let shown = format!("{resolved:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn outbound_templates_expand_declared_plain_variables_only() {
        let declared = declared(
            "api_host = { default = \"api.example.com\" }\nkey = { required = true, secret = true }\nmaybe = {}",
        );
        let resolved = resolve("a", &declared, &sources(&[("SUMMER_VAR_A_KEY", "k")])).unwrap();
        let template = "https://{{ api_host }}:8443";
        check_template("a", template, &declared).unwrap();
        assert_eq!(expand(template, &resolved), "https://api.example.com:8443");
        assert_eq!(
            expand("https://{{api_host}}", &resolved),
            "https://api.example.com"
        );
        assert_eq!(
            expand("https://{{  api_host  }}/{{api_host}}", &resolved),
            "https://api.example.com/api.example.com"
        );
        for (template, reason) in [
            ("https://{{ nope }}", "does not declare"),
            ("https://{{ key }}", "secret"),
            ("https://{{ maybe }}", "no value"),
        ] {
            let error = check_template("a", template, &declared).unwrap_err();
            assert!(error.to_string().contains(reason), "{error}");
        }
    }
}
