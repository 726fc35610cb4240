#!/usr/bin/env bash
# Installs branchgate on a Debian/Ubuntu mini-PC with two network ports: one to the guest
# Wi-Fi access point or switch (--guest), one to the branch's internet router (--uplink).
# Safe to run again: it never overwrites /etc/branchgate/branchgate.json or the database, and
# every other file it writes comes out the same.
#
#   sudo deploy/install.sh --guest enp2s0 --uplink enp1s0 [--address 192.168.77.1/24]
#                          [--ipv6-prefix fd42:77::/64 | --no-ipv6]
#                          [--portal-name portal.branch.lan] [--ra auto|radvd|dnsmasq] [--no-start]
#
# IPv6 is on by default: guests get addresses of --ipv6-prefix (a /64; the gateway takes ::1)
# by SLAAC and reach the internet through NAT66 on the uplink (see docs/gateway.md). The portal
# is then reached by name (--portal-name, default portal.branch.lan), so IPv6-only phones find it.
# The router advertisements (--ra) are radvd's, with the Captive Portal API URI in them (RFC 8910
# option 37; radvd 2.20 or later, from Debian 12's backports: deploy/install-radvd.sh), or where
# no such radvd can be had (auto) or with --ra dnsmasq, dnsmasq's without it.
#
# BRANCHGATE_ROOT=/some/dir installs the files under that directory only (no packages, users,
# sysctl or systemctl): what the test suite does.
#
# Run from the Debian package (/usr/lib/branchgate/deploy/install.sh), it only configures the
# network and the config: the package has installed the application, its Node.js and the unit.
set -euo pipefail

ROOT="${BRANCHGATE_ROOT:-}"
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP=/opt/branchgate
ETC=/etc/branchgate
DATA=/var/lib/branchgate
GUEST=""
UPLINK=""
ADDRESS="192.168.77.1/24"
PORTAL_NAME=""
IPV6_PREFIX="fd42:77::/64"
START=1
# The Debian package's tree carries its own Node.js: then the application is in place already.
PACKAGED=0
[ ! -x "$SRC/node/bin/node" ] || PACKAGED=1
RA_OPT=auto

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --guest) GUEST="${2:-}"; shift 2 ;;
    --uplink) UPLINK="${2:-}"; shift 2 ;;
    --address) ADDRESS="${2:-}"; shift 2 ;;
    --portal-name) PORTAL_NAME="${2:-}"; shift 2 ;;
    --ipv6-prefix) IPV6_PREFIX="${2:-}"; shift 2 ;;
    --no-ipv6) IPV6_PREFIX=""; shift ;;
    --ra) RA_OPT="${2:-}"; shift 2 ;;
    --no-start) START=0; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

# Everything that ends up in a file is checked first, so no template can be bent by a value.
ifname_re='^[A-Za-z0-9_.-]{1,15}$'
[[ "$GUEST" =~ $ifname_re ]] || die "--guest must name the guest interface, e.g. --guest enp2s0"
[[ "$UPLINK" =~ $ifname_re ]] || die "--uplink must name the uplink interface, e.g. --uplink enp1s0"
[ "$GUEST" != "$UPLINK" ] || die "--guest and --uplink must be two different ports"
[[ "$ADDRESS" =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})/(1[6-9]|2[0-4])$ ]] ||
  die "--address must be the gateway's guest address with a /16../24 prefix, e.g. 192.168.77.1/24"
O1=${BASH_REMATCH[1]}; O2=${BASH_REMATCH[2]}; O3=${BASH_REMATCH[3]}; O4=${BASH_REMATCH[4]}; PREFIX=${BASH_REMATCH[5]}
for o in "$O1" "$O2" "$O3" "$O4"; do [ "$o" -le 255 ] || die "--address: $o is not an octet"; done
[ -z "$PORTAL_NAME" ] || [[ "$PORTAL_NAME" =~ ^[A-Za-z0-9.-]{1,253}$ ]] || die "--portal-name must be a host name"
[[ "$RA_OPT" =~ ^(auto|radvd|dnsmasq)$ ]] || die "--ra must be auto, radvd or dnsmasq"

