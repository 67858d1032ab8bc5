//! What requests see: the loaded components and the routes to them, as one
//! snapshot that swaps replace atomically. A request keeps the snapshot (and
//! so the component version) it started with until it finishes.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;

use super::loader::LoadedComponent;
use crate::manifest::RouteTable;

/// One consistent view of the components, their routes and the API document.
#[derive(Clone, Default)]
pub struct Routing {
    components: HashMap<String, Arc<LoadedComponent>>,
    routes: RouteTable,
    openapi: Option<Bytes>,
}

impl Routing {
    pub fn new(
        components: impl IntoIterator<Item = Arc<LoadedComponent>>,
        routes: RouteTable,
        openapi: Option<Bytes>,
    ) -> Self {
        let components = components
            .into_iter()
            .map(|c| (c.name.to_string(), c))
            .collect();
        Self {
            components,
            routes,
            openapi,
        }
    }

    /// The route matching `path` and the component serving it, if any.
    pub fn resolve(&self, path: &str) -> Option<(Arc<str>, Arc<LoadedComponent>)> {
        let (route, name) = self.routes.resolve(path)?;
        Some((route.as_shared().clone(), self.get(name)?))
    }

    pub fn get(&self, name: &str) -> Option<Arc<LoadedComponent>> {
        self.components.get(name).cloned()
    }

    /// Every loaded component, by name.
    pub fn all(&self) -> Vec<Arc<LoadedComponent>> {
        let mut all: Vec<_> = self.components.values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// The route patterns that lead to component `name`.
    pub fn routes_of(&self, name: &str) -> Vec<String> {
        self.routes
            .iter()
            .filter(|(_, component)| *component == name)
            .map(|(route, _)| route.to_string())
            .collect()
    }

    /// The API's OpenAPI document, when the manifest names one.
    pub fn openapi(&self) -> Option<&Bytes> {
        self.openapi.as_ref()
    }

    /// This routing with `component` in place of its namesake.
    fn with(&self, component: Arc<LoadedComponent>) -> Self {
        let mut next = self.clone();
        next.components
            .insert(component.name.to_string(), component);
        next
    }
}

/// The current routing, replaced atomically.
pub struct Registry {
    current: ArcSwap<Routing>,
}

impl Registry {
    pub fn new(routing: Routing) -> Self {
        Self {
            current: ArcSwap::from_pointee(routing),
        }
    }

    /// The routing new requests use.
    pub fn current(&self) -> Arc<Routing> {
        self.current.load_full()
    }

    /// Makes `routing` the one new requests use.
    pub fn replace(&self, routing: Routing) {
        let previous = self.current.swap(Arc::new(routing));
        let current = self.current.load();
        for old in previous.components.values() {
            let kept = current
                .get(&old.name)
                .is_some_and(|new| Arc::ptr_eq(&new, old));
            if !kept {
                retire(old);
            }
        }
    }

    /// Puts `component` in place of its namesake for new requests; returns
    /// the one it replaced.
    pub fn switch(&self, component: Arc<LoadedComponent>) -> Option<Arc<LoadedComponent>> {
        let previous = self.current.load().get(&component.name);
        self.current.rcu(|routing| routing.with(component.clone()));
        if let Some(previous) = &previous {
            retire(previous);
        }
        previous
    }
}

/// Drops the waiting instances of a version that no longer serves new
/// requests (requests it is serving finish on their own instances).
fn retire(component: &LoadedComponent) {
    if let Some(reuse) = &component.reuse {
        reuse.retire();
    }
}
