//! The variable-source conformance suite: one set of checks, run against
//! every source (the environment, `.env`, a secrets file and a secrets
//! directory), each made to hold the same values.

use std::collections::BTreeMap;
use std::path::Path;

use super::sources::{Pairs, SecretsDirectory, VariableSource, env_name};
use super::*;

/// What every source is made to hold: (component, variable, value).
const VALUES: [(&str, &str, &str); 4] = [
    ("users", "api_url", "https://api.example.com/v1?a=b"),
    ("users", "api_key", "s3cr3t with spaces = and \"quotes\""),
    ("trip-photos", "api_key", "another"),
    ("users", "empty", ""),
];

fn as_pairs() -> BTreeMap<String, String> {
    VALUES
        .iter()
        .map(|(component, variable, value)| (env_name(component, variable), value.to_string()))
        .collect()
}

/// `KEY='value'` lines, quoted as `.env` files quote them.
fn write_dotenv(path: &Path) {
    let text: String = as_pairs()
        .iter()
        .map(|(key, value)| format!("{key}='{value}'\n"))
        .collect();
    std::fs::write(path, text).unwrap();
}

fn check_values(source: &dyn VariableSource) {
    for (component, variable, value) in VALUES {
        assert_eq!(
            source.lookup(component, variable).as_deref(),
            Some(value),
            "{component}.{variable}"
        );
    }
}

fn check_unset_and_other_components(source: &dyn VariableSource) {
    assert_eq!(source.lookup("users", "unset"), None);
    assert_eq!(
        source.lookup("groups", "api_key"),
        None,
        "another component's"
    );
    assert_eq!(
        source.lookup("trip-photos", "api_url"),
        None,
        "a variable only another component has"
    );
}

/// Every check, for the source `$open` makes.
macro_rules! source_conformance {
    ($suite:ident, $open:expr) => {
        mod $suite {
            use super::*;

            #[test]
            fn finds_every_value_as_written() {
                let (_dir, source) = $open;
                check_values(&*source);
            }

            #[test]
            fn has_nothing_for_unset_variables_or_other_components() {
                let (_dir, source) = $open;
                check_unset_and_other_components(&*source);
            }
        }
    };
}

type Opened = (tempfile::TempDir, Box<dyn VariableSource>);

fn environment() -> Opened {
    let source = Pairs::new(Origin::Environment, as_pairs());
    (tempfile::tempdir().unwrap(), Box::new(source))
}

fn dotenv() -> Opened {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    write_dotenv(&path);
    let sources = Sources::open(&BTreeMap::new(), Some(&path), None).unwrap();
    (dir, Box::new(sources))
}

fn secrets_file() -> Opened {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.env");
    write_dotenv(&path);
    let sources = Sources::open(&BTreeMap::new(), None, Some(&path)).unwrap();
    (dir, Box::new(sources))
}

fn secrets_directory() -> Opened {
    let dir = tempfile::tempdir().unwrap();
    for (component, variable, value) in VALUES {
        // As a Kubernetes secret mount writes it: the value and a newline.
        let file = dir.path().join(format!("{component}.{variable}"));
        std::fs::write(file, format!("{value}\n")).unwrap();
    }
    let source = SecretsDirectory::new(dir.path());
    (dir, Box::new(source))
}

/// `Sources` is a source too: the first of its sources that has a value.
impl VariableSource for Sources {
    fn origin(&self) -> Origin {
        Origin::Unset
    }

    fn lookup(&self, component: &str, variable: &str) -> Option<String> {
        Sources::lookup(self, component, variable).map(|(value, _)| value)
    }
}

source_conformance!(the_environment, environment());
source_conformance!(a_dotenv_file, dotenv());
source_conformance!(a_secrets_file, secrets_file());
source_conformance!(a_secrets_directory, secrets_directory());
