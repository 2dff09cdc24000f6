//! Reading classic pcap (microsecond and nanosecond) and pcapng files.
//!
//! The reader streams: it holds one record at a time in a buffer it reuses.
//! A file that ends inside a record is reported as [`PcapError::Truncated`]
//! (the caller may count it and go on); anything that cannot be trusted to
//! resynchronise is a [`PcapError::Corrupt`] naming the offset.

use crate::parse::LinkType;
use std::io::{self, Read};

/// Largest record accepted. libpcap's own maximum snap length is 262144.
pub const MAX_RECORD: u32 = 262_144;
/// Largest pcapng block accepted (options and comments included).
pub const MAX_BLOCK: u32 = 16 * 1024 * 1024;

const PCAP_MAGIC_US: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NS: u32 = 0xa1b2_3c4d;
const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAPNG_BOM: u32 = 0x1a2b_3c4d;

#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error(
        "{path}: not a pcap or pcapng file (starts with 0x{magic:08x}; convert it with `editcap -F pcap`)"
    )]
    NotPcap { path: String, magic: u32 },
    #[error(
        "{path}: link type {linktype} at offset {offset} is not supported (supported: {})",
        LinkType::SUPPORTED
    )]
    UnsupportedLink {
        path: String,
        offset: u64,
        linktype: u32,
    },
    #[error("{path}: file ends inside a record at offset {offset}")]
    Truncated { path: String, offset: u64 },
    #[error("{path}: damaged at offset {offset}: {what}")]
    Corrupt {
        path: String,
        offset: u64,
        what: String,
    },
}

/// One packet record's metadata; the bytes are in [`PcapReader::data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub link: LinkType,
    pub ts_ns: u64,
    pub orig_len: u32,
}

/// Timestamp resolution of a pcapng interface.
#[derive(Debug, Clone, Copy)]
enum TsRes {
    /// 10^-n seconds
    Dec(u8),
    /// 2^-n seconds
    Bin(u8),
}

