// Follows one NASiam.Web run's architecture weights (alphas) from outside, over the SignalR hub
// /hubs/runs (message contract: docs/hub.md; event form: docs/events.schema.v1.json).
//
//   npm install && node follow-alphas.mjs http://localhost:5000 RUN_ID [ACCESS_KEY]
//
// Prints one line per alphas event: step, then per cell the winning operation of every layer;
// exits when the run ends. Late join and reconnects are safe: the client keeps the last sequence
// it holds, asks the hub for exactly what came after it (SubscribeAfter), and drops any delta
// event at or below it, so it misses nothing and sees nothing twice.
import * as signalR from "@microsoft/signalr";

const [base, runId, key] = process.argv.slice(2);
if (!base || !runId) {
  console.error("usage: node follow-alphas.mjs BASE_URL RUN_ID [ACCESS_KEY]");
  process.exit(2);
}
// The hub takes run ids as GUIDs; another string fails there with no reason given.
if (!/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(runId)) {
  console.error(`follow-alphas: '${runId}' is not a run id (a GUID, as in /runs/RUN_ID)`);
  process.exit(2);
}

const connection = new signalR.HubConnectionBuilder()
  // With Nasiam:AccessKey set, the key is the access token: SignalR sends it as
  // "Authorization: Bearer" on negotiate and as ?access_token= on the WebSocket.
  .withUrl(new URL("/hubs/runs", base).toString(), key ? { accessTokenFactory: () => key } : {})
  .withAutomaticReconnect()
  // The client's own lines say what happens (below); SignalR's would repeat a failure three times.
  .configureLogging(signalR.LogLevel.None)
  .build();
connection.onreconnecting(err => console.error(`follow-alphas: connection lost (${err?.message ?? "no reason given"}); reconnecting`));

let last = -1;          // the last sequence held
let attemptAt = null;   // the `at` of the run_started held last (docs/hub.md, rule 5)
let ready = false;      // deltas that arrive before a snapshot is applied wait in `early`
const early = [];
const finished = new Set(["Succeeded", "Failed", "Cancelled"]);

function apply(events) {
  for (const e of events) {
    if (e.type === "run_started" && e.sequence <= last) last = e.sequence - 1; // a resume replays from here
    if (e.sequence <= last) continue;                                         // already held
    if (e.sequence !== last + 1) console.warn(`gap: ${last} then ${e.sequence}`);
    last = e.sequence;
    if (e.type === "run_started") attemptAt = e.at;
    if (e.type === "alphas") {
      const cells = e.cells.map(c => `${c.cell}: ${c.layers.map(l => l.winner).join(" ")}`).join(" | ");
      console.log(`step ${e.step} (epoch ${e.epoch})  ${cells}`);
    } else if (e.type === "genotype") {
      console.log(`genotype: ${e.genotype_text}`);
    } else if (e.type === "stage_finished") {
      console.log(`${e.stage} finished: ${e.outcome}${e.message ? " (" + e.message + ")" : ""}`);
    }
  }
}

async function subscribe() {
  ready = false;
  // SubscribeAfter(-1) the first time: every event, none thinned; afterwards what was missed.
  let snapshot = await connection.invoke("SubscribeAfter", runId, last);
  // Rule 5: a resume while disconnected replaced events held here; read again from its run_started.
  const attempt = snapshot.attemptStarted;
  if (attempt && attempt.sequence <= last && attempt.at !== attemptAt) {
    last = attempt.sequence - 1;
    snapshot = await connection.invoke("SubscribeAfter", runId, last);
  }
  apply(snapshot.events);
  ready = true;
  while (early.length) apply(early.shift().events);
  return snapshot.status;
}

connection.on("Delta", delta => (ready ? apply(delta.events) : early.push(delta)));
connection.on("Status", async s => {
  console.log(`status: ${s.status}${s.message ? " (" + s.message + ")" : ""}`);
  if (finished.has(s.status)) await connection.stop();
});
connection.onreconnected(() => subscribe().catch(err => console.error(err.toString())));
connection.onclose(() => process.exit(0));

try {
  await connection.start();
  const status = await subscribe();
  if (finished.has(status)) {
    console.log(`status: ${status}`);
    await connection.stop();
  }
} catch (err) {
  // An unknown run, a wrong key, a server that is not there: one line and a non-zero exit, not a stack trace.
  console.error(`follow-alphas: ${err?.message ?? err}`);
  process.exit(1);
}
