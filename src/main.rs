//! ringflow: parse the command line, start the threads; no logic here.

use anyhow::Context;
use ringflow::config::{
    CheckConfigArgs, Cli, Command, DoctorArgs, GenArgs, ReplayArgs, RunArgs, SynthArgs,
};
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
        Some(Command::Doctor(args)) => doctor(*args),
        Some(Command::GenerateDocs(args)) => ringflow::tools::docs::generate(&args.dir)
            .with_context(|| format!("writing into {}", args.dir.display()))
            .map_err(|e| (e, 1)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((e, code)) => {
            ringflow::log!("ringflow: error: {}", one_line(&e));
            ExitCode::from(code)
        }
    }
}

/// The error and its causes on one line, each cause said once: one whose
/// text the message already holds (an I/O error a file error quotes) is
/// not said again.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out
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

/// Settings that cannot be resolved exit with 2, like a run's; a problem
/// found (or a fix that failed) with 1.
fn doctor(args: DoctorArgs) -> Result<(), (anyhow::Error, u8)> {
    use ringflow::doctor::{self, checks::Severity, kernel};
    let settings = live::resolve(args.run).map_err(|e| (e.into(), 2))?;
    let plan = doctor::Plan::from_settings(&settings);
    let recorder = match &args.record {
        Some(dir) => Some(kernel::Recorder::new(dir).map_err(|e| (anyhow::anyhow!(e), 2))?),
        None => None,
    };
    let k: &dyn kernel::Kernel = match &recorder {
        Some(r) => r,
        None => &kernel::Live,
    };
    let report = doctor::examine(k, plan);
    if let Some(r) = &recorder {
        r.finish().map_err(|e| (anyhow::anyhow!(e), 1))?;
    }
    let out = if args.json {
        serde_json::to_string_pretty(&report).map_err(|e| (e.into(), 1))? + "\n"
    } else {
        report.render()
    };
    print!("{out}");
    if args.fix {
        let actions: Vec<&doctor::fix::Action> =
            report.findings.iter().flat_map(|f| &f.actions).collect();
        return apply_fixes(&actions, args.yes).map_err(|e| (anyhow::anyhow!(e), 1));
    }
    if report.count(Severity::Problem) > 0 {
        return Err((
            anyhow::anyhow!("{} problem(s) found", report.count(Severity::Problem)),
            1,
        ));
    }
    Ok(())
}

/// Asks (unless `yes`), applies each action and says what changed and how
/// to undo it; an action that fails is said and the others still run.
fn apply_fixes(actions: &[&ringflow::doctor::fix::Action], yes: bool) -> Result<(), String> {
    use std::io::{BufRead, IsTerminal};
    if actions.is_empty() {
        println!("\nnothing for --fix to change");
        return Ok(());
    }
    println!("\n--fix will change:");
    for a in actions {
        println!("  {}", a.describe());
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(
                "--fix asks before it changes anything: answer on a terminal, or give --yes".into(),
            );
        }
        print!("apply these {} change(s)? [y/N] ", actions.len());
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("nothing changed");
            return Ok(());
        }
    }
    let mut failed = 0;
    for a in actions {
        match a.apply(&ringflow::doctor::kernel::Live) {
            Ok(()) => println!("changed: {}; undo: {}", a.describe(), a.undo()),
            Err(e) => {
                failed += 1;
                println!("failed: {}: {e}", a.describe());
            }
        }
    }
    if failed > 0 {
        return Err(format!("{failed} of {} change(s) failed", actions.len()));
    }
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

/// Settings that are wrong (flags, the config file, the web config) exit
/// with 2, as for a live capture; bad input files and what goes wrong
/// while replaying with 1.
fn run_replay(args: ReplayArgs) -> Result<(), (anyhow::Error, u8)> {
    use replay::ReplayError;
    match replay::run(&args) {
        Ok(Some(counted)) => print_exposition(counted).map_err(|e| (e, 1)),
        Ok(None) => Ok(()),
        Err(e @ (ReplayError::Usage(_) | ReplayError::Config(_))) => Err((e.into(), 2)),
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
