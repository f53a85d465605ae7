import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { refusedTarget, targetPolicy } from "../../src/webhooks/ssrf";

const deployed = targetPolicy({ WEBHOOK_ALLOW_HOSTS: "" });
const dev = targetPolicy({ WEBHOOK_ALLOW_HOSTS: "127.0.0.1, localhost,[::1]" });

/** Targets no deployed Worker may deliver to, each with what makes it so. */
const REFUSED: [string, string][] = [
  ["http://hooks.example.com/x", "plain http"],
  ["ftp://hooks.example.com/x", "not http"],
  ["https://user:pass@hooks.example.com/x", "credentials"],
  ["not a url", "not a URL"],
  ["https://127.0.0.1/", "loopback"],
  ["https://127.255.255.254/", "loopback, top of the range"],
  ["https://2130706433/", "loopback in decimal"],
  ["https://0x7f000001/", "loopback in hex"],
  ["https://0x7f.0.0.1/", "loopback with a hex octet"],
  ["https://0177.0.0.1/", "loopback in octal"],
  ["https://017700000001/", "loopback as one octal number"],
  ["https://127.1/", "loopback, short form"],
  ["https://0/", "0.0.0.0"],
  ["https://0.0.0.0:8080/", "this network"],
  ["https://10.1.2.3/", "private 10/8"],
  ["https://172.16.0.1/", "private 172.16/12"],
  ["https://172.31.255.255/", "private 172.16/12, top"],
  ["https://192.168.1.1/", "private 192.168/16"],
  ["https://100.64.0.1/", "carrier-grade NAT"],
  ["https://100.127.255.255/", "carrier-grade NAT, top"],
  ["https://169.254.169.254/latest/meta-data/", "cloud metadata"],
  ["https://2852039166/", "cloud metadata in decimal"],
  ["https://0xa9.0xfe.0xa9.0xfe/", "cloud metadata in hex octets"],
  ["https://169.254.0.1/", "link-local"],
  ["https://192.0.0.170/", "IETF protocol assignments"],
  ["https://198.18.0.1/", "benchmarking"],
  ["https://224.0.0.1/", "multicast"],
  ["https://255.255.255.255/", "broadcast"],
  ["https://metadata.google.internal/computeMetadata/v1/", "GCP metadata name"],
  ["https://metadata/", "bare metadata name"],
  ["https://localhost/", "localhost"],
  ["https://LOCALHOST./", "localhost, upper case with a trailing dot"],
  ["https://api.localhost/", "*.localhost"],
  ["https://printer.local/", "mDNS name"],
  ["https://db.corp.internal/", "*.internal"],
  ["https://intranet/", "a single-label name"],
  ["https://[::1]/", "IPv6 loopback"],
  ["https://[0:0:0:0:0:0:0:1]/", "IPv6 loopback, long form"],
  ["https://[::]/", "IPv6 unspecified"],
  ["https://[::ffff:127.0.0.1]/", "IPv4-mapped loopback"],
  ["https://[::ffff:7f00:1]/", "IPv4-mapped loopback in hex"],
  ["https://[::ffff:169.254.169.254]/", "IPv4-mapped metadata"],
  ["https://[::ffff:10.0.0.1]/", "IPv4-mapped private"],
  ["https://[::10.0.0.1]/", "IPv4-compatible private"],
  ["https://[64:ff9b::a9fe:a9fe]/", "NAT64 of the metadata address"],
  ["https://[64:ff9b:1::1]/", "local-use NAT64"],
  ["https://[2002:7f00:1::]/", "6to4 of loopback"],
  ["https://[2002:a9fe:a9fe::1]/", "6to4 of the metadata address"],
  ["https://[fc00::1]/", "unique local"],
  ["https://[fd00:ec2::254]/", "AWS metadata over IPv6"],
  ["https://[fe80::1]/", "IPv6 link-local"],
  ["https://[fec0::1]/", "IPv6 site-local"],
  ["https://[ff02::1]/", "IPv6 multicast"],
  ["https://[2001:db8::1]/", "IPv6 documentation"],
  ["https://[2001::1]/", "Teredo"],
];

const ALLOWED = [
  "https://hooks.example.com/edge-tenancy",
  "https://hooks.example.com:8443/x?y=1",
  "https://8.8.8.8/",
  "https://100.128.0.1/",
  "https://172.32.0.1/",
  "https://[2606:4700:4700::1111]/",
  "https://[::ffff:8.8.8.8]/",
  "https://[2002:808:808::1]/",
  "https://localhost.example.com/",
];

describe("the webhook target guard", () => {
  it.each(REFUSED)("refuses %s (%s)", (url) => {
    expect(refusedTarget(url, deployed)).not.toBeNull();
  });

  it.each(ALLOWED)("allows %s", (url) => {
    expect(refusedTarget(url, deployed)).toBeNull();
  });

  it("allows loopback receivers over http only where the allow-list names them", () => {
    for (const url of ["http://127.0.0.1:9999/hook", "http://localhost:3000/", "http://[::1]:8080/"]) {
      expect(refusedTarget(url, dev)).toBeNull();
      expect(refusedTarget(url, deployed)).not.toBeNull();
    }
    // The list names hosts: another loopback spelling or a private address stays refused.
    expect(refusedTarget("http://2130706433:9999/", dev)).toBeNull(); // the parser makes it 127.0.0.1
    expect(refusedTarget("http://127.0.0.2:9999/", dev)).not.toBeNull();
    expect(refusedTarget("http://10.0.0.1/", dev)).not.toBeNull();
    expect(refusedTarget("https://169.254.169.254/", dev)).not.toBeNull();
    // host:port entries allow that port alone.
    const onePort = targetPolicy({ WEBHOOK_ALLOW_HOSTS: "127.0.0.1:9999" });
    expect(refusedTarget("http://127.0.0.1:9999/", onePort)).toBeNull();
    expect(refusedTarget("http://127.0.0.1:9998/", onePort)).not.toBeNull();
  });

  it("reads the allow-list the Worker is given (the tests' admits one loopback port)", () => {
    expect(targetPolicy(env).allowHosts).toEqual(["127.0.0.1:9"]);
    expect(refusedTarget("http://127.0.0.1:9/", targetPolicy(env))).toBeNull();
    expect(refusedTarget("http://127.0.0.1:8787/", targetPolicy(env))).not.toBeNull();
  });
});
