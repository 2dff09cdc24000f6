//! Property tests: the parser never panics, reports only errors it
//! declares, and reads back what the frame builder wrote.

use proptest::prelude::*;
use ringflow::parse::{self, ERROR_KINDS, LinkType, Outcome, PortKind};
use ringflow::tools::synth;

const LINKS: [LinkType; 6] = LinkType::ALL;

fn check_outcome(o: &Outcome) {
    match o {
        Outcome::Error(e) => {
            assert!(ERROR_KINDS.contains(e), "undeclared error {e:?}");
            assert!(!e.layer.counted_in_flows(), "{e:?} stops below IP");
        }
        Outcome::Ip(p) => {
            assert!(p.version == 4 || p.version == 6);
            if let Some(e) = p.l4_error {
                assert!(ERROR_KINDS.contains(&e), "undeclared error {e:?}");
                assert!(e.layer.counted_in_flows(), "{e:?} is above IP");
            }
        }
        Outcome::NonIp { .. } => {}
    }
}

/// Arbitrary bytes that often start like a real header, so the fuzzing
/// reaches deep layers.
fn framey() -> impl Strategy<Value = Vec<u8>> {
    let ethertypes = prop::sample::select(vec![
        0x0800u16, 0x86dd, 0x8100, 0x88a8, 0x9100, 0x8847, 0x8864, 0x0806, 0x0001,
    ]);
    (ethertypes, prop::collection::vec(any::<u8>(), 0..200)).prop_map(|(et, mut body)| {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&et.to_be_bytes());
        if let Some(b) = body.first_mut() {
            // bias toward plausible IP version nibbles
            if et == 0x0800 {
                *b = 0x40 | (*b & 0x0f);
            } else if et == 0x86dd {
                *b = 0x60 | (*b & 0x0f);
            }
        }
        f.append(&mut body);
        f
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn never_panics_on_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
        for link in LINKS {
            check_outcome(&parse::parse(link, &data));
        }
    }

    #[test]
    fn never_panics_on_header_like_bytes(data in framey()) {
        check_outcome(&parse::parse(LinkType::Ethernet, &data));
        check_outcome(&parse::parse(LinkType::RawIp, &data[14..]));
    }

    #[test]
    fn reads_back_what_was_built(
        v6 in any::<bool>(),
        udp in any::<bool>(),
        src in any::<[u8; 16]>(),
        dst in any::<[u8; 16]>(),
        sp in any::<u16>(),
        dp in any::<u16>(),
        vlan in prop::option::of(1u16..4095),
        len in 0usize..1600,
    ) {
        let fd = synth::FlowDesc {
            v6, client: src, server: dst, client_port: sp, server_port: dp, udp, vlan,
        };
        let frame = fd.frame(true, synth::tcp_flags::SYN, len);
        let Outcome::Ip(p) = parse::parse(LinkType::Ethernet, &frame) else {
            panic!("not IP");
        };
        prop_assert_eq!(p.version, if v6 { 6 } else { 4 });
        let n = if v6 { 16 } else { 4 };
        prop_assert_eq!(&p.src[..n], &src[..n]);
        prop_assert_eq!(&p.dst[..n], &dst[..n]);
        prop_assert_eq!(p.proto, if udp { 17 } else { 6 });
        prop_assert_eq!(p.port_kind, PortKind::Ports);
        prop_assert_eq!((p.src_port, p.dst_port), (sp, dp));
        prop_assert_eq!(p.vlan, vlan.unwrap_or(0));
        prop_assert_eq!(p.l4_error, None);
        // every cut of a good frame is still safe to parse
        for cut in 0..frame.len().min(100) {
            check_outcome(&parse::parse(LinkType::Ethernet, &frame[..cut]));
        }
    }
}
