//! ringflow: parse the command line, start the threads; no logic here.

use anyhow::Context;
use ringflow::collector::PipelineConfig;
use ringflow::config::{
    AccountingArgs, CheckConfigArgs, Cli, Command, GenArgs, PipelineArgs, ReplayArgs, RunArgs,
    SynthArgs,
};
use ringflow::{export, generator, live, replay, synth};
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
        Some(Command::Replay(args)) => run_replay(args).map_err(|e| (e, 1)),
        Some(Command::Synth(args)) => run_synth(args).map_err(|e| (e, 1)),
        Some(Command::Gen(args)) => run_gen(args),
        Some(Command::CheckConfig(args)) => check_config(args),
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
    let (snapshot, stats) = live::run(&settings).map_err(|e| (e.into(), 2))?;
    if settings.print {
        let text = export::render(snapshot, stats, export::Format::Text);
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| (anyhow::Error::new(e).context("cannot write to stdout"), 1))?;
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

fn pipeline_config(p: &PipelineArgs, a: &AccountingArgs) -> anyhow::Result<PipelineConfig> {
    Ok(PipelineConfig {
        workers: usize::from(p.workers),
        table_capacity: p.flow_table_size as usize,
        refresh: p.refresh,
        accounting: a.resolve().map_err(anyhow::Error::msg)?,
    })
}

fn run_replay(args: ReplayArgs) -> anyhow::Result<()> {
    let cfg = pipeline_config(&args.pipeline, &args.accounting)?;
    let inputs = args
        .files
        .iter()
        .map(|f| replay::open(f))
        .collect::<Result<Vec<_>, _>>()?;
    let job = replay::Replay::new(inputs, &cfg, args.batch as usize);
    ringflow::log!(
        "ringflow: replaying {} file(s) on {} worker(s); flow tables {:.1} MiB, collector {:.1} MiB",
        args.files.len(),
        cfg.workers,
        job.shard_memory_bytes() as f64 / (1 << 20) as f64,
        job.collector_memory_bytes() as f64 / (1 << 20) as f64
    );
    let published = job.published();
    let stats = job.capture_stats();
    let server = match args.listen {
        Some(addr) => {
            let s = export::http::spawn(addr, published, stats.clone())?;
            ringflow::log!("ringflow: serving http://{}/metrics", s.local_addr);
            Some(s)
        }
        None => None,
    };
    let snapshot = job.run()?;
    match server {
        Some(s) => {
            ringflow::log!(
                "ringflow: input complete ({} packets); still serving until interrupted",
                snapshot.packets
            );
            s.thread
                .join()
                .map_err(|_| anyhow::anyhow!("the HTTP server thread stopped"))?;
        }
        None => {
            let text = export::render(snapshot, stats, export::Format::Text);
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .context("cannot write to stdout")?;
        }
    }
    Ok(())
}

fn run_synth(args: SynthArgs) -> anyhow::Result<()> {
    let mix = synth::Mix {
        flows: args.flows,
        packets: args.packets,
        ipv6_percent: args.ipv6_percent,
        vlan_percent: args.vlan_percent,
        udp_percent: args.udp_percent,
        frame_size: args.frame_size,
        seed: args.seed,
    };
    let file =
        std::fs::File::create(&args.out).with_context(|| format!("cannot create {}", args.out))?;
    let mut w = synth::PcapWriter::new(std::io::BufWriter::new(file), 1, false)
        .with_context(|| format!("cannot write {}", args.out))?;
    let mut ts = 1_700_000_000_000_000_000u64;
    let mut err = None;
    mix.for_each_frame(|_, _, frame| {
        if err.is_none() {
            err = w.write(ts, frame, usize::MAX).err();
        }
        ts += 1000;
    });
    if let Some(e) = err {
        return Err(e).with_context(|| format!("cannot write {}", args.out));
    }
    w.into_inner()
        .flush()
        .with_context(|| format!("cannot write {}", args.out))?;
    ringflow::log!("ringflow: wrote {} packets to {}", args.packets, args.out);
    Ok(())
}
