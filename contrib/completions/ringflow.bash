_ringflow() {
    local i cur prev opts cmd
    COMPREPLY=()
    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
        cur="$2"
    else
        cur="${COMP_WORDS[COMP_CWORD]}"
    fi
    prev="$3"
    cmd=""
    opts=""

    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="ringflow"
                ;;
            ringflow,check-config)
                cmd="ringflow__subcmd__check__subcmd__config"
                ;;
            ringflow,doctor)
                cmd="ringflow__subcmd__doctor"
                ;;
            ringflow,gen)
                cmd="ringflow__subcmd__gen"
                ;;
            ringflow,generate-docs)
                cmd="ringflow__subcmd__generate__subcmd__docs"
                ;;
            ringflow,help)
                cmd="ringflow__subcmd__help"
                ;;
            ringflow,replay)
                cmd="ringflow__subcmd__replay"
                ;;
            ringflow,run)
                cmd="ringflow__subcmd__run"
                ;;
            ringflow,synth)
                cmd="ringflow__subcmd__synth"
                ;;
            ringflow__subcmd__help,check-config)
                cmd="ringflow__subcmd__help__subcmd__check__subcmd__config"
                ;;
            ringflow__subcmd__help,doctor)
                cmd="ringflow__subcmd__help__subcmd__doctor"
                ;;
            ringflow__subcmd__help,gen)
                cmd="ringflow__subcmd__help__subcmd__gen"
                ;;
            ringflow__subcmd__help,generate-docs)
                cmd="ringflow__subcmd__help__subcmd__generate__subcmd__docs"
                ;;
            ringflow__subcmd__help,help)
                cmd="ringflow__subcmd__help__subcmd__help"
                ;;
            ringflow__subcmd__help,replay)
                cmd="ringflow__subcmd__help__subcmd__replay"
                ;;
            ringflow__subcmd__help,run)
                cmd="ringflow__subcmd__help__subcmd__run"
                ;;
            ringflow__subcmd__help,synth)
                cmd="ringflow__subcmd__help__subcmd__synth"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        ringflow)
            opts="-h -V --config --iface --exclude-iface --workers --cpus --collector-cpus --filter --promisc --web-config --web-allowed-hosts --print --alert-log --alert-webhook --alertmanager --alert-exec --ipfix --dedup --xdp-huge-pages --busy-poll --xdp-steal --worker-priority --monitor-subnets --exclude-subnets --compat --alert-bytes --alert-packets --alert-bps --alert-pps --alert-new-flows --scan-ignore --backend --direction --fanout --xdp-mode --xdp-bind --queues --decap --vxlan-port --listen --web-max-connections --refresh --ipfix-template-refresh --ipfix-mtu --ipfix-active-timeout --ipfix-idle-timeout --flow-table-size --flow-table-size-v6 --snaplen --block-size --block-count --frame-size --block-timeout --xdp-frame-size --xdp-frames --xdp-ring-size --busy-poll-budget --local-networks --max-flow-series --max-hosts --max-entries --flow-window --flow-idle --flow-table-idle --alert-interval --max-alerts --alert-history --scan-hosts --scan-ports --scan-interval --scan-max-sources --help --version synth gen check-config doctor generate-docs run replay help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --iface)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --exclude-iface)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --workers)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cpus)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --collector-cpus)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --filter)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --web-config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --web-allowed-hosts)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-log)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-webhook)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alertmanager)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-exec)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dedup)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --busy-poll)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --worker-priority)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --monitor-subnets)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --exclude-subnets)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --compat)
                    COMPREPLY=($(compgen -W "promflow trafficmonitor" -- "${cur}"))
                    return 0
                    ;;
                --alert-bytes)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-packets)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-bps)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-pps)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-new-flows)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-ignore)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --backend)
                    COMPREPLY=($(compgen -W "af-packet af-xdp auto" -- "${cur}"))
                    return 0
                    ;;
                --direction)
                    COMPREPLY=($(compgen -W "both in out" -- "${cur}"))
                    return 0
                    ;;
                --fanout)
                    COMPREPLY=($(compgen -W "inner hash cpu qm lb" -- "${cur}"))
                    return 0
                    ;;
                --xdp-mode)
                    COMPREPLY=($(compgen -W "auto native skb" -- "${cur}"))
                    return 0
                    ;;
                --xdp-bind)
                    COMPREPLY=($(compgen -W "auto zero-copy copy" -- "${cur}"))
                    return 0
                    ;;
                --queues)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --decap)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --vxlan-port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --listen)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --web-max-connections)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --refresh)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix-template-refresh)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix-mtu)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix-active-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix-idle-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-table-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-table-size-v6)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --snaplen)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --block-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --block-count)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --frame-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --block-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --xdp-frame-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --xdp-frames)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --xdp-ring-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --busy-poll-budget)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --local-networks)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-flow-series)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-hosts)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-entries)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-window)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-idle)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-table-idle)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-interval)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-alerts)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-history)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-hosts)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-ports)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-interval)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-max-sources)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ringflow__subcmd__check__subcmd__config)
            opts="-h --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ringflow__subcmd__doctor)
            opts="-h --json --fix --yes --record --config --iface --exclude-iface --backend --workers --cpus --collector-cpus --snaplen --filter --promisc --direction --fanout --block-size --block-count --frame-size --block-timeout --listen --web-config --web-max-connections --web-allowed-hosts --refresh --flow-table-size --flow-table-size-v6 --print --alert-log --alert-webhook --alertmanager --alert-exec --ipfix --ipfix-template-refresh --ipfix-mtu --ipfix-active-timeout --ipfix-idle-timeout --decap --vxlan-port --dedup --queues --xdp-mode --xdp-bind --xdp-frame-size --xdp-frames --xdp-ring-size --xdp-huge-pages --busy-poll --busy-poll-budget --xdp-steal --worker-priority --local-networks --monitor-subnets --exclude-subnets --max-flow-series --max-hosts --max-entries --flow-window --flow-idle --flow-table-idle --compat --alert-interval --alert-bytes --alert-packets --alert-bps --alert-pps --alert-new-flows --max-alerts --alert-history --scan-hosts --scan-ports --scan-interval --scan-ignore --scan-max-sources --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --record)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --iface)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --exclude-iface)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --backend)
                    COMPREPLY=($(compgen -W "af-packet af-xdp auto" -- "${cur}"))
                    return 0
                    ;;
                --workers)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cpus)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --collector-cpus)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --snaplen)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --filter)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --direction)
                    COMPREPLY=($(compgen -W "both in out" -- "${cur}"))
                    return 0
                    ;;
                --fanout)
                    COMPREPLY=($(compgen -W "inner hash cpu qm lb" -- "${cur}"))
                    return 0
                    ;;
                --block-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --block-count)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --frame-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --block-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --listen)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --web-config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --web-max-connections)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --web-allowed-hosts)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --refresh)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-table-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-table-size-v6)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-log)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-webhook)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alertmanager)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-exec)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix-template-refresh)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix-mtu)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix-active-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix-idle-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --decap)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --vxlan-port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dedup)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --queues)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --xdp-mode)
                    COMPREPLY=($(compgen -W "auto native skb" -- "${cur}"))
                    return 0
                    ;;
                --xdp-bind)
                    COMPREPLY=($(compgen -W "auto zero-copy copy" -- "${cur}"))
                    return 0
                    ;;
                --xdp-frame-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --xdp-frames)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --xdp-ring-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --busy-poll)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --busy-poll-budget)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --worker-priority)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --local-networks)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --monitor-subnets)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --exclude-subnets)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-flow-series)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-hosts)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-entries)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-window)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-idle)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-table-idle)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --compat)
                    COMPREPLY=($(compgen -W "promflow trafficmonitor" -- "${cur}"))
                    return 0
                    ;;
                --alert-interval)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-bytes)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-packets)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-bps)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-pps)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-new-flows)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-alerts)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-history)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-hosts)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-ports)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-interval)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-ignore)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-max-sources)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ringflow__subcmd__gen)
            opts="-h --iface --flows --packets --rate --duration --frame-size --ipv6-percent --vlan-percent --udp-percent --fragment-percent --seed --through-qdisc --xdp --zipf --truth --mirror-session --mirror-raw --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --iface)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flows)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --packets)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --rate)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --duration)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --frame-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipv6-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --vlan-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --udp-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --fragment-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --seed)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --zipf)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --truth)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mirror-session)
                    COMPREPLY=($(compgen -W "erspan2 erspan3 vxlan geneve gre" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ringflow__subcmd__generate__subcmd__docs)
            opts="-h --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ringflow__subcmd__help)
            opts="synth gen check-config doctor generate-docs run replay help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ringflow__subcmd__help__subcmd__check__subcmd__config)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ringflow__subcmd__help__subcmd__doctor)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ringflow__subcmd__help__subcmd__gen)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ringflow__subcmd__help__subcmd__generate__subcmd__docs)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ringflow__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ringflow__subcmd__help__subcmd__replay)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ringflow__subcmd__help__subcmd__run)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ringflow__subcmd__help__subcmd__synth)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ringflow__subcmd__replay)
            opts="-h --config --workers --refresh --flow-table-size --flow-table-size-v6 --print --listen --web-config --web-max-connections --web-allowed-hosts --alert-log --alert-webhook --alertmanager --alert-exec --ipfix --ipfix-template-refresh --ipfix-mtu --ipfix-active-timeout --ipfix-idle-timeout --decap --vxlan-port --dedup --monitor-subnets --exclude-subnets --compat --alert-bytes --alert-packets --alert-bps --alert-pps --alert-new-flows --scan-ignore --batch --local-networks --max-flow-series --max-hosts --max-entries --flow-window --flow-idle --flow-table-idle --alert-interval --max-alerts --alert-history --scan-hosts --scan-ports --scan-interval --scan-max-sources --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --workers)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --refresh)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-table-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-table-size-v6)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --listen)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --web-config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --web-max-connections)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --web-allowed-hosts)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-log)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-webhook)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alertmanager)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-exec)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix-template-refresh)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix-mtu)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix-active-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix-idle-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --decap)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --vxlan-port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dedup)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --monitor-subnets)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --exclude-subnets)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --compat)
                    COMPREPLY=($(compgen -W "promflow trafficmonitor" -- "${cur}"))
                    return 0
                    ;;
                --alert-bytes)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-packets)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-bps)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-pps)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-new-flows)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-ignore)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --batch)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --local-networks)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-flow-series)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-hosts)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-entries)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-window)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-idle)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-table-idle)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-interval)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-alerts)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-history)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-hosts)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-ports)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-interval)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-max-sources)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ringflow__subcmd__run)
            opts="-h --config --iface --exclude-iface --workers --cpus --collector-cpus --filter --promisc --web-config --web-allowed-hosts --print --alert-log --alert-webhook --alertmanager --alert-exec --ipfix --dedup --xdp-huge-pages --busy-poll --xdp-steal --worker-priority --monitor-subnets --exclude-subnets --compat --alert-bytes --alert-packets --alert-bps --alert-pps --alert-new-flows --scan-ignore --backend --direction --fanout --xdp-mode --xdp-bind --queues --decap --vxlan-port --listen --web-max-connections --refresh --ipfix-template-refresh --ipfix-mtu --ipfix-active-timeout --ipfix-idle-timeout --flow-table-size --flow-table-size-v6 --snaplen --block-size --block-count --frame-size --block-timeout --xdp-frame-size --xdp-frames --xdp-ring-size --busy-poll-budget --local-networks --max-flow-series --max-hosts --max-entries --flow-window --flow-idle --flow-table-idle --alert-interval --max-alerts --alert-history --scan-hosts --scan-ports --scan-interval --scan-max-sources --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --iface)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --exclude-iface)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --workers)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cpus)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --collector-cpus)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --filter)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --web-config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --web-allowed-hosts)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-log)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-webhook)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alertmanager)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-exec)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dedup)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --busy-poll)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --worker-priority)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --monitor-subnets)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --exclude-subnets)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --compat)
                    COMPREPLY=($(compgen -W "promflow trafficmonitor" -- "${cur}"))
                    return 0
                    ;;
                --alert-bytes)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-packets)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-bps)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-pps)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-new-flows)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-ignore)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --backend)
                    COMPREPLY=($(compgen -W "af-packet af-xdp auto" -- "${cur}"))
                    return 0
                    ;;
                --direction)
                    COMPREPLY=($(compgen -W "both in out" -- "${cur}"))
                    return 0
                    ;;
                --fanout)
                    COMPREPLY=($(compgen -W "inner hash cpu qm lb" -- "${cur}"))
                    return 0
                    ;;
                --xdp-mode)
                    COMPREPLY=($(compgen -W "auto native skb" -- "${cur}"))
                    return 0
                    ;;
                --xdp-bind)
                    COMPREPLY=($(compgen -W "auto zero-copy copy" -- "${cur}"))
                    return 0
                    ;;
                --queues)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --decap)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --vxlan-port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --listen)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --web-max-connections)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --refresh)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix-template-refresh)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix-mtu)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix-active-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipfix-idle-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-table-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-table-size-v6)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --snaplen)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --block-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --block-count)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --frame-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --block-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --xdp-frame-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --xdp-frames)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --xdp-ring-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --busy-poll-budget)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --local-networks)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-flow-series)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-hosts)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-entries)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-window)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-idle)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --flow-table-idle)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-interval)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-alerts)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --alert-history)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-hosts)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-ports)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-interval)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scan-max-sources)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        ringflow__subcmd__synth)
            opts="-h --flows --packets --ipv6-percent --vlan-percent --udp-percent --frame-size --seed --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --flows)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --packets)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ipv6-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --vlan-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --udp-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --frame-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --seed)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
    esac
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _ringflow -o nosort -o bashdefault -o default ringflow
else
    complete -F _ringflow -o bashdefault -o default ringflow
fi
