//! `summer new`: a component crate from a template (Cargo.toml for both
//! `cargo component build` and `tooling/build-components`, the WIT world it
//! targets, a handler with one route written with the guest SDK) and its
//! entry in the manifest.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};

/// What `summer new` was asked for.
#[derive(Debug, clap::Args)]
pub struct NewComponent {
    /// The component's name: lowercase letters, digits and dashes, starting
    /// with a letter. It names the crate, the `.wasm` and the route.
    pub name: String,
    /// Where the crate goes (default: `components/NAME`).
    #[arg(long)]
    pub(crate) path: Option<PathBuf>,
    /// The guest SDK crate the component depends on.
    #[arg(long, default_value = "components/sdk")]
    pub(crate) sdk: PathBuf,
    /// The manifest that gets the component's entry (created when missing).
    #[arg(long, env = "SUMMER_MANIFEST", default_value = "summer.toml")]
    pub manifest: PathBuf,
    /// Where the built `.wasm` is, as the manifest entry names it (default:
    /// `target/components/NAME.wasm`, where `tooling/build-components`
    /// puts it).
    #[arg(long)]
    pub(crate) source: Option<PathBuf>,
}

/// What `summer new` wrote.
#[derive(Debug)]
pub struct Scaffolded {
    pub crate_dir: PathBuf,
    pub route: String,
    /// The `.wasm` the manifest entry names.
    pub source: PathBuf,
}

impl NewComponent {
    /// Writes the crate and the manifest entry; refuses to overwrite either.
    pub fn create(&self) -> Result<Scaffolded> {
        check_name(&self.name)?;
        let crate_dir = self
            .path
            .clone()
            .unwrap_or_else(|| Path::new("components").join(&self.name));
        if crate_dir.exists() {
            bail!(
                "{} already exists: pick another name or --path",
                crate_dir.display()
            );
        }
        let sdk = std::path::absolute(&self.sdk)?;
        if !sdk.join("Cargo.toml").is_file() {
            bail!(
                "no guest SDK at {} (no Cargo.toml): run this from the Summer repository or pass --sdk",
                self.sdk.display()
            );
        }
        let manifest = self.manifest_text()?;
        let crate_abs = std::path::absolute(&crate_dir)?;
        let platform_wit = relative_or_absolute(&crate_abs, &sdk.join("../../wit"));
        let files = [
            (
                "Cargo.toml",
                self.cargo_toml(&relative_or_absolute(&crate_abs, &sdk), &platform_wit),
            ),
            ("wit/world.wit", self.world()),
            // cargo-component writes src/bindings.rs, which the SDK makes unneeded.
            (".gitignore", "/target\n/src/bindings.rs\n".to_owned()),
            ("src/lib.rs", self.handler()),
        ];
        for (file, text) in files {
            let path = crate_dir.join(file);
            std::fs::create_dir_all(path.parent().context("a file in the crate")?)?;
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        std::fs::write(&self.manifest, manifest + &self.manifest_entry(&crate_abs)?)
            .with_context(|| format!("writing {}", self.manifest.display()))?;
        Ok(Scaffolded {
            crate_dir,
            route: format!("/{}", self.name),
            source: self.source(),
        })
    }

    /// The manifest as it is, checked not to have a component of this name.
    fn manifest_text(&self) -> Result<String> {
        let text = match std::fs::read_to_string(&self.manifest) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(e).with_context(|| format!("reading {}", self.manifest.display()));
            }
        };
        let taken = format!("name = \"{}\"", self.name);
        if text.lines().any(|line| line.trim() == taken) {
            bail!(
                "{} already has a component named {:?}",
                self.manifest.display(),
                self.name
            );
        }
        Ok(if text.is_empty() || text.ends_with('\n') {
            text
        } else {
            text + "\n"
        })
    }

    /// The `.wasm` the manifest entry names.
    fn source(&self) -> PathBuf {
        self.source
            .clone()
            .unwrap_or_else(|| Path::new("target/components").join(format!("{}.wasm", self.name)))
    }

    fn manifest_entry(&self, crate_dir: &Path) -> Result<String> {
        let manifest_dir = std::path::absolute(&self.manifest)?
            .parent()
            .context("the manifest's folder")?
            .to_owned();
        let source = self.source().display().to_string();
        Ok(format!(
            "\n# Made by `summer new {name}`; its crate is {crate_dir}.\n\
             [[component]]\nname = \"{name}\"\nsource = \"{source}\"\n\
             routes = [\"/{name}\", \"/{name}/{{name}}\"]\n\
             # grants = [\"sql\", \"cache\"]   # the capabilities it may import\n",
            name = self.name,
            crate_dir = relative_or_absolute(&manifest_dir, crate_dir),
        ))
    }

    fn cargo_toml(&self, sdk: &str, platform_wit: &str) -> String {
        format!(
            r#"[package]
name = "{name}"
description = "The {name} component of a Summer application"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
summer-sdk = {{ path = "{sdk}" }}
serde = {{ version = "1", features = ["derive"] }}

# `cargo component build --release` builds this crate as a wasi:http
# handler (the proxy adapter) targeting the world in wit/; the guest SDK
# brings the bindings, so the generated src/bindings.rs is not used.
[package.metadata.component]
package = "summer:{name}"
proxy = true

[package.metadata.component.target]
path = "wit"
world = "{name}"

[package.metadata.component.target.dependencies]
"summer:platform" = {{ path = "{platform_wit}" }}
{wasi}"#,
            name = self.name,
            wasi = wasi_dependencies(platform_wit),
        )
    }

    fn world(&self) -> String {
        format!(
            r#"// The world the {name} component targets: a wasi:http handler that may
// import Summer's capabilities (each one only where the manifest grants it;
// their interfaces are Summer's wit/ folder, named in Cargo.toml).
package summer:{name};

world {name} {{
    include summer:platform/handler@0.1.0;
}}
"#,
            name = self.name
        )
    }

    fn handler(&self) -> String {
        include_str!("../templates/component/lib.rs").replace("{{name}}", &self.name)
    }
}

