#!/usr/bin/env python3
"""Writes the ixgbe-4q fixture: the answers an ixgbe 10 GbE port with four
combined queues gives, laid out as the kernel's struct ethtool_* (little
endian, x86-64), and the sysfs and procfs files of its host. This machine
has no such NIC, so the answers are composed from the structures' layout
rather than recorded; `ringflow doctor --record DIR` records a real one in
the same format.

What is wrong with it, on purpose: the RSS key is the common default
(asymmetric), UDP hashes by addresses only, every queue's interrupt is on
CPU 0 while the workers run on CPUs 0-3, the receive ring is 512 of 4096
descriptors, rx-vlan-offload is on, the NIC has missed frames, the CPUs
run the powersave governor and irqbalance runs."""
import os, struct, sys

out = sys.argv[1] if len(sys.argv) > 1 else "ixgbe-4q"
IF = "eth1"

def cstr(s, n):
    return s.encode().ljust(n, b"\0")

def hexa(b):
    return b.hex()

lines = ["# composed by compose-ixgbe-4q.py (see its docstring)"]
def answer(key, b):
    lines.append(f"{IF} {key} {hexa(b)}")

stats = [("rx_packets", 81234567), ("rx_missed_errors", 1234),
         ("rx_no_buffer_count", 77), ("tx_packets", 512)]
# struct ethtool_drvinfo
answer("gdrvinfo", struct.pack("<I", 0x03) + cstr("ixgbe", 32) + cstr("6.18.0", 32)
       + cstr("0x800003e1", 32) + cstr("0000:03:00.0", 32) + cstr("", 32)
       + b"\0" * 12 + struct.pack("<5I", 0, len(stats), 0, 512, 1139))
# struct ethtool_channels: max rx, tx, other, combined; then the counts
answer("gchannels", struct.pack("<9I", 0x3c, 0, 0, 1, 63, 0, 0, 1, 4))
# struct ethtool_ringparam
answer("gringparam", struct.pack("<9I", 0x10, 4096, 0, 0, 4096, 512, 0, 0, 512))
# struct ethtool_rxfh: 128 buckets round the four queues, the common
# 40-byte default key, Toeplitz, no input transformation
key = bytes.fromhex("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa")
indir = [i % 4 for i in range(128)]
answer("grssh", struct.pack("<IIIIBBBBI", 0x46, 0, len(indir), len(key), 1, 0, 0, 0, 0)
       + struct.pack(f"<{len(indir)}I", *indir) + key)
# struct ethtool_rxnfc (cmd, flow_type, data; the rest zero): TCP by
# addresses and ports (sdfn), UDP by addresses only (sd)
for flow, fields in [(1, 0xf0), (2, 0x30), (5, 0xf0), (6, 0x30)]:
    answer(f"grxfh:{flow}", struct.pack("<IIQ", 0x29, flow, fields) + b"\0" * 176)
answer("ggro", struct.pack("<II", 0x2b, 1))
answer("ggso", struct.pack("<II", 0x23, 1))
answer("gflags", struct.pack("<II", 0x25, 1 << 8))  # rxvlan on, lro off
# struct ethtool_gstrings and struct ethtool_stats
answer("gstrings:1", struct.pack("<III", 0x1b, 1, len(stats)) + b"".join(cstr(n, 32) for n, _ in stats))
answer("gstats", struct.pack("<II", 0x1d, len(stats)) + b"".join(struct.pack("<Q", v) for _, v in stats))
lines.append(f"{IF} xdp-features 15")  # basic, redirect, ndo-xmit, xsk-zerocopy
lines.append(f"{IF} addresses ")

os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "ethtool.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")

def put(path, text=""):
    p = os.path.join(out, "root", path)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)

net = f"sys/class/net/{IF}"
put(f"{net}/speed", "10000\n")
put(f"{net}/threaded", "0\n")
put(f"{net}/napi_defer_hard_irqs", "0\n")
put(f"{net}/gro_flush_timeout", "0\n")
put(f"{net}/device/numa_node", "0\n")
for q in range(4):
    # a file in each directory, or a repository would not keep it
    put(f"{net}/queues/rx-{q}/.keep")
    put(f"{net}/queues/tx-{q}/.keep")
for irq in range(40, 45):
    put(f"{net}/device/msi_irqs/{irq}")
for s, v in [("rx_missed_errors", 1234), ("rx_fifo_errors", 0), ("rx_dropped", 0)]:
    put(f"{net}/statistics/{s}", f"{v}\n")
irqs = "           CPU0       CPU1       CPU2       CPU3\n"
for q in range(4):
    irqs += f" {40 + q}:   {9000 + q}          0          0          0  IR-PCI-MSIX-0000:03:00.0    {q}-edge      {IF}-TxRx-{q}\n"
    put(f"proc/irq/{40 + q}/smp_affinity_list", "0\n")
irqs += f" 44:          3          0          0          0  IR-PCI-MSIX-0000:03:00.0    4-edge      {IF}\n"
put("proc/irq/44/smp_affinity_list", "0-3\n")
put("proc/interrupts", irqs)
put("proc/1187/comm", "irqbalance\n")
put("proc/1/comm", "systemd\n")
put("proc/meminfo", "MemTotal:       16318412 kB\nMemFree:        14001200 kB\n"
    "MemAvailable:   15120044 kB\nHugePages_Total:       0\nHugePages_Free:        0\n"
    "Hugepagesize:       2048 kB\n")
put("proc/sys/net/core/rmem_max", "212992\n")
put("proc/sys/net/core/busy_poll", "0\n")
put("proc/sys/net/core/busy_read", "0\n")
put("sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n")
put("sys/devices/system/cpu/online", "0-3\n")
put("sys/devices/system/cpu/isolated", "\n")
for c in range(4):
    put(f"sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor", "powersave\n")
put("sys/devices/system/node/node0/cpulist", "0-3\n")
