//! The application shell around every signed-in page: the organization switcher, the
//! sections of the current organization (each shown to the roles that may use it, the
//! current one marked), the account menu and, for the appliance administrator, the
//! Administration area. Everything is worked out from the request's path, so a handler
//! only asks for it.

use actix_web::{HttpRequest, web};

use super::AppState;
use super::error::WebError;
use super::identity::{self, SignedIn};
use crate::access::{Permission, Role};
use crate::store::OrgId;

/// One link of a navigation list.
pub struct NavLink {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

/// An organization the person may switch to.
pub struct OrgChoice {
    pub name: String,
    pub href: String,
    pub current: bool,
}

/// What the shell shows around a signed-in page.
pub struct Shell {
    pub account_name: String,
    pub csrf_token: String,
    pub organizations: Vec<OrgChoice>,
    /// The organization the page is about, when the person is a member of it.
    pub org_name: Option<String>,
    pub sections: Vec<NavLink>,
    /// The appliance administrator's Administration area; empty for everyone else.
    pub administration: Vec<NavLink>,
    /// The account page (or one under it) is the current page.
    pub account_current: bool,
}

/// The sections of an organization, in the order the header shows them, with the
/// permission each needs.
const SECTIONS: &[(Section, &str, &str, Permission)] = &[
    (Section::Overview, "Overview", "", Permission::Read),
    (
        Section::Assessments,
        "Assessments",
        "/assessments",
        Permission::Read,
    ),
    (Section::Poam, "POA&M", "/poam", Permission::Read),
    (Section::Evidence, "Evidence", "/evidence", Permission::Read),
    (
        Section::Documents,
        "Documents",
        "/documents",
        Permission::Read,
    ),
    (Section::Team, "Team", "/members", Permission::Read),
    (Section::Audit, "Audit", "/audit", Permission::Oversee),
    (
        Section::Security,
        "Security",
        "/security",
        Permission::Oversee,
    ),
    (
        Section::Settings,
        "Settings",
        "/settings",
        Permission::ManageCatalogs,
    ),
];

const ADMINISTRATION: &[(&str, &str)] = &[
    ("Appliance", "/admin"),
    ("Jobs and backups", "/admin/jobs"),
    ("Mail outbox", "/admin/mail"),
    ("Audit log", "/admin/audit"),
    ("Security", "/admin/security"),
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Section {
    Overview,
    Assessments,
    Poam,
    Evidence,
    Documents,
    Team,
    Audit,
    Security,
    Settings,
}

/// The organization a path is about and the section it belongs to: `/orgs/{id}/…`.
pub fn locate(path: &str) -> Option<(OrgId, Section)> {
    let rest = path.strip_prefix("/orgs/")?;
    let (id, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let org = identity::parse_org(id).ok()?;
    let first = rest.split('/').next().unwrap_or("");
    let section = match first {
        "" | "drift" => Section::Overview,
        "assessments" if rest.ends_with("/poam") || rest.contains("/poam/") => Section::Poam,
        "assessments" => Section::Assessments,
        "poam" => Section::Poam,
        "evidence" => Section::Evidence,
        "documents" => Section::Documents,
        "members" => Section::Team,
        "audit" => Section::Audit,
        "security" => Section::Security,
        "settings" | "catalogs" => Section::Settings,
        _ => return None,
    };
    Some((org, section))
}

/// The sections of `org` that `role` may open, the one `current` marked.
pub fn sections(org: OrgId, role: Role, current: Option<Section>) -> Vec<NavLink> {
    SECTIONS
        .iter()
        .filter(|(_, _, _, permission)| role.allows(*permission))
        .map(|(section, label, suffix, _)| NavLink {
            label,
            href: format!("/orgs/{org}{suffix}"),
            current: current == Some(*section),
        })
        .collect()
}

fn administration(path: &str) -> Vec<NavLink> {
    ADMINISTRATION
        .iter()
        .map(|(label, href)| NavLink {
            label,
            href: (*href).to_owned(),
            current: path == *href,
        })
        .collect()
}

/// The shell for the signed-in page `req` asked for.
pub async fn for_page(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    signed_in: &SignedIn,
) -> Result<Shell, WebError> {
    let path = req.path().to_owned();
    let requester = identity::requester(signed_in);
    let store = state.store.clone();
    let profiles = match crate::org::kept_member_profiles(&state.store, requester) {
        Some(kept) => kept,
        None => web::block(move || crate::org::member_profiles(&store, requester)).await??,
    };
    let located = locate(&path);
    let mut memberships: Vec<_> = profiles
        .into_iter()
        .map(|(profile, role)| (profile.id, profile.name, role))
        .collect();
    memberships.sort_by_key(|(_, name, _)| name.to_lowercase());
    // The page's organization; away from any (the account page, Administration), the
    // person's first, so every page has a way back to the work.
    let shown = match located {
        Some((org, section)) => memberships
            .iter()
            .find(|(id, _, _)| *id == org)
            .map(|(id, name, role)| (*id, name.clone(), *role, Some(section))),
        None => memberships
            .first()
            .map(|(id, name, role)| (*id, name.clone(), *role, None)),
    };
    let organizations = memberships
        .into_iter()
        .map(|(id, name, _)| OrgChoice {
            href: format!("/orgs/{id}"),
            current: located.is_some_and(|(org, _)| org == id),
            name,
        })
        .collect();
    let (org_name, sections_shown) = match shown {
        Some((org, name, role, section)) => (Some(name), sections(org, role, section)),
        None => (None, Vec::new()),
    };
    Ok(Shell {
        account_name: signed_in.account.display_name.clone(),
        csrf_token: signed_in.session.csrf_token.clone(),
        organizations,
        org_name,
        sections: sections_shown,
        administration: if signed_in.account.appliance_admin {
            administration(&path)
        } else {
            Vec::new()
        },
        account_current: path.starts_with("/account"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_section() {
        let org = uuid::Uuid::new_v4();
        let org = OrgId(org);
        let at = |suffix: &str| locate(&format!("/orgs/{}{suffix}", org.0)).map(|(_, s)| s);
        assert_eq!(at(""), Some(Section::Overview));
        assert_eq!(at("/drift"), Some(Section::Overview));
        assert_eq!(at("/assessments/x"), Some(Section::Assessments));
        assert_eq!(at("/assessments/x/poam"), Some(Section::Poam));
        assert_eq!(at("/assessments/x/poam/3.1.1"), Some(Section::Poam));
        assert_eq!(at("/members"), Some(Section::Team));
        assert_eq!(at("/catalogs"), Some(Section::Settings));
        assert_eq!(at("/nowhere"), None);
        assert_eq!(locate("/orgs/not-an-id/assessments"), None);
        assert_eq!(locate("/account"), None);
    }

    #[test]
    fn each_role_sees_the_sections_it_may_use() {
        let org = OrgId(uuid::Uuid::new_v4());
        let labels = |role| -> Vec<&str> {
            sections(org, role, None)
                .into_iter()
                .map(|l| l.label)
                .collect()
        };
        assert!(!labels(Role::Viewer).contains(&"Audit"));
        assert!(!labels(Role::Member).contains(&"Settings"));
        assert!(labels(Role::Admin).contains(&"Settings"));
        assert!(!labels(Role::Admin).contains(&"Security"));
        assert_eq!(labels(Role::Owner).len(), SECTIONS.len());
        let marked: Vec<_> = sections(org, Role::Owner, Some(Section::Team))
            .into_iter()
            .filter(|l| l.current)
            .map(|l| l.label)
            .collect();
        assert_eq!(marked, ["Team"]);
    }
}
