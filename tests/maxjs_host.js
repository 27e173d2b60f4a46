// A stand-in for Max's [js] object, for tests: runs max_patches/diffband.js in VM contexts with
// Max's globals, one context per device, all in one process like the devices of one Live set
// (they share Max's Global objects).  stdin (JSON lines):
//   {"create": id, "args": [...]}                     a device: [js diffband.js args...]
//   {"device": id, "call": name, "args": [...]}       a message to its inlet ("capture 1", ...)
//   {"device": id, "message": "/diffband/...", "args": [...]}   an OSC reply as [udpreceive] gives it
//   {"device": id, "delete": true}                    the device leaves the set (notifydeleted)
// stdout (JSON lines): {"device": id, "ready": true, "inlets": n, "outlets": n} after create,
// {"device": id, "outlet": n, "args": [...]} per outlet() call.
"use strict";
const fs = require("fs");
const vm = require("vm");
const readline = require("readline");

const scriptPath = process.argv[2];
const source = fs.readFileSync(scriptPath, "utf8");
const globals = {}; // Max's Global: one object per name, shared by every [js]
const devices = {};

function Global(name) {
    if (!globals[name]) { globals[name] = {}; }
    return globals[name];
}

function write(obj) { process.stdout.write(JSON.stringify(obj) + "\n"); }

function create(id, args) {
    const context = {
        jsarguments: [scriptPath, ...args],
        outlet: (n, ...outArgs) => {
            const flat = [].concat(...outArgs.map((a) => (Array.isArray(a) ? a : [a])));
            write({ device: id, outlet: n, args: flat });
        },
        post: (...postArgs) => process.stderr.write(postArgs.join(" ") + "\n"),
        arrayfromargs: (a) => Array.prototype.slice.call(a),
        Task: function (fn) { this.schedule = (ms) => setTimeout(fn, ms || 0); },
        Global,
        messagename: "",
        Date, Math, String, Number, Array, Object,
    };
    vm.createContext(context);
    vm.runInContext(source, context, { filename: scriptPath });
    devices[id] = context;
    write({ device: id, ready: true, inlets: context.inlets, outlets: context.outlets });
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
    const msg = JSON.parse(line);
    if ("create" in msg) {
        create(msg.create, msg.args || []);
        return;
    }
    const context = devices[msg.device];
    if (msg.delete) {
        if (context.notifydeleted) { context.notifydeleted(); }
        delete devices[msg.device];
    } else if (msg.call) {
        context[msg.call](...(msg.args || []));
    } else {
        context.messagename = msg.message;
        context.anything(...(msg.args || []));
    }
});
