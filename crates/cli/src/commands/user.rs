use std::io::BufRead;

use anyhow::Context;
use crust_dal::password::PasswordHasher;
use crust_domain::{password::check_new_password, validate};

#[derive(clap::Subcommand)]
pub enum UserCommand {
    /// Create an account (its address counts as verified). The password is read from standard input (one line) with
    /// --password-stdin; otherwise a strong one is generated and printed once.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

pub fn run(cmd: UserCommand) -> anyhow::Result<()> {
    let UserCommand::Create {
        email,
        name,
        password_stdin,
    } = cmd;
    let config = super::load_config()?;
    let email = validate::email(&email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let name = validate::name("name", &name).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (password, generated) = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (generate_password()?, true)
    };
    check_new_password(&password).map_err(|e| anyhow::anyhow!("password: {e}"))?;
    let hasher = PasswordHasher::new(
        config.auth.password_pepper.expose(),
        config.auth.bcrypt_cost,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = hasher.hash(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut conn = super::connect(&config)?;
    let user = crust_dal::users::create_verified(
        &crust_dal::Operator::at_console(),
        &mut conn,
        &email,
        &name,
        &hash,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "created user {} <{}> with id {}",
        user.name, user.email, user.id
    );
    if generated {
        println!("password (shown once): {password}");
    }
    Ok(())
}

/// 20 random characters from an unambiguous alphabet (~115 bits).
pub fn generate_password() -> anyhow::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        let mut byte = [0u8; 1];
        getrandom::fill(&mut byte).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        // Reject the tail of the byte range so every character is equally likely.
        let limit = 256 - (256 % ALPHABET.len());
        if usize::from(byte[0]) < limit {
            out.push(char::from(ALPHABET[usize::from(byte[0]) % ALPHABET.len()]));
        }
    }
    Ok(out)
}
