//! What requests see: the loaded components and the routes to them, as one
//! snapshot that swaps replace atomically. A request keeps the snapshot (and
//! so the component version) it started with until it finishes.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;

use super::loader::LoadedComponent;
use crate::manifest::RouteTable;

/// What a routing serves: a named version that can be told it no longer
/// takes new requests.
pub(crate) trait Served {
    fn name(&self) -> &str;
    /// Called once the version no longer serves new requests.
    fn retire(&self);
}

impl Served for LoadedComponent {
    fn name(&self) -> &str {
        &self.name
    }

    /// Drops the waiting instances (requests being served finish on their
    /// own instances).
    fn retire(&self) {
        if let Some(reuse) = &self.reuse {
            reuse.retire();
        }
    }
}

/// One consistent view of the components, their routes and the API document.
pub(crate) struct Routing<C = LoadedComponent> {
    components: HashMap<String, Arc<C>>,
    routes: RouteTable,
    openapi: Option<Bytes>,
}

impl<C> Clone for Routing<C> {
    fn clone(&self) -> Self {
        Self {
            components: self.components.clone(),
            routes: self.routes.clone(),
            openapi: self.openapi.clone(),
        }
    }
}

impl<C: Served> Routing<C> {
    pub(crate) fn new(
        components: impl IntoIterator<Item = Arc<C>>,
        routes: RouteTable,
        openapi: Option<Bytes>,
    ) -> Self {
        let components = components
            .into_iter()
            .map(|c| (c.name().to_string(), c))
            .collect();
        Self {
            components,
            routes,
            openapi,
        }
    }

    /// The route matching `path` and the component serving it, if any.
    pub(crate) fn resolve(&self, path: &str) -> Option<(Arc<str>, Arc<C>)> {
        let (route, name) = self.routes.resolve(path)?;
        Some((route.as_shared().clone(), self.get(name)?))
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<C>> {
        self.components.get(name).cloned()
    }

    /// Every loaded component, by name.
    pub(crate) fn all(&self) -> Vec<Arc<C>> {
        let mut all: Vec<_> = self.components.values().cloned().collect();
        all.sort_by(|a, b| a.name().cmp(b.name()));
        all
    }

    /// The route patterns that lead to component `name`.
    pub(crate) fn routes_of(&self, name: &str) -> Vec<String> {
        self.routes
            .iter()
            .filter(|(_, component)| *component == name)
            .map(|(route, _)| route.to_string())
            .collect()
    }

    /// The API's OpenAPI document, when the manifest names one.
    pub(crate) fn openapi(&self) -> Option<&Bytes> {
        self.openapi.as_ref()
    }

    /// This routing with `component` in place of its namesake.
    fn with(&self, component: Arc<C>) -> Self {
        let mut next = self.clone();
        next.components
            .insert(component.name().to_string(), component);
        next
    }

    /// Whether `component` is the version this routing serves by its name.
    fn serves(&self, component: &Arc<C>) -> bool {
        self.components
            .get(component.name())
            .is_some_and(|current| Arc::ptr_eq(current, component))
    }
}

/// The current routing, replaced atomically.
pub(crate) struct Registry<C = LoadedComponent> {
    current: ArcSwap<Routing<C>>,
}

impl<C: Served> Registry<C> {
    pub(crate) fn new(routing: Routing<C>) -> Self {
        Self {
            current: ArcSwap::from_pointee(routing),
        }
    }

    /// The routing new requests use.
    pub(crate) fn current(&self) -> Arc<Routing<C>> {
        self.current.load_full()
    }

    /// Makes `routing` the one new requests use, and retires every version
    /// it no longer serves.
    pub(crate) fn replace(&self, routing: Routing<C>) {
        let next = Arc::new(routing);
        let previous = self.current.swap(next.clone());
        for old in previous.components.values() {
            if !next.serves(old) {
                old.retire();
            }
        }
    }