GW="$O1.$O2.$O3.$O4"
# IPv6: a /64 written as hex groups ending in ::/64 (fd42:77::/64); the gateway takes ::1.
GW6=""
if [ -n "$IPV6_PREFIX" ]; then
  [[ "$IPV6_PREFIX" =~ ^([0-9A-Fa-f]{1,4}(:[0-9A-Fa-f]{1,4}){0,3})::/64$ ]] ||
    die "--ipv6-prefix must be a /64 such as fd42:77::/64 (or --no-ipv6)"
  GW6="${BASH_REMATCH[1]}::1"
  PORTAL_NAME="${PORTAL_NAME:-portal.branch.lan}"
fi
# Who sends the guests' router advertisements: dnsmasq, or radvd (with option 37). Files only
# (BRANCHGATE_ROOT): radvd when asked, or with auto when an installed one is 2.20 or later.
RA=dnsmasq
if [ -n "$GW6" ] && [ -n "$ROOT" ]; then
  if [ "$RA_OPT" = radvd ]; then RA=radvd
  elif [ "$RA_OPT" = auto ] && dpkg --compare-versions "$(dpkg-query -W -f '${Version}' radvd 2>/dev/null || echo 0)" ge 1:2.20 2>/dev/null; then RA=radvd
  fi
fi
mask=$(( 0xffffffff << (32 - PREFIX) & 0xffffffff ))
NETMASK="$(( mask >> 24 & 255 )).$(( mask >> 16 & 255 )).$(( mask >> 8 & 255 )).$(( mask & 255 ))"
# The DHCP pool: the last /24 of the guest network from .20 to .250, leaving room for fixed hosts.
DHCP_START="$O1.$O2.$O3.20"
DHCP_END="$O1.$O2.$O3.250"
HOST="${PORTAL_NAME:-$GW}"
PUBLIC_URL="http://$HOST:8080"
API_URL="http://$HOST:8080/api/captive"

if [ -z "$ROOT" ]; then
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo)"
  missing=()
  for p in nftables dnsmasq iproute2 ca-certificates; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
  # The gate's nft session through libnftables (about half nft -i's CPU per login); without it
  # the service uses nft -i.
  if ! dpkg -s python3-nftables >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-nftables ||
      say "python3-nftables cannot be installed: the gate uses nft -i"
  fi
  [ "$PACKAGED" -eq 0 ] || node() { "$SRC/node/bin/node" "$@"; }
  # Issue 16: radvd for the router advertisements with option 37, where it can be had.
  if [ -n "$GW6" ] && [ "$RA_OPT" != dnsmasq ]; then
    if bash "$SRC/deploy/install-radvd.sh"; then
      RA=radvd
    else
      [ "$RA_OPT" = auto ] || die "--ra radvd: no radvd 2.20 or later can be installed here"
      say "no radvd 2.20 or later here: dnsmasq sends the router advertisements, without option 37"
    fi
  fi
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  [ "$node_major" -ge 20 ] ||
    die "Node.js 20 or later is needed (found ${node_major}); install it from https://nodejs.org or NodeSource, then run again"
  if ! id -u branchgate >/dev/null 2>&1; then
    say "creating the system user branchgate"
    useradd --system --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin branchgate
  fi
fi

if [ "$PACKAGED" -eq 1 ]; then APP="$SRC"; fi
owned() { # owned MODE USER:GROUP DIR
  install -d -m "$1" "$ROOT$3"
  [ -n "$ROOT" ] || chown "$2" "$ROOT$3"
}
[ "$PACKAGED" -eq 1 ] || owned 0755 root:root "$APP"
owned 0750 root:branchgate "$ETC"
owned 0750 branchgate:branchgate "$DATA"
# Earlier versions left `nft -i`'s history (every MAC let through) in the service's HOME.
rm -f "$DATA/.nft.history"

# The application runs as plain JavaScript from dist/, compiled from src/ (npm run build).
if [ "$PACKAGED" -eq 1 ]; then
  say "using the installed package in $SRC"
