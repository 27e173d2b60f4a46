// diffband.js - the logic of the diffband Max for Live device (Max [js], ES5).
//
// Inlet 0 takes the device's own messages (parameters, "init", "capture", "cancel")
// and the server's replies from [udpreceive 9001] (messages whose selector starts
// with "/diffband/").  Outlets:
//   0 -> [udpsend 127.0.0.1 9000]   OSC requests (first element = address)
//   1 -> [buffer~ ---capture]        "writewave <path>" of the captured audio
//   2 -> [prepend set] -> comment    status text for the musician
//   3 -> progress slider             0..1
//   4 -> [route 0 1 2] -> layer buffer~s   "<slot> replace <path>"
// Protocol: docs/osc.md.  Replies come to port 9001 (the reply_port we send).

inlets = 1;
outlets = 5;

// [js diffband.js 9001]: the argument is the port [udpreceive] listens on.
var REPLY_PORT = (typeof jsarguments !== "undefined" && jsarguments.length > 1) ? jsarguments[1] : 9001;
var TECHNIQUES = ["accompany", "chorus", "cross"];
var INSTRUMENTS = ["violin", "guitar", "voice"];
var SUBMIT_DELAY_MS = 400; // let [buffer~] finish writing the WAV before the server reads it

var state = {
    folder: "", technique: 0, instrument1: 0, instrument2: 1, strength: 0.5, steps: 20, seed: 0,
    job: "", layers: 0, counter: 0, liveLatency: -1
};

function status(text) { outlet(2, text); }

function send() { outlet(0, Array.prototype.slice.call(arguments)); }

function init() {
    status("looking for diffband serve on 127.0.0.1:9000 ...");
    send("/diffband/status", REPLY_PORT);
}

function technique(i) { state.technique = Math.max(0, Math.min(TECHNIQUES.length - 1, i | 0)); }
function instrument1(i) { state.instrument1 = Math.max(0, Math.min(INSTRUMENTS.length - 1, i | 0)); }
function instrument2(i) { state.instrument2 = (i | 0) - 1; } // menu item 0 is "none"
function strength(x) { state.strength = Math.max(0, Math.min(1, x)); }
function steps(n) { state.steps = Math.max(1, Math.min(1000, n | 0)); }
function seed(n) { state.seed = n | 0; }

function models() {
    var names = [INSTRUMENTS[state.instrument1]];
    var tech = TECHNIQUES[state.technique];
    if (tech !== "cross" && state.instrument2 >= 0 && INSTRUMENTS[state.instrument2] !== names[0]) {
        names.push(INSTRUMENTS[state.instrument2]);
    }
    return names;
}

function capture() {
    if (!state.folder) {
        status("no diffband server answered - start it with: diffband serve");
        init();
        return;
    }
    var tech = TECHNIQUES[state.technique];
    var names = models();
    if (tech === "chorus" && names.length < 2) {
        status("chorus needs two different instruments");
        return;
    }
    state.counter += 1;
    state.job = "m4l-" + (new Date().getTime() % 100000000) + "-" + state.counter;
    state.layers = 0;
    var input = state.folder + "/" + state.job + ".wav";
    outlet(1, "writewave", input);
    var job = state.job;
    var submit = new Task(function () {
        send("/diffband/submit/file", job, tech, input, state.folder + "/out",
             "with", names.join("+"), "strength", state.strength, "steps", state.steps, "seed", state.seed,
             REPLY_PORT);
        status("sent " + job + " (" + tech + " with " + names.join(" + ") + ")");
    });
    submit.schedule(SUBMIT_DELAY_MS);
}

function cancel() {
    if (state.job) { send("/diffband/cancel", state.job, REPLY_PORT); }
}

function anything() {
    var args = arrayfromargs(arguments);
    var address = messagename;
    if (address === "/diffband/state") {
        state.folder = String(args[4]);
        status("ready: diffband " + args[5] + " on " + args[3] + ", folder " + state.folder);
        return;
    }
    if (address === "/diffband/live/latency") { // from `diffband live`, every second
        if ((args[1] | 0) !== state.liveLatency) {
            state.liveLatency = args[1] | 0;
            status("live: layers come " + Math.round(Number(args[0]) * 1000) + " ms (" + args[1] + " samples at " +
                   args[2] + " Hz) after the input - delay the dry track by as much to line them up");
        }
        return;
    }
    if (address === "/diffband/live/stopped") {
        state.liveLatency = -1;
        status("live stopped: " + args[0] + " windows (" + args[1] + " late, " + args[2] + " dropped)");
        return;
    }
    if (address.indexOf("/diffband/") !== 0 || String(args[0]) !== state.job) {
        return; // not a reply about our current job
    }
    if (address === "/diffband/accepted") {
        status(state.job + " queued (position " + args[1] + ")");
        outlet(3, 0);
    } else if (address === "/diffband/progress") {
        outlet(3, args[1]);
    } else if (address === "/diffband/layer") {
        if (state.layers < 3) {
            outlet(4, state.layers, "replace", String(args[2]));
        }
        state.layers += 1;
        status("layer " + args[1] + ": " + args[2]);
    } else if (address === "/diffband/done") {
        outlet(3, 1);
        status("done in " + Number(args[2]).toFixed(1) + " s - layers in " + state.folder + "/out (drag them from Live's browser)");
    } else if (address === "/diffband/error") {
        status("error (" + args[1] + "): " + args[2]);
    } else if (address === "/diffband/cancelled") {
        status(state.job + " cancelled");
    }
}
