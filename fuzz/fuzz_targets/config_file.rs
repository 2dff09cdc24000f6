//! A config file's text as `--config` and `check-config` take it, and the
//! accounting settings resolved from it (networks, limits, alert groups):
//! an error is one line, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.toml");
    match ringflow::config::run_args_from_text(path, text) {
        Ok(args) => {
            if let Err(e) = args.accounting.resolve() {
                assert!(!e.contains('\n'), "two lines: {e}");
            }
        }
        Err(e) => assert!(!e.contains('\n'), "two lines: {e}"),
    }
});
