//! One typed function per message, each rendering a text and an HTML part from templates
//! under `assets/templates/mail/`. Messages say what happened and link to Rampart; they
//! carry no controlled content (no requirement text, notes or evidence names).

use askama::Template;

use super::{MailError, Outgoing};

fn render(template: &impl Template) -> Result<String, MailError> {
    template
        .render()
        .map_err(|err| MailError::Template(err.to_string()))
}

fn outgoing(
    kind: &str,
    to: &str,
    subject: String,
    text: &impl Template,
    html: &impl Template,
) -> Result<Outgoing, MailError> {
    Ok(Outgoing {
        id: uuid::Uuid::new_v4(),
        to: to.to_owned(),
        subject,
        text: render(text)?,
        html: render(html)?,
        kind: kind.to_owned(),
    })
}

macro_rules! message_templates {
    ($text:ident = $text_path:literal, $html:ident = $html_path:literal, { $($field:ident: $ty:ty),* $(,)? }) => {
        #[derive(Template)]
        #[template(path = $text_path, escape = "none")]
        struct $text<'a> { $($field: $ty),* }
        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> { $($field: $ty),* }
    };
}

message_templates!(InvitationText = "mail/invitation.txt", InvitationHtml = "mail/invitation.html", {
    inviter: &'a str, organization: &'a str, role: &'a str, link: &'a str,
});

/// An invitation to join an organization; `link` is the single-use invitation link.
pub fn invitation(
    to: &str,
    inviter: &str,
    organization: &str,
    role: &str,
    link: &str,
) -> Result<Outgoing, MailError> {
    outgoing(
        "invitation",
        to,
        format!("Invitation to {organization} on Rampart"),
        &InvitationText {
            inviter,
            organization,
            role,
            link,
        },
        &InvitationHtml {
            inviter,
            organization,
            role,
            link,
        },
    )
}

message_templates!(InvitationConfirmText = "mail/invitation_confirm.txt", InvitationConfirmHtml = "mail/invitation_confirm.html", {
    inviter: &'a str, role: &'a str, link: &'a str, hours: i64,
});

/// Sent when an invitation was accepted as a new account for this address: the account
/// works once the link is followed and the password chosen then is given.
pub fn invitation_confirmation(
    to: &str,
    inviter: &str,
    role: &str,
    link: &str,
    hours: i64,
) -> Result<Outgoing, MailError> {
    outgoing(
        "invitation_confirm",
        to,
        "Confirm your address to finish joining on Rampart".into(),
        &InvitationConfirmText {
            inviter,
            role,
            link,
            hours,
        },
        &InvitationConfirmHtml {
            inviter,
            role,
            link,
            hours,
        },
    )
}

message_templates!(InvitationExistingText = "mail/invitation_existing.txt", InvitationExistingHtml = "mail/invitation_existing.html", {
    inviter: &'a str, role: &'a str, link: &'a str,
});

/// Sent instead of a confirmation when an invitation was accepted as a new account for an
/// address that has one: nothing changed, and this is how to join with it.
pub fn invitation_existing_account(
    to: &str,
    inviter: &str,
    role: &str,
    link: &str,
) -> Result<Outgoing, MailError> {
    outgoing(
        "invitation_existing",
        to,
        "Join with your Rampart account".into(),
        &InvitationExistingText {
            inviter,
            role,
            link,
        },
        &InvitationExistingHtml {
            inviter,
            role,
            link,
        },
    )
}

message_templates!(EmailChangeText = "mail/email_change.txt", EmailChangeHtml = "mail/email_change.html", {
    name: &'a str, link: &'a str,
});

/// Sent to a new address: confirming it proves the person receives mail there.
pub fn email_change_confirmation(to: &str, name: &str, link: &str) -> Result<Outgoing, MailError> {
    outgoing(
        "email_change",
        to,
        "Confirm your new address for Rampart".into(),
        &EmailChangeText { name, link },
        &EmailChangeHtml { name, link },
    )
}

message_templates!(EmailChangedText = "mail/email_changed.txt", EmailChangedHtml = "mail/email_changed.html", {
    new_email: &'a str,
});

/// Sent to the old address once the change is confirmed.
pub fn email_changed(to: &str, new_email: &str) -> Result<Outgoing, MailError> {
    outgoing(
        "email_changed",
        to,
        "The address of your Rampart account was changed".into(),
        &EmailChangedText { new_email },
        &EmailChangedHtml { new_email },
    )
}

message_templates!(LockoutText = "mail/lockout.txt", LockoutHtml = "mail/lockout.html", {
    minutes: i64, attempts: u32, link: &'a str,
});

/// Sent once when an account is locked after repeated failures.
pub fn lockout_notice(
    to: &str,
    minutes: i64,
    attempts: u32,
    link: &str,
) -> Result<Outgoing, MailError> {
    outgoing(
        "lockout",
        to,
        "Your Rampart account was locked".into(),
        &LockoutText {
            minutes,
            attempts,
            link,
        },
        &LockoutHtml {
            minutes,
            attempts,
            link,
        },
    )
}

message_templates!(NewDeviceText = "mail/new_device.txt", NewDeviceHtml = "mail/new_device.html", {
    when: &'a str, address: &'a str, browser: &'a str, link: &'a str,
});

