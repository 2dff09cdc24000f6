//! The pcap and pcapng reader on any file: every record it returns lies
//! inside what it read, and it ends with records, end of file or an error,
//! never a panic or an endless loop.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringflow::capture::pcap_file::PcapReader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = PcapReader::new(data, "fuzz") else {
        return;
    };
    // every record takes at least one byte of input
    for _ in 0..=data.len() {
        match r.next_record() {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
    panic!("more records than bytes");
});
