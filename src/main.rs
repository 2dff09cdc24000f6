//! ringflow: parse the command line, start the threads; no logic here.

use anyhow::Context;
use clap::Parser;
use ringflow::collector::PipelineConfig;
use ringflow::config::{Cli, Command, PipelineArgs, ReplayArgs, SynthArgs};
use ringflow::{export, replay, synth};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
            } else {
                // one line: clap's message up to its usage block
                let text = e.to_string();
                let msg: Vec<&str> = text
                    .lines()
                    .take_while(|l| !l.trim().is_empty())
                    .map(str::trim)
                    .collect();
                eprintln!("ringflow: {} (see ringflow --help)", msg.join(" "));
            }
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Replay(args) => run_replay(args),
        Command::Synth(args) => run_synth(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ringflow: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn pipeline_config(p: &PipelineArgs) -> PipelineConfig {
    PipelineConfig {
        workers: usize::from(p.workers),
        table_capacity: p.flow_table_size as usize,
        refresh: p.refresh,
        ..PipelineConfig::default()
    }
}

fn run_replay(args: ReplayArgs) -> anyhow::Result<()> {
    let inputs = args
        .files
        .iter()
        .map(|f| replay::open(f))
        .collect::<Result<Vec<_>, _>>()?;
    let cfg = pipeline_config(&args.pipeline);
    let job = replay::Replay::new(inputs, &cfg, args.batch as usize);
    eprintln!(
        "ringflow: replaying {} file(s) on {} worker(s); flow tables {:.1} MiB",
        args.files.len(),
        cfg.workers,
        job.shard_memory_bytes() as f64 / (1 << 20) as f64
    );
    let published = job.published();
    let source = job.source_stats();
    let server = match args.listen {
        Some(addr) => {
            let s = export::http::spawn(addr, published, source.clone())?;
            eprintln!("ringflow: serving http://{}/metrics", s.local_addr);
            Some(s)
        }
        None => None,
    };
    let snapshot = job.run()?;
    match server {
        Some(s) => {
            eprintln!(
                "ringflow: input complete ({} packets); still serving until interrupted",
                snapshot.packets
            );
            s.thread
                .join()
                .map_err(|_| anyhow::anyhow!("the HTTP server thread stopped"))?;
        }
        None => {
            let text = export::render(snapshot, source);
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
    eprintln!("ringflow: wrote {} packets to {}", args.packets, args.out);
    Ok(())
}
