//! The sign-in flows that go through the inbox: verification, password reset, change
//! of address, invitations. Each runs its DAL flow and its audit event in one
//! transaction, then wakes the mail worker. Tokens arrive only as arguments (which the
//! recorder redacts) and are never logged.

use crust_dal::audit::{Target, TargetKind};
use crust_dal::{accounts, invitations};
use crust_domain::audit::Outcome;
use crust_domain::{validate, OrgId, UserId};
use serde_json::json;

use super::service::{AuthService, Principal, SignedIn};
use super::throttle::AccountKey;
use crate::audit::Recorder;
use crate::error::ApiError;

/// The least time `requestPasswordReset` and `resendVerification` take. They hash no
/// password, so without it an address with an account (a few more statements: a link
/// made, a message queued) would answer measurably later than one without.
const ADDRESS_FLOW_FLOOR: std::time::Duration = std::time::Duration::from_millis(100);

async fn pad_from(started: std::time::Instant) {
    if let Some(rest) = ADDRESS_FLOW_FLOOR.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
}

/// What a bad verification link and a wrong password both answer.
const BAD_VERIFICATION: &str = "this link is invalid, expired or already used, or the password is not the one chosen at sign-up; sign up again for a new link";

/// What accepting an invitation gave.
pub struct Joined {
    pub org: OrgId,
    /// A new account's first session; `None` when a signed-in user accepted.
    pub session: Option<SignedIn>,
}

impl AuthService {
    /// Follows a verification link with the password chosen at sign-up: the address
    /// is verified and a session opens. A bad link and a wrong password answer alike.
    pub async fn verify_email(
        &self,
        token: String,
        password: String,
        rec: &Recorder,
    ) -> Result<SignedIn, ApiError> {
        let pending = self
            .db
            .run(move |c| accounts::pending_verification(c, &token))
            .await?;
        let hasher = self.hasher();
        // The same bcrypt work whether or not the link is good.
        let link = self
            .hashing
            .run(move || match pending {
                Some(p) => p.check(&hasher, &password),
                None => {
                    hasher.verify_dummy(&password);
                    None
                }
            })
            .await?;
        let Some(link) = link else {
            let mut e = rec.sign_in_event("verifyEmail", Outcome::Invalid);
            e.error_code = Some("BAD_USER_INPUT".into());
            e.reason = Some("bad_link_or_password".into());
            e.variables = Some(rec.sent(json!({})));
            let rec2 = rec.clone();
            self.db.run(move |c| rec2.append(c, &e)).await?;
            rec.mark_recorded();
            return Err(ApiError::BadUserInput(BAD_VERIFICATION.into()));
        };
        self.open_session(
            rec,
            "verifyEmail",
            move |c| Ok((accounts::verify_email(c, link)?, ())),
            None,
        )
        .await
        .map(|(signed_in, ())| signed_in)
    }

    /// A new verification link for an unverified account; nothing for any other
    /// address, and the same answer.
    pub async fn resend_verification(&self, email: &str, rec: &Recorder) -> Result<(), ApiError> {
        self.address_flow(
            "resendVerification",
            email,
            rec,
            accounts::resend_verification,
        )
        .await
    }

    /// Queues a reset link for an active account (at most one per address per
    /// `CRUST_PASSWORD_RESET_INTERVAL_SECS`); the same answer for any address.
    pub async fn request_password_reset(
        &self,
        email: &str,
        rec: &Recorder,
    ) -> Result<(), ApiError> {
        let interval = self.reset_interval;
        self.address_flow("requestPasswordReset", email, rec, move |c, email| {
            accounts::request_password_reset(c, email, interval)
        })
        .await
    }

    /// A flow that takes only an address and answers the same for any: runs `flow`
    /// (which names the account a link went to, if one did) and its record in one
    /// transaction, wakes the mail worker, and takes at least [`ADDRESS_FLOW_FLOOR`].
    async fn address_flow(
        &self,
        action: &'static str,
        email: &str,
        rec: &Recorder,
        flow: impl FnOnce(&mut crust_dal::PgConnection, &str) -> crust_dal::DalResult<Option<UserId>>
            + Send
            + 'static,
    ) -> Result<(), ApiError> {
        let started = std::time::Instant::now();
        let email = validate::email(email).map_err(|e| ApiError::BadUserInput(e.to_string()))?;
        let rec2 = rec.clone();
        self.db
            .run(move |c| {
                crust_dal::transaction(c, |c| {
                    let user = flow(c, &email)?;
                    let mut e = rec2.sign_in_event(action, Outcome::Ok);
                    e.reason = Some(
                        if user.is_some() {
                            "queued"
                        } else {
                            "nothing_sent"
                        }
                        .into(),
                    );
                    e.subject_user = user;
                    e.target = user.map(|u| Target::new(TargetKind::User, u.0));
                    e.variables = Some(rec2.sent(json!({ "email": email })));
                    rec2.append(c, &e)
                })
            })
            .await?;
        rec.mark_recorded();
        self.mail.wake();
        pad_from(started).await;
        Ok(())
    }

