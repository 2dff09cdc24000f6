//! Names of well-known services by protocol and port, for the `service`
//! label. A port that is not in the table has no name ("").

use crate::parse::proto;

/// (port, name), sorted by port.
const TCP: &[(u16, &str)] = &[
    (20, "ftp-data"),
    (21, "ftp"),
    (22, "ssh"),
    (23, "telnet"),
    (25, "smtp"),
    (53, "dns"),
    (80, "http"),
    (88, "kerberos"),
    (110, "pop3"),
    (111, "rpcbind"),
    (119, "nntp"),
    (143, "imap"),
    (179, "bgp"),
    (389, "ldap"),
    (443, "https"),
    (445, "smb"),
    (465, "smtps"),
    (514, "rsh"),
    (587, "submission"),
    (631, "ipp"),
    (636, "ldaps"),
    (853, "dns-over-tls"),
    (873, "rsync"),
    (993, "imaps"),
    (995, "pop3s"),
    (1080, "socks"),
    (1194, "openvpn"),
    (1433, "mssql"),
    (1521, "oracle"),
    (1883, "mqtt"),
    (2049, "nfs"),
    (2379, "etcd"),
    (3128, "http-proxy"),
    (3306, "mysql"),
    (3389, "rdp"),
    (5060, "sip"),
    (5061, "sips"),
    (5222, "xmpp"),
    (5432, "postgresql"),
    (5672, "amqp"),
    (5900, "vnc"),
    (6379, "redis"),
    (6443, "kubernetes"),
    (8080, "http-alt"),
    (8443, "https-alt"),
    (8883, "mqtts"),
    (9090, "prometheus"),
    (9092, "kafka"),
    (9100, "node-exporter"),
    (9200, "elasticsearch"),
    (11211, "memcached"),
    (27017, "mongodb"),
];

const UDP: &[(u16, &str)] = &[
    (53, "dns"),
    (67, "dhcp"),
    (68, "dhcp"),
    (69, "tftp"),
    (88, "kerberos"),
    (111, "rpcbind"),
    (123, "ntp"),
    (137, "netbios-ns"),
    (138, "netbios-dgm"),
    (161, "snmp"),
    (162, "snmptrap"),
    (443, "quic"),
    (500, "isakmp"),
    (514, "syslog"),
    (546, "dhcpv6"),
    (547, "dhcpv6"),
    (853, "dns-over-quic"),
    (1194, "openvpn"),
    (1812, "radius"),
    (1813, "radius-acct"),
    (1900, "ssdp"),
    (2049, "nfs"),
    (3478, "stun"),
    (4500, "ipsec-nat-t"),
    (4789, "vxlan"),
    (5060, "sip"),
    (5353, "mdns"),
    (5355, "llmnr"),
    (6081, "geneve"),
    (51820, "wireguard"),
];

/// The service on `port` over IP protocol `proto`, or "".
pub fn name(proto: u8, port: u16) -> &'static str {
    let table = match proto {
        proto::TCP => TCP,
        proto::UDP => UDP,
        _ => return "",
    };
    table
        .binary_search_by_key(&port, |(p, _)| *p)
        .map(|i| table[i].1)
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_without_duplicates() {
        for t in [TCP, UDP] {
            assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }

    #[test]
    fn names() {
        assert_eq!(name(proto::TCP, 443), "https");
        assert_eq!(name(proto::UDP, 443), "quic");
        assert_eq!(name(proto::UDP, 53), "dns");
        assert_eq!(name(proto::TCP, 22), "ssh");
        assert_eq!(name(proto::UDP, 123), "ntp");
        assert_eq!(name(proto::TCP, 25), "smtp");
        assert_eq!(name(proto::TCP, 143), "imap");
        assert_eq!(name(proto::TCP, 5201), "");
        assert_eq!(name(proto::ICMP, 80), "");
    }
}
