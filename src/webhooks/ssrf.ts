// Which URLs a webhook may be delivered to. A tenant names the URL, and the Worker fetches it: a
// guard must keep that fetch off the platform's own network (loopback, private ranges, cloud
// metadata). The WHATWG URL parser already turns every IPv4 spelling (decimal `2130706433`, octal
// `0177.0.0.1`, hex `0x7f.1`, short `127.1`) into the dotted quad, and IPv6 into its compressed
// form, so the checks below see one canonical form of each address. Redirects are never followed
// (a 3xx is a failed attempt), so a public URL cannot bounce the request anywhere.

/** Hosts allowed despite the rules (local development), each `host` or `host:port`, from WEBHOOK_ALLOW_HOSTS. */
export type TargetPolicy = { allowHosts: readonly string[] };

export const targetPolicy = (env: { WEBHOOK_ALLOW_HOSTS?: string }): TargetPolicy => ({
  allowHosts: (env.WEBHOOK_ALLOW_HOSTS ?? "")
    .split(",")
    .map((host) => host.trim().toLowerCase())
    .filter((host) => host.length > 0),
});

/** IPv4 ranges no webhook may reach: [first address, prefix length, what it is]. */
const REFUSED_V4: readonly [string, number, string][] = [
  ["0.0.0.0", 8, "this network"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "carrier-grade NAT"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local (cloud metadata)"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "IETF protocol assignments"],
  ["192.0.2.0", 24, "documentation"],
  ["192.88.99.0", 24, "6to4 relay"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "benchmarking"],
  ["198.51.100.0", 24, "documentation"],
  ["203.0.113.0", 24, "documentation"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"],
];

/** Names that reach the platform or a cloud's metadata service rather than a receiver. */
const REFUSED_NAMES = ["localhost", "metadata", "metadata.google.internal", "metadata.goog", "instance-data"];
/** Suffixes of such names: `*.localhost` is loopback, `*.internal`, `*.local` and `*.home.arpa` are private networks. */
const REFUSED_SUFFIXES = [".localhost", ".internal", ".local", ".localdomain", ".home.arpa", ".intranet", ".lan"];

const v4Number = (address: string): number | null => {
  const parts = address.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^[0-9]{1,3}$/.test(part) || Number(part) > 255) return null;
    value = value * 256 + Number(part);
  }
  return value;
};

/** Why an IPv4 address is refused, or null. */
function refusedV4(address: string): string | null {
  const value = v4Number(address);
  if (value === null) return "not an IPv4 address";
  if (value === 0xffffffff) return "broadcast";
  for (const [first, bits, what] of REFUSED_V4) {
    const base = v4Number(first) as number;
    const size = 2 ** (32 - bits);
    if (value >= base && value < base + size) return what;
  }
  return null;
}

/** The eight 16-bit groups of a compressed IPv6 address (the URL parser's form, dotted tail allowed). */
function v6Groups(address: string): number[] | null {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = v4Number(dotted[1] as string);
    if (v4 === null) return null;
    text = `${text.slice(0, dotted.index)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((group) => Number.parseInt(group, 16)));
  const head = parse(halves[0] as string);
  const tail = halves.length === 2 ? parse(halves[1] as string) : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<number>(fill).fill(0), ...tail];
  if (groups.length !== 8 || groups.some((group) => !Number.isInteger(group) || group < 0 || group > 0xffff)) {
    return null;
  }
  return groups;
}

const embeddedV4 = (high: number, low: number) => `${high >>> 8}.${high & 0xff}.${low >>> 8}.${low & 0xff}`;

/** `why` when the embedded IPv4 address is refused itself. */
const viaV4 = (high: number, low: number, why: string) => (refusedV4(embeddedV4(high, low)) === null ? null : why);

/** Why an IPv6 address is refused, or null; addresses embedding an IPv4 one are judged by it. */
function refusedV6(address: string): string | null {
  const g = v6Groups(address);
  if (g === null) return "not an IPv6 address";
  const [g0, g1, g2, g3, g4, g5, g6, g7] = g as [number, number, number, number, number, number, number, number];
  const zeroTo = (n: number) => g.slice(0, n).every((group) => group === 0);
  if (zeroTo(7) && g7 === 0) return "unspecified";
  if (zeroTo(7) && g7 === 1) return "loopback";
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), ::ffff:0:a.b.c.d (translated).
  if (zeroTo(5) && (g5 === 0xffff || g5 === 0)) return viaV4(g6, g7, "IPv4 inside IPv6");
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return viaV4(g6, g7, "IPv4 inside IPv6");
  // NAT64 (64:ff9b::/96 and the local-use 64:ff9b:1::/48) reaches the IPv4 address it embeds.
  if (g0 === 0x64 && g1 === 0xff9b) {
    if (g2 === 1) return "NAT64 (local use)";
    return viaV4(g6, g7, "IPv4 through NAT64");
  }
  // 6to4 (2002::/16) embeds an IPv4 address in groups 1 and 2.
  if (g0 === 0x2002) return viaV4(g1, g2, "IPv4 through 6to4");
  if (g0 === 0x2001 && g1 === 0) return "Teredo";
  if (g0 === 0x2001 && g1 === 0xdb8) return "documentation";
  if (g0 === 0x100 && g1 === 0 && g2 === 0 && g3 === 0) return "discard-only";
  if ((g0 & 0xfe00) === 0xfc00) return "unique local (private)";
  if ((g0 & 0xffc0) === 0xfe80) return "link-local";
  if ((g0 & 0xffc0) === 0xfec0) return "site-local";
  if ((g0 & 0xff00) === 0xff00) return "multicast";
  return null;
}

/** The host of a URL as the allow-list names it: `host` and `host:port` (with its default port). */
function allowNames(url: URL): string[] {
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return [url.hostname.toLowerCase(), `${url.hostname.toLowerCase()}:${port}`];
}

/**
 * Why a URL may not receive webhooks, or null when it may. Allowed hosts (local development)
 * may use http and any address; everything else must be https to a public name or address.
 */
export function refusedTarget(raw: string, policy: TargetPolicy): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "not a URL";
  }
  if (url.username !== "" || url.password !== "") return "credentials in a URL end up in logs; use the signature";
  if (url.protocol !== "https:" && url.protocol !== "http:") return `${url.protocol} is not http(s)`;
  const allowed = allowNames(url).some((name) => policy.allowHosts.includes(name));
  if (allowed) return null;
  if (url.protocol !== "https:") return "only https URLs receive webhooks";
  const host = url.hostname.toLowerCase();
  if (host.startsWith("[")) {
    const why = refusedV6(host.slice(1, -1));
    return why === null ? null : `${host} is ${why}`;
  }
  if (/^[0-9.]+$/.test(host)) {
    const why = refusedV4(host);
    return why === null ? null : `${host} is ${why}`;
  }
  const name = host.replace(/\.$/, "");
  if (!name.includes(".")) return `${name} is not a public name`;
  if (REFUSED_NAMES.includes(name) || REFUSED_SUFFIXES.some((suffix) => name.endsWith(suffix))) {
    return `${name} is a local or metadata name`;
  }
  return null;
}
