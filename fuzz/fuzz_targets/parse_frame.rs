//! The frame parser on any bytes, for every link type: it returns an
//! outcome (a packet, non-IP, or a counted error) and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringflow::parse::{LinkType, parse};

const LINKS: [LinkType; 6] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::RawIp,
    LinkType::Ipv4,
    LinkType::Ipv6,
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, frame)) = data.split_first() else {
        return;
    };
    let _ = parse(LINKS[usize::from(which) % LINKS.len()], frame);
});