elif [ -x "$SRC/node_modules/.bin/esbuild" ]; then
  (cd "$SRC" && node scripts/build.mjs --if-stale) || die "cannot compile branchgate (npm run build)"
fi
[ -f "$SRC/dist/serve.js" ] || die "dist/ is missing: run npm ci && npm run build in $SRC first"

# The application: the tree with dist/, without data, tests or version control.
if [ "$PACKAGED" -eq 0 ]; then
say "copying branchgate to $APP"
tar -C "$SRC" --exclude=./.git --exclude=./data --exclude=./node_modules --exclude=./test \
  -cf - . | tar -C "$ROOT$APP" --no-same-owner -xf -
chmod 0755 "$ROOT$APP/bin/branchgate.js"
if [ -z "$ROOT" ]; then
  if [ ! -d "$APP/node_modules" ] || ! cmp -s "$SRC/package-lock.json" "$APP/node_modules/.package-lock.json" 2>/dev/null; then
    say "installing Node packages"
    (cd "$APP" && npm ci --omit=dev --no-audit --no-fund)
    cp "$SRC/package-lock.json" "$APP/node_modules/.package-lock.json"
  fi
  ln -sfn "$APP/bin/branchgate.js" /usr/local/bin/branchgate
fi
fi

fill() { # fill TEMPLATE: the placeholders this installer knows, from the checked values above
  sed -e "s|{{guestInterface}}|$GUEST|g" -e "s|{{uplinkInterface}}|$UPLINK|g" \
      -e "s|{{gatewayIp}}|$GW|g" -e "s|{{netmask}}|$NETMASK|g" \
      -e "s|{{dhcpStart}}|$DHCP_START|g" -e "s|{{dhcpEnd}}|$DHCP_END|g" -e "s|{{leaseTime}}|2h|g" \
      -e "s|{{captiveApiUrl}}|$API_URL|g" -e "s|{{portalHostRecord}}|$PORTAL_RECORD|g" \
      -e "s|{{ipv6}}|$IPV6_MARK|g" -e "s|{{gatewayIp6}}|$GW6|g" \
      -e "s|{{raByDnsmasq}}|$RA_DNSMASQ_MARK|g" -e "s|{{raByRadvd}}|$RA_RADVD_MARK|g" "$1"
}
PORTAL_RECORD=""
[ -z "$PORTAL_NAME" ] || PORTAL_RECORD="address=/$PORTAL_NAME/$GW"
[ -z "$PORTAL_NAME" ] || [ -z "$GW6" ] || PORTAL_RECORD="$PORTAL_RECORD\naddress=/$PORTAL_NAME/$GW6"
# The IPv6 lines of the dnsmasq file are commented out for an IPv4-only guest network.
IPV6_MARK="#"
[ -z "$GW6" ] || IPV6_MARK=""
# dnsmasq's router advertisement lines, or its DHCPv6-only line when radvd sends them.
RA_DNSMASQ_MARK="#"; RA_RADVD_MARK="#"
if [ -n "$GW6" ] && [ "$RA" = radvd ]; then RA_RADVD_MARK=""; elif [ -n "$GW6" ]; then RA_DNSMASQ_MARK=""; fi

CONFIG="$ROOT$ETC/branchgate.json"
# The package's first config (a dry-run gate), untouched by the operator, is filled in here.
if [ -e "$CONFIG" ] && cmp -s "$CONFIG" "$SRC/deploy/debian/branchgate.json"; then
  say "replacing the package's first config with one for --guest $GUEST"
  rm -f "$CONFIG"
fi
if [ -e "$CONFIG" ]; then
  say "kept $ETC/branchgate.json (edit it by hand; it is never overwritten)"
