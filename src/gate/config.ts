import { z } from '../config-kit.js'

/**
 * The `gate` key: which firewall backend; for nftables the interfaces, the walled garden and the
 * files and programs it uses.
 */

// Per-device rates, the guests' total and the daily allowance (issue 17): both backends take
// them (dry-run records what it would do). kbit/s on the wire; null: no limit.
const kbps = z.number().int().min(64).max(10_000_000)
/** `gate.rate`: what one device may use each way, and all guests together. */
export const rateConfig = z
  .object({
    /** kbit/s one device may download; null: no limit of its own. Per tier in `tiers`. */
    downKbps: kbps.nullable().default(null),
    /** kbit/s one device may upload; null: no limit of its own. */
    upKbps: kbps.nullable().default(null),
    /** kbit/s all guests together may download, shared fairly between them; null: no cap. */
    totalDownKbps: kbps.nullable().default(null),
    /** kbit/s all guests together may upload, shared fairly between them; null: no cap. */
    totalUpKbps: kbps.nullable().default(null),
  })
  .strict()
  .prefault({})
/** `gate.quota`: the data allowance per customer per local day. */
export const quotaConfig = z
  .object({
    /** Megabytes (10^6 bytes) one customer may move per day over all their devices; null: no allowance. */
    dailyMB: z.number().min(1).max(1_000_000).nullable().default(null),
    /** kbit/s each way a customer is slowed to once the allowance is used up (never cut off). */
    floorKbps: kbps.default(256),
  })
  .strict()
  .prefault({})
const rateKeys = { rate: rateConfig, quota: quotaConfig }

const dryRunGate = z.object({ backend: z.literal('dry-run'), ...rateKeys }).strict()

/** A Linux interface name (IFNAMSIZ: at most 15 characters). */
const interfaceName = z
  .string()
  .regex(
    /^[A-Za-z0-9_.-]{1,15}$/,
    'must be an interface name such as eth1 or br-guest (1–15 letters, digits, _ . -)',
  )

/** An IPv4 or IPv6 address, optionally with a /prefix. */
const anyAddress = z.union([z.cidrv4(), z.cidrv6(), z.ipv4(), z.ipv6()])
const cidr = z.string().superRefine((v, ctx) => {
  if (!anyAddress.safeParse(v).success) {
    ctx.addIssue({
      code: 'custom',
      message: `must be IP addresses or CIDRs such as 203.0.113.0/24, got ${JSON.stringify(v)}`,
    })
  }
})

/**
 * The real firewall: branchgate owns the nftables table `inet branchgate` (see
 * deploy/nftables.nft.tmpl) and nothing outside it. Needs CAP_NET_ADMIN.
 */
