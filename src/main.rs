//! ringflow: parse the command line, start the threads; no logic here.

use anyhow::Context;
use ringflow::config::{CheckConfigArgs, Cli, Command, GenArgs, ReplayArgs, RunArgs, SynthArgs};
use ringflow::tools::{generator, synth};
use ringflow::{export, live, replay};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse_args() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                // What was asked for, on stdout, and success.
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                // A usage error that clap answers with the help, on stderr.
                let _ = e.print();
            } else {
                // one line: clap's message up to its usage block
                let text = e.to_string();
                let msg: Vec<&str> = text
                    .lines()
                    .take_while(|l| !l.trim().is_empty())
                    .map(str::trim)
                    .collect();
                ringflow::log!("ringflow: {} (see ringflow --help)", msg.join(" "));
            }
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        None => run_live(cli.run),
        Some(Command::Run(args)) => run_live(*args),
        Some(Command::Replay(args)) => run_replay(*args),
        Some(Command::Synth(args)) => run_synth(args).map_err(|e| (e, 1)),
        Some(Command::Gen(args)) => run_gen(args),
        Some(Command::CheckConfig(args)) => check_config(args),
        Some(Command::GenerateDocs(args)) => ringflow::tools::docs::generate(&args.dir)
            .with_context(|| format!("writing into {}", args.dir.display()))
            .map_err(|e| (e, 1)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((e, code)) => {
            ringflow::log!("ringflow: error: {e:#}");
            ExitCode::from(code)
        }
    }
}

/// Setup problems (settings, interfaces, privileges, filters, rings) exit
/// with 2.
fn run_live(args: RunArgs) -> Result<(), (anyhow::Error, u8)> {
    let settings = live::resolve(args).map_err(|e| (e.into(), 2))?;
    let counted = live::run(&settings).map_err(|e| (e.into(), 2))?;
    if settings.print {
        print_exposition(counted).map_err(|e| (e, 1))?;
    }
    Ok(())
}

/// Resolves the file as a live capture would (interfaces included) and
/// prints the outcome; nothing is opened.
fn check_config(args: CheckConfigArgs) -> Result<(), (anyhow::Error, u8)> {
    let run = RunArgs {
        config: Some(args.file.clone()),
        ..RunArgs::default()
    };
    let settings = live::resolve(run).map_err(|e| (e.into(), 2))?;
    println!("# {}: ok; effective settings", args.file.display());
    println!("{}", settings.describe());
    Ok(())
}

fn run_gen(args: GenArgs) -> Result<(), (anyhow::Error, u8)> {
    let r = generator::run(&args).map_err(|e| (e.into(), 2))?;
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    ringflow::log!(
        "ringflow: sent {} packets, {} bytes in {:.3} s ({:.0} pps)",
        r.packets,
        r.bytes,
        secs,
        r.packets as f64 / secs
    );
    Ok(())
}

/// Bad input (files, settings) exits with 1; a flow export setting that
/// is wrong as given (`--ipfix` and its companions) with 2, as for a live
/// capture.
fn run_replay(args: ReplayArgs) -> Result<(), (anyhow::Error, u8)> {
    match replay::run(&args) {
        Ok(Some(counted)) => print_exposition(counted).map_err(|e| (e, 1)),
        Ok(None) => Ok(()),
        Err(e @ replay::ReplayError::Usage(_)) => Err((e.into(), 2)),
        Err(e) => Err((e.into(), 1)),
    }
}

fn run_synth(args: SynthArgs) -> anyhow::Result<()> {
    synth::write_capture(&args).map_err(anyhow::Error::msg)?;
    ringflow::log!("ringflow: wrote {} packets to {}", args.packets, args.out);
    Ok(())
}

/// The final exposition on stdout (`--print`), in the text format.
fn print_exposition((snapshot, stats): export::Counted) -> anyhow::Result<()> {
    let text = export::render(snapshot, stats, export::Format::Text);
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .context("cannot write to stdout")
}
