//! ringflow's classic BPF interpreter (the AF_XDP `--filter`) against
//! libpcap's own, `pcap_offline_filter`, as the oracle: on every program
//! both checkers accept, and every frame, they accept or reject alike.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringflow::capture::cbpf::Filter;

#[repr(C)]
struct BpfProgram {
    bf_len: libc::c_uint,
    bf_insns: *const libc::sock_filter,
}

#[repr(C)]
struct PcapPkthdr {
    ts: libc::timeval,
    caplen: u32,
    len: u32,
}

#[link(name = "pcap")]
unsafe extern "C" {
    fn bpf_validate(f: *const libc::sock_filter, len: libc::c_int) -> libc::c_int;
    fn pcap_offline_filter(
        fp: *const BpfProgram,
        h: *const PcapPkthdr,
        pkt: *const u8,
    ) -> libc::c_int;
}

fuzz_target!(|data: &[u8]| {
    // [count][extra wire bytes][count × (code u16, jt, jf, k u32)][frame]
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let Some((&extra, rest)) = rest.split_first() else {
        return;
    };
    let n = usize::from(count % 32) + 1;
    if rest.len() < n * 8 {
        return;
    }
    let (prog, frame) = rest.split_at(n * 8);
    let insns: Vec<libc::sock_filter> = prog
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_le_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let Ok(ours) = Filter::new(&insns) else {
        return;
    };
    // SAFETY: `insns` holds `n` instructions laid out as struct bpf_insn.
    if unsafe { bpf_validate(insns.as_ptr(), n as libc::c_int) } == 0 {
        return;
    }
    let wire_len = frame.len() as u32 + u32::from(extra);
    let program = BpfProgram {
        bf_len: n as libc::c_uint,
        bf_insns: insns.as_ptr(),
    };
    let header = PcapPkthdr {
        ts: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        caplen: frame.len() as u32,
        len: wire_len,
    };
    // SAFETY: the program is valid (checked above) and outlives the call;
    // the header's caplen is the frame's length.
    let theirs = unsafe { pcap_offline_filter(&program, &header, frame.as_ptr()) } != 0;
    assert_eq!(
        ours.accepts(frame, wire_len),
        theirs,
        "program {insns:?} on {} bytes ({wire_len} on the wire)",
        frame.len()
    );
});
