//! The raw syscalls, mmap and ring code behind safe owning types. This is
//! the only part of ringflow with `unsafe`.

#![allow(unsafe_code)]

pub mod af_packet;
pub mod bpf;
pub mod caps;
pub mod ethtool;
pub mod filter;
pub mod netlink;
pub mod xdp;

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

/// One `mmap` call, readable and writable; a `-1` fd maps anonymous memory.
fn map(len: usize, flags: libc::c_int, fd: RawFd) -> Result<Mmap, SysError> {
    map_at(len, flags, fd, 0)
}

/// [`map`] at `offset` into `fd` (AF_XDP rings are told apart by offset).
fn map_at(len: usize, flags: libc::c_int, fd: RawFd, offset: i64) -> Result<Mmap, SysError> {
    // SAFETY: a fresh mapping at an address of the kernel's choosing;
    // nothing else refers to that memory yet.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            fd,
            offset,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(SysError {
            call: "mmap",
            source: io::Error::last_os_error(),
        });
    }
    let ptr = NonNull::new(p.cast::<u8>()).ok_or(SysError {
        call: "mmap",
        source: io::Error::other("null mapping"),
    })?;
    Ok(Mmap { ptr, len })
}

impl Mmap {
    /// Maps `len` bytes of `fd` shared, populated, and locked where allowed.
    pub fn shared(fd: RawFd, len: usize) -> Result<Mmap, SysError> {
        let flags = libc::MAP_SHARED | libc::MAP_POPULATE;
        // MAP_LOCKED fails without CAP_IPC_LOCK or over RLIMIT_MEMLOCK.
        map(len, flags | libc::MAP_LOCKED, fd).or_else(|_| map(len, flags, fd))
    }

    /// `len` bytes of private anonymous memory, populated; from the huge
    /// page pool (hugetlbfs pages reserved by the administrator) if `huge`.
    pub fn anonymous(len: usize, huge: bool) -> Result<Mmap, SysError> {
        let mut flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE;
        if huge {
            flags |= libc::MAP_HUGETLB;
        }
        map(len, flags, -1)
    }

    /// `len` bytes of private anonymous memory, advised to use transparent
    /// huge pages (advice only: without THP it works with small pages).
    pub fn anonymous_huge(len: usize) -> Result<Mmap, SysError> {
        let m = map(len, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1)?;
        // SAFETY: exactly the range just mapped.
        unsafe { libc::madvise(m.as_ptr().cast(), len, libc::MADV_HUGEPAGE) };
        Ok(m)
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

/// A reusable `poll` set: waiting allocates nothing once it has grown.
#[derive(Default)]
pub struct PollSet {
    fds: Vec<libc::pollfd>,
}

impl PollSet {
    /// Waits until one of `fds` is readable or in error, or `timeout_ms`
    /// passes (an interrupted wait counts as a timeout).
    pub fn wait(&mut self, fds: &[RawFd], timeout_ms: i32) -> Result<(), SysError> {
        self.fds.clear();
        self.fds.extend(fds.iter().map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        }));
        // SAFETY: `self.fds` is a valid array of `self.fds.len()` pollfd structs.
        let ret = unsafe {
            libc::poll(
                self.fds.as_mut_ptr(),
                self.fds.len() as libc::nfds_t,
                timeout_ms,
            )
        };
        if ret == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            return Ok(());
        }
        check_ret("poll", ret).map(|_| ())
    }

    /// Whether the `i`-th fd of the last wait reported an error.
    pub fn failed(&self, i: usize) -> bool {
        self.fds
            .get(i)
            .is_some_and(|p| p.revents & (libc::POLLERR | libc::POLLNVAL) != 0)
    }
}

/// The interface index of `name`, if it exists.
/// CLOCK_MONOTONIC in nanoseconds: the clock BPF programs read
/// (`bpf_ktime_get_ns`).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

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

/// Puts the calling thread under `SCHED_FIFO` at `priority` (1 to 99), or
/// under the normal time-sharing policy with `None`. Needs CAP_SYS_NICE
/// (or an RLIMIT_RTPRIO) for a real-time priority.
pub fn set_thread_priority(priority: Option<u8>) -> Result<(), SysError> {
    let (policy, prio) = match priority {
        Some(p) => (libc::SCHED_FIFO, libc::c_int::from(p)),
        None => (libc::SCHED_OTHER, 0),
    };
    let param = libc::sched_param {
        sched_priority: prio,
    };
    // SAFETY: pid 0 is the calling thread; `param` lives across the call.
    let ret = unsafe { libc::sched_setscheduler(0, policy, &param) };
    check_ret("sched_setscheduler", ret).map(drop)
}

