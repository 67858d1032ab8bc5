//! Where variable values come from: the `VariableSource` trait and its
//! sources side by side: the environment the host started with, `.env`
//! (read again at every reload), a secrets file (`KEY=value` lines, as
//! `.env`) or a secrets directory (one file per secret, as container and
//! Kubernetes secret mounts make).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Origin, VariableError};

/// The environment variable that sets a component's variable:
/// `SUMMER_VAR_<COMPONENT>_<NAME>`, uppercase, `-` as `_`.
pub(crate) fn env_name(component: &str, variable: &str) -> String {
    format!("SUMMER_VAR_{component}_{variable}")
        .to_ascii_uppercase()
        .replace('-', "_")
}

/// One place variable values may come from.
pub(crate) trait VariableSource: Send + Sync {
    fn origin(&self) -> Origin;

    /// The value of `component`'s `variable`, if this source has one.
    fn lookup(&self, component: &str, variable: &str) -> Option<String>;
}

/// `SUMMER_VAR_*` pairs: the environment, `.env` or a secrets file.
pub(crate) struct Pairs {
    origin: Origin,
    values: BTreeMap<String, String>,
}

impl Pairs {
    pub(crate) fn new(origin: Origin, values: BTreeMap<String, String>) -> Self {
        Self { origin, values }
    }

    /// The pairs of a `KEY=value` file (`.env` syntax).
    fn read(origin: Origin, what: &'static str, path: &Path) -> Result<Self, VariableError> {
        let failed = |reason: String| VariableError::Source {
            what,
            path: path.display().to_string(),
            reason,
        };
        let lines = dotenvy::from_path_iter(path).map_err(|e| failed(e.to_string()))?;
        let mut values = BTreeMap::new();
        for line in lines {
            // The error names the line, never the value.
            let (key, value) = line.map_err(|e| failed(format!("{e}")))?;
            values.insert(key, value);
        }
        Ok(Self::new(origin, values))
    }
}

impl VariableSource for Pairs {
    fn origin(&self) -> Origin {
        self.origin
    }

    fn lookup(&self, component: &str, variable: &str) -> Option<String> {
        self.values.get(&env_name(component, variable)).cloned()
    }
}

/// A directory with one file per secret, named `<component>.<variable>`;
/// the file's text is the value, without a final newline.
pub(crate) struct SecretsDirectory {
    path: PathBuf,
}

impl SecretsDirectory {
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
        }
    }
}

impl VariableSource for SecretsDirectory {
    fn origin(&self) -> Origin {
        Origin::Secrets
    }

    fn lookup(&self, component: &str, variable: &str) -> Option<String> {
        let file = self.path.join(format!("{component}.{variable}"));
        let text = std::fs::read_to_string(file).ok()?;
        let value = text.strip_suffix('\n').unwrap_or(&text);
        Some(value.strip_suffix('\r').unwrap_or(value).to_owned())
    }
}

/// The sources of one resolution, in the order they are asked.
pub(crate) struct Sources(Vec<Box<dyn VariableSource>>);

impl Sources {
    /// The `environment` the host started with, then the `.env` file and
    /// the secrets file or directory as they are now.
    pub(crate) fn open(
        environment: &BTreeMap<String, String>,
        dotenv: Option<&Path>,
        secrets: Option<&Path>,
    ) -> Result<Self, VariableError> {
        let mut sources: Vec<Box<dyn VariableSource>> = vec![Box::new(Pairs::new(
            Origin::Environment,
            environment.clone(),
        ))];
        if let Some(path) = dotenv.filter(|path| path.is_file()) {
            sources.push(Box::new(Pairs::read(Origin::DotEnv, ".env", path)?));
        }
        if let Some(path) = secrets {
            sources.push(open_secrets(path)?);
        }
        Ok(Self(sources))
    }

    /// The first value any source has, and where it came from.
    pub(crate) fn lookup(&self, component: &str, variable: &str) -> Option<(String, Origin)> {
        self.0.iter().find_map(|source| {
            let value = source.lookup(component, variable)?;
            Some((value, source.origin()))
        })
    }
}

/// The secrets at `path`: a directory of files, or one `KEY=value` file.
fn open_secrets(path: &Path) -> Result<Box<dyn VariableSource>, VariableError> {
    if path.is_dir() {
        return Ok(Box::new(SecretsDirectory::new(path)));
    }
    if !path.is_file() {
        return Err(VariableError::Source {
            what: "the secrets (SUMMER_SECRETS)",
            path: path.display().to_string(),
            reason: "no such file or directory".into(),
        });
    }
    let secrets = Pairs::read(Origin::Secrets, "the secrets file (SUMMER_SECRETS)", path)?;
    Ok(Box::new(secrets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_uppercase_with_underscores() {
        assert_eq!(
            env_name("trip-photos", "api_key"),
            "SUMMER_VAR_TRIP_PHOTOS_API_KEY"
        );
    }

    #[test]
    fn sources_are_asked_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let dotenv = dir.path().join(".env");
        std::fs::write(
            &dotenv,
            "SUMMER_VAR_A_X=from-dotenv\nSUMMER_VAR_A_Y=from-dotenv\n",
        )
        .unwrap();
        let secrets = dir.path().join("secrets");
        std::fs::create_dir(&secrets).unwrap();
        for name in ["a.x", "a.y", "a.z"] {
            std::fs::write(secrets.join(name), "from-secrets\n").unwrap();
        }
        let environment = BTreeMap::from([("SUMMER_VAR_A_X".into(), "from-env".into())]);
        let sources = Sources::open(&environment, Some(&dotenv), Some(&secrets)).unwrap();
        let value = |name| sources.lookup("a", name).map(|(value, _)| value);
        assert_eq!(value("x").as_deref(), Some("from-env"));
        assert_eq!(value("y").as_deref(), Some("from-dotenv"));
        assert_eq!(value("z").as_deref(), Some("from-secrets"));
        assert_eq!(value("w"), None);
    }

    #[test]
    fn a_missing_secrets_path_is_an_error_naming_it() {
        let error = Sources::open(&BTreeMap::new(), None, Some(Path::new("/nonexistent/s")));
        let message = error.err().unwrap().to_string();
        assert!(message.contains("/nonexistent/s"), "{message}");
    }
}