impl TsRes {
    fn to_ns(self, units: u64) -> u64 {
        match self {
            TsRes::Dec(n) if n <= 9 => units.saturating_mul(10u64.pow(u32::from(9 - n))),
            TsRes::Dec(n) => {
                let div = 10u128.checked_pow(u32::from(n - 9)).unwrap_or(u128::MAX);
                (u128::from(units) / div) as u64
            }
            TsRes::Bin(n) => {
                let ns = u128::from(units) * 1_000_000_000;
                if n >= 127 { 0 } else { (ns >> n) as u64 }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    /// None: an unsupported link type, reported when a packet uses it.
    link: Option<LinkType>,
    linktype: u32,
    tsres: TsRes,
}

enum Format {
    Pcap {
        swapped: bool,
        nanos: bool,
        link: LinkType,
    },
    PcapNg {
        swapped: bool,
        interfaces: Vec<Interface>,
    },
}

pub struct PcapReader<R: Read> {
    r: R,
    path: String,
    offset: u64,
    format: Format,
    data: Vec<u8>,
    block: Vec<u8>,
}

impl<R: Read> PcapReader<R> {
    /// Reads and checks the file header. `path` names the file in errors.
    pub fn new(mut r: R, path: &str) -> Result<Self, PcapError> {
        let mut head = [0u8; 4];
        let got = read_full(&mut r, &mut head).map_err(|source| PcapError::Io {
            path: path.into(),
            source,
        })?;
        if got < 4 {
            return Err(PcapError::NotPcap {
                path: path.into(),
                magic: u32::from_be_bytes(head),
            });
        }
        let magic_le = u32::from_le_bytes(head);
        let magic_be = u32::from_be_bytes(head);
        let mut reader = PcapReader {
            r,
            path: path.into(),
            offset: 4,
            format: Format::PcapNg {
                swapped: false,
                interfaces: Vec::new(),
            },
            data: Vec::with_capacity(65_536),
            block: Vec::with_capacity(65_536),
        };
        if magic_le == PCAPNG_SHB {
            let mut len = [0u8; 4];
            reader.read_exact_or_truncated(&mut len)?;
            reader.read_shb(0, len)?;
            return Ok(reader);
        }
        let (swapped, nanos) = match (magic_le, magic_be) {
            (PCAP_MAGIC_US, _) => (false, false),
            (PCAP_MAGIC_NS, _) => (false, true),
            (_, PCAP_MAGIC_US) => (true, false),
            (_, PCAP_MAGIC_NS) => (true, true),
            _ => {
                return Err(PcapError::NotPcap {
                    path: path.into(),
                    magic: magic_be,
                });
            }
        };
        let mut rest = [0u8; 20];
        reader.read_exact_or_truncated(&mut rest)?;
        let linktype = u32_at(&rest, 16, swapped) & 0xffff;
        let link = LinkType::from_linktype(linktype).ok_or(PcapError::UnsupportedLink {
            path: path.into(),
            offset: 20,
            linktype,
        })?;
        reader.format = Format::Pcap {
            swapped,
            nanos,
            link,
        };
        Ok(reader)
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Bytes read so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The captured bytes of the record [`next`](Self::next) returned last.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The next packet record, `None` at a clean end of file.
    pub fn next_record(&mut self) -> Result<Option<Record>, PcapError> {
        match self.format {
            Format::Pcap {
                swapped,
                nanos,
                link,
            } => self.next_pcap(swapped, nanos, link),
            Format::PcapNg { .. } => self.next_pcapng(),
        }
    }

    fn next_pcap(
        &mut self,
        swapped: bool,
        nanos: bool,
        link: LinkType,
    ) -> Result<Option<Record>, PcapError> {
        let start = self.offset;
        let mut h = [0u8; 16];
        if !self.read_header(&mut h)? {
            return Ok(None);
        }
        let sec = u64::from(u32_at(&h, 0, swapped));
        let frac = u64::from(u32_at(&h, 4, swapped));
        let caplen = u32_at(&h, 8, swapped);
        let orig_len = u32_at(&h, 12, swapped);
        if caplen > MAX_RECORD {
            return Err(self.corrupt(
                start,
                format!("record length {caplen} is larger than {MAX_RECORD}"),
            ));
        }
        self.data.resize(caplen as usize, 0);
        let got = read_full(&mut self.r, &mut self.data).map_err(|e| self.io(e))?;
        self.offset += got as u64;
        if got < caplen as usize {
            return Err(self.truncated(start));
        }
        let ts_ns = sec * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
        Ok(Some(Record {
            link,
            ts_ns,
            orig_len: orig_len.max(caplen),
        }))
    }

    /// Reads the rest of a section header block: `start` is its offset,
    /// `len_bytes` its (not yet decoded) length field, already read.
    fn read_shb(&mut self, start: u64, len_bytes: [u8; 4]) -> Result<(), PcapError> {
        let mut bom = [0u8; 4];
        self.read_exact_or_truncated(&mut bom)?;
        let bom = u32::from_le_bytes(bom);
        let swapped = match bom {
            PCAPNG_BOM => false,
            _ if bom.swap_bytes() == PCAPNG_BOM => true,
            _ => return Err(self.corrupt(start, "section header has no byte-order magic".into())),
        };
        let total = u32_at(&len_bytes, 0, swapped);
        self.check_block_len(start, total, 28)?;
        // the rest: version, section length, options, trailing length
        let mut body = std::mem::take(&mut self.block);
        body.resize(total as usize - 12, 0);
        let res = self.read_exact_or_truncated(&mut body);
        self.block = body;
        res?;
        self.format = Format::PcapNg {
            swapped,
            interfaces: Vec::new(),
        };
        Ok(())
    }

    fn check_block_len(&self, start: u64, total: u32, min: u32) -> Result<(), PcapError> {
        if total < min || !total.is_multiple_of(4) || total > MAX_BLOCK {
            return Err(self.corrupt(start, format!("impossible block length {total}")));
        }
        Ok(())
    }

    fn next_pcapng(&mut self) -> Result<Option<Record>, PcapError> {
        loop {
            let start = self.offset;
            let mut h = [0u8; 8];
            if !self.read_header(&mut h)? {
                return Ok(None);
            }
            let btype_le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            if btype_le == PCAPNG_SHB {
                // A new section may change the byte order.
                self.read_shb(start, [h[4], h[5], h[6], h[7]])?;
                continue;
            }
            let Format::PcapNg { swapped, .. } = self.format else {
                unreachable!("next_pcapng is only called on pcapng files");
            };
            let btype = u32_at(&h, 0, swapped);
            let total = u32_at(&h, 4, swapped);
            self.check_block_len(start, total, 12)?;
            let mut body = std::mem::take(&mut self.block);
            body.resize(total as usize - 8, 0);
            let res = self.read_exact_or_truncated(&mut body);
            let out = res.and_then(|_| self.block_record(start, btype, swapped, &body));
            self.block = body;
            if let Some(rec) = out? {
                return Ok(Some(rec));
            }
        }
    }

    /// Interprets one block body (everything after type and length,
    /// trailing length included). Returns a record for packet blocks.
    fn block_record(
        &mut self,
        start: u64,
        btype: u32,
        swapped: bool,
        body: &[u8],
    ) -> Result<Option<Record>, PcapError> {
        let trailer = body.len() - 4;
        let total = u32_at(body, trailer, swapped);
        if total as usize != body.len() + 8 {
            return Err(self.corrupt(
                start,
                format!(
                    "block length {} at the start, {total} at the end",
                    body.len() + 8
                ),
            ));
        }
        let body = &body[..trailer];
        match btype {
            // Interface description
            1 => {
                if body.len() < 8 {
                    return Err(self.corrupt(start, "short interface description".into()));
                }
                let linktype = u32::from(u16_at(body, 0, swapped));
                let tsres = if_tsresol(&body[8..], swapped).unwrap_or(TsRes::Dec(6));
                if let Format::PcapNg { interfaces, .. } = &mut self.format {
                    interfaces.push(Interface {
                        link: LinkType::from_linktype(linktype),
                        linktype,
                        tsres,
                    });
                }
                Ok(None)
            }
            // Enhanced packet
            6 => {
                if body.len() < 20 {
                    return Err(self.corrupt(start, "short enhanced packet block".into()));
                }
                let iface = u32_at(body, 0, swapped);
                let ts =
                    u64::from(u32_at(body, 4, swapped)) << 32 | u64::from(u32_at(body, 8, swapped));
                let caplen = u32_at(body, 12, swapped);
                let orig = u32_at(body, 16, swapped);
                self.packet(start, iface, ts, caplen, orig, &body[20..])
            }
            // Simple packet: interface 0, no timestamp
            3 => {
                if body.len() < 4 {
                    return Err(self.corrupt(start, "short simple packet block".into()));
                }
                let orig = u32_at(body, 0, swapped);
                let caplen = orig.min((body.len() - 4) as u32);
                self.packet(start, 0, 0, caplen, orig, &body[4..])
            }
            // Obsolete packet block
            2 => {
                if body.len() < 20 {
                    return Err(self.corrupt(start, "short packet block".into()));
                }
                let iface = u32::from(u16_at(body, 0, swapped));
                let ts =
                    u64::from(u32_at(body, 4, swapped)) << 32 | u64::from(u32_at(body, 8, swapped));
                let caplen = u32_at(body, 12, swapped);
                let orig = u32_at(body, 16, swapped);
                self.packet(start, iface, ts, caplen, orig, &body[20..])
            }
            // Statistics, name resolution, custom, ...: nothing to count.
            _ => Ok(None),
        }
    }

    fn packet(
        &mut self,
        start: u64,
        iface: u32,
        ts_units: u64,
        caplen: u32,
        orig: u32,
        payload: &[u8],
    ) -> Result<Option<Record>, PcapError> {
        let Format::PcapNg { interfaces, .. } = &self.format else {
            unreachable!("pcapng only");
        };
        let Some(i) = interfaces.get(iface as usize).copied() else {
            return Err(self.corrupt(
                start,
                format!("packet names interface {iface}, which was never described"),
            ));
        };
        let Some(link) = i.link else {
            return Err(PcapError::UnsupportedLink {
                path: self.path.clone(),
                offset: start,
                linktype: i.linktype,
            });
        };
        if caplen as usize > payload.len() || caplen > MAX_RECORD {
            return Err(self.corrupt(
                start,
                format!("captured length {caplen} does not fit its block"),
            ));
        }
        self.data.clear();
        self.data.extend_from_slice(&payload[..caplen as usize]);
        Ok(Some(Record {
            link,
            ts_ns: i.tsres.to_ns(ts_units),
            orig_len: orig.max(caplen),
        }))
    }

    /// Reads a record or block header. Returns false at a clean end of
    /// file; an end inside the header is a truncation.
    fn read_header(&mut self, buf: &mut [u8]) -> Result<bool, PcapError> {
        let start = self.offset;
        let got = read_full(&mut self.r, buf).map_err(|e| self.io(e))?;
        self.offset += got as u64;
        match got {
            0 => Ok(false),
            n if n < buf.len() => Err(self.truncated(start)),
            _ => Ok(true),
        }
    }

    fn read_exact_or_truncated(&mut self, buf: &mut [u8]) -> Result<(), PcapError> {
        let start = self.offset;
        let got = read_full(&mut self.r, buf).map_err(|e| self.io(e))?;
        self.offset += got as u64;
        if got < buf.len() {
            return Err(self.truncated(start));
        }
        Ok(())
    }

    fn io(&self, source: io::Error) -> PcapError {
        PcapError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn truncated(&self, offset: u64) -> PcapError {
        PcapError::Truncated {
            path: self.path.clone(),
            offset,
        }
    }

    fn corrupt(&self, offset: u64, what: String) -> PcapError {
        PcapError::Corrupt {
            path: self.path.clone(),
            offset,
            what,
        }
    }
}

/// Finds the if_tsresol option (code 9) in an IDB's options.
fn if_tsresol(mut opts: &[u8], swapped: bool) -> Option<TsRes> {
    while opts.len() >= 4 {
        let code = u16_at(opts, 0, swapped);
        let len = usize::from(u16_at(opts, 2, swapped));
        let padded = len.div_ceil(4) * 4;
        let value = opts.get(4..4 + len)?;
        if code == 0 {
            return None;
        }
        if code == 9 && len == 1 {
            let v = value[0];
            return Some(if v & 0x80 == 0 {
                TsRes::Dec(v)
            } else {
                TsRes::Bin(v & 0x7f)
            });
        }
        opts = opts.get(4 + padded..)?;
    }
    None
}

/// Reads until `buf` is full or the input ends; returns how much it read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn u32_at(b: &[u8], at: usize, swapped: bool) -> u32 {
    let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if swapped {
        u32::from_be_bytes(v)
    } else {
        u32::from_le_bytes(v)
    }
}

fn u16_at(b: &[u8], at: usize, swapped: bool) -> u16 {
    let v = [b[at], b[at + 1]];
    if swapped {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classic(nanos: bool, big_endian: bool, records: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
        let put32 = |v: &mut Vec<u8>, x: u32| {
            if big_endian {
                v.extend_from_slice(&x.to_be_bytes())
            } else {
                v.extend_from_slice(&x.to_le_bytes())
            }
        };
        let put16 = |v: &mut Vec<u8>, x: u16| {
            if big_endian {
                v.extend_from_slice(&x.to_be_bytes())
            } else {
                v.extend_from_slice(&x.to_le_bytes())
            }
        };
        let mut v = Vec::new();
        put32(&mut v, if nanos { PCAP_MAGIC_NS } else { PCAP_MAGIC_US });
        put16(&mut v, 2);
        put16(&mut v, 4);
        put32(&mut v, 0);
        put32(&mut v, 0);
        put32(&mut v, 65535);
        put32(&mut v, 1);
        for (sec, frac, data, orig) in records {
            put32(&mut v, *sec);
            put32(&mut v, *frac);
            put32(&mut v, data.len() as u32);
            put32(&mut v, *orig);
            v.extend_from_slice(data);
        }
        v
    }

    #[test]
    fn reads_classic_pcap_both_byte_orders_and_resolutions() {
        for (nanos, be) in [(false, false), (true, false), (false, true), (true, true)] {
            let file = classic(nanos, be, &[(10, 5, &[1, 2, 3], 60), (11, 0, &[4], 1)]);
            let mut r = PcapReader::new(&file[..], "t.pcap").unwrap();
            let rec = r.next_record().unwrap().unwrap();
            assert_eq!(rec.link, LinkType::Ethernet);
            assert_eq!(rec.orig_len, 60);
            let frac_ns = if nanos { 5 } else { 5000 };
            assert_eq!(rec.ts_ns, 10_000_000_000 + frac_ns);
            assert_eq!(r.data(), &[1, 2, 3]);
            let rec = r.next_record().unwrap().unwrap();
            assert_eq!(rec.orig_len, 1);
            assert_eq!(r.data(), &[4]);
            assert!(r.next_record().unwrap().is_none());
        }
    }

    #[test]
    fn truncated_record_names_its_offset() {
        let mut file = classic(
            false,
            false,
            &[(1, 0, &[1, 2, 3, 4], 4), (2, 0, &[5, 6, 7, 8], 4)],
        );
        file.truncate(file.len() - 2);
        let mut r = PcapReader::new(&file[..], "t.pcap").unwrap();
        assert!(r.next_record().unwrap().is_some());
        match r.next_record() {
            Err(PcapError::Truncated { offset, .. }) => assert_eq!(offset, 24 + 16 + 4),
            other => panic!("expected truncation, got {other:?}"),
        }
    }

    #[test]
    fn huge_record_is_corrupt() {
        let mut file = classic(false, false, &[]);
        file.extend_from_slice(&[0; 8]);
        file.extend_from_slice(&u32::MAX.to_le_bytes());
        file.extend_from_slice(&[0; 4]);
        let mut r = PcapReader::new(&file[..], "t.pcap").unwrap();
        let e = r.next_record().unwrap_err();
        assert!(matches!(e, PcapError::Corrupt { offset: 24, .. }), "{e}");
        assert!(e.to_string().starts_with("t.pcap: damaged at offset 24"));
    }

    #[test]
    fn not_pcap_and_bad_linktype() {
        let e = PcapReader::new(&b"hello world, no pcap"[..], "x")
            .err()
            .unwrap();
        assert!(matches!(e, PcapError::NotPcap { .. }));
        assert!(matches!(
            PcapReader::new(&b""[..], "x").err().unwrap(),
            PcapError::NotPcap { .. }
        ));
        let mut file = classic(false, false, &[]);
        file[20] = 147; // LINKTYPE_USER0
        assert!(matches!(
            PcapReader::new(&file[..], "x").err().unwrap(),
            PcapError::UnsupportedLink { linktype: 147, .. }
        ));
    }

    fn block(btype: u32, body: &[u8]) -> Vec<u8> {
        block_in(false, btype, body)
    }

    /// A pcapng block in either byte order.
    fn block_in(big_endian: bool, btype: u32, body: &[u8]) -> Vec<u8> {
        let word = |x: u32| {
            if big_endian {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        };
        let mut padded = body.to_vec();
        while !padded.len().is_multiple_of(4) {
            padded.push(0);
        }
        let total = (padded.len() + 12) as u32;
        let mut v = word(btype).to_vec();
        v.extend_from_slice(&word(total));
        v.extend_from_slice(&padded);
        v.extend_from_slice(&word(total));
        v
    }

    fn pcapng(tsresol: Option<u8>) -> Vec<u8> {
        let mut shb = PCAPNG_BOM.to_le_bytes().to_vec();
        shb.extend_from_slice(&[1, 0, 0, 0]);
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        let mut v = block(PCAPNG_SHB, &shb);
        let mut idb = vec![1, 0, 0, 0, 0, 0, 4, 0];
        if let Some(r) = tsresol {
            idb.extend_from_slice(&[9, 0, 1, 0, r, 0, 0, 0]);
            idb.extend_from_slice(&[0, 0, 0, 0]);
        }
        v.extend(block(1, &idb));
        // name resolution block: skipped
        v.extend(block(4, &[0, 0, 0, 0]));
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&1_500u32.to_le_bytes());
        epb.extend_from_slice(&3u32.to_le_bytes());
        epb.extend_from_slice(&100u32.to_le_bytes());
        epb.extend_from_slice(&[7, 8, 9]);
        v.extend(block(6, &epb));
        let mut spb = 5u32.to_le_bytes().to_vec();
        spb.extend_from_slice(&[1, 2, 3, 4, 5]);
        v.extend(block(3, &spb));
        v
    }

    #[test]
    fn reads_pcapng() {
        let file = pcapng(None);
        let mut r = PcapReader::new(&file[..], "t.pcapng").unwrap();
        let rec = r.next_record().unwrap().unwrap();
        assert_eq!(rec.orig_len, 100);
        assert_eq!(rec.ts_ns, 1_500_000);
        assert_eq!(r.data(), &[7, 8, 9]);
        let rec = r.next_record().unwrap().unwrap();
        assert_eq!(rec.orig_len, 5);
        assert_eq!(r.data(), &[1, 2, 3, 4, 5]);
        assert!(r.next_record().unwrap().is_none());
    }

    #[test]
    fn pcapng_timestamp_resolution() {
        let file = pcapng(Some(9));
        let mut r = PcapReader::new(&file[..], "t.pcapng").unwrap();
        assert_eq!(r.next_record().unwrap().unwrap().ts_ns, 1_500);
        let file = pcapng(Some(0x80 | 10)); // 2^-10 s
        let mut r = PcapReader::new(&file[..], "t.pcapng").unwrap();
        assert_eq!(
            r.next_record().unwrap().unwrap().ts_ns,
            1_500 * 1_000_000_000 / 1024
        );
    }

    #[test]
    fn pcapng_second_section_in_the_other_byte_order() {
        let mut file = pcapng(None);
        let mut shb = PCAPNG_BOM.to_be_bytes().to_vec();
        shb.extend_from_slice(&[0, 1, 0, 0]);
        shb.extend_from_slice(&(-1i64).to_be_bytes());
        file.extend(block_in(true, PCAPNG_SHB, &shb));
        // raw IPv4 interface, nanosecond resolution
        let mut idb = vec![0, 101, 0, 0, 0, 0, 0, 0];
        idb.extend_from_slice(&[0, 9, 0, 1, 9, 0, 0, 0, 0, 0, 0, 0]);
        file.extend(block_in(true, 1, &idb));
        let mut epb = 0u32.to_be_bytes().to_vec();
        epb.extend_from_slice(&0u32.to_be_bytes());
        epb.extend_from_slice(&77u32.to_be_bytes());
        epb.extend_from_slice(&2u32.to_be_bytes());
        epb.extend_from_slice(&40u32.to_be_bytes());
        epb.extend_from_slice(&[0x45, 0]);
        file.extend(block_in(true, 6, &epb));
        let mut r = PcapReader::new(&file[..], "t.pcapng").unwrap();
        assert_eq!(r.next_record().unwrap().unwrap().link, LinkType::Ethernet);
        assert!(r.next_record().unwrap().is_some());
        let rec = r.next_record().unwrap().unwrap();
        assert_eq!(rec.link, LinkType::RawIp);
        assert_eq!((rec.ts_ns, rec.orig_len), (77, 40));
        assert_eq!(r.data(), &[0x45, 0]);
        assert!(r.next_record().unwrap().is_none());
    }

    #[test]
    fn pcapng_damage() {
        let mut file = pcapng(None);
        let n = file.len();
        file[n - 1] = 0x7f; // trailing length of the last block
        let mut r = PcapReader::new(&file[..], "t.pcapng").unwrap();
        r.next_record().unwrap();
        assert!(matches!(r.next_record(), Err(PcapError::Corrupt { .. })));
        let file = pcapng(None);
        let mut r = PcapReader::new(&file[..file.len() - 6], "t.pcapng").unwrap();
        r.next_record().unwrap();
        assert!(matches!(r.next_record(), Err(PcapError::Truncated { .. })));
    }
}