/// Lets the calling thread, and the threads it starts from now on, run
/// only on `cpus`.
pub fn set_thread_cpus(cpus: &[usize]) -> Result<(), String> {
    let mut set = nix::sched::CpuSet::new();
    for &c in cpus {
        set.set(c).map_err(|e| format!("CPU {c}: {e}"))?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .map_err(|e| format!("sched_setaffinity: {e}"))
}

/// Asks the CPU to start loading the cache line of `r`, without waiting
/// for it: tables touch a whole stage of entries this way so that their
/// cache misses overlap instead of coming one after another.
#[inline(always)]
pub fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults or changes memory,
    // and SSE, which it needs, is part of the x86_64 baseline.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(r).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

/// [`prefetch`] for every cache line `r` spans: a table slot or an entry
/// that is not 64-byte aligned often straddles two lines, and the field a
/// lookup checks first may sit on the second one.
#[inline(always)]
pub fn prefetch_all<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = std::ptr::from_ref(r).cast::<i8>();
        // from the start of r's first line to its last byte
        let lead = start as usize & 63;
        let line = start.wrapping_sub(lead);
        for off in (0..lead + std::mem::size_of::<T>().max(1)).step_by(64) {
            // SAFETY: a prefetch is only a hint; it never faults or changes
            // memory, so the start of a line `r` only partly covers is a
            // fine address. SSE is part of the x86_64 baseline.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.wrapping_add(off)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

/// A [`HugeSlice`] of `Copy` elements, made from one fill value.
pub type HugeBuf<T> = HugeSlice<T>;

impl<T: Copy> HugeSlice<T> {
    /// `len` copies of `fill`.
    pub fn new(len: usize, fill: T) -> HugeSlice<T> {
        HugeSlice::new_with(len, |_| fill)
    }
}

enum Storage<T> {
    Map(Mmap),
    Heap(Box<[T]>),
}

/// A fixed-size array (of any element type: the flow tables' atomics are
/// not `Copy`) in its own anonymous mapping advised to use transparent
/// huge pages, each element made by `make` and written once at start (so
/// the pages are the process's from then on); on the heap if the mapping
/// fails. A large flow table in it costs a few TLB entries instead of
/// thousands, which matters most where every packet reads a random slot.
pub struct HugeSlice<T> {
    storage: Storage<T>,
    len: usize,
}

// SAFETY: the mapping is owned by the slice alone and only reached through
// it, so sending or sharing it is sending or sharing its elements.
unsafe impl<T: Send> Send for HugeSlice<T> {}
// SAFETY: as above: `&HugeSlice<T>` gives out only `&T`.
unsafe impl<T: Sync> Sync for HugeSlice<T> {}

impl<T> HugeSlice<T> {
    /// `len` elements, element `i` made by `make(i)`.
    pub fn new_with(len: usize, mut make: impl FnMut(usize) -> T) -> HugeSlice<T> {
        let bytes = (len * std::mem::size_of::<T>()).max(1);
        let storage = match Mmap::anonymous_huge(bytes) {
            Ok(m) => {
                let p = m.as_ptr().cast::<T>();
                for i in 0..len {
                    // SAFETY: i < len and the mapping holds len elements;
                    // mmap returns page-aligned memory, aligned for any T;
                    // the slot is uninitialised, so nothing is overwritten.
                    unsafe { p.add(i).write(make(i)) };
                }
                Storage::Map(m)
            }
            Err(_) => Storage::Heap((0..len).map(make).collect()),
        };
        HugeSlice { storage, len }
    }
}

impl<T> std::ops::Deref for HugeSlice<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        match &self.storage {
            // SAFETY: all `len` elements were initialised in `new_with` and
            // the mapping lives as long as `self`.
            Storage::Map(m) => unsafe {
                std::slice::from_raw_parts(m.as_ptr().cast::<T>(), self.len)
            },
            Storage::Heap(b) => b,
        }
    }
}

impl<T> std::ops::DerefMut for HugeSlice<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.storage {
            // SAFETY: as in deref, and `&mut self` makes the access unique.
            Storage::Map(m) => unsafe {
                std::slice::from_raw_parts_mut(m.as_ptr().cast::<T>(), self.len)
            },
            Storage::Heap(b) => b,
        }
    }
}

impl<T> Drop for HugeSlice<T> {
    fn drop(&mut self) {
        if let Storage::Map(m) = &self.storage
            && std::mem::needs_drop::<T>()
        {
            // SAFETY: the `len` elements were initialised in `new_with` and
            // are dropped once, here, before the mapping goes.
            unsafe {
                std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(
                    m.as_ptr().cast::<T>(),
                    self.len,
                ))
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_slice_makes_each_element_and_drops_them() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let s = HugeSlice::new_with(300_000, |i| AtomicU64::new(i as u64));
        assert_eq!(s.len(), 300_000);
        assert_eq!(s[299_999].load(Ordering::Relaxed), 299_999);
        s[5].store(9, Ordering::Relaxed);
        assert_eq!(s[5].load(Ordering::Relaxed), 9);
        // elements that own something are dropped with the slice
        let owner = std::rc::Rc::new(());
        let held = HugeSlice::new_with(3, |_| owner.clone());
        assert_eq!(std::rc::Rc::strong_count(&owner), 4);
        drop(held);
        assert_eq!(std::rc::Rc::strong_count(&owner), 1);
    }

    #[test]
    fn huge_buf_holds_its_fill_and_takes_writes() {
        let mut b = HugeBuf::new(300_000, 7u64);
        assert_eq!(b.len(), 300_000);
        assert!(b.iter().all(|&v| v == 7));
        b[299_999] = 9;
        assert_eq!(b[299_999], 9);
        let empty = HugeBuf::new(0, 1u8);
        assert!(empty.is_empty());
    }
}
