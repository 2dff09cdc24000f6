//! CIDR parsing: anything is a network or a one-line error; a network
//! parsed from its own display is the same network, and contains its own
//! address.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringflow::netset::Cidr;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Cidr::parse(text) {
        Ok(c) => {
            let again = Cidr::parse(&c.to_string()).expect("its own display parses");
            assert_eq!(again, c);
        }
        Err(e) => assert!(!e.contains('\n'), "two lines: {e}"),
    }
});