/// The WASI packages Summer's worlds include, for cargo-component: one
/// line per package, naming its folder in `wit/deps`.
fn wasi_dependencies(platform_wit: &str) -> String {
    WASI_PACKAGES
        .iter()
        .map(|(package, folder)| {
            format!("\"wasi:{package}\" = {{ path = \"{platform_wit}/deps/{folder}\" }}\n")
        })
        .collect()
}

/// The packages of `wit/deps` that Summer's worlds use, and their folders.
const WASI_PACKAGES: [(&str, &str); 8] = [
    ("cli", "cli"),
    ("clocks", "clocks"),
    ("config", "config-0.2.0-rc.1"),
    ("filesystem", "filesystem"),
    ("http", "http"),
    ("io", "io"),
    ("random", "random"),
    ("sockets", "sockets"),
];

/// The other folders of `wit/deps`: standard packages Summer serves to
/// components built for other hosts, which its own worlds do not use.
#[cfg(test)]
const SERVED_ONLY: [&str; 5] = [
    "blobstore-0.2.0-draft",
    "config-0.2.0-draft-2024-09-27",
    "io-0.2.1",
    "keyvalue-0.2.0-draft",
    "keyvalue-0.2.0-draft2",
];

/// A name usable as a crate, a file and a route segment.
fn check_name(name: &str) -> Result<()> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if !valid {
        bail!(
            "{name:?} is not a component name: use lowercase letters, digits and dashes, starting with a letter (e.g. trip-photos)"
        );
    }
    Ok(())
}

/// `to` as a path relative to the folder `from` (both absolute, with a
/// common root).
fn relative(from: &Path, to: &Path) -> Result<String> {
    let (from, to) = (normalize(from), normalize(to));
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    if common == 0 {
        bail!("no common root");
    }
    let mut path = PathBuf::new();
    for _ in common..from.len() {
        path.push("..");
    }
    for part in &to[common..] {
        path.push(part);
    }
    Ok(path.display().to_string())
}

