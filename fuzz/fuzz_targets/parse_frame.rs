//! The frame parser on any bytes, for every link type: it returns an
//! outcome (a packet, non-IP, or a counted error) and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringflow::parse::{Decap, LinkType, parse};

fuzz_target!(|data: &[u8]| {
    let Some((&which, frame)) = data.split_first() else {
        return;
    };
    let links = LinkType::ALL;
    let _ = parse(links[usize::from(which) % links.len()], frame, &Decap::default());
});
