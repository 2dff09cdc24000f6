//! The bare AF_XDP receive-and-drop loop: the ceiling ringflow's AF_XDP
//! backend is measured against in `bench/live.sh`. It attaches the same
//! redirect program, binds one socket per queue with the same defaults,
//! and only hands frames back to the fill ring, counting them. Its threads
//! run at SCHED_FIFO 1, as ringflow's AF_XDP workers do by default. The
//! counts are printed on SIGINT/SIGTERM or after the given time.
//!
//! With `read` it also reads each frame's first 64 bytes (what a parser
//! touches, with the same prefetching as ringflow's loop): the reader
//! ringflow's cost per packet and captured rate are judged against.
//!
//!   xdp_drop IFACE [QUEUES] [native|skb] [SECONDS] [read]

use ringflow::capture::Iface;
use ringflow::capture::af_xdp::{Attachment, Waiter, XdpConfig, open_socket};
use ringflow::config::{XdpBind, XdpMode};
use ringflow::live::default_xdp_params;
use ringflow::sys::PollSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() {
    // blocked before any thread starts, so only the waiting thread sees them
    let signals = {
        use nix::sys::signal::{SigSet, Signal};
        let mut set = SigSet::empty();
        set.add(Signal::SIGINT);
        set.add(Signal::SIGTERM);
        let _ = set.thread_block();
        set
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first() else {
        eprintln!("usage: xdp_drop IFACE [QUEUES] [native|skb] [SECONDS] [read]");
        std::process::exit(2);
    };
    let queues: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let mode = match args.get(2).map(String::as_str) {
        Some("skb") => XdpMode::Skb,
        Some("native") => XdpMode::Native,
        _ => XdpMode::Auto,
    };
    let seconds: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3600);
    let read = args.get(4).is_some_and(|a| a == "read");
    let fail = |e: &dyn std::fmt::Display| -> ! {
        eprintln!("xdp_drop: {e}");
        std::process::exit(2);
    };
    let Some(iface) = Iface::lookup(name) else {
        fail(&format!("interface {name} not found"))
    };
    let cfg = XdpConfig {
        params: default_xdp_params(),
        mode,
        bind: XdpBind::Auto,
        busy_poll: None,
        max_nap: None,
    };
    let attachment = Attachment::attach(&iface, queues, mode).unwrap_or_else(|e| fail(&e));
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for q in 0..queues {
        let (mut sock, _) = open_socket(&iface, q, &cfg).unwrap_or_else(|e| fail(&e));
        attachment.register(q, &sock).unwrap_or_else(|e| fail(&e));
        let (stop, total, dropped) = (stop.clone(), total.clone(), dropped.clone());
        let cfg = cfg.clone();
        threads.push(std::thread::spawn(move || {
            if let Err(e) = ringflow::sys::set_thread_priority(Some(1)) {
                eprintln!("xdp_drop: normal priority: {e}");
            }
            let mut polls = PollSet::default();
            let mut waiter = Waiter::new(cfg.params.rx_size);
            let mut n = 0u64;
            let mut folded = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let batch = sock.receive(256);
                let got = batch.len();
                if read {
                    for f in batch.frames() {
                        folded ^= fold64(f);
                    }
                }
                drop(batch);
                n += u64::from(got);
                waiter.took(got);
                if got == 0 && waiter.idle() {
                    let _ = polls.wait(&[sock.fd()], 100);
                    waiter.woke();
                }
            }
            std::hint::black_box(folded);
            total.fetch_add(n, Ordering::Relaxed);
            if let Ok(st) = sock.stats() {
                dropped.fetch_add(st.rx_lost(), Ordering::Relaxed);
            }
        }));
    }
    eprintln!(
        "xdp_drop: receiving on {name}, {queues} queue(s), {} mode",
        attachment.mode.label()
    );
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let stop2 = stop.clone();
    std::thread::spawn(move || {
        let _ = signals.wait();
        stop2.store(true, Ordering::Relaxed);
    });
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    println!(
        "xdp_drop: received {} frames, {} dropped",
        total.load(Ordering::Relaxed),
        dropped.load(Ordering::Relaxed)
    );
}

/// The first 64 bytes of a frame (or all of a shorter one), read as eight
/// words folded into one.
fn fold64(f: &[u8]) -> u64 {
    f[..f.len().min(64)].chunks(8).fold(0, |acc, c| {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        acc ^ u64::from_ne_bytes(w)
    })
}
