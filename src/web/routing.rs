//! Registers routes as a tree of scopes, so a request is matched by a few string compares
//! and at most one pattern per level instead of trying the pattern of every route in turn.
//!
//! actix-web tries a flat list of resources in order and runs a regex for each path with a
//! `{param}` in it. With some sixty such paths that was a tenth of the time of a page.
//! Grouping by the leading segment turns `/orgs/{org_id}/assessments/{assessment_id}/gaps`
//! into nested matches where only the two parameters cost a regex: every fixed segment is
//! its own scope, matched by a string compare, so a request never runs the pattern of a
//! path it is not on.
//!
//! Each resource also carries its full pattern as [`RoutePattern`], so the access log and
//! the metrics name the route without matching the path a second time
//! (`HttpRequest::match_pattern` walks every pattern again and allocates).

use std::collections::BTreeSet;

use actix_web::web::ServiceConfig;
use actix_web::{Resource, Route, Scope, web};

/// The full path pattern of the resource a request was routed to, e.g.
/// `/orgs/{org_id}/drift`: never the raw path, which may hold a token.
#[derive(Clone, Copy, Debug)]
pub struct RoutePattern(pub &'static str);

/// The pattern of the route that answered `req`, or `None` when no route matched.
pub fn route_pattern(req: &actix_web::HttpRequest) -> Option<&'static str> {
    req.app_data::<RoutePattern>().map(|pattern| pattern.0)
}

/// One route: its method, full path and handler.
pub struct Endpoint {
    /// Lower-case HTTP method, as OpenAPI spells it.
    pub method: &'static str,
    pub path: &'static str,
    pub route: fn() -> Route,
}

/// Where a group of endpoints is mounted: the app's configuration or an enclosing scope.
trait Mount {
    #[must_use]
    fn mount_resource(self, resource: Resource) -> Self;
    #[must_use]
    fn mount_scope(self, scope: Scope) -> Self;
}

impl Mount for Scope {
    fn mount_resource(self, resource: Resource) -> Self {
        self.service(resource)
    }
    fn mount_scope(self, scope: Scope) -> Self {
        self.service(scope)
    }
}

impl Mount for &mut ServiceConfig {
    fn mount_resource(self, resource: Resource) -> Self {
        self.service(resource);
        self
    }
    fn mount_scope(self, scope: Scope) -> Self {
        self.service(scope);
        self
    }
}