else
  say "writing $ETC/branchgate.json: set the branch and the SMS provider in it"
  # The console stays on loopback until the operator names a management address.
  sed -e "s|\"guestInterface\": \"[^\"]*\"|\"guestInterface\": \"$GUEST\"|" \
      -e "s|\"uplinkInterface\": \"[^\"]*\"|\"uplinkInterface\": \"$UPLINK\"|" \
      -e "s|\"publicUrl\": \"[^\"]*\"|\"publicUrl\": \"$PUBLIC_URL\"|" \
      -e "s|\"admin\": { \"host\": \"[^\"]*\"|\"admin\": { \"host\": \"127.0.0.1\"|" \
      -e "s|\"ipv6\": { \"prefix\": \"[^\"]*\"|\"ipv6\": { \"prefix\": \"$IPV6_PREFIX\"|" \
      -e "s|\"ipv6\": { \"prefix\": \"\", \"uplink\": \"[a-z]*\" }|\"ipv6\": null|" \
      "$SRC/deploy/branchgate.example.json" >"$CONFIG.new"
  chmod 0640 "$CONFIG.new"
  [ -n "$ROOT" ] || chown root:branchgate "$CONFIG.new"
  mv "$CONFIG.new" "$CONFIG"
fi

install -d "$ROOT/etc/dnsmasq.d" "$ROOT/etc/sysctl.d" "$ROOT/etc/systemd/system" "$ROOT/etc/network/interfaces.d"
fill "$SRC/deploy/dnsmasq.conf.tmpl" >"$ROOT/etc/dnsmasq.d/branchgate.conf"
RADVD_CONF="$ROOT/etc/radvd.conf"
if [ "$RA" = radvd ]; then
  fill "$SRC/deploy/radvd.conf.tmpl" >"$RADVD_CONF"
elif [ -f "$RADVD_CONF" ] && head -1 "$RADVD_CONF" | grep -q "^# radvd for branchgate"; then
  # Back to dnsmasq's advertisements: ours goes, so two routers never advertise at once.
  rm -f "$RADVD_CONF"
  [ -n "$ROOT" ] || systemctl disable -q --now radvd 2>/dev/null || true
fi
{
  printf '# branchgate: the mini-PC routes guests to the uplink.\nnet.ipv4.ip_forward = 1\n'
  if [ -n "$GW6" ]; then
    # Forwarding makes Linux ignore router advertisements; the uplink still takes its IPv6
    # address and route from the branch router's (accept_ra 2).
    printf 'net.ipv6.conf.all.forwarding = 1\nnet.ipv6.conf.%s.accept_ra = 2\n' "$UPLINK"
  fi
} >"$ROOT/etc/sysctl.d/90-branchgate.conf"
# The package's unit is in /lib/systemd/system; a copy in /etc would shadow it.
[ "$PACKAGED" -eq 1 ] || install -m 0644 "$SRC/systemd/branchgate.service" "$ROOT/etc/systemd/system/branchgate.service"

IFACES="$ROOT/etc/network/interfaces.d/branchgate-guest"
if [ ! -e "$IFACES" ]; then
  printf '# branchgate: the guest port, with the gateway address.\nauto %s\niface %s inet static\n    address %s\n' \
    "$GUEST" "$GUEST" "$ADDRESS" >"$IFACES"
  [ -z "$GW6" ] || printf 'iface %s inet6 static\n    address %s/64\n' "$GUEST" "$GW6" >>"$IFACES"
fi

if [ -z "$ROOT" ]; then
  sysctl -q --system
  ip addr show dev "$GUEST" | grep -q "inet $ADDRESS" || ip addr add "$ADDRESS" dev "$GUEST" || true
  [ -z "$GW6" ] || ip -6 addr show dev "$GUEST" | grep -q "inet6 $GW6/64" || ip -6 addr add "$GW6/64" dev "$GUEST" || true
  ip link set "$GUEST" up
  systemctl daemon-reload
  systemctl enable -q dnsmasq branchgate
  systemctl restart dnsmasq
  if [ "$RA" = radvd ]; then systemctl enable -q radvd && systemctl restart radvd; fi
  if [ "$START" -eq 1 ]; then systemctl restart branchgate; fi
  say "done. Check it with: sudo branchgate doctor --config $ETC/branchgate.json"
else
  say "done (files only, under $ROOT)"
fi