/// Sent when an account signs in from a device it has not used lately.
pub fn new_device(
    to: &str,
    when: &str,
    address: &str,
    browser: &str,
    link: &str,
) -> Result<Outgoing, MailError> {
    outgoing(
        "new_device",
        to,
        "New sign-in to your Rampart account".into(),
        &NewDeviceText {
            when,
            address,
            browser,
            link,
        },
        &NewDeviceHtml {
            when,
            address,
            browser,
            link,
        },
    )
}

message_templates!(PasswordResetText = "mail/password_reset.txt", PasswordResetHtml = "mail/password_reset.html", {
    link: &'a str, minutes: i64,
});

/// A one-time link to choose a new password, asked for on the sign-in page.
pub fn password_reset(to: &str, link: &str, minutes: i64) -> Result<Outgoing, MailError> {
    outgoing(
        "password_reset",
        to,
        "Choose a new Rampart password".into(),
        &PasswordResetText { link, minutes },
        &PasswordResetHtml { link, minutes },
    )
}

message_templates!(MfaChangedText = "mail/mfa_changed.txt", MfaChangedHtml = "mail/mfa_changed.html", {
    change: &'a str, link: &'a str,
});

/// Sent when a second factor is added or removed; `change` says which, such as "a security
/// key was added".
pub fn mfa_changed(to: &str, change: &str, link: &str) -> Result<Outgoing, MailError> {
    outgoing(
        "mfa_changed",
        to,
        "Your Rampart sign-in factors changed".into(),
        &MfaChangedText { change, link },
        &MfaChangedHtml { change, link },
    )
}

message_templates!(BackupFailedText = "mail/backup_failed.txt", BackupFailedHtml = "mail/backup_failed.html", {
    when: &'a str, link: &'a str,
});

/// To appliance administrators when a backup fails; `when` is a UTC time, `link` the jobs
/// page. The reason stays on the page: it may name paths of the appliance.
pub fn backup_failed(to: &str, when: &str, link: &str) -> Result<Outgoing, MailError> {
    outgoing(
        "backup_failed",
        to,
        "Rampart backup failed".into(),
        &BackupFailedText { when, link },
        &BackupFailedHtml { when, link },
    )
}

/// One line of a reminder or alert: what, when, and the absolute link to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    /// `YYYY-MM-DD`.
    pub due: String,
    /// "in 7 days", "tomorrow", "today".
    pub when: String,
    pub link: String,
}

message_templates!(ReminderText = "mail/reminder.txt", ReminderHtml = "mail/reminder.html", {
    organization: &'a str, lines: &'a [Line], settings: &'a str,
});

/// The deadlines one person should know of in one organization, soonest first.
pub fn deadline_reminder(
    to: &str,
    organization: &str,
    lines: &[Line],
    settings: &str,
) -> Result<Outgoing, MailError> {
    let subject = match lines {
        [only] => format!("{organization}: due {}", only.when),
        _ => format!("{organization}: {} deadlines coming up", lines.len()),
    };
    outgoing(
        "deadline_reminder",
        to,
        subject,
        &ReminderText {
            organization,
            lines,
            settings,
        },
        &ReminderHtml {
            organization,
            lines,
            settings,
        },
    )
}

message_templates!(DriftAlertText = "mail/drift_alert.txt", DriftAlertHtml = "mail/drift_alert.html", {
    organization: &'a str, lines: &'a [Line], link: &'a str, settings: &'a str,
});

/// Drift that was not there at the last check.
pub fn drift_alert(
    to: &str,
    organization: &str,
    lines: &[Line],
    link: &str,
    settings: &str,
) -> Result<Outgoing, MailError> {
    outgoing(
        "drift_alert",
        to,
        format!("{organization}: new drift"),
        &DriftAlertText {
            organization,
            lines,
            link,
            settings,
        },
        &DriftAlertHtml {
            organization,
            lines,
            link,
            settings,
        },
    )
}

/// The week's figures for one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub drift: usize,
    pub due_soon: usize,
    pub open_poam: usize,
}

message_templates!(DigestText = "mail/digest.txt", DigestHtml = "mail/digest.html", {
    organization: &'a str, digest: &'a Digest, link: &'a str, settings: &'a str,
});

/// The weekly digest.
pub fn weekly_digest(
    to: &str,
    organization: &str,
    digest: &Digest,
    link: &str,
    settings: &str,
) -> Result<Outgoing, MailError> {
    outgoing(
        "weekly_digest",
        to,
        format!("{organization}: this week in Rampart"),
        &DigestText {
            organization,
            digest,
            link,
            settings,
        },
        &DigestHtml {
            organization,
            digest,
            link,
            settings,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_parts_escape_and_text_parts_do_not() {
        let message = invitation(
            "ada@example.com",
            "Bob <script>",
            "Acme & Sons",
            "member",
            "https://rampart.example.com/invite/abc",
        )
        .unwrap();
        assert!(
            message
                .text
                .contains("Bob <script> invites you to join Acme & Sons")
        );
        assert!(!message.html.contains("<script>"));
        assert!(
            message.html.contains("Acme &amp; Sons") || message.html.contains("Acme &#38; Sons")
        );
        assert!(
            message
                .html
                .contains("href=\"https://rampart.example.com/invite/abc\"")
        );
        assert_eq!(message.kind, "invitation");
    }
}
