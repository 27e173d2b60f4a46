// A stand-in for Max's [js] object, for tests: runs max_patches/diffband.js in a VM
// context with Max's globals.  stdin (JSON lines): {"call": name, "args": [...]} calls a
// function of the script; {"message": "/diffband/...", "args": [...]} delivers an OSC reply
// as [udpreceive] would.  stdout (JSON lines): {"outlet": n, "args": [...]} per outlet() call.
"use strict";
const fs = require("fs");
const vm = require("vm");
const readline = require("readline");

const [scriptPath, ...jsargs] = process.argv.slice(2);
const context = {
    jsarguments: [scriptPath, ...jsargs.map(Number)],
    outlet: (n, ...args) => {
        const flat = [].concat(...args.map((a) => (Array.isArray(a) ? a : [a])));
        process.stdout.write(JSON.stringify({ outlet: n, args: flat }) + "\n");
    },
    post: (...args) => process.stderr.write(args.join(" ") + "\n"),
    arrayfromargs: (args) => Array.prototype.slice.call(args),
    Task: function (fn) { this.schedule = (ms) => setTimeout(fn, ms || 0); },
    messagename: "",
    Date, Math, String, Number, Array,
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(scriptPath, "utf8"), context, { filename: scriptPath });
process.stdout.write(JSON.stringify({ ready: true, inlets: context.inlets, outlets: context.outlets }) + "\n");

readline.createInterface({ input: process.stdin }).on("line", (line) => {
    const msg = JSON.parse(line);
    if (msg.call) {
        context[msg.call](...(msg.args || []));
    } else {
        context.messagename = msg.message;
        context.anything(...(msg.args || []));
    }
});
