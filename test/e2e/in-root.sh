#!/bin/sh
# in-root.sh NETNS ROOT COMMAND...: runs COMMAND chrooted into ROOT (a Debian root made by
# mmdebstrap) inside the network namespace NETNS, with /proc and /dev mounted in the private
# mount namespace `ip netns exec` makes (so nothing stays mounted on the host). What COMMAND
# starts in the background (the service, dnsmasq) goes on in NETNS.
set -e
ns="$1"
root="$2"
shift 2
exec ip netns exec "$ns" sh -c '
  root="$1"; shift
  mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
  mountpoint -q "$root/dev" || mount --rbind /dev "$root/dev"
  exec chroot "$root" "$@"
' in-root "$root" "$@"
