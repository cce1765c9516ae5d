//! `crust org create|list|add-member`: the operator's way to make organizations and
//! add an existing account without an invitation (the API only invites).

use crust_dal::{Actor, Operator};
use crust_domain::{OrgId, OrgRole};

#[derive(clap::Subcommand)]
pub enum OrgCommand {
    /// Create an organization owned by an existing account.
    Create {
        #[arg(long)]
        name: String,
        /// The email of the account that becomes its OWNER.
        #[arg(long)]
        owner: String,
    },
    /// List every organization with its number of members.
    List,
    /// Add an existing account to an organization (no invitation, no email).
    AddMember {
        /// The organization's id.
        #[arg(long)]
        org: uuid::Uuid,
        #[arg(long)]
        email: String,
        /// OWNER, ADMIN, MEMBER or GUEST.
        #[arg(long)]
        role: String,
    },
}

fn role(s: &str) -> anyhow::Result<OrgRole> {
    match s.to_ascii_uppercase().as_str() {
        "OWNER" => Ok(OrgRole::Owner),
        "ADMIN" => Ok(OrgRole::Admin),
        "MEMBER" => Ok(OrgRole::Member),
        "GUEST" => Ok(OrgRole::Guest),
        other => anyhow::bail!("--role: `{other}` is not one of OWNER, ADMIN, MEMBER, GUEST"),
    }
}

fn dal<T>(r: crust_dal::DalResult<T>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{e}"))
}

pub fn run(cmd: OrgCommand) -> anyhow::Result<()> {
    let config = super::load_config()?;
    let mut conn = super::connect(&config)?;
    let op = Operator::at_console();
    let user_by_email = |conn: &mut crust_dal::PgConnection, email: &str| {
        dal(crust_dal::users::id_by_email(&op, conn, email))?
            .ok_or_else(|| anyhow::anyhow!("no account uses {email}"))
    };
    match cmd {
        OrgCommand::Create { name, owner } => {
            let owner = user_by_email(&mut conn, &owner)?;
            let actor = dal(Actor::for_operator(&op, &mut conn, owner))?;
            let org = dal(crust_dal::orgs::create(&mut conn, &actor, &name))?;
            println!("created organization {} with id {}", org.name, org.id);
        }
        OrgCommand::List => {
            let orgs = dal(crust_dal::orgs::list_all(&op, &mut conn))?;
            if orgs.is_empty() {
                println!("no organizations");
            }
            for (org, members) in orgs {
                println!("{}  {}  {members} member(s)", org.id, org.name);
            }
        }
        OrgCommand::AddMember {
            org,
            email,
            role: r,
        } => {
            let r = role(&r)?;
            let user = user_by_email(&mut conn, &email)?;
            let member = dal(crust_dal::orgs::add_member_as_operator(
                &op,
                &mut conn,
                OrgId(org),
                user,
                r,
            ))?;
            println!(
                "{} <{}> is now {} of organization {org}",
                member.user.name,
                member.user.email,
                member.role.as_str()
            );
        }
    }
    Ok(())
}