fn relative_or_absolute(from: &Path, to: &Path) -> String {
    let (from, to) = (normalize(from), normalize(to));
    // Paths that share no folder but the root read better whole.
    if from.components().nth(1) != to.components().nth(1) {
        return to.display().to_string();
    }
    relative(&from, &to).unwrap_or_else(|_| to.display().to_string())
}

/// `path` without `.` and with each `..` applied.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["greeter", "trip-photos", "v2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Greeter", "2fast", "a_b", "a b", "a-", "../x"] {
            let error = check_name(bad).unwrap_err().to_string();
            assert!(error.contains("lowercase letters"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_wasi_packages_are_those_of_the_wit_folder() {
        let deps = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/deps");
        let mut found: Vec<String> = std::fs::read_dir(deps)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        let mut expected: Vec<&str> = WASI_PACKAGES.iter().map(|(_, folder)| *folder).collect();
        expected.extend(SERVED_ONLY);
        expected.sort();
        assert_eq!(found, expected);
    }

    #[test]
    fn relative_paths_climb_and_descend() {
        let rel = |a: &str, b: &str| relative(Path::new(a), Path::new(b)).unwrap();
        assert_eq!(rel("/r/components/x", "/r/components/sdk"), "../sdk");
        assert_eq!(
            relative_or_absolute(
                Path::new("/tmp/x"),
                Path::new("/r/components/sdk/../../wit")
            ),
            "/r/wit"
        );
        assert_eq!(
            rel("/tmp/app/x", "/r/components/sdk"),
            "../../../r/components/sdk"
        );
        assert_eq!(
            rel("/r/components/x/wit", "/r/components/sdk/../../wit"),
            "../../../wit"
        );
    }

    #[test]
    fn a_component_is_written_once_with_its_manifest_entry() {
        let dir = tempfile::tempdir().unwrap();
        let sdk = dir.path().join("sdk");
        std::fs::create_dir_all(&sdk).unwrap();
        std::fs::write(sdk.join("Cargo.toml"), "").unwrap();
        let manifest = dir.path().join("summer.toml");
        std::fs::write(
            &manifest,
            "[[component]]\nname = \"hello\"\nsource = \"h.wasm\"\nroutes = [\"/hello\"]",
        )
        .unwrap();
        let new = NewComponent {
            name: "greeter".into(),
            path: Some(dir.path().join("greeter")),
            sdk,
            manifest: manifest.clone(),
            source: None,
        };
        let made = new.create().unwrap();
        assert_eq!(made.route, "/greeter");
        let cargo = std::fs::read_to_string(made.crate_dir.join("Cargo.toml")).unwrap();
        assert!(
            cargo.contains("summer-sdk = { path = \"../sdk\" }"),
            "{cargo}"
        );
        let cargo: toml::Table = cargo.parse().unwrap();
        let wit_packages = &cargo["package"]["metadata"]["component"]["target"]["dependencies"];
        for package in ["summer:platform", "wasi:http", "wasi:cli"] {
            assert!(wit_packages.get(package).is_some(), "{package}: {cargo}");
        }
        let handler = std::fs::read_to_string(made.crate_dir.join("src/lib.rs")).unwrap();
        assert!(handler.contains(".get(\"/greeter\", greet)"), "{handler}");
        let parsed = crate::manifest::Manifest::load(&manifest).unwrap();
        let names: Vec<&str> = parsed.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["hello", "greeter"]);

        let again = new.create().unwrap_err().to_string();
        assert!(again.contains("already exists"), "{again}");
        let taken = NewComponent {
            path: Some(dir.path().join("other")),
            ..new
        };
        let error = taken.create().unwrap_err().to_string();
        assert!(error.contains("already has a component named"), "{error}");
    }
}
