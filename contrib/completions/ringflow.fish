# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ringflow_global_optspecs
    string join \n config= iface= exclude-iface= workers= cpus= collector-cpus= filter= promisc web-config= web-allowed-hosts= print alert-log= alert-webhook= alertmanager= alert-exec= ipfix= dedup= xdp-huge-pages busy-poll= xdp-steal worker-priority= monitor-subnets= exclude-subnets= compat= alert-bytes= alert-packets= alert-bps= alert-pps= alert-new-flows= scan-ignore= backend= direction= fanout= xdp-mode= xdp-bind= queues= decap= vxlan-port= listen= web-max-connections= refresh= ipfix-template-refresh= ipfix-mtu= ipfix-active-timeout= ipfix-idle-timeout= flow-table-size= flow-table-size-v6= snaplen= block-size= block-count= frame-size= block-timeout= xdp-frame-size= xdp-frames= xdp-ring-size= busy-poll-budget= local-networks= max-flow-series= max-hosts= max-entries= flow-window= flow-idle= flow-table-idle= alert-interval= max-alerts= alert-history= scan-hosts= scan-ports= scan-interval= scan-max-sources= h/help V/version
end

function __fish_ringflow_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ringflow_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ringflow_using_subcommand
    set -l cmd (__fish_ringflow_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ringflow -n "__fish_ringflow_needs_command" -l config -d 'TOML file with any of these settings (keys as the flags, without --)' -r -F
complete -c ringflow -n "__fish_ringflow_needs_command" -l iface -d 'Interface to capture on; repeat for several; `any` for all of them. Default: the interface of the default route' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l exclude-iface -d 'Interface to leave out with `any` (repeatable); `lo` is left out by default' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l workers -d 'Worker threads [default: the interface\'s RX queue count, at most the online CPUs]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l cpus -d 'CPUs to pin workers to, e.g. `0-3,6` [default: worker i on CPU i]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l collector-cpus -d 'CPUs for the collector and the other threads that are not workers (HTTP, alert outputs), e.g. `0` [default: the online CPUs no worker is pinned to; any CPU when every one has a worker]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l filter -d 'tcpdump filter expression; only matching packets are captured' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l web-config -d 'YAML file in the Prometheus exporter-toolkit format with TLS (tls_server_config) and users (basic_auth_users, bcrypt hashes) for the web endpoints' -r -F
complete -c ringflow -n "__fish_ringflow_needs_command" -l web-allowed-hosts -d 'Host names and addresses requests may name in `Host`; others get 421 (a page that rebinds its name to this box reads nothing); `*`: any [default: the listen address, localhost and this machine\'s names; listening on all addresses, every address of the box]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l alert-log -d 'Write alert events to this file, one JSON object per line (`-` for stdout) [default: none]' -r -F
complete -c ringflow -n "__fish_ringflow_needs_command" -l alert-webhook -d 'POST each alert event\'s JSON to this URL (http://)' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l alertmanager -d 'Send alerts to this Alertmanager (http://host:9093): started and resolved, and again every minute while active' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l alert-exec -d 'Run this program on each alert event with the arguments IP DIRECTION KIND start|update|end and the event\'s JSON on its input (at most 4 at once, killed after 10 s)' -r -F
complete -c ringflow -n "__fish_ringflow_needs_command" -l ipfix -d 'Export every flow as IPFIX records to this collector: HOST:PORT or udp://HOST:PORT (UDP), tcp://HOST:PORT (TCP, reconnecting); repeat for several [default: none]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l dedup -d 'Count a packet once when the same IP packet (apart from its TTL and checksum, whatever Layer 2 or tunnel it came in) was seen within this window, e.g. 1ms; at most 100ms [default: off]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l busy-poll -d 'AF_XDP: busy-poll for this many microseconds (SO_PREFER_BUSY_POLL) [default: off]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l worker-priority -d 'Scheduling of the worker threads: `normal`, a SCHED_FIFO priority from 1 to 99, or `auto` [default: auto: SCHED_FIFO 1 for AF_XDP workers, whose capture port feeds nothing else; normal for AF_PACKET, which must never take its core before the kernel\'s own traffic]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l monitor-subnets -d 'IPs with per-IP counters: inside these networks [default: the local networks]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l exclude-subnets -d '... and outside these [default: none]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l compat -d 'Also export the families of a replaced tool (repeatable or comma-separated)' -r -f -a "promflow\t'promflow_transmit_bytes_total{ip} and promflow_receive_bytes_total{ip}'
trafficmonitor\t'trafficmonitor_total_incoming_bytes, trafficmonitor_total_outgoing_bytes and trafficmonitor_hosts_src_dst'"
complete -c ringflow -n "__fish_ringflow_needs_command" -l alert-bytes -d 'Alert when a monitored IP sends, or receives, more than this many bytes within an interval (`500M`, `1G`: K, M, G are powers of 1000) [default: off]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l alert-packets -d '... more than this many packets [default: off]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l alert-bps -d '... more than this many bits per second, averaged over the interval (`100M`) [default: off]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l alert-pps -d '... more than this many packets per second, averaged over the interval [default: off]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l alert-new-flows -d '... opens, or is opened, more than this many conversations within an interval [default: off]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l scan-ignore -d 'Sources never flagged as scanners (resolvers, monitoring hosts)' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l backend -d 'Capture backend [default: af-packet]' -r -f -a "af-packet\t'AF_PACKET with TPACKET_V3 rings and fanout: works on every interface'
af-xdp\t'AF_XDP, one socket per RX queue: takes the frames away from the kernel stack, for dedicated capture ports'
auto\t'AF_XDP on an interface without addresses (a SPAN port), else AF_PACKET'"
complete -c ringflow -n "__fish_ringflow_needs_command" -l direction -d 'Packets to capture: both directions, received (in) or sent (out) [default: both]' -r -f -a "both\t''
in\t'Received packets only'
out\t'Packets this host sends only'"
complete -c ringflow -n "__fish_ringflow_needs_command" -l fanout -d 'How the kernel spreads packets over the workers [default: inner]' -r -f -a "inner\t'By the host pair of the innermost packet, inside the tunnels `--decap` opens (a classic BPF program): both directions, a mirror session\'s flows and every copy of a packet meet on one worker'
hash\t'By the kernel\'s flow hash (symmetric) of the outer headers'
cpu\t'By the CPU that received the packet'
qm\t'By the NIC queue the packet came in on'
lb\t'Round robin'"
complete -c ringflow -n "__fish_ringflow_needs_command" -l xdp-mode -d 'AF_XDP: how the XDP program is attached [default: auto]' -r -f -a "auto\t'Native (driver) mode where the driver has it, else SKB mode'
native\t'In the driver, before any socket buffer exists'
skb\t'Generic mode, after the kernel built a socket buffer; works everywhere'"
complete -c ringflow -n "__fish_ringflow_needs_command" -l xdp-bind -d 'AF_XDP: how sockets bind to their queues [default: auto]' -r -f -a "auto\t'Zero-copy, falling back to copy when the driver refuses'
zero-copy\t''
copy\t''"
complete -c ringflow -n "__fish_ringflow_needs_command" -l queues -d 'AF_XDP: RX queues to capture, `all` or a list such as `0-3` [default: all]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l decap -d 'Tunnels to open and count the packets inside: a comma list of erspan, vxlan, geneve, gre, ipip; `all` or `none` (count the outer headers) [default: all]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l vxlan-port -d 'UDP port VXLAN arrives on; repeat for several (at most 4) [default: 4789]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l listen -d 'Where to serve /metrics, the JSON API (/api/v1/) and the dashboard (/dashboard) [default: 0.0.0.0:19213]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l web-max-connections -d 'Web connections served at once; beyond this the least recently active one is closed [default: 64]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l refresh -d 'How often the collector merges and publishes [default: 1s]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l ipfix-template-refresh -d 'IPFIX over UDP: resend the templates and the exporter\'s counts this often (and at least every 4096 messages) [default: 60s]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l ipfix-mtu -d 'IPFIX: the largest IP packet a message goes out in, headers included (bytes) [default: 1400]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l ipfix-active-timeout -d 'IPFIX: a flow is reported once it has lasted this long since its last record (a long flow every minute by default) [default: 60s]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l ipfix-idle-timeout -d 'IPFIX: a flow with no packet for this long ends and is reported [default: 15s]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l flow-table-size -d 'IPv4 flows each worker\'s table holds at once (its IPv6 table a quarter of that), at most 16777214 [default: 200000]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l flow-table-size-v6 -d 'IPv6 flows each worker\'s table holds at once, at most 16777214 [default: a quarter of --flow-table-size, at least 1024]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l snaplen -d 'Bytes of each packet copied to the ring; counting always uses the length on the wire [default: 256]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l block-size -d 'Ring block size in bytes [default: 1048576]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l block-count -d 'Ring blocks per worker and interface [default: 64, so 64 MiB]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l frame-size -d 'Ring frame size hint in bytes [default: 2048]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l block-timeout -d 'How long the kernel waits before handing over a block that is not full [default: 10ms]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l xdp-frame-size -d 'AF_XDP: bytes per UMEM frame, 2048 or 4096 [default: 2048]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l xdp-frames -d 'AF_XDP: UMEM frames per queue [default: 16384, at least twice the ring size]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l xdp-ring-size -d 'AF_XDP: entries of the fill and RX rings, a power of two [default: 8192]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l busy-poll-budget -d 'AF_XDP: packets per busy poll (SO_BUSY_POLL_BUDGET) [default: 64]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l local-networks -d 'Local networks, comma-separated CIDRs (IPv4 and IPv6); they decide the direction classes [default: the private ranges and, live, this box\'s own networks] [default: 10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7,fe80::/10]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l max-flow-series -d 'Flow series exported: the top N by bytes over --flow-window; the rest are summed per class under src="other" [default: 10000]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l max-hosts -d 'Per-IP series exported, chosen the same way; the rest under ip="other" [default: 10000]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l max-entries -d 'Flow entries, conversations and hosts the collector keeps at most (each); this bounds its memory (at most 700 bytes per entry in all) [default: 250000]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l flow-window -d 'Window the series are ranked over [default: 5m]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l flow-idle -d 'Entries unseen this long leave the exposition [default: 10m]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l flow-table-idle -d 'A flow idle this long leaves its worker\'s flow table (at most --flow-idle; sooner when the table lacks room for new flows) [default: 15s]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l alert-interval -d 'Alerts: the interval volume limits are counted over (tumbling) [default: 10s]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l max-alerts -d 'Active alerts at most; more are counted in ringflow_alerts_suppressed_total [default: 1000]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l alert-history -d 'Recent alert events kept for the API and the dashboard (/api/v1/alerts) [default: 10000]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l scan-hosts -d 'Network scan: a source that opens conversations to more than N distinct IPs within --scan-interval; 0 is off [default: 100]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l scan-ports -d 'Port scan: a source that opens conversations to more than N distinct ports of one IP within --scan-interval; 0 is off [default: 100]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l scan-interval -d 'The tumbling interval scans are counted over [default: 60s]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l scan-max-sources -d 'Sources (and source-destination pairs) tracked for scans at most [default: 100000]' -r
complete -c ringflow -n "__fish_ringflow_needs_command" -l promisc -d 'Put the interfaces in promiscuous mode while capturing'
complete -c ringflow -n "__fish_ringflow_needs_command" -l print -d 'Print the final exposition to stdout on exit'
complete -c ringflow -n "__fish_ringflow_needs_command" -l xdp-huge-pages -d 'AF_XDP: take the UMEM from the huge page pool (vm.nr_hugepages); without it the UMEM is advised for transparent huge pages'
complete -c ringflow -n "__fish_ringflow_needs_command" -l xdp-steal -d 'AF_XDP even on an interface with addresses, a default route or a bridge/bond master: its traffic no longer reaches this host'
complete -c ringflow -n "__fish_ringflow_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ringflow -n "__fish_ringflow_needs_command" -s V -l version -d 'Print version'
complete -c ringflow -n "__fish_ringflow_needs_command" -f -a "synth" -d 'Write a synthetic capture (a reproducible traffic mix) to a pcap file'
complete -c ringflow -n "__fish_ringflow_needs_command" -f -a "gen" -d 'Send a synthetic traffic mix out of an interface, for tests and benchmarks'
complete -c ringflow -n "__fish_ringflow_needs_command" -f -a "check-config" -d 'Check a config file as `ringflow --config FILE` would take it, on this machine\'s interfaces, and print the effective settings'
complete -c ringflow -n "__fish_ringflow_needs_command" -f -a "doctor" -d 'Check the capture interfaces and the host against what ringflow, with these flags or config file, will do: a checklist of findings (ok, warning, problem), why each matters and the command that fixes it. Exits with 1 when a problem was found'
complete -c ringflow -n "__fish_ringflow_needs_command" -f -a "generate-docs" -d 'Write the man pages and shell completions generated from this command line into a directory (for packaging)'
complete -c ringflow -n "__fish_ringflow_needs_command" -f -a "run" -d 'Capture live (the default when no subcommand is given)'
complete -c ringflow -n "__fish_ringflow_needs_command" -f -a "replay" -d 'Replay pcap/pcapng files through the workers and collector'
complete -c ringflow -n "__fish_ringflow_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ringflow -n "__fish_ringflow_using_subcommand synth" -l flows -d 'Conversations in the mix' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand synth" -l packets -d 'Frames in all' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand synth" -l ipv6-percent -d 'Percent of conversations over IPv6' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand synth" -l vlan-percent -d 'Percent of conversations with an 802.1Q tag' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand synth" -l udp-percent -d 'Percent of conversations over UDP (the others are TCP)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand synth" -l frame-size -d 'Frame size in bytes; 0 draws from an IMIX (64, 576, 1500 in 7:4:1)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand synth" -l seed -d 'Seed of the mix: the same seed writes the same file' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand synth" -s h -l help -d 'Print help'
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l iface -d 'Interface to send on' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l flows -d 'Conversations in the mix' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l packets -d 'Packets to send at most' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l rate -d 'Packets per second; 0 sends as fast as the socket takes them' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l duration -d 'Stop after this long at the latest' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l frame-size -d 'Frame size in bytes; 0 gives each flow a size from an IMIX (64, 576, 1500 in 7:4:1)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l ipv6-percent -d 'Percent of conversations over IPv6' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l vlan-percent -d 'Percent of conversations with an 802.1Q tag' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l udp-percent -d 'Percent of conversations over UDP (the others are TCP)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l fragment-percent -d 'Percent of UDP conversations whose every datagram is sent as IP fragments (at least two, of at most 512 bytes of IP payload each)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l seed -d 'Seed of the mix' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l zipf -d 'With --xdp: share the packets among the flows by a Zipf law of exponent S (a few elephants, many mice): every flow sends at least one packet a round, the flow of rank r about 1/r^S of the rest. Without it, flows take turns' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l truth -d 'Write what was sent, per flow and direction, to this CSV file' -r -F
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l mirror-session -d 'Send every frame as a remote mirror session delivers it: inside this tunnel, from 10.213.255.1 to 10.213.255.2 (the truth counts the frames inside; --packets and --rate count frames sent)' -r -f -a "erspan2\t'ERSPAN type II (GRE with a sequence number)'
erspan3\t'ERSPAN type III with the platform sub-header'
vxlan\t'VXLAN on port 4789, as AWS VPC Traffic Mirroring sends it'
geneve\t'GENEVE carrying Ethernet, with one word of options'
gre\t'GRE carrying Ethernet (Transparent Ethernet Bridging) with a key'"
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l through-qdisc -d 'Send through the qdisc layer instead of bypassing it: slower, but packet captures on this host see the frames (bypassed ones skip them)'
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l xdp -d 'Let the kernel send: an XDP_TX program run with BPF_PROG_RUN and live frames on the interface (IPv4/UDP only, from 10.0.0.0/8, one source address per flow; --frame-size 0 means 64), far faster than sockets'
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -l mirror-raw -d 'With --mirror-session: send every frame raw as well, just after its tunnelled copy, as a switch mirroring it twice does'
complete -c ringflow -n "__fish_ringflow_using_subcommand gen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ringflow -n "__fish_ringflow_using_subcommand check-config" -s h -l help -d 'Print help'
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l record -d 'Also write everything read into DIR, as a fixture the doctor\'s tests (and a bug report) can replay' -r -F
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l config -d 'TOML file with any of these settings (keys as the flags, without --)' -r -F
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l iface -d 'Interface to capture on; repeat for several; `any` for all of them. Default: the interface of the default route' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l exclude-iface -d 'Interface to leave out with `any` (repeatable); `lo` is left out by default' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l backend -d 'Capture backend' -r -f -a "af-packet\t'AF_PACKET with TPACKET_V3 rings and fanout: works on every interface'
af-xdp\t'AF_XDP, one socket per RX queue: takes the frames away from the kernel stack, for dedicated capture ports'
auto\t'AF_XDP on an interface without addresses (a SPAN port), else AF_PACKET'"
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l workers -d 'Worker threads [default: the interface\'s RX queue count, at most the online CPUs]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l cpus -d 'CPUs to pin workers to, e.g. `0-3,6` [default: worker i on CPU i]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l collector-cpus -d 'CPUs for the collector and the other threads that are not workers (HTTP, alert outputs), e.g. `0` [default: the online CPUs no worker is pinned to; any CPU when every one has a worker]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l snaplen -d 'Bytes of each packet copied to the ring; counting always uses the length on the wire' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l filter -d 'tcpdump filter expression; only matching packets are captured' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l direction -d 'Packets to capture: both directions, received (in) or sent (out)' -r -f -a "both\t''
in\t'Received packets only'
out\t'Packets this host sends only'"
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l fanout -d 'How the kernel spreads packets over the workers' -r -f -a "inner\t'By the host pair of the innermost packet, inside the tunnels `--decap` opens (a classic BPF program): both directions, a mirror session\'s flows and every copy of a packet meet on one worker'
hash\t'By the kernel\'s flow hash (symmetric) of the outer headers'
cpu\t'By the CPU that received the packet'
qm\t'By the NIC queue the packet came in on'
lb\t'Round robin'"
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l block-size -d 'Ring block size in bytes' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l block-count -d 'Ring blocks per worker and interface' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l frame-size -d 'Ring frame size hint in bytes' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l block-timeout -d 'How long the kernel waits before handing over a block that is not full' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l listen -d 'Where to serve /metrics, the JSON API (/api/v1/) and the dashboard (/dashboard)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l web-config -d 'YAML file in the Prometheus exporter-toolkit format with TLS (tls_server_config) and users (basic_auth_users, bcrypt hashes) for the web endpoints' -r -F
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l web-max-connections -d 'Web connections served at once; beyond this the least recently active one is closed' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l web-allowed-hosts -d 'Host names and addresses requests may name in `Host`; others get 421 (a page that rebinds its name to this box reads nothing); `*`: any [default: the listen address, localhost and this machine\'s names; listening on all addresses, every address of the box]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l refresh -d 'How often the collector merges and publishes' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l flow-table-size -d 'IPv4 flows each worker\'s table holds at once (its IPv6 table a quarter of that), at most 16777214' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l flow-table-size-v6 -d 'IPv6 flows each worker\'s table holds at once, at most 16777214' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l alert-log -d 'Write alert events to this file, one JSON object per line (`-` for stdout) [default: none]' -r -F
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l alert-webhook -d 'POST each alert event\'s JSON to this URL (http://)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l alertmanager -d 'Send alerts to this Alertmanager (http://host:9093): started and resolved, and again every minute while active' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l alert-exec -d 'Run this program on each alert event with the arguments IP DIRECTION KIND start|update|end and the event\'s JSON on its input (at most 4 at once, killed after 10 s)' -r -F
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l ipfix -d 'Export every flow as IPFIX records to this collector: HOST:PORT or udp://HOST:PORT (UDP), tcp://HOST:PORT (TCP, reconnecting); repeat for several [default: none]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l ipfix-template-refresh -d 'IPFIX over UDP: resend the templates and the exporter\'s counts this often (and at least every 4096 messages)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l ipfix-mtu -d 'IPFIX: the largest IP packet a message goes out in, headers included (bytes)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l ipfix-active-timeout -d 'IPFIX: a flow is reported once it has lasted this long since its last record (a long flow every minute by default)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l ipfix-idle-timeout -d 'IPFIX: a flow with no packet for this long ends and is reported' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l decap -d 'Tunnels to open and count the packets inside: a comma list of erspan, vxlan, geneve, gre, ipip; `all` or `none` (count the outer headers)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l vxlan-port -d 'UDP port VXLAN arrives on; repeat for several (at most 4)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l dedup -d 'Count a packet once when the same IP packet (apart from its TTL and checksum, whatever Layer 2 or tunnel it came in) was seen within this window, e.g. 1ms; at most 100ms [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l queues -d 'AF_XDP: RX queues to capture, `all` or a list such as `0-3`' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l xdp-mode -d 'AF_XDP: how the XDP program is attached' -r -f -a "auto\t'Native (driver) mode where the driver has it, else SKB mode'
native\t'In the driver, before any socket buffer exists'
skb\t'Generic mode, after the kernel built a socket buffer; works everywhere'"
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l xdp-bind -d 'AF_XDP: how sockets bind to their queues' -r -f -a "auto\t'Zero-copy, falling back to copy when the driver refuses'
zero-copy\t''
copy\t''"
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l xdp-frame-size -d 'AF_XDP: bytes per UMEM frame, 2048 or 4096' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l xdp-frames -d 'AF_XDP: UMEM frames per queue' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l xdp-ring-size -d 'AF_XDP: entries of the fill and RX rings, a power of two' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l busy-poll -d 'AF_XDP: busy-poll for this many microseconds (SO_PREFER_BUSY_POLL) [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l busy-poll-budget -d 'AF_XDP: packets per busy poll (SO_BUSY_POLL_BUDGET)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l worker-priority -d 'Scheduling of the worker threads: `normal`, a SCHED_FIFO priority from 1 to 99, or `auto` [default: auto: SCHED_FIFO 1 for AF_XDP workers, whose capture port feeds nothing else; normal for AF_PACKET, which must never take its core before the kernel\'s own traffic]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l local-networks -d 'Local networks, comma-separated CIDRs (IPv4 and IPv6); they decide the direction classes [default: the private ranges and, live, this box\'s own networks]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l monitor-subnets -d 'IPs with per-IP counters: inside these networks [default: the local networks]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l exclude-subnets -d '... and outside these [default: none]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l max-flow-series -d 'Flow series exported: the top N by bytes over --flow-window; the rest are summed per class under src="other"' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l max-hosts -d 'Per-IP series exported, chosen the same way; the rest under ip="other"' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l max-entries -d 'Flow entries, conversations and hosts the collector keeps at most (each); this bounds its memory (at most 700 bytes per entry in all)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l flow-window -d 'Window the series are ranked over' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l flow-idle -d 'Entries unseen this long leave the exposition' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l flow-table-idle -d 'A flow idle this long leaves its worker\'s flow table (at most --flow-idle; sooner when the table lacks room for new flows)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l compat -d 'Also export the families of a replaced tool (repeatable or comma-separated)' -r -f -a "promflow\t'promflow_transmit_bytes_total{ip} and promflow_receive_bytes_total{ip}'
trafficmonitor\t'trafficmonitor_total_incoming_bytes, trafficmonitor_total_outgoing_bytes and trafficmonitor_hosts_src_dst'"
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l alert-interval -d 'Alerts: the interval volume limits are counted over (tumbling)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l alert-bytes -d 'Alert when a monitored IP sends, or receives, more than this many bytes within an interval (`500M`, `1G`: K, M, G are powers of 1000) [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l alert-packets -d '... more than this many packets [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l alert-bps -d '... more than this many bits per second, averaged over the interval (`100M`) [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l alert-pps -d '... more than this many packets per second, averaged over the interval [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l alert-new-flows -d '... opens, or is opened, more than this many conversations within an interval [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l max-alerts -d 'Active alerts at most; more are counted in ringflow_alerts_suppressed_total' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l alert-history -d 'Recent alert events kept for the API and the dashboard (/api/v1/alerts)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l scan-hosts -d 'Network scan: a source that opens conversations to more than N distinct IPs within --scan-interval; 0 is off' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l scan-ports -d 'Port scan: a source that opens conversations to more than N distinct ports of one IP within --scan-interval; 0 is off' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l scan-interval -d 'The tumbling interval scans are counted over' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l scan-ignore -d 'Sources never flagged as scanners (resolvers, monitoring hosts)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l scan-max-sources -d 'Sources (and source-destination pairs) tracked for scans at most' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l json -d 'The findings, what was read and what could not be, as JSON'
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l fix -d 'Apply the safe fixes (interrupts onto the workers\' CPUs, receive offloads off on an interface without addresses, receive rings at their largest) and print what changed with the command that undoes it'
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l yes -d 'With --fix: do not ask first'
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l promisc -d 'Put the interfaces in promiscuous mode while capturing'
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l print -d 'Print the final exposition to stdout on exit'
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l xdp-huge-pages -d 'AF_XDP: take the UMEM from the huge page pool (vm.nr_hugepages); without it the UMEM is advised for transparent huge pages'
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -l xdp-steal -d 'AF_XDP even on an interface with addresses, a default route or a bridge/bond master: its traffic no longer reaches this host'
complete -c ringflow -n "__fish_ringflow_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ringflow -n "__fish_ringflow_using_subcommand generate-docs" -s h -l help -d 'Print help'
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l config -d 'TOML file with any of these settings (keys as the flags, without --)' -r -F
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l iface -d 'Interface to capture on; repeat for several; `any` for all of them. Default: the interface of the default route' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l exclude-iface -d 'Interface to leave out with `any` (repeatable); `lo` is left out by default' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l workers -d 'Worker threads [default: the interface\'s RX queue count, at most the online CPUs]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l cpus -d 'CPUs to pin workers to, e.g. `0-3,6` [default: worker i on CPU i]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l collector-cpus -d 'CPUs for the collector and the other threads that are not workers (HTTP, alert outputs), e.g. `0` [default: the online CPUs no worker is pinned to; any CPU when every one has a worker]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l filter -d 'tcpdump filter expression; only matching packets are captured' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l web-config -d 'YAML file in the Prometheus exporter-toolkit format with TLS (tls_server_config) and users (basic_auth_users, bcrypt hashes) for the web endpoints' -r -F
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l web-allowed-hosts -d 'Host names and addresses requests may name in `Host`; others get 421 (a page that rebinds its name to this box reads nothing); `*`: any [default: the listen address, localhost and this machine\'s names; listening on all addresses, every address of the box]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l alert-log -d 'Write alert events to this file, one JSON object per line (`-` for stdout) [default: none]' -r -F
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l alert-webhook -d 'POST each alert event\'s JSON to this URL (http://)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l alertmanager -d 'Send alerts to this Alertmanager (http://host:9093): started and resolved, and again every minute while active' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l alert-exec -d 'Run this program on each alert event with the arguments IP DIRECTION KIND start|update|end and the event\'s JSON on its input (at most 4 at once, killed after 10 s)' -r -F
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l ipfix -d 'Export every flow as IPFIX records to this collector: HOST:PORT or udp://HOST:PORT (UDP), tcp://HOST:PORT (TCP, reconnecting); repeat for several [default: none]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l dedup -d 'Count a packet once when the same IP packet (apart from its TTL and checksum, whatever Layer 2 or tunnel it came in) was seen within this window, e.g. 1ms; at most 100ms [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l busy-poll -d 'AF_XDP: busy-poll for this many microseconds (SO_PREFER_BUSY_POLL) [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l worker-priority -d 'Scheduling of the worker threads: `normal`, a SCHED_FIFO priority from 1 to 99, or `auto` [default: auto: SCHED_FIFO 1 for AF_XDP workers, whose capture port feeds nothing else; normal for AF_PACKET, which must never take its core before the kernel\'s own traffic]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l monitor-subnets -d 'IPs with per-IP counters: inside these networks [default: the local networks]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l exclude-subnets -d '... and outside these [default: none]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l compat -d 'Also export the families of a replaced tool (repeatable or comma-separated)' -r -f -a "promflow\t'promflow_transmit_bytes_total{ip} and promflow_receive_bytes_total{ip}'
trafficmonitor\t'trafficmonitor_total_incoming_bytes, trafficmonitor_total_outgoing_bytes and trafficmonitor_hosts_src_dst'"
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l alert-bytes -d 'Alert when a monitored IP sends, or receives, more than this many bytes within an interval (`500M`, `1G`: K, M, G are powers of 1000) [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l alert-packets -d '... more than this many packets [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l alert-bps -d '... more than this many bits per second, averaged over the interval (`100M`) [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l alert-pps -d '... more than this many packets per second, averaged over the interval [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l alert-new-flows -d '... opens, or is opened, more than this many conversations within an interval [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l scan-ignore -d 'Sources never flagged as scanners (resolvers, monitoring hosts)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l backend -d 'Capture backend [default: af-packet]' -r -f -a "af-packet\t'AF_PACKET with TPACKET_V3 rings and fanout: works on every interface'
af-xdp\t'AF_XDP, one socket per RX queue: takes the frames away from the kernel stack, for dedicated capture ports'
auto\t'AF_XDP on an interface without addresses (a SPAN port), else AF_PACKET'"
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l direction -d 'Packets to capture: both directions, received (in) or sent (out) [default: both]' -r -f -a "both\t''
in\t'Received packets only'
out\t'Packets this host sends only'"
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l fanout -d 'How the kernel spreads packets over the workers [default: inner]' -r -f -a "inner\t'By the host pair of the innermost packet, inside the tunnels `--decap` opens (a classic BPF program): both directions, a mirror session\'s flows and every copy of a packet meet on one worker'
hash\t'By the kernel\'s flow hash (symmetric) of the outer headers'
cpu\t'By the CPU that received the packet'
qm\t'By the NIC queue the packet came in on'
lb\t'Round robin'"
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l xdp-mode -d 'AF_XDP: how the XDP program is attached [default: auto]' -r -f -a "auto\t'Native (driver) mode where the driver has it, else SKB mode'
native\t'In the driver, before any socket buffer exists'
skb\t'Generic mode, after the kernel built a socket buffer; works everywhere'"
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l xdp-bind -d 'AF_XDP: how sockets bind to their queues [default: auto]' -r -f -a "auto\t'Zero-copy, falling back to copy when the driver refuses'
zero-copy\t''
copy\t''"
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l queues -d 'AF_XDP: RX queues to capture, `all` or a list such as `0-3` [default: all]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l decap -d 'Tunnels to open and count the packets inside: a comma list of erspan, vxlan, geneve, gre, ipip; `all` or `none` (count the outer headers) [default: all]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l vxlan-port -d 'UDP port VXLAN arrives on; repeat for several (at most 4) [default: 4789]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l listen -d 'Where to serve /metrics, the JSON API (/api/v1/) and the dashboard (/dashboard) [default: 0.0.0.0:19213]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l web-max-connections -d 'Web connections served at once; beyond this the least recently active one is closed [default: 64]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l refresh -d 'How often the collector merges and publishes [default: 1s]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l ipfix-template-refresh -d 'IPFIX over UDP: resend the templates and the exporter\'s counts this often (and at least every 4096 messages) [default: 60s]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l ipfix-mtu -d 'IPFIX: the largest IP packet a message goes out in, headers included (bytes) [default: 1400]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l ipfix-active-timeout -d 'IPFIX: a flow is reported once it has lasted this long since its last record (a long flow every minute by default) [default: 60s]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l ipfix-idle-timeout -d 'IPFIX: a flow with no packet for this long ends and is reported [default: 15s]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l flow-table-size -d 'IPv4 flows each worker\'s table holds at once (its IPv6 table a quarter of that), at most 16777214 [default: 200000]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l flow-table-size-v6 -d 'IPv6 flows each worker\'s table holds at once, at most 16777214 [default: a quarter of --flow-table-size, at least 1024]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l snaplen -d 'Bytes of each packet copied to the ring; counting always uses the length on the wire [default: 256]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l block-size -d 'Ring block size in bytes [default: 1048576]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l block-count -d 'Ring blocks per worker and interface [default: 64, so 64 MiB]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l frame-size -d 'Ring frame size hint in bytes [default: 2048]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l block-timeout -d 'How long the kernel waits before handing over a block that is not full [default: 10ms]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l xdp-frame-size -d 'AF_XDP: bytes per UMEM frame, 2048 or 4096 [default: 2048]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l xdp-frames -d 'AF_XDP: UMEM frames per queue [default: 16384, at least twice the ring size]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l xdp-ring-size -d 'AF_XDP: entries of the fill and RX rings, a power of two [default: 8192]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l busy-poll-budget -d 'AF_XDP: packets per busy poll (SO_BUSY_POLL_BUDGET) [default: 64]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l local-networks -d 'Local networks, comma-separated CIDRs (IPv4 and IPv6); they decide the direction classes [default: the private ranges and, live, this box\'s own networks] [default: 10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7,fe80::/10]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l max-flow-series -d 'Flow series exported: the top N by bytes over --flow-window; the rest are summed per class under src="other" [default: 10000]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l max-hosts -d 'Per-IP series exported, chosen the same way; the rest under ip="other" [default: 10000]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l max-entries -d 'Flow entries, conversations and hosts the collector keeps at most (each); this bounds its memory (at most 700 bytes per entry in all) [default: 250000]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l flow-window -d 'Window the series are ranked over [default: 5m]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l flow-idle -d 'Entries unseen this long leave the exposition [default: 10m]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l flow-table-idle -d 'A flow idle this long leaves its worker\'s flow table (at most --flow-idle; sooner when the table lacks room for new flows) [default: 15s]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l alert-interval -d 'Alerts: the interval volume limits are counted over (tumbling) [default: 10s]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l max-alerts -d 'Active alerts at most; more are counted in ringflow_alerts_suppressed_total [default: 1000]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l alert-history -d 'Recent alert events kept for the API and the dashboard (/api/v1/alerts) [default: 10000]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l scan-hosts -d 'Network scan: a source that opens conversations to more than N distinct IPs within --scan-interval; 0 is off [default: 100]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l scan-ports -d 'Port scan: a source that opens conversations to more than N distinct ports of one IP within --scan-interval; 0 is off [default: 100]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l scan-interval -d 'The tumbling interval scans are counted over [default: 60s]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l scan-max-sources -d 'Sources (and source-destination pairs) tracked for scans at most [default: 100000]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l promisc -d 'Put the interfaces in promiscuous mode while capturing'
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l print -d 'Print the final exposition to stdout on exit'
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l xdp-huge-pages -d 'AF_XDP: take the UMEM from the huge page pool (vm.nr_hugepages); without it the UMEM is advised for transparent huge pages'
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -l xdp-steal -d 'AF_XDP even on an interface with addresses, a default route or a bridge/bond master: its traffic no longer reaches this host'
complete -c ringflow -n "__fish_ringflow_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l config -d 'TOML file to take the accounting and alert keys from (host groups among them); the flags given win over it, and its capture keys are checked but not used' -r -F
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l workers -d 'Worker threads; packets are spread over them by a symmetric flow hash' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l refresh -d 'How often the collector merges the workers\' tables and publishes a snapshot, e.g. 1s, 500ms' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l flow-table-size -d 'IPv4 flows each worker\'s table holds at once (its IPv6 table a quarter of that; about 160 bytes a flow with the collector\'s handle). Flows beyond it are counted in ringflow_flow_table_overflow_total' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l flow-table-size-v6 -d 'IPv6 flows each worker\'s table holds at once [default: a quarter of --flow-table-size, at least 1024]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l listen -d 'Serve /metrics, the JSON API and the dashboard on this address while replaying and after the end, until interrupted; their windows follow the capture\'s time' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l web-config -d 'YAML file in the Prometheus exporter-toolkit format with TLS and users for the web endpoints (as for `ringflow run`)' -r -F
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l web-max-connections -d 'Web connections served at once' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l web-allowed-hosts -d 'Host names and addresses requests may name in `Host` (as for `ringflow run`)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l alert-log -d 'Write alert events to this file, one JSON object per line (`-` for stdout)' -r -F
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l alert-webhook -d 'POST each alert event\'s JSON to this URL (http://)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l alertmanager -d 'Send alerts to this Alertmanager (http://host:9093): started and resolved, and again every minute while active' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l alert-exec -d 'Run this program on each alert event with the arguments IP DIRECTION KIND start|update|end and the event\'s JSON on its input (at most 4 at once, killed after 10 s)' -r -F
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l ipfix -d 'Export every flow as IPFIX records to this collector: HOST:PORT or udp://HOST:PORT (UDP), tcp://HOST:PORT (TCP, reconnecting); repeat for several [default: none]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l ipfix-template-refresh -d 'IPFIX over UDP: resend the templates and the exporter\'s counts this often (and at least every 4096 messages)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l ipfix-mtu -d 'IPFIX: the largest IP packet a message goes out in, headers included (bytes)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l ipfix-active-timeout -d 'IPFIX: a flow is reported once it has lasted this long since its last record (a long flow every minute by default)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l ipfix-idle-timeout -d 'IPFIX: a flow with no packet for this long ends and is reported' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l decap -d 'Tunnels to open and count the packets inside: a comma list of erspan, vxlan, geneve, gre, ipip; `all` or `none` (count the outer headers)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l vxlan-port -d 'UDP port VXLAN arrives on; repeat for several (at most 4)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l dedup -d 'Count a packet once when the same IP packet (apart from its TTL and checksum, whatever Layer 2 or tunnel it came in) was seen within this window, e.g. 1ms; at most 100ms [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l monitor-subnets -d 'IPs with per-IP counters: inside these networks [default: the local networks]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l exclude-subnets -d '... and outside these [default: none]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l compat -d 'Also export the families of a replaced tool (repeatable or comma-separated)' -r -f -a "promflow\t'promflow_transmit_bytes_total{ip} and promflow_receive_bytes_total{ip}'
trafficmonitor\t'trafficmonitor_total_incoming_bytes, trafficmonitor_total_outgoing_bytes and trafficmonitor_hosts_src_dst'"
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l alert-bytes -d 'Alert when a monitored IP sends, or receives, more than this many bytes within an interval (`500M`, `1G`: K, M, G are powers of 1000) [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l alert-packets -d '... more than this many packets [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l alert-bps -d '... more than this many bits per second, averaged over the interval (`100M`) [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l alert-pps -d '... more than this many packets per second, averaged over the interval [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l alert-new-flows -d '... opens, or is opened, more than this many conversations within an interval [default: off]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l scan-ignore -d 'Sources never flagged as scanners (resolvers, monitoring hosts)' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l batch -d 'Packets per batch handed to a worker' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l local-networks -d 'Local networks, comma-separated CIDRs (IPv4 and IPv6); they decide the direction classes [default: the private ranges and, live, this box\'s own networks] [default: 10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7,fe80::/10]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l max-flow-series -d 'Flow series exported: the top N by bytes over --flow-window; the rest are summed per class under src="other" [default: 10000]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l max-hosts -d 'Per-IP series exported, chosen the same way; the rest under ip="other" [default: 10000]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l max-entries -d 'Flow entries, conversations and hosts the collector keeps at most (each); this bounds its memory (at most 700 bytes per entry in all) [default: 250000]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l flow-window -d 'Window the series are ranked over [default: 5m]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l flow-idle -d 'Entries unseen this long leave the exposition [default: 10m]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l flow-table-idle -d 'A flow idle this long leaves its worker\'s flow table (at most --flow-idle; sooner when the table lacks room for new flows) [default: 15s]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l alert-interval -d 'Alerts: the interval volume limits are counted over (tumbling) [default: 10s]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l max-alerts -d 'Active alerts at most; more are counted in ringflow_alerts_suppressed_total [default: 1000]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l alert-history -d 'Recent alert events kept for the API and the dashboard (/api/v1/alerts) [default: 10000]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l scan-hosts -d 'Network scan: a source that opens conversations to more than N distinct IPs within --scan-interval; 0 is off [default: 100]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l scan-ports -d 'Port scan: a source that opens conversations to more than N distinct ports of one IP within --scan-interval; 0 is off [default: 100]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l scan-interval -d 'The tumbling interval scans are counted over [default: 60s]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l scan-max-sources -d 'Sources (and source-destination pairs) tracked for scans at most [default: 100000]' -r
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -l print -d 'Print the final exposition to stdout when the input ends and exit (the default when --listen is not given)'
complete -c ringflow -n "__fish_ringflow_using_subcommand replay" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ringflow -n "__fish_ringflow_using_subcommand help; and not __fish_seen_subcommand_from synth gen check-config doctor generate-docs run replay help" -f -a "synth" -d 'Write a synthetic capture (a reproducible traffic mix) to a pcap file'
complete -c ringflow -n "__fish_ringflow_using_subcommand help; and not __fish_seen_subcommand_from synth gen check-config doctor generate-docs run replay help" -f -a "gen" -d 'Send a synthetic traffic mix out of an interface, for tests and benchmarks'
complete -c ringflow -n "__fish_ringflow_using_subcommand help; and not __fish_seen_subcommand_from synth gen check-config doctor generate-docs run replay help" -f -a "check-config" -d 'Check a config file as `ringflow --config FILE` would take it, on this machine\'s interfaces, and print the effective settings'
complete -c ringflow -n "__fish_ringflow_using_subcommand help; and not __fish_seen_subcommand_from synth gen check-config doctor generate-docs run replay help" -f -a "doctor" -d 'Check the capture interfaces and the host against what ringflow, with these flags or config file, will do: a checklist of findings (ok, warning, problem), why each matters and the command that fixes it. Exits with 1 when a problem was found'
complete -c ringflow -n "__fish_ringflow_using_subcommand help; and not __fish_seen_subcommand_from synth gen check-config doctor generate-docs run replay help" -f -a "generate-docs" -d 'Write the man pages and shell completions generated from this command line into a directory (for packaging)'
complete -c ringflow -n "__fish_ringflow_using_subcommand help; and not __fish_seen_subcommand_from synth gen check-config doctor generate-docs run replay help" -f -a "run" -d 'Capture live (the default when no subcommand is given)'
complete -c ringflow -n "__fish_ringflow_using_subcommand help; and not __fish_seen_subcommand_from synth gen check-config doctor generate-docs run replay help" -f -a "replay" -d 'Replay pcap/pcapng files through the workers and collector'
complete -c ringflow -n "__fish_ringflow_using_subcommand help; and not __fish_seen_subcommand_from synth gen check-config doctor generate-docs run replay help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