const nftablesGate = z
  .object({
    backend: z.literal('nftables'),
    /** The guest Wi-Fi/LAN interface (or bridge) whose clients are caught. Required. */
    guestInterface: interfaceName,
    /** The uplink interface; when set, guests' traffic is masqueraded (NAT) on it. null: no NAT. */
    uplinkInterface: interfaceName.nullable().default(null),
    /** TCP port guests' plain HTTP is redirected to. null: listen.portal.port. */
    portalPort: z.number().int().min(1).max(65535).nullable().default(null),
    walledGarden: z
      .object({
        /**
         * Host names reachable before login, `*.` allowed in front (`*.bank.example`): the
         * captive resolver puts their addresses into the firewall as guests resolve them
         * (dnsmasq's nftset), and every refreshMinutes they are resolved again as a fallback
         * (wildcards cannot be). A name covers the names under it.
         */
        hosts: z
          .array(
            z
              .string()
              .regex(
                /^(?=.{1,253}$)(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$/,
                'must be host names such as www.example.com or *.example.com',
              ),
          )
          .default([]),
        /** IPv4/IPv6 addresses or CIDRs reachable before login, e.g. "203.0.113.0/24". */
        cidrs: z.array(cidr).default([]),
        /** Minutes between re-resolving `hosts`, 1–1440. */
        refreshMinutes: z.number().int().min(1).max(1440).default(30),
      })
      .strict()
      .prefault({}),
    /**
     * The captive resolver: a dnsmasq branchgate runs for guests not let through. Their DNS to
     * the gateway is switched to it in the kernel; it answers every name with the gateway's
     * address and forwards only the walled garden's names (docs/gateway.md).
     */
    captiveDns: z
      .object({
        /** UDP and TCP port it listens on, on the guest interface (1024–65535, not 53). */
        port: z.number().int().min(1024).max(65535).default(5300),
        /** The dnsmasq program (absolute path or name on PATH). */
        dnsmasqPath: z.string().min(1).default('dnsmasq'),
      })
      .strict()
      .prefault({}),
    /** Per-device limits, in the kernel, on what a guest not let through may send the gateway. */
    preLogin: z
      .object({
        /** DNS packets a second per device (1–10000); more are dropped. */
        dnsPerSecond: z.number().int().min(1).max(10_000).default(20),
        /** DNS packets a device may send at once above that rate (1–100000). */
        dnsBurst: z.number().int().min(1).max(100_000).default(100),
        /** ICMP and ICMPv6 packets a second per device (1–10000); neighbour discovery and MLD reports are never metered. */
        icmpPerSecond: z.number().int().min(1).max(10_000).default(10),
        /** ICMP packets a device may send at once above that rate (1–100000). */
        icmpBurst: z.number().int().min(1).max(100_000).default(20),
      })
      .strict()
      .prefault({}),
    /**
     * IPv6 for guests (dual-stack): null (the default) leaves the guest network IPv4-only.
     * The guest interface gets the prefix's ::1 and dnsmasq announces the prefix (SLAAC, router
     * advertisements) with DHCPv6 option 103 (deploy/install.sh --ipv6-prefix).
     */
    ipv6: z
      .object({
        /** The guests' /64, e.g. "fd42:77::/64" (a ULA) or a /64 the branch router routes here. */
        prefix: z.string().superRefine((v, ctx) => {
          if (!z.cidrv6().safeParse(v).success || !v.endsWith('/64'))
            ctx.addIssue({
              code: 'custom',
              message: `must be an IPv6 /64 such as fd42:77::/64, got ${JSON.stringify(v)}`,
            })
        }),
        /**
         * How guests reach the internet over IPv6: "nat" (masqueraded on the uplink, NAT66: the
         * branch router gives the uplink one IPv6 address, nothing more) or "routed" (the branch
         * router routes the prefix to the gateway's uplink address; no NAT).
         */
        uplink: z.enum(['nat', 'routed'], { error: 'must be "nat" or "routed"' }).default('nat'),
      })
      .strict()
      .nullable()
      .default(null),
    /** Tries per firewall change before it is reported as failed (1–10). */
    attempts: z.number().int().min(1).max(10).default(3),
    /** The nft program (absolute path or name on PATH). */
    nftPath: z.string().min(1).default('nft'),
    /**
     * What makes each login's firewall change (issue 20): "auto" calls libnftables in the
     * service's own process (no process woken per change), else does as "helper"; "helper"
     * uses libnftables through Debian's python3-nftables when it is installed (about half the
     * CPU per change of `nft -i`), else `nft -i`; "nft" always uses `nft -i`.
     */
    nftSession: z
      .enum(['auto', 'helper', 'nft'], { error: 'must be "auto", "helper" or "nft"' })
      .default('auto'),
    /** branchgate's dnsmasq file for the guest network (deploy/install.sh writes it); doctor checks it. */
    dnsmasqConfFile: z.string().min(1).default('/etc/dnsmasq.d/branchgate.conf'),
    /** The tc program (iproute2), for per-device rates (issue 17). */
    tcPath: z.string().min(1).default('tc'),
    ...rateKeys,
  })
  .strict()

/** The `gate` key: dry-run (demo) unless the nftables backend is configured. */
export const gateConfig = z
  .discriminatedUnion('backend', [dryRunGate, nftablesGate])
  .prefault({ backend: 'dry-run' })

export type GateConfig = z.infer<typeof gateConfig>
export type NftablesGateConfig = z.infer<typeof nftablesGate>
export type RateConfig = z.infer<typeof rateConfig>
export type QuotaConfig = z.infer<typeof quotaConfig>
