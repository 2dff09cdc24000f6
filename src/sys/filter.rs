//! Compiling tcpdump filter expressions to classic BPF with libpcap.

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};

#[repr(C)]
struct BpfProgram {
    bf_len: c_uint,
    bf_insns: *mut libc::sock_filter,
}

#[link(name = "pcap")]
unsafe extern "C" {
    fn pcap_open_dead(linktype: c_int, snaplen: c_int) -> *mut c_void;
    fn pcap_compile(
        p: *mut c_void,
        fp: *mut BpfProgram,
        s: *const c_char,
        optimize: c_int,
        netmask: u32,
    ) -> c_int;
    fn pcap_geterr(p: *mut c_void) -> *const c_char;
    fn pcap_freecode(fp: *mut BpfProgram);
    fn pcap_close(p: *mut c_void);
}

const PCAP_NETMASK_UNKNOWN: u32 = 0xffff_ffff;

/// Compiles `expr` for frames of `linktype` (a DLT value) that accepts
/// `snaplen` bytes of each matching packet. The error is libpcap's message.
pub fn compile(expr: &str, linktype: i32, snaplen: u32) -> Result<Vec<libc::sock_filter>, String> {
    let c_expr =
        CString::new(expr).map_err(|_| "the expression contains a NUL byte".to_string())?;
    let snaplen = c_int::try_from(snaplen).unwrap_or(c_int::MAX);
    // SAFETY: pcap_open_dead only allocates a handle; null means failure.
    let handle = unsafe { pcap_open_dead(linktype, snaplen) };
    if handle.is_null() {
        return Err("libpcap could not allocate a handle".into());
    }
    let mut prog = BpfProgram {
        bf_len: 0,
        bf_insns: std::ptr::null_mut(),
    };
    // SAFETY: `handle` is valid, `prog` is writable, `c_expr` is a
    // NUL-terminated string alive for the call.
    let ret = unsafe { pcap_compile(handle, &mut prog, c_expr.as_ptr(), 1, PCAP_NETMASK_UNKNOWN) };
    let result = if ret != 0 {
        // SAFETY: pcap_geterr returns a NUL-terminated string owned by the
        // handle, valid until the handle is closed below.
        let msg = unsafe { CStr::from_ptr(pcap_geterr(handle)) };
        Err(msg.to_string_lossy().into_owned())
    } else {
        // SAFETY: on success bf_insns points to bf_len instructions owned by
        // `prog` until pcap_freecode; they are copied out before that.
        let insns = unsafe { std::slice::from_raw_parts(prog.bf_insns, prog.bf_len as usize) };
        let out = insns.to_vec();
        // SAFETY: `prog` was filled by a successful pcap_compile.
        unsafe { pcap_freecode(&mut prog) };
        Ok(out)
    };
    // SAFETY: `handle` came from pcap_open_dead and is not used afterwards.
    unsafe { pcap_close(handle) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_a_filter_that_ends_in_snaplen() {
        let prog = compile("udp port 53", 1, 256).unwrap();
        assert!(prog.len() > 3);
        // some return instruction accepts 256 bytes
        assert!(prog.iter().any(|i| i.code == 0x06 && i.k == 256));
        assert!(prog.iter().any(|i| i.code == 0x06 && i.k == 0));
    }

    #[test]
    fn bad_expression_has_libpcap_message() {
        let e = compile("udp prot 53", 1, 256).unwrap_err();
        assert!(e.contains("syntax error"), "{e}");
    }
}
