//! Users. Sign-in needs a few lookups before anyone is authenticated; those are the
//! only functions here without an [`Actor`], and they return no tenant data.

use crust_domain::UserId;
use diesel::prelude::*;
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{DalError, DalResult};
use crate::models::User;
use crate::password::PasswordHasher;
use crate::schema::users;
use crate::sessions::Authenticated;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// A user's stored password hash, to check a password against. The hash itself never
/// leaves the DAL.
#[derive(Queryable)]
pub struct Credentials {
    id: Uuid,
    password_hash: String,
    active: bool,
    verified: bool,
}

/// Proof that a password was checked against a user's stored hash (or that the user
/// was just created with it): what [`crate::sessions::create`] takes to open a session.
/// Made only here; used once.
#[derive(Debug)]
pub struct PasswordChecked {
    user: UserId,
}

impl PasswordChecked {
    /// For this crate's flows that prove the user another way (a link from their
    /// inbox followed, an account just made with the password given).
    pub(crate) fn new(user: UserId) -> Self {
        PasswordChecked { user }
    }

    pub fn user_id(&self) -> UserId {
        self.user
    }
}

impl Credentials {
    pub fn user_id(&self) -> UserId {
        UserId(self.id)
    }

    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Has the address been confirmed (by a link, an invitation or an operator)?
    pub fn is_verified(&self) -> bool {
        self.verified
    }

    /// Checks `password` (bcrypt: call it off the async executor, without a pooled
    /// connection held); the proof if it is this user's.
    pub fn check(&self, hasher: &PasswordHasher, password: &str) -> Option<PasswordChecked> {
        hasher
            .verify(password, &self.password_hash)
            .then_some(PasswordChecked {
                user: self.user_id(),
            })
    }

    /// Was the stored hash made at another cost than the hasher's?
    pub fn needs_rehash(&self, hasher: &PasswordHasher) -> bool {
        hasher.needs_rehash(&self.password_hash)
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUserRow<'a> {
    email: &'a str,
    name: &'a str,
    password_hash: &'a str,
    email_verified: bool,
}

/// Creates an account whose address counts as verified, from the console (`crust user
/// create`, `crust seed demo`, `crust dev`). The email must be new (case-insensitively).
pub fn create_verified(
    _: &crate::Operator,
    conn: &mut PgConnection,
    email: &str,
    name: &str,
    password_hash: &str,
) -> DalResult<User> {
    Ok(insert_verified(conn, email, name, password_hash)?.0)
}

/// Creates a verified account (an operator's, or one made by accepting an invitation,
/// which proved the address); the proof opens its first session.
pub(crate) fn insert_verified(
    conn: &mut PgConnection,
    email: &str,
    name: &str,
    password_hash: &str,
) -> DalResult<(User, PasswordChecked)> {
    let user: User = diesel::insert_into(users::table)
        .values(NewUserRow {
            email,
            name,
            password_hash,
            email_verified: true,
        })
        .returning(User::as_returning())
        .get_result(conn)
        .map_err(|e| match DalError::from(e) {
            DalError::Conflict(_) => {
                DalError::Conflict("an account with this email already exists".into())
            }
            other => other,
        })?;
    let proof = PasswordChecked {
        user: UserId(user.id),
    };
    Ok((user, proof))
}

/// An email as sign-in sees it: PostgreSQL's `lower()` of it (the key the accounts'
/// unique index uses, which Rust's lowercasing does not always agree with) and the
/// credentials of the account it names, if any. Both are always fetched, so the work is
/// the same whether or not the account exists.
pub fn credentials_by_email(
    conn: &mut PgConnection,
    email: &str,
) -> DalResult<(String, Option<Credentials>)> {
    let lowered = diesel::select(lower(email)).get_result(conn)?;
    let credentials = users::table
        .filter(lower(users::email).eq(lower(email)))
        .select((
            users::id,
            users::password_hash,
            users::active,
            users::email_verified,
        ))
        .first(conn)
        .optional()?;
    Ok((lowered, credentials))
}

/// The signed-in user's email and credentials (to check their current password).
pub fn credentials_of(
    conn: &mut PgConnection,
    auth: &Authenticated,
) -> DalResult<(String, Credentials)> {
    let (email, id, password_hash, active, verified) = users::table
        .find(auth.user_id().0)
        .select((
            users::email,
            users::id,
            users::password_hash,
            users::active,
            users::email_verified,
        ))
        .first(conn)?;
    Ok((
        email,
        Credentials {
            id,
            password_hash,
            active,
            verified,
        },
    ))
}

/// The signed-in user's own record (sign-in answers).
pub fn get_self(conn: &mut PgConnection, auth: &Authenticated) -> DalResult<User> {
    by_id(conn, auth.user_id())
}

/// A user's record, for callers in this crate that have already decided the reader may
/// see it (a grant or membership the actor just made, the actor themself).
pub(crate) fn by_id(conn: &mut PgConnection, user_id: UserId) -> DalResult<User> {
    Ok(users::table
        .find(user_id.0)
        .select(User::as_select())
        .first(conn)?)
}

/// The actor's own record.
pub fn me(conn: &mut PgConnection, actor: &Actor) -> DalResult<User> {
    by_id(conn, actor.user_id)
}

/// Stores a new hash for the signed-in user (a password change, or a rehash at login
/// after a cost change, once the session is open).
pub fn set_password_hash(
    conn: &mut PgConnection,
    auth: &Authenticated,
    hash: &str,
) -> DalResult<()> {
    diesel::update(users::table.find(auth.user_id().0))
        .set((
            users::password_hash.eq(hash),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Finds a user id by email for administrative commands (the `crust` CLI).
pub fn id_by_email(
    _: &crate::Operator,
    conn: &mut PgConnection,
    email: &str,
) -> DalResult<Option<UserId>> {
    Ok(credentials_by_email(conn, email)?.1.map(|c| UserId(c.id)))
}

/// Sets a user's password hash from the console (`crust seed demo` resets the demo
/// users' passwords).
pub fn reset_password_hash(
    _: &crate::Operator,
    conn: &mut PgConnection,
    user_id: UserId,
    hash: &str,
) -> DalResult<()> {
    diesel::update(users::table.find(user_id.0))
        .set((
            users::password_hash.eq(hash),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(QueryableByName)]
struct PepperCount {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// How many live accounts' hashes each pepper id made (`crust keys status`): a pepper
/// may be retired once no account needs it. The rule is [`crate::password::split`]'s.
pub fn count_by_pepper(
    _: &crate::Operator,
    conn: &mut PgConnection,
) -> DalResult<Vec<(String, i64)>> {
    let rows: Vec<PepperCount> = diesel::sql_query(
        "SELECT CASE WHEN password_hash LIKE '$%' OR strpos(password_hash, ':') = 0 THEN $1 \
                ELSE split_part(password_hash, ':', 1) END AS id, count(*) AS n \
         FROM users WHERE erased_at IS NULL GROUP BY 1 ORDER BY 1",
    )
    .bind::<diesel::sql_types::Text, _>(crate::password::FIRST_PEPPER_ID)
    .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.id, r.n)).collect())
}