    /// Puts `component` in place of its namesake for new requests; retires
    /// and returns the one it replaced. Concurrent switches of one name each
    /// get back the version they displaced, so every version is retired once.
    pub(crate) fn switch(&self, component: Arc<C>) -> Option<Arc<C>> {
        let previous = self.current.rcu(|routing| routing.with(component.clone()));
        let displaced = previous.get(component.name())?;
        if !Arc::ptr_eq(&displaced, &component) {
            displaced.retire();
        }
        Some(displaced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A served version that counts how often it was retired.
    struct Version {
        name: &'static str,
        number: u32,
        retired: AtomicUsize,
    }

    impl Served for Version {
        fn name(&self) -> &str {
            self.name
        }
        fn retire(&self) {
            self.retired.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn version(name: &'static str, number: u32) -> Arc<Version> {
        Arc::new(Version {
            name,
            number,
            retired: AtomicUsize::new(0),
        })
    }

    fn retired(version: &Version) -> usize {
        version.retired.load(Ordering::SeqCst)
    }

    fn routes() -> RouteTable {
        RouteTable::new([
            ("/users".parse().unwrap(), "users".to_string()),
            ("/messages".parse().unwrap(), "messages".to_string()),
        ])
    }

    fn registry(versions: impl IntoIterator<Item = Arc<Version>>) -> Registry<Version> {
        Registry::new(Routing::new(versions, routes(), None))
    }

    #[test]
    fn routes_resolve_to_the_component_serving_them() {
        let users = version("users", 1);
        let registry = registry([users.clone(), version("messages", 1)]);
        let (route, served) = registry.current().resolve("/users").unwrap();
        assert_eq!(&*route, "/users");
        assert!(Arc::ptr_eq(&served, &users));
        assert!(registry.current().resolve("/nowhere").is_none());
        assert_eq!(registry.current().routes_of("messages"), ["/messages"]);
    }

    #[test]
    fn switch_serves_the_new_version_and_retires_the_old_one_only() {
        let (old, other) = (version("users", 1), version("messages", 1));
        let registry = registry([old.clone(), other.clone()]);
        let new = version("users", 2);

        let displaced = registry.switch(new.clone()).unwrap();

        assert!(Arc::ptr_eq(&displaced, &old));
        assert_eq!(registry.current().get("users").unwrap().number, 2);
        assert_eq!((retired(&old), retired(&new), retired(&other)), (1, 0, 0));
    }

    #[test]
    fn a_request_keeps_the_routing_it_started_with() {
        let registry = registry([version("users", 1)]);
        let in_flight = registry.current();
        registry.switch(version("users", 2));
        assert_eq!(in_flight.get("users").unwrap().number, 1);
        assert_eq!(registry.current().get("users").unwrap().number, 2);
    }

    #[test]
    fn switching_in_a_name_the_routing_lacks_retires_nothing() {
        let users = version("users", 1);
        let registry = registry([users.clone()]);
        assert!(registry.switch(version("files", 1)).is_none());
        assert!(registry.current().get("files").is_some());
        assert_eq!(retired(&users), 0);
    }

    #[test]
    fn switching_to_the_serving_version_does_not_retire_it() {
        let users = version("users", 1);
        let registry = registry([users.clone()]);
        registry.switch(users.clone());
        assert_eq!(retired(&users), 0);
    }

    #[test]
    fn replace_retires_exactly_the_versions_it_drops() {
        let (kept, swapped, dropped) = (
            version("users", 1),
            version("messages", 1),
            version("files", 1),
        );
        let registry = registry([kept.clone(), swapped.clone(), dropped.clone()]);
        let newer = version("messages", 2);

        registry.replace(Routing::new([kept.clone(), newer.clone()], routes(), None));

        assert_eq!(
            (
                retired(&kept),
                retired(&swapped),
                retired(&dropped),
                retired(&newer)
            ),
            (0, 1, 1, 0)
        );
        let names: Vec<_> = registry.current().all().iter().map(|c| c.name).collect();
        assert_eq!(names, ["messages", "users"]);
    }

    #[test]
    fn concurrent_switches_retire_every_displaced_version_once() {
        let first = version("users", 0);
        let registry = Arc::new(registry([first.clone()]));
        let versions: Vec<_> = (1..=2000).map(|n| version("users", n)).collect();

        std::thread::scope(|scope| {
            for chunk in versions.chunks(500) {
                let registry = registry.clone();
                scope.spawn(move || {
                    for version in chunk {
                        registry.switch(version.clone());
                    }
                });
            }
        });

        let serving = registry.current().get("users").unwrap();
        for version in versions.iter().chain([&first]) {
            let expected = usize::from(!Arc::ptr_eq(version, &serving));
            assert_eq!(retired(version), expected, "version {}", version.number);
        }
    }
}
