//! The raw syscalls, mmap and ring code behind safe owning types. This is
//! the only part of ringflow with `unsafe`.

#![allow(unsafe_code)]

pub mod af_packet;
pub mod filter;

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;

/// A failed system call: which one, and the OS error.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {source}")]
pub struct SysError {
    pub call: &'static str,
    #[source]
    pub source: io::Error,
}

impl SysError {
    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }

    /// The call failed for lack of privilege.
    pub fn is_permission(&self) -> bool {
        matches!(self.errno(), Some(libc::EPERM) | Some(libc::EACCES))
    }
}

/// Turns a libc return value of -1 into a [`SysError`] naming the call.
fn check_ret(call: &'static str, ret: libc::c_int) -> Result<libc::c_int, SysError> {
    if ret == -1 {
        Err(SysError {
            call,
            source: io::Error::last_os_error(),
        })
    } else {
        Ok(ret)
    }
}

fn check_len(call: &'static str, ret: isize) -> Result<usize, SysError> {
    if ret < 0 {
        Err(SysError {
            call,
            source: io::Error::last_os_error(),
        })
    } else {
        Ok(ret as usize)
    }
}

/// `setsockopt` with a plain-old-data value.
fn setsockopt<T>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
    call: &'static str,
) -> Result<(), SysError> {
    // SAFETY: `value` is a valid, initialised T for the duration of the
    // call and its size is passed alongside; the kernel only reads it.
    let ret = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    check_ret(call, ret).map(|_| ())
}

/// `getsockopt` into a plain-old-data value.
fn getsockopt<T: Default>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    call: &'static str,
) -> Result<T, SysError> {
    let mut value = T::default();
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a writable T and `len` its size; the kernel writes
    // at most `len` bytes and updates `len`.
    let ret = unsafe { libc::getsockopt(fd, level, name, (&mut value as *mut T).cast(), &mut len) };
    check_ret(call, ret)?;
    Ok(value)
}

/// A shared memory mapping, unmapped on drop.
pub struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory; who may touch which part of it is
// decided by the ring protocol of its owner, not by the thread.
unsafe impl Send for Mmap {}

impl Mmap {
    /// Maps `len` bytes of `fd` shared, readable and writable.
    pub fn shared(fd: RawFd, len: usize) -> Result<Mmap, SysError> {
        // SAFETY: a fresh mapping at an address of the kernel's choosing;
        // nothing else refers to that memory yet.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_LOCKED | libc::MAP_POPULATE,
                fd,
                0,
            )
        };
        let ptr = if ptr == libc::MAP_FAILED {
            // MAP_LOCKED fails without CAP_IPC_LOCK or over RLIMIT_MEMLOCK:
            // try again without it.
            // SAFETY: as above.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_POPULATE,
                    fd,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(SysError {
                    call: "mmap",
                    source: io::Error::last_os_error(),
                });
            }
            p
        } else {
            ptr
        };
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(SysError {
            call: "mmap",
            source: io::Error::other("null mapping"),
        })?;
        Ok(Mmap { ptr, len })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: ptr and len are exactly what mmap returned; nothing
        // borrowed from the mapping outlives `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// Wraps a new file descriptor returned by a successful call.
fn owned(fd: libc::c_int) -> OwnedFd {
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Waits until one of `fds` is readable or in error, or `timeout_ms` passes.
/// Returns the `revents` of each.
pub fn poll(fds: &[RawFd], timeout_ms: i32, out: &mut Vec<libc::c_short>) -> Result<(), SysError> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd structs.
    let ret = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
    if ret == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
        out.clear();
        out.extend(pfds.iter().map(|_| 0));
        return Ok(());
    }
    check_ret("poll", ret)?;
    out.clear();
    out.extend(pfds.iter().map(|p| p.revents));
    Ok(())
}

/// The interface index of `name`, if it exists.
pub fn ifindex(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: `c` is a NUL-terminated string that outlives the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

/// Helper to read the raw fd of an owned one.
pub(crate) fn raw(fd: &OwnedFd) -> RawFd {
    fd.as_raw_fd()
}

/// A fixed-size array in its own anonymous mapping, advised to use
/// transparent huge pages: a large flow table then costs a few TLB
/// entries instead of thousands. Unmapped on drop.
pub struct HugeBuf<T: Copy> {
    ptr: NonNull<T>,
    len: usize,
    bytes: usize,
}

// SAFETY: HugeBuf owns its elements like a Box<[T]>; sending it sends them.
unsafe impl<T: Copy + Send> Send for HugeBuf<T> {}
// SAFETY: shared access only hands out &[T], as Box<[T]> would.
unsafe impl<T: Copy + Sync> Sync for HugeBuf<T> {}

impl<T: Copy> HugeBuf<T> {
    /// `len` copies of `fill`. Falls back to ordinary pages where huge
    /// pages are not available.
    pub fn new(len: usize, fill: T) -> Result<HugeBuf<T>, SysError> {
        let bytes = (len.max(1) * std::mem::size_of::<T>()).max(1);
        // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(SysError {
                call: "mmap",
                source: io::Error::last_os_error(),
            });
        }
        // Advice only: without THP the mapping works with small pages.
        // SAFETY: `p`..`p + bytes` is the mapping just created.
        unsafe { libc::madvise(p, bytes, libc::MADV_HUGEPAGE) };
        let ptr = NonNull::new(p.cast::<T>()).ok_or(SysError {
            call: "mmap",
            source: io::Error::other("null mapping"),
        })?;
        for i in 0..len {
            // SAFETY: i < len and the mapping holds len elements; mmap
            // returns page-aligned memory, aligned for any T.
            unsafe { ptr.as_ptr().add(i).write(fill) };
        }
        Ok(HugeBuf { ptr, len, bytes })
    }
}

impl<T: Copy> std::ops::Deref for HugeBuf<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: all `len` elements were initialised in `new` and the
        // mapping lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> std::ops::DerefMut for HugeBuf<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in deref, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> Drop for HugeBuf<T> {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping created in `new`; `T: Copy` has no
        // destructor to run.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.bytes);
        }
    }
}