    /// Follows a reset link: new password (the policy applies), every session of the
    /// account ended, its failed sign-ins forgotten, a notice sent.
    pub async fn reset_password(
        &self,
        token: String,
        password: String,
        rec: &Recorder,
    ) -> Result<usize, ApiError> {
        let hash = self.hash_new_password(password).await?;
        let rec2 = rec.clone();
        let reset = self
            .db
            .run(move |c| {
                crust_dal::transaction(c, |c| {
                    let reset = accounts::reset_password(c, &token, &hash)?;
                    let mut e = rec2.sign_in_event("resetPassword", Outcome::Ok);
                    e.subject_user = Some(reset.user);
                    e.target = Some(Target::new(TargetKind::User, reset.user.0));
                    e.variables =
                        Some(json!({ "sessionsEnded": reset.sessions_ended }).to_string());
                    rec2.append(c, &e)?;
                    Ok(reset)
                })
            })
            .await?;
        rec.mark_recorded();
        self.throttle.clear_account(AccountKey::User(reset.user));
        self.mail.wake();
        Ok(reset.sessions_ended)
    }

    /// Starts a change of address after checking the password: a link goes to the
    /// new address (unless it belongs to another account: then nothing, and the same
    /// answer).
    pub async fn change_email(
        &self,
        principal: Principal,
        password: String,
        new_email: &str,
        rec: &Recorder,
    ) -> Result<(), ApiError> {
        let new_email =
            validate::email(new_email).map_err(|e| ApiError::BadUserInput(e.to_string()))?;
        self.check_current_password(&principal, password, "changeEmail", rec)
            .await?;
        let rec2 = rec.clone();
        self.db
            .run(move |c| {
                crust_dal::transaction(c, |c| {
                    // Whether a link went out is not recorded: the caller reads their
                    // own events, and it would tell whether the address has an account.
                    accounts::request_email_change(c, &principal, &new_email)?;
                    let mut e = rec2.event("changeEmail", Outcome::Ok);
                    e.variables = Some(rec2.sent(json!({ "newEmail": new_email })));
                    rec2.append(c, &e)
                })
            })
            .await?;
        rec.mark_recorded();
        self.mail.wake();
        Ok(())
    }

    /// Follows the link sent to a new address, signed in as the account that asked:
    /// the change takes effect and both addresses are told.
    pub async fn confirm_email_change(
        &self,
        principal: Principal,
        token: String,
        rec: &Recorder,
    ) -> Result<(), ApiError> {
        let rec2 = rec.clone();
        self.db
            .run(move |c| {
                crust_dal::transaction(c, |c| {
                    let user = accounts::confirm_email_change(c, &principal, &token)?;
                    let mut e = rec2.event("confirmEmailChange", Outcome::Ok);
                    e.subject_user = Some(user);
                    e.target = Some(Target::new(TargetKind::User, user.0));
                    e.variables = Some(rec2.sent(json!({})));
                    rec2.append(c, &e)
                })
            })
            .await?;
        rec.mark_recorded();
        self.mail.wake();
        Ok(())
    }

    /// Accepts an invitation: as the signed-in invited account, or — nobody signed
    /// in — by creating the invited address's account, which then signs in.
    pub async fn accept_invitation(
        &self,
        token: String,
        principal: Option<Principal>,
        name: Option<String>,
        password: Option<String>,
        rec: &Recorder,
    ) -> Result<Joined, ApiError> {
        let record = |rec: &Recorder, accepted: &invitations::Accepted| {
            let mut e = rec.sign_in_event("acceptInvitation", Outcome::Ok);
            e.actor = Some(accepted.user);
            e.subject_user = Some(accepted.user);
            e.organization = Some(accepted.org.0);
            e.target = Some(Target::new(TargetKind::Organization, accepted.org.0));
            e.reason = Some(format!(
                "joined_as_{}",
                accepted.role.as_str().to_lowercase()
            ));
            e.variables = Some(rec.sent(json!({})));
            e
        };
        if let Some(principal) = principal {
            let rec2 = rec.clone();
            let org = self
                .db
                .run(move |c| {
                    crust_dal::transaction(c, |c| {
                        let accepted = invitations::accept(
                            c,
                            &token,
                            invitations::Acceptor::SignedIn(&principal),
                        )?;
                        let mut e = record(&rec2, &accepted);
                        e.session = Some(principal.session_id());
                        rec2.append(c, &e)?;
                        Ok(accepted.org)
                    })
                })
                .await?;
            rec.mark_recorded();
            return Ok(Joined { org, session: None });
        }
        let (Some(name), Some(password)) = (name, password) else {
            return Err(ApiError::BadUserInput(
                "name and password are needed to create your account (or sign in first if you have one)".into(),
            ));
        };
        let name =
            validate::name("name", &name).map_err(|e| ApiError::BadUserInput(e.to_string()))?;
        let hash = self.hash_new_password(password).await?;
        let rec2 = rec.clone();
        let (session, org) = self
            .open_session(
                rec,
                "acceptInvitation",
                move |c| {
                    let accepted = invitations::accept(
                        c,
                        &token,
                        invitations::Acceptor::NewAccount {
                            name: &name,
                            password_hash: &hash,
                        },
                    )?;
                    rec2.append(c, &record(&rec2, &accepted))?;
                    let org = accepted.org;
                    let proof = accepted
                        .new_account
                        .ok_or_else(|| crust_dal::DalError::Internal("no new account".into()))?;
                    Ok((proof, org))
                },
                None,
            )
            .await?;
        Ok(Joined {
            org,
            session: Some(session),
        })
    }
}
