//! The layer rule of the crate's modules, checked against their imports.

/// The top-level modules by layer, highest first. A module may use the
/// layers below its own; the lowest imports nothing else of the crate.
const LAYERS: &[&[&str]] = &[
    &["client", "seed", "scaffold"],
    &["http"],
    &["app"],
    &["runtime"],
    &["manifest", "capabilities", "oci"],
    &["observe", "config"],
    &["net"],
];

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| panic!("module {module} has no layer: add it to LAYERS"))
}

/// Whether `from` may use `to`: a layer below, or (among the modules that
/// share a layer above the two lowest) one that does not use `from` back,
/// which `uses` checks. The modules of the two lowest layers use nothing
/// beside them.
fn allowed(from: &str, to: &str) -> bool {
    let (from_layer, to_layer) = (layer_of(from), layer_of(to));
    to_layer > from_layer || (to_layer == from_layer && to_layer < LAYERS.len() - 2)
}

/// Every `crate::name` a source file mentions, by top-level module name.
fn crate_paths(source: &str) -> Vec<&str> {
    source
        .match_indices("crate::")
        .filter(|(at, _)| {
            let before = source[..*at].chars().next_back();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
        })
        .map(|(at, _)| {
            let rest = &source[at + "crate::".len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

/// `(module, used module)` for every mention across top-level modules.
fn uses() -> Vec<(String, String)> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for entry in walk(&src) {
        let relative = entry.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap();
        let module = first.as_os_str().to_str().unwrap().trim_end_matches(".rs");
        if matches!(module, "lib" | "main" | "layers") {
            continue;
        }
        let source = std::fs::read_to_string(&entry).unwrap();
        for used in crate_paths(&source) {
            if used != module {
                found.push((module.to_owned(), used.to_owned()));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let uses = uses();
    let upward: Vec<_> = uses
        .iter()
        .filter(|(from, to)| !allowed(from, to))
        .collect();
    assert!(
        upward.is_empty(),
        "imports against the layer rule: {upward:?}"
    );
    let circles: Vec<_> = uses
        .iter()
        .filter(|(from, to)| uses.contains(&(to.clone(), from.clone())))
        .collect();
    assert!(
        circles.is_empty(),
        "modules that use each other: {circles:?}"
    );
}

#[test]
fn the_scan_sees_paths_in_uses_and_in_code() {
    let source = "use crate::http::Front;\nlet x = crate::runtime::invoke(); // $crate::no";
    assert_eq!(crate_paths(source), ["http", "runtime"]);
    assert!(!allowed("runtime", "http"));
    assert!(!allowed("observe", "config"));
    assert!(allowed("manifest", "capabilities"));
    assert!(allowed("http", "observe"));
    assert!(allowed("observe", "net"));
    assert!(!allowed("net", "observe"));
}
