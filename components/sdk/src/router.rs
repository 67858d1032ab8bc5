//! Method + path-pattern routing inside a component. Patterns use the same
//! syntax as the manifest: literal segments and `{name}` parameters.

use crate::ApiError;
use crate::http::{Method, Request, Response};

/// Path parameters captured by a route, in pattern order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The (percent-decoded) value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A handler: the request and its path parameters in, a response out.
pub type Handler = fn(&Request, &Params) -> Result<Response, ApiError>;

struct Route {
    method: Method,
    pattern: Vec<Segment>,
    handler: Handler,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

/// Routes requests by method and path; unknown paths get 404, known paths
/// with another method get 405 with an `Allow` header.
///
/// ```
/// use summer_sdk::http::{Method, Request, Response};
/// use summer_sdk::{ApiError, Params, Router};
///
/// fn show(_request: &Request, params: &Params) -> Result<Response, ApiError> {
///     Response::json(200, &params.get("id"))
/// }
///
/// let router = Router::new().get("/users/{id}", show).delete("/users/{id}", show);
/// let shown = router.handle(&Request::new(Method::Get, "/users/a%20b", ""));
/// assert_eq!(shown.body, br#""a b""#); // parameters are percent-decoded
///
/// let refused = router.handle(&Request::new(Method::Put, "/users/7", ""));
/// assert_eq!(refused.status, 405);
/// assert_eq!(refused.header("allow"), Some("GET, DELETE"));
/// ```
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    /// A router with no routes: every request gets 404.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route. Panics on a malformed pattern: routes are fixed in code.
    pub fn route(mut self, method: Method, pattern: &str, handler: Handler) -> Self {
        self.routes.push(Route {
            method,
            pattern: parse_pattern(pattern),
            handler,
        });
        self
    }

    /// Adds a `GET` route.
    pub fn get(self, pattern: &str, handler: Handler) -> Self {
        self.route(Method::Get, pattern, handler)
    }

    /// Adds a `POST` route.
    pub fn post(self, pattern: &str, handler: Handler) -> Self {
        self.route(Method::Post, pattern, handler)
    }

    /// Adds a `PUT` route.
    pub fn put(self, pattern: &str, handler: Handler) -> Self {
        self.route(Method::Put, pattern, handler)
    }

    /// Adds a `PATCH` route.
    pub fn patch(self, pattern: &str, handler: Handler) -> Self {
        self.route(Method::Patch, pattern, handler)
    }

    /// Adds a `DELETE` route.
    pub fn delete(self, pattern: &str, handler: Handler) -> Self {
        self.route(Method::Delete, pattern, handler)
    }

    /// Runs the matching handler; every error becomes its JSON response.
    pub fn handle(&self, request: &Request) -> Response {
        self.dispatch(request).unwrap_or_else(Response::from)
    }

    fn dispatch(&self, request: &Request) -> Result<Response, ApiError> {
        let mut allowed: Vec<&str> = Vec::new();
        let mut best: Option<(&Route, Params)> = None;
        for route in &self.routes {
            let Some(params) = match_path(&route.pattern, &request.path)? else {
                continue;
            };
            if route.method != request.method {
                allowed.push(route.method.as_str());
            } else if best
                .as_ref()
                .is_none_or(|(b, _)| route.params() < b.params())
            {
                // A literal segment outranks a parameter in the same place.
                best = Some((route, params));
            }
        }
        if let Some((route, params)) = best {
            return (route.handler)(request, &params);
        }
        if allowed.is_empty() {
            return Err(ApiError::not_found(format!(
                "no route for {}",
                request.path
            )));
        }
        allowed.dedup();
        let allow = allowed.join(", ");
        let error = ApiError::method_not_allowed(format!(
            "{} is not allowed on {}; allowed: {allow}",
            request.method.as_str(),
            request.path
        ));
        Ok(Response::from(error).with_header("allow", &allow))
    }
}

impl Route {
    fn params(&self) -> usize {
        self.pattern
            .iter()
            .filter(|s| matches!(s, Segment::Param(_)))
            .count()
    }
}

