//! `crust backup` and `crust restore` (being written).

#[derive(clap::Args)]
pub struct BackupArgs {}

#[derive(clap::Args)]
pub struct RestoreArgs {}

pub fn backup(_: BackupArgs) -> anyhow::Result<()> {
    anyhow::bail!("not written yet")
}

pub fn restore(_: RestoreArgs) -> anyhow::Result<()> {
    anyhow::bail!("not written yet")
}
