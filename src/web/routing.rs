//! Registers routes as a tree of scopes, so a request is matched by a few string compares
//! and at most one pattern per level instead of trying the pattern of every route in turn.
//!
//! actix-web tries a flat list of resources in order and runs a regex (a slow, NFA-only
//! one) for each path with a `{param}` in it, twice per request (routing, then
//! `match_pattern` for the log line). With some sixty such paths that was a tenth of the
//! time of a page. Grouping by the leading segment (with its parameter, if one follows)
//! turns `/orgs/{org_id}/assessments/{assessment_id}/gaps` into three nested matches.

use std::collections::BTreeSet;

use actix_web::web::ServiceConfig;
use actix_web::{Resource, Route, Scope, web};

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
/// wrong method gets 405), in nested scopes, one per path segment shared by more than one
/// path.
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
            Some(path) if paths.len() == 1 => {
                let resource = members
                    .iter()
                    .fold(web::resource(*path), |r, e| r.route((e.route)()));
                into = into.mount_resource(resource);
            }
            _ => {
                into = into.mount_scope(mount(web::scope(segment), skip + segment.len(), &members));
            }
        }
    }
    into
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
    use actix_web::{App, HttpResponse, web};

    use super::{Endpoint, configure, first_segment};

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
    fn segments_end_at_the_next_slash() {
        assert_eq!(first_segment("/orgs/{org_id}/drift"), "/orgs");
        assert_eq!(first_segment("/{org_id}/drift"), "/{org_id}");
        assert_eq!(first_segment("/me"), "/me");
        assert_eq!(first_segment("/"), "/");
        assert_eq!(first_segment(""), "");
    }
}
