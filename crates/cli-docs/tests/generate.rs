//! The pages and completions document what a person types, not the plumbing.

use clap::{CommandFactory, Parser, Subcommand};
use heso_cli_docs::{documented, generate, Artifact, GenerateArgs, Invocation};

#[derive(Parser)]
#[command(name = "tool", version, about = "A tool")]
struct Cli {
    #[command(subcommand)]
    invocation: Invocation<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Check something.
    Check {
        #[arg(long)]
        json: bool,
    },
}

fn written(artifact: Artifact) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let args = GenerateArgs {
        artifact,
        dir: dir.path().join("out"),
    };
    generate(documented::<Command>(&Cli::command()), &args).unwrap();
    let mut files: Vec<(String, String)> = std::fs::read_dir(&args.dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn man_pages_cover_the_program_and_each_subcommand_but_not_generate() {
    let pages = written(Artifact::Man);
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["tool-check.1", "tool.1"]);
    let top = &pages[1].1;
    assert!(top.contains("A tool"), "{top}");
    assert!(top.contains("check"), "{top}");
    assert!(!top.contains("generate"), "{top}");
}

#[test]
fn completions_offer_the_subcommands_but_not_generate() {
    for (artifact, file) in [
        (Artifact::Bash, "tool.bash"),
        (Artifact::Zsh, "_tool"),
        (Artifact::Fish, "tool.fish"),
    ] {
        let files = written(artifact);
        assert_eq!(files.len(), 1);
        let (name, text) = &files[0];
        assert_eq!(name, file);
        assert!(text.contains("check") && text.contains("json"), "{text}");
        assert!(!text.contains("generate"), "{artifact:?}: {text}");
    }
}

#[test]
fn the_parser_still_takes_generate() {
    let cli = Cli::try_parse_from(["tool", "generate", "man", "/tmp/x"]).unwrap();
    assert!(matches!(cli.invocation, Invocation::Generate(_)));
    let cli = Cli::try_parse_from(["tool", "check", "--json"]).unwrap();
    assert!(matches!(
        cli.invocation,
        Invocation::Run(Command::Check { json: true })
    ));
}
