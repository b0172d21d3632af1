//! Man pages and shell completions for the command lines, made from their
//! clap definitions so they never drift from `--help`. Each program offers
//! them through a hidden `generate` subcommand; the packages are built with it.

use clap::{Command, ValueEnum};
use clap_complete::Shell;
use std::io;
use std::path::PathBuf;

/// What `generate` writes.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Artifact {
    /// Man pages: one for the program and one per subcommand (section 1).
    Man,
    Bash,
    Zsh,
    Fish,
}

/// What a program's command line takes: its own subcommands `C`, or the
/// hidden `generate`.
#[derive(clap::Subcommand, Debug)]
pub enum Invocation<C: clap::Subcommand> {
    #[command(flatten)]
    Run(C),
    /// Write man pages or shell completions (the packages are built with it).
    #[command(hide = true)]
    Generate(GenerateArgs),
}

/// The hidden `generate` subcommand, the same in every program.
#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    #[arg(value_enum)]
    pub artifact: Artifact,
    /// Directory to write into (created if missing).
    pub dir: PathBuf,
}

/// What a program documents: the name, version and description of `parser`
/// with only the subcommands of `S`. Programs parse [`Invocation<S>`], so
/// the plumbing stays out of the pages and completions (clap's completions
/// would list a hidden subcommand).
pub fn documented<S: clap::Subcommand>(parser: &Command) -> Command {
    let mut top = Command::new(parser.get_name().to_owned()).subcommand_required(true);
    if let Some(version) = parser.get_version() {
        top = top.version(version.to_owned());
    }
    if let Some(about) = parser.get_about() {
        top = top.about(about.clone());
    }
    S::augment_subcommands(top)
}

/// Writes `args.artifact` for `command` into `args.dir`.
pub fn generate(mut command: Command, args: &GenerateArgs) -> io::Result<()> {
    std::fs::create_dir_all(&args.dir)?;
    let shell = match args.artifact {
        Artifact::Man => return clap_mangen::generate_to(command, &args.dir),
        Artifact::Bash => Shell::Bash,
        Artifact::Zsh => Shell::Zsh,
        Artifact::Fish => Shell::Fish,
    };
    let name = command.get_name().to_owned();
    clap_complete::generate_to(shell, &mut command, name, &args.dir).map(drop)
}
