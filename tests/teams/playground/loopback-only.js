// Preloaded into the Agents Playground by tests/teams/test_playground.py (node --require):
// the playground may listen on 127.0.0.1 only and connect to loopback only. Any other
// connection or name lookup is refused and reported on stderr as "loopback-only: refused …",
// which the test asserts never happens (telemetry is off; this proves nothing else leaks).
"use strict";
const dns = require("dns");
const net = require("net");

const LOCAL_NAMES = new Set(["localhost", "127.0.0.1", "::1", "::ffff:127.0.0.1"]);
const isLocal = (host) => !host || LOCAL_NAMES.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
const refuse = (what) => {
  process.stderr.write(`loopback-only: refused ${what}\n`);
  return new Error(`loopback-only: ${what} refused`);
};

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  let options = args[0];
  if (Array.isArray(options)) options = options[0]; // net's normalised [options, callback]
  let host;
  if (options && typeof options === "object") {
    if (options.path) return connect.apply(this, args); // a local (Unix) socket
    host = options.host;
  } else if (typeof args[1] === "string") {
    host = args[1]; // connect(port, host)
  }
  if (!isLocal(host)) {
    const error = refuse(`connection to ${host}`);
    process.nextTick(() => this.destroy(error));
    return this;
  }
  return connect.apply(this, args);
};

for (const target of [dns, dns.promises]) {
  const lookup = target.lookup;
  target.lookup = function (hostname, ...rest) {
    if (isLocal(hostname)) return lookup.call(this, hostname, ...rest);
    const error = refuse(`lookup of ${hostname}`);
    const callback = rest.find((a) => typeof a === "function");
    if (callback) return process.nextTick(() => callback(error));
    return Promise.reject(error);
  };
}

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (first && typeof first === "object" && !Array.isArray(first) && first.path === undefined) {
    args[0] = { ...first, host: "127.0.0.1" };
  } else if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    if (typeof args[1] === "string") args[1] = "127.0.0.1";
    else args.splice(1, 0, "127.0.0.1");
  }
  return listen.apply(this, args);
};
