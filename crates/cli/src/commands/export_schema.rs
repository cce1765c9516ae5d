use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Write to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let sdl = crust_api::graphql::export_sdl();
    match args.out {
        Some(path) => std::fs::write(&path, sdl)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display())),
        None => {
            print!("{sdl}");
            Ok(())
        }
    }
}
