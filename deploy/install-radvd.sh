#!/usr/bin/env bash
# Installs radvd 2.20 or later, the first that sends the Captive-Portal option (RFC 8910, RA
# option 37: AdvCaptivePortalAPI). Debian 13 and Ubuntu 25.04 ship it; Debian 12 ships 2.19
# and has 2.20 in its official backports, which this script then adds (from the mirror the
# machine already uses; backports are never preferred over the release, so only radvd comes
# from there). Used by deploy/install.sh and .ci/run. Exits 1, saying why, when no such radvd
# can be had: the guest network then keeps dnsmasq's router advertisements, without option 37.
set -euo pipefail

say() { echo "install-radvd.sh: $*"; }
at_least() { [ -n "$1" ] && [ "$1" != "(none)" ] && dpkg --compare-versions "$1" ge 1:2.20; }
installed() { dpkg-query -W -f '${Version}' radvd 2>/dev/null || true; }
candidate() { apt-cache policy radvd 2>/dev/null | awk '/Candidate:/ { print $2 }'; }

at_least "$(installed)" && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if at_least "$(candidate)"; then
  apt-get install -y -qq radvd
  exit 0
fi
. /etc/os-release
if [ "${VERSION_CODENAME:-}" != bookworm ]; then
  say "radvd $(candidate) is the newest here, and 2.20 or later is needed for option 37"
  exit 1
fi
if ! apt-cache policy | grep -q bookworm-backports; then
  # The mirror of the machine's own Debian sources (deb822 or one-line), never another host.
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] ||
    mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || { say "no Debian mirror in /etc/apt to take bookworm-backports from"; exit 1; }
  say "adding bookworm-backports from $mirror, for radvd 2.20"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" >/etc/apt/sources.list.d/branchgate-backports.sources
  apt-get update -qq
fi
apt-get install -y -qq -t bookworm-backports radvd
at_least "$(installed)" || { say "radvd $(installed) has no AdvCaptivePortalAPI"; exit 1; }