fn parse_pattern(pattern: &str) -> Vec<Segment> {
    let rest = pattern
        .strip_prefix('/')
        .unwrap_or_else(|| panic!("route {pattern:?} must start with '/'"));
    rest.split('/')
        .filter(|s| !s.is_empty())
        .map(
            |s| match s.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => Segment::Param(name.to_owned()),
                None => Segment::Literal(s.to_owned()),
            },
        )
        .collect()
}

/// `Ok(Some(params))` when `path` matches; a parameter that is not valid
/// percent-encoded UTF-8 is a 400.
fn match_path(pattern: &[Segment], path: &str) -> Result<Option<Params>, ApiError> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    let parts: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    if parts.len() != pattern.len() {
        return Ok(None);
    }
    let mut params = Vec::new();
    for (segment, part) in pattern.iter().zip(parts) {
        match segment {
            Segment::Literal(lit) if lit == part => {}
            Segment::Literal(_) => return Ok(None),
            Segment::Param(_) if part.is_empty() => return Ok(None),
            Segment::Param(name) => params.push((name.clone(), decode_segment(part)?)),
        }
    }
    Ok(Some(Params(params)))
}

fn decode_segment(part: &str) -> Result<String, ApiError> {
    if !part.contains('%') {
        return Ok(part.to_owned());
    }
    let mut out = Vec::with_capacity(part.len());
    let mut bytes = part.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let hex = [bytes.next(), bytes.next()];
        let decoded = match hex {
            [Some(h), Some(l)] => std::str::from_utf8(&[h, l])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok()),
            _ => None,
        };
        out.push(
            decoded.ok_or_else(|| ApiError::invalid("malformed percent-encoding in the path"))?,
        );
    }
    String::from_utf8(out).map_err(|_| ApiError::invalid("the path is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo(request: &Request, params: &Params) -> Result<Response, ApiError> {
        let id = params.get("id").unwrap_or("-");
        Ok(Response::new(200).with_body(format!("{} {id}", request.method.as_str())))
    }

    fn fail(_: &Request, _: &Params) -> Result<Response, ApiError> {
        Err(ApiError::conflict("taken"))
    }

    fn router() -> Router {
        Router::new()
            .get("/users", echo)
            .post("/users", fail)
            .get("/users/{id}", echo)
            .delete("/users/{id}", echo)
    }

    fn call(method: Method, path: &str) -> Response {
        router().handle(&Request::new(method, path, vec![]))
    }

    #[test]
    fn dispatches_by_method_and_path() {
        assert_eq!(call(Method::Get, "/users").body, b"GET -");
        assert_eq!(call(Method::Get, "/users/42").body, b"GET 42");
        assert_eq!(call(Method::Delete, "/users/42").body, b"DELETE 42");
    }

    #[test]
    fn a_literal_segment_outranks_a_parameter() {
        let router = Router::new()
            .get("/users/{id}", echo)
            .get("/users/me", fail);
        let response = router.handle(&Request::new(Method::Get, "/users/me", vec![]));
        assert_eq!(response.status, 409);
    }

    #[test]
    fn handler_errors_become_json() {
        let response = call(Method::Post, "/users");
        assert_eq!(response.status, 409);
        assert_eq!(response.header("content-type"), Some("application/json"));
    }

    #[test]
    fn unknown_path_is_404() {
        assert_eq!(call(Method::Get, "/groups").status, 404);
        assert_eq!(call(Method::Get, "/users/42/friends").status, 404);
        assert_eq!(call(Method::Get, "/users/").status, 404);
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        let response = call(Method::Put, "/users/42");
        assert_eq!(response.status, 405);
        assert_eq!(response.header("allow"), Some("GET, DELETE"));
    }

    #[test]
    fn params_are_percent_decoded() {
        assert_eq!(call(Method::Get, "/users/a%20b").body, b"GET a b");
        assert_eq!(call(Method::Get, "/users/%zz").status, 400);
        assert_eq!(call(Method::Get, "/users/%ff").status, 400);
    }
}
