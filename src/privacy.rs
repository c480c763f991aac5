//! Privacy rights: a person's copy of everything Rampart holds about them (GDPR article 15,
//! CCPA's right to know), as a zip of JSON a person or their lawyer can read.
//!
//! Secrets are described, never copied: the export says a password and an authenticator
//! app are set, not their hash or seed, so a leaked export signs no one in.

use std::io::{Cursor, Write};

use serde::Serialize;

use crate::access::{self, SystemGrant};
use crate::audit::{self, Actor, Event, Outcome};
use crate::auth::{AccountId, AuthError, Client, account, security_keys::SecurityKeyView};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrivacyError {
    #[error("no such account")]
    NotFound,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Access(#[from] access::AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    #[error("could not write the export: {0}")]
    Write(String),
}

#[derive(Debug, Serialize)]
struct AccountData {
    id: String,
    email: String,
    display_name: String,
    created_at: i64,
    appliance_administrator: bool,
    disabled: bool,
    password_set: bool,
    failed_sign_ins_since_last_success: u32,
    locked_until: Option<i64>,
    authenticator_app: bool,
    recovery_codes_left: usize,
    security_keys: Vec<SecurityKeyView>,
    /// How many devices are remembered for new-device notices (their fingerprints are
    /// one-way hashes).
    remembered_devices: usize,
    mail_preferences: account::MailPreferences,
}

#[derive(Debug, Serialize)]
struct Membership {
    organization_id: String,
    role: String,
}

#[derive(Debug, Serialize)]
struct SessionData {
    started_at: i64,
    last_seen: i64,
    ip: Option<String>,
    user_agent: Option<String>,
}

#[derive(Debug, Serialize)]
struct PersonalData {
    format: &'static str,
    exported_at: i64,
    account: AccountData,
    memberships: Vec<Membership>,
    sessions: Vec<SessionData>,
    /// Entries of the audit log this person made, oldest first (also in `audit.jsonl`).
    audit_entries: usize,
}

const README: &str = "This is everything this Rampart appliance holds about you as a person.\n\
\n\
personal-data.json  your account, second factors (described, not copied), mail choices,\n\
                    organizations and roles, and live sessions\n\
audit.jsonl         every audit log entry of an action you took, one JSON object per line\n\
\n\
What you wrote in an organization (assessment notes, evidence, documents) belongs to that\n\
organization's records; its owners can export them.\n";

/// The export of `account` as a zip, for that person; audited as `privacy.export`.
pub fn export(
    store: &Store,
    account: AccountId,
    client: &Client,
    now: i64,
) -> Result<Vec<u8>, PrivacyError> {
    let data = {
        let read = store.read()?;
        let system = read.system(&SystemGrant::internal())?;
        let holder = account::get(&system, account)?.ok_or(PrivacyError::NotFound)?;
        let memberships = access::memberships(&system, account)?
            .into_iter()
            .map(|(org, role)| Membership {
                organization_id: org.to_string(),
                role: role.as_str().to_owned(),
            })
            .collect();
        let sessions = crate::auth::session::list_for(&system, account, "", now)?
            .into_iter()
            .map(|s| SessionData {
                started_at: s.created_at,
                last_seen: s.last_seen,
                ip: s.ip,
                user_agent: s.user_agent,
            })
            .collect();
        PersonalData {
            format: "rampart-personal-data/1",
            exported_at: now,
            account: AccountData {
                id: holder.id.to_string(),
                email: holder.email.clone(),
                display_name: holder.display_name.clone(),
                created_at: holder.created_at,
                appliance_administrator: holder.appliance_admin,
                disabled: holder.disabled,
                password_set: holder.password_hash.is_some(),
                failed_sign_ins_since_last_success: holder.failed_logins,
                locked_until: holder.locked_until,
                authenticator_app: holder.mfa.totp.is_some(),
                recovery_codes_left: holder.mfa.recovery.len(),
                security_keys: holder
                    .mfa
                    .security_keys
                    .iter()
                    .map(SecurityKeyView::from)
                    .collect(),
                remembered_devices: holder.devices.len(),
                mail_preferences: holder.mail,
            },
            memberships,
            sessions,
            audit_entries: 0,
        }
    };
    let me = account.to_string();
    let mine: Vec<audit::Entry> = audit::entries(store)?
        .into_iter()
        .filter(|e| matches!(&e.event.actor, Actor::Account(id) if *id == me))
        .collect();
    let data = PersonalData {
        audit_entries: mine.len(),
        ..data
    };
    let fail = |err: &dyn std::fmt::Display| PrivacyError::Write(err.to_string());
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("README.txt", options)
        .map_err(|e| fail(&e))?;
    zip.write_all(README.as_bytes()).map_err(|e| fail(&e))?;
    zip.start_file("personal-data.json", options)
        .map_err(|e| fail(&e))?;
    let json = serde_json::to_vec_pretty(&data).map_err(|e| fail(&e))?;
    zip.write_all(&json).map_err(|e| fail(&e))?;
    zip.start_file("audit.jsonl", options)
        .map_err(|e| fail(&e))?;
    for entry in &mine {
        let mut line = serde_json::to_vec(entry).map_err(|e| fail(&e))?;
        line.push(b'\n');
        zip.write_all(&line).map_err(|e| fail(&e))?;
    }
    let bytes = zip.finish().map_err(|e| fail(&e))?.into_inner();
    let txn = store.write()?;
    let event = client.stamp(
        Event::new(
            Actor::Account(me.clone()),
            "privacy.export",
            Outcome::Success,
        )
        .target(&me),
    );
    audit::append(&txn, event, now)?;
    txn.commit()?;
    Ok(bytes)
}

/// Checks that `requester` may export all of `org` (its owners), before anything is sent.
pub fn check_org_export(
    store: &Store,
    requester: access::Requester,
    org: crate::store::OrgId,
) -> Result<access::Grant, PrivacyError> {
    let known = store.organizations()?;
    let read = store.read()?;
    let system = read.system(&SystemGrant::internal())?;
    let (grant, _) = access::authorize(
        &system,
        &known,
        requester,
        org,
        access::Permission::ManageOrganization,
    )?;
    Ok(grant)
}

/// A stored record as JSON: its key as text when it is text, and its value as the JSON it
/// is, else base64.
fn record_json(key: &[u8], value: &[u8]) -> serde_json::Value {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let key = match std::str::from_utf8(key) {
        Ok(text) if !text.chars().any(char::is_control) => serde_json::Value::from(text),
        _ => serde_json::json!({ "base64": b64(key) }),
    };
    let value = serde_json::from_slice::<serde_json::Value>(value)
        .unwrap_or_else(|_| serde_json::json!({ "base64": b64(value) }));
    serde_json::json!({ "key": key, "value": value })
}

/// Everything `org` holds, as a tar encrypted to `recipient` (age), written to `out`:
/// `organization.json` (profile and members), `records/<table>.jsonl` (every record, as
/// stored once decrypted), `evidence/<id>/v<N>-<name>` (every version of every file, the
/// bin included, decrypted), `audit.jsonl` (the organization's audit entries) and
/// `manifest.json` (size and SHA-256 of each). Audited as `org.export` before it starts.
#[allow(clippy::too_many_arguments)]
pub fn export_organization(
    store: &Store,
    vault: &crate::evidence::Vault,
    requester: access::Requester,
    org: crate::store::OrgId,
    recipient: &age::x25519::Recipient,
    out: impl Write,
    client: &Client,
    now: i64,
) -> Result<(), PrivacyError> {
    let grant = check_org_export(store, requester, org)?;
    let fail = |err: &dyn std::fmt::Display| PrivacyError::Write(err.to_string());
    {
        let txn = store.write()?;
        let event = client.stamp(
            Event::new(
                Actor::Account(requester.account.to_string()),
                "org.export",
                Outcome::Success,
            )
            .org(org)
            .target(org),
        );
        audit::append(&txn, event, now)?;
        txn.commit()?;
    }
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
            .map_err(|e| fail(&e))?;
    let stream = encryptor.wrap_output(out).map_err(|e| fail(&e))?;
    let mut tar = crate::backup::ManifestTar::new(stream, now);
    let add =
        |tar: &mut crate::backup::ManifestTar<_>,
         path: String,
         size: u64,
         data: &mut dyn std::io::Read| { tar.add(&path, size, data).map_err(|e| fail(&e)) };

    let members = crate::auth::members::list(store, requester, org)?;
    let profile = crate::org::get(store, &grant).map_err(|e| fail(&e))?;
    let organization = serde_json::to_vec_pretty(&serde_json::json!({
        "profile": profile,
        "members": members,
        "exported_at": crate::dates::format_utc(now),
    }))
    .map_err(|e| fail(&e))?;
    add(
        &mut tar,
        "organization.json".into(),
        organization.len() as u64,
        &mut organization.as_slice(),
    )?;

    let tables = {
        let read = store.read()?;
        read.tenant(&grant)?.everything()?
    };
    for (table, rows) in tables {
        let mut lines = Vec::new();
        for (key, value) in rows {
            serde_json::to_writer(&mut lines, &record_json(&key, &value)).map_err(|e| fail(&e))?;
            lines.push(b'\n');
        }
        let name = table.trim_start_matches("t.");
        add(
            &mut tar,
            format!("records/{name}.jsonl"),
            lines.len() as u64,
            &mut lines.as_slice(),
        )?;
    }

    for deleted in [false, true] {
        let filter = crate::evidence::Filter {
            deleted,
            ..Default::default()
        };
        let (files, _) = crate::evidence::list(store, vault, requester, org, &filter, client, now)
            .map_err(|e| fail(&e))?;
        for file in files {
            for version in &file.versions {
                let download = crate::evidence::open_download(
                    store,
                    vault,
                    requester,
                    org,
                    &file.id,
                    Some(version.number),
                    client,
                    now,
                )
                .map_err(|e| fail(&e))?;
                let size = download.size;
                let name: String = download
                    .filename
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                add(
                    &mut tar,
                    format!("evidence/{}/v{}-{name}", file.id, version.number),
                    size,
                    &mut download.into_read(),
                )?;
            }
        }
    }

    let mut audit_lines = Vec::new();
    let org_text = org.to_string();
    for entry in audit::entries(store)? {
        if entry.event.org.as_deref() == Some(org_text.as_str()) {
            serde_json::to_writer(&mut audit_lines, &entry).map_err(|e| fail(&e))?;
            audit_lines.push(b'\n');
        }
    }
    add(
        &mut tar,
        "audit.jsonl".into(),
        audit_lines.len() as u64,
        &mut audit_lines.as_slice(),
    )?;

    let manifest = serde_json::to_vec_pretty(tar.entries()).map_err(|e| fail(&e))?;
    let stream = tar
        .finish("manifest.json", &manifest)
        .map_err(|e| fail(&e))?;
    let mut out = stream.finish().map_err(|e| fail(&e))?;
    out.flush().map_err(|e| fail(&e))?;
    Ok(())
}