/// Mounts every endpoint, one resource per distinct path holding all its methods (so a
/// wrong method gets 405), in nested scopes: one per path segment shared by more than one
/// path, and one per fixed segment in front of a parameter.
///
/// # Panics
/// At start-up, when two paths put differently named parameters at the same place: the
/// second could never be reached.
pub fn configure(cfg: &mut ServiceConfig, endpoints: &[&'static Endpoint]) {
    mount(cfg, 0, endpoints);
}

/// Mounts endpoints whose paths share their first `skip` bytes.
fn mount<M: Mount>(mut into: M, skip: usize, endpoints: &[&'static Endpoint]) -> M {
    let rest = |endpoint: &Endpoint| endpoint.path.get(skip..).unwrap_or_default();
    let mut groups: Vec<(&str, Vec<&'static Endpoint>)> = Vec::new();
    for endpoint in endpoints {
        let segment = first_segment(rest(endpoint));
        match groups.iter_mut().find(|(s, _)| *s == segment) {
            Some((_, members)) => members.push(endpoint),
            None => groups.push((segment, vec![endpoint])),
        }
    }
    // A scope for a parameter matches any segment, so it goes after every fixed one, and
    // a second parameter at the same place would never be reached.
    groups.sort_by_key(|(segment, _)| is_parameter(segment));
    let parameters = groups.iter().filter(|(s, _)| is_parameter(s)).count();
    assert!(
        parameters <= 1,
        "routes disagree on a parameter name under {:?}",
        endpoints.first().map(|e| e.path)
    );
    for (segment, members) in groups {
        let paths: BTreeSet<&str> = members.iter().map(|e| rest(e)).collect();
        match paths.first() {
            Some(path) if paths.len() == 1 && (*path == segment || !path.contains('{')) => {
                let pattern = RoutePattern(members.first().map_or(*path, |e| e.path));
                let resource = members.iter().fold(
                    web::resource(ascii_segments(path)).app_data(pattern),
                    |r, e| r.route((e.route)()),
                );
                into = into.mount_resource(resource);
            }
            _ => {
                into = into.mount_scope(mount(
                    web::scope(&ascii_segments(segment)),
                    skip + segment.len(),
                    &members,
                ));
            }
        }
    }
    into
}

/// What a parameter matches: one path segment of ASCII, as every id, token and name in
/// Rampart's paths is. actix's default (`[^/]+`) is a Unicode class, and compiling one
/// makes the regex crate fill a 320 KB table; every worker compiles its own routes, and
/// the allocator keeps those pages: about 1.5 MB of an idle server. A segment with other
/// characters simply matches no route (404).
const ASCII_SEGMENT: &str = r"[\x00-\x2E\x30-\x7F]+";

/// `path` with every `{name}` given the [`ASCII_SEGMENT`] pattern.
fn ascii_segments(path: &str) -> String {
    let mut pattern = String::with_capacity(path.len() + 24);
    let mut rest = path;
    while let Some(close) = rest.find('}') {
        let (parameter, after) = rest.split_at(close);
        pattern.push_str(parameter);
        pattern.push(':');
        pattern.push_str(ASCII_SEGMENT);
        pattern.push('}');
        rest = after.get(1..).unwrap_or_default();
    }
    pattern.push_str(rest);
    pattern
}

/// A pattern as actix reports it (`/orgs/{org_id:[...]+}`) back in the form the
/// endpoints, logs and audit records use (`/orgs/{org_id}`).
pub fn plain_pattern(pattern: &str) -> String {
    let mut plain = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(colon) = rest.find(':') {
        let (before, after) = rest.split_at(colon);
        plain.push_str(before);
        rest = after
            .find('}')
            .and_then(|close| after.get(close..))
            .unwrap_or_default();
    }
    plain.push_str(rest);
    plain
}

fn is_parameter(segment: &str) -> bool {
    segment.starts_with("/{")
}

/// The leading segment of `rest`: `/orgs/{org_id}/drift` -> `/orgs`, `/{org_id}/drift` ->
/// `/{org_id}`, `/` -> `/`, `` -> ``.
fn first_segment(rest: &str) -> &str {
    rest.get(1..)
        .and_then(|tail| tail.find('/'))
        .and_then(|at| rest.get(..=at))
        .unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use actix_web::dev::Service;
    use actix_web::http::StatusCode;
    use actix_web::{App, HttpRequest, HttpResponse, test as actix_test, web};

    use super::{Endpoint, ascii_segments, configure, first_segment, plain_pattern, route_pattern};

    async fn echo_path(req: HttpRequest) -> HttpResponse {
        HttpResponse::Ok().body(req.path().to_owned())
    }

    static NESTED: &[Endpoint] = &[
        Endpoint {
            method: "get",
            path: "/orgs/{org_id}/members",
            route: || web::get().to(echo_path),
        },
        Endpoint {
            method: "get",
            path: "/orgs/{org_id}/assessments/{assessment_id}",
            route: || web::get().to(echo_path),
        },
        Endpoint {
            method: "get",
            path: "/setup/{token}",
            route: || web::get().to(echo_path),
        },
        Endpoint {
            method: "get",
            path: "/healthz",
            route: || web::get().to(echo_path),
        },
    ];

    #[actix_web::test]
    async fn every_route_names_its_full_pattern_and_others_none() {
        let endpoints: Vec<&'static Endpoint> = NESTED.iter().collect();
        let app = actix_test::init_service(
            App::new()
                .wrap_fn(|req, srv| {
                    let fut = srv.call(req);
                    async move {
                        let mut res = fut.await?;
                        let pattern = route_pattern(res.request()).unwrap_or("none");
                        res.headers_mut().insert(
                            actix_web::http::header::HeaderName::from_static("x-pattern"),
                            actix_web::http::header::HeaderValue::from_static(pattern),
                        );
                        Ok(res)
                    }
                })
                .configure(|cfg| configure(cfg, &endpoints)),
        )
        .await;
        let cases = [
            ("GET", "/orgs/o1/members", 200, "/orgs/{org_id}/members"),
            (
                "GET",
                "/orgs/o1/assessments/a1",
                200,
                "/orgs/{org_id}/assessments/{assessment_id}",
            ),
            ("GET", "/setup/t0ken", 200, "/setup/{token}"),
            ("POST", "/setup/t0ken", 405, "/setup/{token}"),
            ("GET", "/healthz", 200, "/healthz"),
            ("GET", "/setup", 404, "none"),
            ("GET", "/setup/t0ken/more", 404, "none"),
            ("GET", "/orgs/o1", 404, "none"),
            ("GET", "/orgs/%C3%A9/members", 404, "none"),
            ("GET", "/setup/t%20ken", 200, "/setup/{token}"),
            ("GET", "/nowhere", 404, "none"),
        ];
        for (method, path, status, pattern) in cases {
            let req = actix_test::TestRequest::default()
                .method(method.parse().unwrap())
                .uri(path)
                .to_request();
            let res = actix_test::call_service(&app, req).await;
            assert_eq!(
                res.status(),
                StatusCode::from_u16(status).unwrap(),
                "{method} {path}"
            );
            assert_eq!(
                res.headers().get("x-pattern").unwrap(),
                pattern,
                "{method} {path}"
            );
            if status == 200 {
                assert_eq!(
                    actix_test::read_body(res).await,
                    path.as_bytes(),
                    "{method} {path}"
                );
            }
        }
    }

    static CONFLICTING: &[Endpoint] = &[
        Endpoint {
            method: "get",
            path: "/orgs/{org_id}/members",
            route: || web::get().to(HttpResponse::Ok),
        },
        Endpoint {
            method: "get",
            path: "/orgs/{id}/audit",
            route: || web::get().to(HttpResponse::Ok),
        },
    ];

    #[test]
    #[should_panic(expected = "routes disagree on a parameter name")]
    fn differently_named_parameters_in_one_place_are_refused() {
        let endpoints: Vec<&'static Endpoint> = CONFLICTING.iter().collect();
        let _app = App::new().configure(|cfg| configure(cfg, &endpoints));
    }

    #[test]
    fn parameters_get_the_ascii_pattern_and_lose_it_again() {
        let path = "/orgs/{org_id}/assessments/{assessment_id}/gaps";
        let actix = ascii_segments(path);
        assert_eq!(
            actix,
            r"/orgs/{org_id:[\x00-\x2E\x30-\x7F]+}/assessments/{assessment_id:[\x00-\x2E\x30-\x7F]+}/gaps"
        );
        assert_eq!(plain_pattern(&actix), path);
        assert_eq!(ascii_segments("/healthz"), "/healthz");
        assert_eq!(plain_pattern("/healthz"), "/healthz");
        assert_eq!(
            ascii_segments("/{token}"),
            r"/{token:[\x00-\x2E\x30-\x7F]+}"
        );
    }

    #[test]
    fn segments_end_at_the_next_slash() {
        assert_eq!(first_segment("/orgs/{org_id}/drift"), "/orgs");
        assert_eq!(first_segment("/{org_id}/drift"), "/{org_id}");
        assert_eq!(first_segment("/me"), "/me");
        assert_eq!(first_segment("/"), "/");
        assert_eq!(first_segment(""), "");
    }
}
