//! Man pages and shell completions, generated from the command line
//! definition itself (with the defaults its help shows), so they never
//! say something the binary does not do. The package ships the files
//! `ringflow generate-docs contrib` writes; a test keeps them current.

use crate::config::Cli;
use std::io;
use std::path::Path;

/// Shells completions are written for, and the file name each expects.
const SHELLS: [(clap_complete::Shell, &str); 3] = [
    (clap_complete::Shell::Bash, "ringflow.bash"),
    (clap_complete::Shell::Zsh, "_ringflow"),
    (clap_complete::Shell::Fish, "ringflow.fish"),
];

/// Writes `dir/man/ringflow.1` and a page per subcommand
/// (`ringflow-run.1`, ...), and `dir/completions/` for bash, zsh and fish.
pub fn generate(dir: &Path) -> io::Result<()> {
    let man = dir.join("man");
    std::fs::create_dir_all(&man)?;
    let cmd = Cli::command_with_defaults();
    clap_mangen::generate_to(cmd.clone(), &man)?;
    let completions = dir.join("completions");
    std::fs::create_dir_all(&completions)?;
    for (shell, file) in SHELLS {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), "ringflow", &mut out);
        std::fs::write(completions.join(file), out)?;
    }
    Ok(())
}
